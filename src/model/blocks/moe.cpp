// See moe.h.
#include "model/blocks/moe.h"

#include <algorithm>
#include <cstring>

namespace dseek {

ExpertBatch group_by_expert(const int32_t* idx, const float* w, int64_t n_tok, int64_t n_used, int64_t n_expert,
                            StepArena& arena) {
  // A counting sort by expert, stable in token order.
  int64_t* count = arena.take<int64_t>(n_expert + 1);
  std::fill(count, count + n_expert + 1, 0);
  for (int64_t i = 0; i < n_tok * n_used; ++i) ++count[idx[i] + 1];
  ExpertBatch b;
  for (int64_t e = 0; e < n_expert; ++e) b.n_active += count[e + 1] > 0 ? 1 : 0;
  b.expert = arena.take<int32_t>(b.n_active);
  b.offset = arena.take<int64_t>(b.n_active + 1);
  b.token = arena.take<int32_t>(n_tok * n_used);
  b.weight = arena.take<float>(n_tok * n_used);
  b.offset[0] = 0;
  for (int64_t e = 0, a = 0; e < n_expert; ++e) {
    if (count[e + 1] == 0) continue;
    b.expert[a] = static_cast<int32_t>(e);
    b.offset[a + 1] = b.offset[a] + count[e + 1];
    ++a;
  }
  for (int64_t e = 0; e < n_expert; ++e) count[e + 1] += count[e];  // count[e]: next free row of expert e
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t k = 0; k < n_used; ++k) {
      const int64_t row = count[idx[t * n_used + k]]++;
      b.token[row] = static_cast<int32_t>(t);
      b.weight[row] = w[t * n_used + k];
    }
  return b;
}

// Each active expert's SwiGLU over its gathered rows, all experts in two parallel passes.
void run_local_experts(ThreadPool& pool, const MoeWeights& m, const ExpertBatch& b, const float* xn, int64_t E,
                       float* ys, StepArena& arena) {
  const StepArena::Scope scope(arena);
  const int64_t rows = b.offset[b.n_active];
  float* xs = arena.take<float>(rows * E);
  for (int64_t r = 0; r < rows; ++r) std::memcpy(xs + r * E, xn + b.token[r] * E, static_cast<size_t>(E) * sizeof(float));
  const MlpWeights** ws = arena.take<const MlpWeights*>(b.n_active);
  const float** xp = arena.take<const float*>(b.n_active);
  float** yp = arena.take<float*>(b.n_active);
  int64_t* ns = arena.take<int64_t>(b.n_active);
  for (int64_t a = 0; a < b.n_active; ++a) {
    ws[a] = &m.experts[static_cast<size_t>(b.expert[a])];
    xp[a] = xs + b.offset[a] * E;
    yp[a] = ys + b.offset[a] * E;
    ns[a] = b.offset[a + 1] - b.offset[a];
  }
  const auto n = static_cast<size_t>(b.n_active);
  swiglu_mlp_many(pool, {ws, n}, {xp, n}, {ns, n}, {yp, n}, arena, m.swiglu_limit);
}

void moe_forward(ThreadPool& pool, const RoutingConfig& routing, const MoeWeights& m, const float* xn, int64_t n_tok,
                 int64_t n_embd, float* y, StepArena& arena, const int32_t* tokens, const ExpertExecutor* experts,
                 int64_t layer) {
  const StepArena::Scope scope(arena);
  const int64_t E = n_embd, X = routing.n_expert, K = routing.n_used;
  float* logits = arena.take<float>(n_tok * X);
  float* route_scratch = arena.take<float>(route_scratch_floats(routing));
  int32_t* idx = arena.take<int32_t>(n_tok * K);
  float* w = arena.take<float>(n_tok * K);
  linear(pool, m.router, xn, n_tok, logits, arena);
  for (int64_t t = 0; t < n_tok; ++t) {
    if (m.hash_experts && tokens)  // LayerStep::tokens: the decoder always passes them
      route_token_fixed(routing, logits + t * X, m.hash_experts + tokens[t] * K, route_scratch, idx + t * K, w + t * K);
    else
      route_token(routing, logits + t * X, m.bias, route_scratch, idx + t * K, w + t * K);
  }
  if (m.has_shared) swiglu_mlp(pool, m.shared, xn, n_tok, y, arena, m.clamp_shared ? m.swiglu_limit : 0.0f);
  else std::fill(y, y + n_tok * E, 0.0f);
  const ExpertBatch b = group_by_expert(idx, w, n_tok, K, X, arena);
  float* ys = arena.take<float>(b.offset[b.n_active] * E);
  if (experts) experts->run(pool, layer, m, b, xn, E, ys, arena);
  else run_local_experts(pool, m, b, xn, E, ys, arena);
  // Rows are grouped by ascending expert, so this adds each token's experts in expert order.
  for (int64_t r = 0; r < b.offset[b.n_active]; ++r) {
    const int64_t t = b.token[r];
    const float wt = b.weight[r], *src = ys + r * E;
    for (int64_t j = 0; j < E; ++j) y[t * E + j] += wt * src[j];
  }
}

}  // namespace dseek
