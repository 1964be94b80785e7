// The dense Llama / Qwen2 forward pass (the R1-Distill models): GQA attention
// with RoPE (adjacent pairs for GGUF llama, whose converter permutes q/k;
// half-split for Qwen2 and for Hugging Face llama checkpoints), optional q/k/v
// biases (Qwen2), SwiGLU MLP, tied or separate output head.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/blocks/linear.h"
#include "model/blocks/rope.h"
#include "model/decoder.h"
#include "model/llama.h"
#include "model/weight_binder.h"

namespace dseek {
namespace {

using kernels::MatrixView;

struct LlamaLayer {
  const float *attn_norm = nullptr, *ffn_norm = nullptr;
  MatrixView q, k, v, o;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr;
  MlpWeights mlp;
};

class LlamaModel final : public Decoder {
 public:
  LlamaModel(const LlamaHParams& h, std::shared_ptr<const ModelFiles> files)
      : h_(h), files_(std::move(files)), rope_(h.d_head, h.rope_theta, YarnParams{}) {
    // GGUF llama files are converted with q/k permuted so adjacent pairs rotate;
    // Qwen2 GGUFs and all Hugging Face checkpoints use the half-split layout.
    half_split_rope_ = h_.qkv_bias || files_->format == ModelFiles::Format::kSafetensors;
  }

  Status bind() {
    using enum LlamaTensor;
    WeightBinder b(files_->weights, files_->path, owned_);
    const LlamaTensors& t = llama_tensors();
    trunk_.n_embd = h_.n_embd, trunk_.n_vocab = h_.n_vocab, trunk_.n_layer = h_.n_layer;
    trunk_.eps = static_cast<float>(h_.rms_eps);
    trunk_.embd = t.matrix(b, kTokenEmbd, h_);
    trunk_.out_norm = t.vec(b, kOutputNorm, h_);
    trunk_.head = t.present(kOutput, h_) ? t.matrix(b, kOutput, h_) : trunk_.embd;
    layers_.resize(static_cast<size_t>(h_.n_layer));
    for (int64_t i = 0; i < h_.n_layer; ++i) {
      auto& l = layers_[static_cast<size_t>(i)];
      l.attn_norm = t.vec(b, kAttnNorm, h_, i);
      l.ffn_norm = t.vec(b, kFfnNorm, h_, i);
      l.q = t.matrix(b, kQ, h_, i);
      l.k = t.matrix(b, kK, h_, i);
      l.v = t.matrix(b, kV, h_, i);
      l.o = t.matrix(b, kAttnOut, h_, i);
      if (t.present(kQBias, h_, i)) {
        l.bq = t.vec(b, kQBias, h_, i);
        l.bk = t.vec(b, kKBias, h_, i);
        l.bv = t.vec(b, kVBias, h_, i);
      }
      l.mlp = {t.matrix(b, kGate, h_, i), t.matrix(b, kUp, h_, i), t.matrix(b, kDown, h_, i)};
    }
    return b.status();
  }

  const Architecture& arch() const override { return *files_->arch; }
  int64_t n_ctx() const override { return h_.n_ctx; }
  KvCache new_cache(int64_t n_ctx) const override { return KvCache(h_.n_layer, n_ctx, 2 * h_.n_head_kv * h_.d_head); }

 private:
  using Seq = CacheSpan;

  // x += attention(norm(x)); x += SwiGLU(norm(x)). Projections and MLP over
  // all the step's tokens at once, attention per sequence over its own cache.
  void run_layer(int64_t layer, float* x, const LayerStep& s) const override {
    const StepArena::Scope scope(s.arena);
    const auto& lw = layers_[static_cast<size_t>(layer)];
    const int64_t T = s.n_tok, E = h_.n_embd;
    const float eps = trunk_.eps;
    float* xn = s.arena.take<float>(T * E);
    float* y = s.arena.take<float>(T * E);
    rms_norm_rows(x, lw.attn_norm, xn, T, E, eps);
    attention(s.pool, lw, xn, T, s.seqs, layer, y, s.arena);
    add_residual(x, y, T * E);
    rms_norm_rows(x, lw.ffn_norm, xn, T, E, eps);
    swiglu_mlp(s.pool, lw.mlp, xn, T, y, s.arena);
    add_residual(x, y, T * E);
  }

