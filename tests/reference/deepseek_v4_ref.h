// Float64 reference forward for DeepSeek-V4 GGUF files (`deepseek4`), written
// from the equations in docs/design/deepseek-v4.md §2 (DeepSeek's inference
// code's order of operations); shares no code with src/model or src/kernels.
// Whole prompt from position 0, no cache: every query recomputes what it sees,
// compressed entries included (from v4_compressor_ref's equations).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace dseek::reference {

// Deliberate deviations, for tests that show the tolerance is tight enough
// to notice each (docs/design/deepseek-v4.md §6, "Sensitivity tests").
struct V4RefOptions {
  int64_t sinkhorn_iters = -1;  // > 0: instead of the file's hc_sinkhorn_iters
  double hc_eps = -1;           // >= 0: instead of the file's hc_eps
  bool drop_sinks = false;      // softmax without the attention sink
  bool symmetric_gate_clamp = false;  // clamp the gate to [-L, L] instead of (-inf, L]
};

// Logits [tokens.size() x n_vocab], row-major.
Result<std::vector<double>> deepseek_v4_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens,
                                               const V4RefOptions& opt = {});

// The MTP block's logits [(tokens.size()-1) x n_vocab]: row i drafts token
// i+2 from the trunk's streams at i and token i+1 (docs/design/deepseek-v4.md §2.7).
Result<std::vector<double>> deepseek_v4_mtp_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens);

}  // namespace dseek::reference
