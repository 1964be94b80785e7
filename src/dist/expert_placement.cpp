// See expert_placement.h.
#include "dist/expert_placement.h"

#include <algorithm>
#include <sstream>

namespace dseek::dist {
namespace {

uint64_t matrix_bytes(const kernels::MatrixView& m) { return static_cast<uint64_t>(m.rows) * m.row_bytes; }

// One "LAYER EXPERT RANK" line into pins (-1 = unpinned); the layer may be "*".
Status pin_line(const std::string& line, int line_no, const ExpertPlacement& p, std::vector<int32_t>& pins) {
  std::istringstream in(line);
  std::string layer_word;
  long long expert = -1, rank = -1;
  const std::string where = "--ep-map line " + std::to_string(line_no) + ": ";
  if (!(in >> layer_word >> expert >> rank)) return Status::error(where + "expected LAYER EXPERT RANK");
  std::string rest;
  if (in >> rest && rest[0] != '#') return Status::error(where + "unexpected '" + rest + "'");
  if (expert < 0 || expert >= p.n_expert) return Status::error(where + "no expert " + std::to_string(expert));
  if (rank < 0 || rank >= p.n_rank)
    return Status::error(where + "rank " + std::to_string(rank) + " is not in 0.." + std::to_string(p.n_rank - 1));
  int64_t first = 0, last = p.n_layer - 1;
  if (layer_word != "*") {
    char* end = nullptr;
    const long long l = std::strtoll(layer_word.c_str(), &end, 10);
    if (*end != '\0' || l < 0 || l >= p.n_layer) return Status::error(where + "no layer '" + layer_word + "'");
    first = last = l;
  }
  for (int64_t l = first; l <= last; ++l) pins[static_cast<size_t>(l * p.n_expert + expert)] = static_cast<int32_t>(rank);
  return ok_status();
}

Status read_pins(std::string_view text, const ExpertPlacement& p, std::vector<int32_t>& pins) {
  std::istringstream in{std::string(text)};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] == '#') continue;
    if (Status st = pin_line(line, n, p, pins); !st.ok()) return st;
  }
  return ok_status();
}

// This layer's unpinned experts: each rank's quota of bytes lifts the ranks
// holding least towards one level (water-filling), and the quotas are dealt
// as contiguous runs of experts in rank order. Contiguous, because a mapped
// file is paged in by (large) folios: alternating owners would make each rank
// touch its neighbours' bytes too.
void place_layer(const MoeWeights& m, int64_t l, const std::vector<int32_t>& pins, ExpertPlacement& p) {
  const auto N = static_cast<size_t>(p.n_rank);
  std::vector<int64_t> todo;
  double unpinned = 0;
  for (int64_t e = 0; e < static_cast<int64_t>(m.experts.size()); ++e)
    if (pins[static_cast<size_t>(l * p.n_expert + e)] < 0) {
      todo.push_back(e);
      unpinned += static_cast<double>(expert_bytes(m.experts[static_cast<size_t>(e)]));
    }
  if (todo.empty()) return;
  std::vector<double> held(p.bytes_per_rank.begin(), p.bytes_per_rank.end()), sorted = held;
  std::sort(sorted.begin(), sorted.end());
  double level = sorted[0] + unpinned, below = 0;  // the level h with sum(max(0, h - held)) = unpinned
  for (size_t k = 0; k < N; ++k) {
    below += sorted[k];
    const double h = (unpinned + below) / static_cast<double>(k + 1);
    if (k + 1 == N || h <= sorted[k + 1]) {
      level = h;
      break;
    }
  }
  std::vector<double> boundary(N);  // cumulative quota of ranks 0..r
  for (size_t r = 0; r < N; ++r) boundary[r] = (r ? boundary[r - 1] : 0) + std::max(0.0, level - held[r]);
  double done = 0;
  size_t r = 0;
  for (int64_t e : todo) {
    const uint64_t bytes = expert_bytes(m.experts[static_cast<size_t>(e)]);
    const double mid = done + static_cast<double>(bytes) / 2;
    while (r + 1 < N && mid >= boundary[r]) ++r;
    p.owner[static_cast<size_t>(l * p.n_expert + e)] = static_cast<int32_t>(r);
    p.bytes_per_rank[r] += bytes;
    done += static_cast<double>(bytes);
  }
}

}  // namespace

uint64_t expert_bytes(const MlpWeights& w) { return matrix_bytes(w.gate) + matrix_bytes(w.up) + matrix_bytes(w.down); }

Result<ExpertPlacement> place_experts(const std::vector<const MoeWeights*>& layers, int n_rank,
                                      std::string_view ep_map) {
  if (n_rank < 1) return Status::error("expert placement needs at least one rank");
  ExpertPlacement p;
  p.n_rank = n_rank;
  p.n_layer = static_cast<int64_t>(layers.size());
  for (const MoeWeights* m : layers)
    if (m) p.n_expert = std::max(p.n_expert, static_cast<int64_t>(m->experts.size()));
  p.owner.assign(static_cast<size_t>(p.n_layer * p.n_expert), 0);
  p.bytes_per_rank.assign(static_cast<size_t>(n_rank), 0);
  std::vector<int32_t> pins(p.owner.size(), -1);
  if (Status st = read_pins(ep_map, p, pins); !st.ok()) return st;
  // Pinned experts first, so the balancing below evens out around them.
  for (int64_t l = 0; l < p.n_layer; ++l) {
    if (!layers[static_cast<size_t>(l)]) continue;
    for (int64_t e = 0; e < p.n_expert; ++e) {
      const size_t i = static_cast<size_t>(l * p.n_expert + e);
      if (pins[i] < 0) continue;
      p.owner[i] = pins[i];
      p.bytes_per_rank[static_cast<size_t>(pins[i])] += expert_bytes(layers[static_cast<size_t>(l)]->experts[static_cast<size_t>(e)]);
    }
  }
  for (int64_t l = 0; l < p.n_layer; ++l)
    if (layers[static_cast<size_t>(l)]) place_layer(*layers[static_cast<size_t>(l)], l, pins, p);
  return p;
}

}  // namespace dseek::dist
