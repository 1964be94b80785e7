// Which rank holds each routed expert under --ep. Experts are dealt out so
// that every rank holds about the same number of bytes, layer by layer in
// contiguous runs of experts, after the ones an --ep-map file pins. Knows nothing of MPI: rank 0 computes it and
// sends it to the others.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/blocks/moe.h"

namespace dseek::dist {

struct ExpertPlacement {
  int n_rank = 1;
  int64_t n_layer = 0, n_expert = 0;
  std::vector<int32_t> owner;             // [n_layer x n_expert]; 0 for dense layers' (absent) experts
  std::vector<uint64_t> bytes_per_rank;   // routed-expert bytes each rank holds

  int owner_of(int64_t layer, int64_t expert) const {
    return owner[static_cast<size_t>(layer * n_expert + expert)];
  }
};

// Bytes of one expert's three matrices in the model file.
uint64_t expert_bytes(const MlpWeights& w);

// layers: Model::moe_layers(). ep_map: the text of an --ep-map file ("" for
// none), one "LAYER EXPERT RANK" a line (LAYER may be * for every MoE layer,
// # starts a comment). Errors name the line.
Result<ExpertPlacement> place_experts(const std::vector<const MoeWeights*>& layers, int n_rank,
                                      std::string_view ep_map);

}  // namespace dseek::dist