  // Queries rotated in q; each token's [K | V] cache row written, biases added and K rotated.
  void project(ThreadPool& pool, const LlamaLayer& lw, const float* xn, int64_t T, std::span<const Seq> seqs,
               int64_t layer, float* q, StepArena& arena) const {
    const StepArena::Scope scope(arena);
    const int64_t H = h_.n_head, Hkv = h_.n_head_kv, D = h_.d_head, Dkv = Hkv * D;
    float* k = arena.take<float>(T * Dkv);
    float* v = arena.take<float>(T * Dkv);
    float* cs = arena.take<float>(D);
    const LinearJob jobs[] = {{&lw.q, xn, T, q}, {&lw.k, xn, T, k}, {&lw.v, xn, T, v}};
    linear_many(pool, jobs);
    auto rot = half_split_rope_ ? kernels::rope_half_split : kernels::rope_adjacent;
    for (const Seq& sq : seqs)
      for (int64_t i = 0; i < sq.n_tok; ++i) {
        const int64_t t = sq.first + i, pos = sq.pos0 + i;
        rope_.angles(pos, cs, cs + D / 2);
        for (int64_t h = 0; h < H; ++h) {
          float* qh = q + (t * H + h) * D;
          if (lw.bq) for (int64_t j = 0; j < D; ++j) qh[j] += lw.bq[h * D + j];
          rot(qh, D, cs, cs + D / 2);
        }
        float* row = sq.cache->row(layer, pos);
        for (int64_t j = 0; j < Dkv; ++j) {
          row[j] = k[t * Dkv + j] + (lw.bk ? lw.bk[j] : 0.0f);
          row[Dkv + j] = v[t * Dkv + j] + (lw.bv ? lw.bv[j] : 0.0f);
        }
        for (int64_t h = 0; h < Hkv; ++h) rot(row + h * D, D, cs, cs + D / 2);
      }
  }

  void attention(ThreadPool& pool, const LlamaLayer& lw, const float* xn, int64_t T, std::span<const Seq> seqs,
                 int64_t layer, float* out, StepArena& arena) const {
    const StepArena::Scope scope(arena);
    const int64_t H = h_.n_head, Hkv = h_.n_head_kv, D = h_.d_head, Dkv = Hkv * D;
    float* q = arena.take<float>(T * H * D);
    float* o = arena.take<float>(T * H * D);
    project(pool, lw, xn, T, seqs, layer, q, arena);
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
    for (const Seq& sq : seqs) {
      KvCache& cache = *sq.cache;
      ThreadSlots<float> probs(arena, pool.size(), sq.pos0 + sq.n_tok);
      pool.parallel_for(sq.n_tok * H, [&](int64_t i0, int64_t i1) {
        float* p = probs.take();
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t ti = i / H, h = i % H, t = sq.first + ti, kvh = h / (H / Hkv), n_keys = sq.pos0 + ti + 1;
          const float* qh = q + (t * H + h) * D;
          for (int64_t s = 0; s < n_keys; ++s) p[s] = kernels::dot(qh, cache.row(layer, s) + kvh * D, D) * scale;
          kernels::softmax(p, n_keys);
          float* oh = o + (t * H + h) * D;
          std::fill(oh, oh + D, 0.0f);
          for (int64_t s = 0; s < n_keys; ++s) {
            const float* vs = cache.row(layer, s) + Dkv + kvh * D;
            for (int64_t j = 0; j < D; ++j) oh[j] += p[s] * vs[j];
          }
        }
      });
    }
    linear(pool, lw.o, o, T, out);
  }

  LlamaHParams h_;
  std::shared_ptr<const ModelFiles> files_;
  WeightBinder::Storage owned_;  // f32 copies of norms and biases
  RopeTable rope_;
  bool half_split_rope_ = false;
  std::vector<LlamaLayer> layers_;
};

}  // namespace

Result<std::unique_ptr<Model>> create_llama_model(const LlamaHParams& h, std::shared_ptr<const ModelFiles> files) {
  auto m = std::make_unique<LlamaModel>(h, std::move(files));
  Status st = m->bind();
  if (!st.ok()) return st;
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace dseek
