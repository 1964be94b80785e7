// See bpe.h. Merge order follows HF tokenizers' Word::merge_all: a min-heap of
// (rank, position) candidates, stale entries skipped when popped.
#include "tokenizer/bpe.h"

#include <algorithm>

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
  m.merges_.reserve(merges.size() * 2);
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    auto ia = index.find(a), ib = index.find(b), ic = index.find(a + b);
    const char* missing = ia == index.end() ? "left" : ib == index.end() ? "right" : ic == index.end() ? "merged" : nullptr;
    if (missing)
      return Status::error("merge " + std::to_string(r) + " '" + a + " " + b + "': its " + missing +
                           " side is not a token in the vocabulary");
    // Keep the first (lowest) rank if a pair is listed twice, as HF does.
    m.merges_.emplace(key(ia->second, ib->second), Merge{static_cast<uint32_t>(r), ic->second});
  }
  return m;
}

void BpeModel::push_pair(Scratch& s, int32_t pos) const {
  const int32_t next = s.syms[pos].next;
  if (next < 0) return;
  if (const Merge* m = find(s.syms[pos].id, s.syms[next].id)) {
    s.heap.push_back({m->rank, pos, s.syms[pos].id, s.syms[next].id});
    std::push_heap(s.heap.begin(), s.heap.end(), heap_less);
  }
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
    const Merge* m = find(c.left, c.right);
    const int32_t right = left.next;
    left.id = m->result;
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
