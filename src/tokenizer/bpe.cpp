// See bpe.h. Merge order follows HF tokenizers' Word::merge_all: a min-heap of
// (rank, position) candidates, stale entries skipped when popped.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <bit>

#include "tokenizer/byte_unicode.h"

namespace dseek {
namespace {

bool heap_less(const BpeModel::Scratch::Cand& a, const BpeModel::Scratch::Cand& b) {
  // std heap is a max-heap: "less" = lower priority = higher (rank, pos).
  return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
}

}  // namespace

Result<BpeModel> BpeModel::build(const TokenIndex& index,
                                 const std::vector<std::pair<std::string, std::string>>& merges,
                                 bool ignore_merges) {
  BpeModel m;
  m.ignore_merges_ = ignore_merges;
  for (int b = 0; b < 256; ++b) {
    std::string spelled;
    append_utf8(spelled, byte_to_codepoint(static_cast<uint8_t>(b)));
    auto it = index.find(spelled);
    m.byte_ids_[b] = it == index.end() ? -1 : it->second;
  }
  if (merges.size() >= (size_t{1} << kRankBits)) return Status::error("more than 2^24 merges are not supported");
  size_t cap = 16;
  while (cap < merges.size() * 2) cap *= 2;
  m.table_.assign(cap, kEmpty);
  m.mask_ = cap - 1;
  m.shift_ = 64 - std::countr_zero(cap);
  m.result_by_rank_.assign(merges.size(), -1);
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    auto ia = index.find(a), ib = index.find(b), ic = index.find(a + b);
    const char* missing = ia == index.end() ? "left" : ib == index.end() ? "right" : ic == index.end() ? "merged" : nullptr;
    if (missing)
      return Status::error("merge " + std::to_string(r) + " '" + a + " " + b + "': its " + missing +
                           " side is not a token in the vocabulary");
    constexpr int32_t kMaxId = (1 << kIdBits) - 2;
    if (ia->second > kMaxId || ib->second > kMaxId) return Status::error("token ids above 2^20 are not supported");
    m.result_by_rank_[r] = ic->second;
    // Keep the first (lowest) rank if a pair is listed twice.
    const uint64_t k = pair_key(ia->second, ib->second);
    size_t i = m.slot(k);
    while (m.table_[i] != kEmpty && (m.table_[i] >> kRankBits) != k) i = (i + 1) & m.mask_;
    if (m.table_[i] == kEmpty) {
      m.table_[i] = (k << kRankBits) | r;
      ++m.n_merges_;
    }
  }
  m.byte_pair_rank_.assign(1 << 16, kNoRank);
  for (int b0 = 0; b0 < 256; ++b0)
    for (int b1 = 0; b1 < 256; ++b1) m.byte_pair_rank_[b0 << 8 | b1] = m.rank_of(m.byte_ids_[b0], m.byte_ids_[b1]);
  return m;
}

void BpeModel::push_pair(Scratch& s, int32_t pos) const {
  const int32_t next = s.syms[pos].next;
  if (next < 0) return;
  if (const Merge m = merge_of(s.syms[pos].id, s.syms[next].id); m.rank != kNoRank) {
    s.heap.push_back({m.rank, pos, s.syms[pos].id, s.syms[next].id, m.result});
    std::push_heap(s.heap.begin(), s.heap.end(), heap_less);
  }
}

// Short pieces (nearly all of them): the pair ranks live in an array beside the
// symbols; each step merges the leftmost lowest rank and re-ranks its two neighbours.
// Same merge order as the heap, without heap traffic.
void BpeModel::encode_small(std::string_view bytes, std::vector<int32_t>& out) const {
  int32_t ids[kSmallPiece];
  uint32_t rank[kSmallPiece];
  size_t n = bytes.size();
  for (size_t i = 0; i < n; ++i) ids[i] = byte_ids_[static_cast<uint8_t>(bytes[i])];
  for (size_t i = 0; i + 1 < n; ++i)
    rank[i] = byte_pair_rank_[static_cast<uint8_t>(bytes[i]) << 8 | static_cast<uint8_t>(bytes[i + 1])];
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i)
      if (rank[i] < rank[best]) best = i;
    if (rank[best] == kNoRank) break;
    ids[best] = result_by_rank_[rank[best]];
    for (size_t i = best + 1; i + 1 < n; ++i) {  // drop symbol best+1 (and its pair)
      ids[i] = ids[i + 1];
      rank[i] = rank[i + 1];
    }
    --n;
    if (best > 0) rank[best - 1] = rank_of(ids[best - 1], ids[best]);
    if (best + 1 < n) rank[best] = rank_of(ids[best], ids[best + 1]);
  }
  for (size_t i = 0; i < n; ++i)
    if (ids[i] >= 0) out.push_back(ids[i]);
}

void BpeModel::encode(std::string_view bytes, const TokenIndex& index, std::vector<int32_t>& out,
                      Scratch& s) const {
  if (bytes.empty()) return;
  if (ignore_merges_) {  // Llama-3 style: a pre-token that is itself a token is used whole
    s.spelled.clear();
    for (char c : bytes) append_utf8(s.spelled, byte_to_codepoint(static_cast<uint8_t>(c)));
    if (auto it = index.find(s.spelled); it != index.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (bytes.size() <= kSmallPiece) {
    encode_small(bytes, out);
    return;
  }
  const auto n = static_cast<int32_t>(bytes.size());
  s.syms.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) s.syms[i] = {byte_ids_[static_cast<uint8_t>(bytes[i])], i - 1, i + 1 < n ? i + 1 : -1};
  s.heap.clear();
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(s, i);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), heap_less);
    const Scratch::Cand c = s.heap.back();
    s.heap.pop_back();
    auto& left = s.syms[c.pos];
    if (left.id != c.left || left.next < 0 || s.syms[left.next].id != c.right) continue;  // stale
    const int32_t right = left.next;
    left.id = c.result;
    left.next = s.syms[right].next;
    if (left.next >= 0) s.syms[left.next].prev = c.pos;
    s.syms[right].id = -2;  // dead
    if (left.prev >= 0) push_pair(s, left.prev);
    push_pair(s, c.pos);
  }
  for (int32_t i = 0; i >= 0; i = s.syms[i].next)
    if (s.syms[i].id >= 0) out.push_back(s.syms[i].id);
}

}  // namespace dseek
