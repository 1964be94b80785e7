// See spm.h. Same procedure as SentencePiece's bpe_model.cc encode (and
// llama2.c's encode): greedy best-score merges over a symbol list.
#include "tokenizer/spm.h"

#include <algorithm>
#include <cstdio>

#include "tokenizer/byte_unicode.h"

namespace dseek {
namespace {

bool cand_less(const SpmModel::Scratch::Cand& a, const SpmModel::Scratch::Cand& b) {
  return a.score != b.score ? a.score < b.score : a.left > b.left;  // max-heap: best score, then leftmost
}

}  // namespace

Result<SpmModel> SpmModel::build(const TokenIndex& index, std::vector<float> scores, std::vector<uint8_t> mergeable,
                                 int32_t unk_id) {
  SpmModel m;
  m.scores_ = std::move(scores);
  m.mergeable_ = std::move(mergeable);
  m.unk_id_ = unk_id;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = index.find(std::string_view(name));
    m.byte_ids_[b] = it == index.end() ? -1 : it->second;
  }
  return m;
}

void SpmModel::try_pair(std::string_view text, const TokenIndex& index, Scratch& s, int32_t left) const {
  if (left < 0) return;
  const int32_t right = s.syms[left].next;
  if (right < 0) return;
  const auto& l = s.syms[left];
  const uint32_t size = l.len + s.syms[right].len;
  auto it = index.find(text.substr(l.begin, size));
  if (it == index.end() || !mergeable_[static_cast<size_t>(it->second)]) return;
  s.heap.push_back({scores_[static_cast<size_t>(it->second)], left, size});
  std::push_heap(s.heap.begin(), s.heap.end(), cand_less);
}

void SpmModel::encode(std::string_view text, const TokenIndex& index, std::vector<int32_t>& out, Scratch& s) const {
  s.syms.clear();
  s.heap.clear();
  for (size_t i = 0; i < text.size();) {
    size_t len = 0;
    decode_utf8(text, i, len);
    const auto n = static_cast<int32_t>(s.syms.size());
    s.syms.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(len), n - 1, -1});
    if (n > 0) s.syms[n - 1].next = n;
    i += len;
  }
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(s.syms.size()); ++i) try_pair(text, index, s, i);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), cand_less);
    const Scratch::Cand c = s.heap.back();
    s.heap.pop_back();
    auto& l = s.syms[c.left];
    if (l.len == 0 || l.next < 0 || l.len + s.syms[l.next].len != c.size) continue;  // stale
    auto& r = s.syms[l.next];
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (l.next >= 0) s.syms[l.next].prev = c.left;
    try_pair(text, index, s, l.prev);
    try_pair(text, index, s, c.left);
  }
  if (s.syms.empty()) return;
  for (int32_t i = 0; i >= 0; i = s.syms[i].next) {
    const auto piece = text.substr(s.syms[i].begin, s.syms[i].len);
    if (auto it = index.find(piece); it != index.end()) {
      out.push_back(it->second);
      continue;
    }
    for (char c : piece) {  // byte fallback, <unk> if the vocabulary has no byte pieces
      const int32_t b = byte_ids_[static_cast<uint8_t>(c)];
      if (b >= 0) out.push_back(b);
      else if (unk_id_ >= 0) out.push_back(unk_id_);
    }
  }
}

}  // namespace dseek
