// The DeepSeekMoE feed-forward (DeepSeek-V2 §2.2, V3 §2.1.2): shared experts
// over every token, plus each token's routed experts (moe_routing.h) weighted
// by their routing scores.
#pragma once

#include <vector>

#include "core/thread_pool.h"
#include "model/blocks/linear.h"
#include "model/blocks/moe_routing.h"
#include "model/step_arena.h"

namespace dseek {

struct MoeWeights {
  kernels::MatrixView router;    // [X x E], scores in f32
  const float* bias = nullptr;   // expert score-correction bias: selection only
  std::vector<MlpWeights> experts;
  bool has_shared = false;
  MlpWeights shared;
  // DeepSeek-V4: SwiGLU clamp (gate <= limit, |up| <= limit; 0: none), on the
  // routed experts and, with clamp_shared, the shared one; and hash routing:
  // the token's experts from a frozen table [V x n_used] (null: routed by score).
  float swiglu_limit = 0.0f;
  bool clamp_shared = false;
  const float* hash_experts = nullptr;
};

// A step's routed rows grouped by expert: the a-th active expert (ascending
// expert index) owns rows [offset[a], offset[a+1]), each row a (token, weight)
// pair in increasing token order. Memory from the step arena.
struct ExpertBatch {
  int64_t n_active = 0;
  int32_t* expert = nullptr;  // [n_active]
  int64_t* offset = nullptr;  // [n_active + 1]
  int32_t* token = nullptr;   // [rows]
  float* weight = nullptr;    // [rows]
};

// Where a step's routed experts run. The default (no executor) runs them all
// here; src/dist runs each on the rank that holds it (expert parallelism).
// Either way ys row r must be expert b.expert[a] of row xn[b.token[r]] for r
// in [offset[a], offset[a+1]), bit for bit what run_local_experts gives, so
// that moe_forward's fixed-order sum is the same wherever experts ran.
class ExpertExecutor {
 public:
  virtual ~ExpertExecutor() = default;
  virtual void run(ThreadPool& pool, int64_t layer, const MoeWeights& m, const ExpertBatch& b, const float* xn,
                   int64_t n_embd, float* ys, StepArena& arena) const = 0;
};

// ys [rows x E] = each active expert's SwiGLU over its rows of xn (gathered by b.token).
void run_local_experts(ThreadPool& pool, const MoeWeights& m, const ExpertBatch& b, const float* xn, int64_t n_embd,
                       float* ys, StepArena& arena);

// Groups the routing choices idx/w [n_tok x n_used] by expert.
ExpertBatch group_by_expert(const int32_t* idx, const float* w, int64_t n_tok, int64_t n_used, int64_t n_expert,
                            StepArena& arena);

// y[T x E] = shared(xn) + sum over each token's routed experts of weight * expert(xn),
// added per token in increasing expert index (a fixed order: a token's result
// does not depend on which other tokens share the batch).
// `tokens` [n_tok] (the rows' token ids) is needed only by hash-routed layers;
// experts: where the routed experts of layer `layer` run (null: here).
void moe_forward(ThreadPool& pool, const RoutingConfig& routing, const MoeWeights& m, const float* xn, int64_t n_tok,
                 int64_t n_embd, float* y, StepArena& arena, const int32_t* tokens = nullptr,
                 const ExpertExecutor* experts = nullptr, int64_t layer = 0);

}  // namespace dseek
