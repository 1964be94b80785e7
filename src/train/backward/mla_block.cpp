// See mla_block.h. Shapes: n tokens, E embd, H heads, Cq/Ckv ranks,
// Dq = Dn + Dr per-head query width, Dkv = Dn + Dv per-head kv_b output.
#include "train/backward/mla_block.h"

#include <cmath>

#include "train/backward/ops.h"
#include "train/backward/param_shape.h"

namespace dseek::train {

template <typename T>
void MlaParams<T>::shape(const DeepseekHParams& h, int64_t layer) {
  using enum DsTensor;
  if (h.q_lora_rank > 0) {
    shape_slot(q_a, kQA, h, layer);
    shape_slot(q_a_norm, kQANorm, h, layer);
    shape_slot(q_b, kQB, h, layer);
  } else {
    shape_slot(q, kQ, h, layer);
  }
  shape_slot(kv_a, kKvA, h, layer);
  shape_slot(kv_a_norm, kKvANorm, h, layer);
  shape_slot(kv_b, kKvB, h, layer);  // trained joint; export splits it per head
  shape_slot(o, kAttnOut, h, layer);
}

template <typename T>
void MlaParams<T>::init(const MlaConfig& c, Rng& rng, double out_scale) {
  auto fan = [](const Param<T>& p) { return 1.0 / std::sqrt(static_cast<double>(p.cols)); };
  if (c.q_lora_rank > 0) {
    init_normal(q_a, rng, fan(q_a));
    init_ones(q_a_norm);
    init_normal(q_b, rng, fan(q_b));
  } else {
    init_normal(q, rng, fan(q));
  }
  init_normal(kv_a, rng, fan(kv_a));
  init_ones(kv_a_norm);
  init_normal(kv_b, rng, fan(kv_b));
  init_normal(o, rng, fan(o) * out_scale);
}

template <typename T>
void MlaParams<T>::collect(std::vector<Param<T>*>& out) {
  for (Param<T>* p : {&q, &q_a, &q_a_norm, &q_b, &kv_a, &kv_a_norm, &kv_b, &o})
    if (p->size() > 0) out.push_back(p);
}

template <typename T>
void mla_fwd(ThreadPool& pool, const MlaConfig& c, const MlaParams<T>& p, const RopeAngles& rope, const T* xn,
             int64_t n, std::span<const int64_t> seq_starts, std::span<const int32_t> positions, MlaState<T>& s, T* out) {
  const int64_t E = c.n_embd, H = c.n_head, Cq = c.q_lora_rank, Ckv = c.kv_lora_rank, Dr = c.d_rope;
  const int64_t Dq = c.d_nope + Dr, Dkv = c.d_nope + c.d_v;
  auto sized = [](std::vector<T>& v, int64_t k) { v.assign(static_cast<size_t>(k), T(0)); return v.data(); };
  T* q = sized(s.q, n * H * Dq);
  if (Cq > 0) {
    linear_fwd(pool, xn, n, E, p.q_a.w.data(), Cq, sized(s.qa, n * Cq), c.bf16);
    rms_norm_fwd(s.qa.data(), p.q_a_norm.w.data(), n, Cq, c.eps, sized(s.qan, n * Cq), sized(s.qa_inv, n));
    linear_fwd(pool, s.qan.data(), n, Cq, p.q_b.w.data(), H * Dq, q, c.bf16);
  } else {
    linear_fwd(pool, xn, n, E, p.q.w.data(), H * Dq, q, c.bf16);
  }
  T* kva = sized(s.kva, n * (Ckv + Dr));
  linear_fwd(pool, xn, n, E, p.kv_a.w.data(), Ckv + Dr, kva, c.bf16);
  T* cc = sized(s.c, n * Ckv);
  T* kr = sized(s.kr, n * Dr);
  sized(s.c_inv, n);
  for (int64_t t = 0; t < n; ++t) {
    rms_norm_fwd(kva + t * (Ckv + Dr), p.kv_a_norm.w.data(), 1, Ckv, c.eps, cc + t * Ckv, s.c_inv.data() + t);
    const float* cs = rope.cos.data() + positions[t] * rope.n_pairs;
    const float* sn = rope.sin.data() + positions[t] * rope.n_pairs;
    for (int64_t d = 0; d < Dr; ++d) kr[t * Dr + d] = kva[t * (Ckv + Dr) + Ckv + d];
    rope_fwd(kr + t * Dr, Dr, cs, sn);
    for (int64_t h = 0; h < H; ++h) rope_fwd(q + t * H * Dq + h * Dq + c.d_nope, Dr, cs, sn);
  }
  linear_fwd(pool, cc, n, Ckv, p.kv_b.w.data(), H * Dkv, sized(s.kv, n * H * Dkv), c.bf16);
  const AttnShape shape{H, c.d_nope, Dr, c.d_v, c.softmax_scale};
  attention_fwd(pool, shape, seq_starts, q, s.kv.data(), kr, sized(s.o, n * H * c.d_v), s.probs);
  linear_fwd(pool, s.o.data(), n, H * c.d_v, p.o.w.data(), E, out, c.bf16);
}

template <typename T>
void mla_bwd(ThreadPool& pool, const MlaConfig& c, MlaParams<T>& p, const RopeAngles& rope, const T* xn, int64_t n,
             std::span<const int64_t> seq_starts, std::span<const int32_t> positions, const MlaState<T>& s,
             const T* dout, T* dxn) {
  const int64_t E = c.n_embd, H = c.n_head, Cq = c.q_lora_rank, Ckv = c.kv_lora_rank, Dr = c.d_rope;
  const int64_t Dq = c.d_nope + Dr, Dkv = c.d_nope + c.d_v;
  std::vector<T> d_o(static_cast<size_t>(n * H * c.d_v)), dq(static_cast<size_t>(n * H * Dq)),
      dkv(static_cast<size_t>(n * H * Dkv)), dkr(static_cast<size_t>(n * Dr)), dc(static_cast<size_t>(n * Ckv)),
      dkva(static_cast<size_t>(n * (Ckv + Dr)));
  linear_bwd(pool, s.o.data(), n, H * c.d_v, p.o.w.data(), E, dout, d_o.data(), p.o.g.data(), c.bf16);
  const AttnShape shape{H, c.d_nope, Dr, c.d_v, c.softmax_scale};
  attention_bwd(pool, shape, seq_starts, s.q.data(), s.kv.data(), s.kr.data(), s.probs, d_o.data(), dq.data(),
                dkv.data(), dkr.data());
  linear_bwd(pool, s.c.data(), n, Ckv, p.kv_b.w.data(), H * Dkv, dkv.data(), dc.data(), p.kv_b.g.data(), c.bf16);
  for (int64_t t = 0; t < n; ++t) {
    const float* cs = rope.cos.data() + positions[t] * rope.n_pairs;
    const float* sn = rope.sin.data() + positions[t] * rope.n_pairs;
    rope_bwd(dkr.data() + t * Dr, Dr, cs, sn);
    for (int64_t d = 0; d < Dr; ++d) dkva[static_cast<size_t>(t * (Ckv + Dr) + Ckv + d)] = dkr[static_cast<size_t>(t * Dr + d)];
    rms_norm_bwd(s.kva.data() + t * (Ckv + Dr), p.kv_a_norm.w.data(), s.c_inv.data() + t, dc.data() + t * Ckv, 1, Ckv,
                 dkva.data() + t * (Ckv + Dr), p.kv_a_norm.g.data());
    for (int64_t h = 0; h < H; ++h) rope_bwd(dq.data() + t * H * Dq + h * Dq + c.d_nope, Dr, cs, sn);
  }
  linear_bwd(pool, xn, n, E, p.kv_a.w.data(), Ckv + Dr, dkva.data(), dxn, p.kv_a.g.data(), c.bf16);
  if (Cq > 0) {
    std::vector<T> dqan(static_cast<size_t>(n * Cq)), dqa(static_cast<size_t>(n * Cq));
    linear_bwd(pool, s.qan.data(), n, Cq, p.q_b.w.data(), H * Dq, dq.data(), dqan.data(), p.q_b.g.data(), c.bf16);
    rms_norm_bwd(s.qa.data(), p.q_a_norm.w.data(), s.qa_inv.data(), dqan.data(), n, Cq, dqa.data(), p.q_a_norm.g.data());
    linear_bwd(pool, xn, n, E, p.q_a.w.data(), Cq, dqa.data(), dxn, p.q_a.g.data(), c.bf16);
  } else {
    linear_bwd(pool, xn, n, E, p.q.w.data(), H * Dq, dq.data(), dxn, p.q.g.data(), c.bf16);
  }
}

template struct MlaParams<float>;
template struct MlaParams<double>;
template void mla_fwd<float>(ThreadPool&, const MlaConfig&, const MlaParams<float>&, const RopeAngles&, const float*,
                             int64_t, std::span<const int64_t>, std::span<const int32_t>, MlaState<float>&, float*);
template void mla_fwd<double>(ThreadPool&, const MlaConfig&, const MlaParams<double>&, const RopeAngles&,
                              const double*, int64_t, std::span<const int64_t>, std::span<const int32_t>,
                              MlaState<double>&, double*);
template void mla_bwd<float>(ThreadPool&, const MlaConfig&, MlaParams<float>&, const RopeAngles&, const float*, int64_t,
                             std::span<const int64_t>, std::span<const int32_t>, const MlaState<float>&, const float*,
                             float*);
template void mla_bwd<double>(ThreadPool&, const MlaConfig&, MlaParams<double>&, const RopeAngles&, const double*,
                              int64_t, std::span<const int64_t>, std::span<const int32_t>, const MlaState<double>&,
                              const double*, double*);

}  // namespace dseek::train
