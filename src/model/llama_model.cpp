// The dense Llama / Qwen2 forward pass (the R1-Distill models): GQA attention
// with RoPE (adjacent pairs for GGUF llama, whose converter permutes q/k;
// half-split for Qwen2 and for Hugging Face llama checkpoints), optional q/k/v
// biases (Qwen2), SwiGLU MLP, tied or separate output head.
#include <cmath>
#include <cstring>

#include "model/blocks/linear.h"
#include "model/blocks/rope.h"
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

class LlamaModel final : public Model {
 public:
  LlamaModel(const LlamaHParams& h, std::shared_ptr<const ModelFiles> files)
      : h_(h), files_(std::move(files)), rope_(h.d_head, h.rope_theta, YarnParams{}) {
    // GGUF llama files are converted with q/k permuted so adjacent pairs rotate;
    // Qwen2 GGUFs and all Hugging Face checkpoints use the half-split layout.
    half_split_rope_ = h_.qkv_bias || files_->format == ModelFiles::Format::kSafetensors;
  }

  Status bind() {
    WeightBinder b(files_->weights, files_->path, owned_);
    const int64_t E = h_.n_embd, V = h_.n_vocab, Dq = h_.n_head * h_.d_head, Dkv = h_.n_head_kv * h_.d_head;
    embd_ = b.matrix("token_embd.weight", "model.embed_tokens.weight", V, E);
    out_norm_ = b.vec("output_norm.weight", "model.norm.weight", E);
    head_ = h_.tied_embeddings ? embd_ : b.matrix("output.weight", "lm_head.weight", V, E);
    layers_.resize(static_cast<size_t>(h_.n_layer));
    for (int64_t i = 0; i < h_.n_layer; ++i) {
      auto& l = layers_[static_cast<size_t>(i)];
      const std::string g = "blk." + std::to_string(i) + ".", hf = "model.layers." + std::to_string(i) + ".";
      l.attn_norm = b.vec(g + "attn_norm.weight", hf + "input_layernorm.weight", E);
      l.ffn_norm = b.vec(g + "ffn_norm.weight", hf + "post_attention_layernorm.weight", E);
      l.q = b.matrix(g + "attn_q.weight", hf + "self_attn.q_proj.weight", Dq, E);
      l.k = b.matrix(g + "attn_k.weight", hf + "self_attn.k_proj.weight", Dkv, E);
      l.v = b.matrix(g + "attn_v.weight", hf + "self_attn.v_proj.weight", Dkv, E);
      l.o = b.matrix(g + "attn_output.weight", hf + "self_attn.o_proj.weight", E, Dq);
      if (h_.qkv_bias) {
        l.bq = b.vec(g + "attn_q.bias", hf + "self_attn.q_proj.bias", Dq);
        l.bk = b.vec(g + "attn_k.bias", hf + "self_attn.k_proj.bias", Dkv);
        l.bv = b.vec(g + "attn_v.bias", hf + "self_attn.v_proj.bias", Dkv);
      }
      l.mlp.gate = b.matrix(g + "ffn_gate.weight", hf + "mlp.gate_proj.weight", h_.n_ff, E);
      l.mlp.up = b.matrix(g + "ffn_up.weight", hf + "mlp.up_proj.weight", h_.n_ff, E);
      l.mlp.down = b.matrix(g + "ffn_down.weight", hf + "mlp.down_proj.weight", E, h_.n_ff);
    }
    return b.status();
  }

  const Architecture& arch() const override { return *files_->arch; }
  int64_t n_vocab() const override { return h_.n_vocab; }
  int64_t n_ctx() const override { return h_.n_ctx; }
  KvCache new_cache(int64_t n_ctx) const override { return KvCache(h_.n_layer, n_ctx, 2 * h_.n_head_kv * h_.d_head); }

  Status forward(std::span<const int32_t> tokens, KvCache& cache, ThreadPool& pool, const ForwardOptions& opt,
                 float* logits) const override {
    if (Status st = check_forward_input(tokens, cache, h_.n_vocab); !st.ok()) return st;
    const int64_t T = static_cast<int64_t>(tokens.size()), E = h_.n_embd;
    std::vector<float> x(static_cast<size_t>(T * E));
    const Seq seq{0, T, cache.n_past, &cache};
    trunk(tokens, {&seq, 1}, pool, x.data());
    const int64_t first = opt.all_logits ? 0 : T - 1;
    linear(pool, head_, x.data() + first * E, T - first, logits);
    cache.n_past += T;
    return ok_status();
  }

  // Several sequences in one step: projections and MLP over all their tokens
  // at once, attention per sequence over its own cache.
  Status forward_batch(std::span<const SeqBatch> batch, ThreadPool& pool, const ForwardOptions&,
                       float* logits) const override {
    auto layout = layout_batch(batch, h_.n_vocab);
    if (!layout.ok()) return layout.status();
    if (layout->tokens.empty()) return ok_status();
    const int64_t E = h_.n_embd;
    std::vector<float> x(layout->tokens.size() * static_cast<size_t>(E));
    trunk(layout->tokens, layout->seqs, pool, x.data());
    const std::vector<float> last = wanted_last_rows(batch, layout->seqs, x.data(), E);
    if (!last.empty()) linear(pool, head_, last.data(), static_cast<int64_t>(last.size()) / E, logits);
    advance_caches(batch);
    return ok_status();
  }

 private:
  using Seq = CacheSpan;

  // Embedding + all layers + output norm: x[T x E] = normalised final hidden states.
  void trunk(std::span<const int32_t> tokens, std::span<const Seq> seqs, ThreadPool& pool, float* x) const {
    const int64_t T = static_cast<int64_t>(tokens.size()), E = h_.n_embd;
    std::vector<float> xn(static_cast<size_t>(T * E)), y(xn.size()), scratch;
    for (int64_t t = 0; t < T; ++t) {
      const int32_t id = tokens[static_cast<size_t>(t)];
      kernels::dequantize_row(embd_.dtype, embd_.data + static_cast<uint64_t>(id) * embd_.row_bytes, x + t * E, E);
    }
    const float eps = static_cast<float>(h_.rms_eps);
    for (int64_t l = 0; l < h_.n_layer; ++l) {
      const auto& lw = layers_[static_cast<size_t>(l)];
      rms_norm_rows(x, lw.attn_norm, xn.data(), T, E, eps);
      attention(pool, lw, xn.data(), T, seqs, l, y.data());
      for (int64_t i = 0; i < T * E; ++i) x[i] += y[static_cast<size_t>(i)];
      rms_norm_rows(x, lw.ffn_norm, xn.data(), T, E, eps);
      swiglu_mlp(pool, lw.mlp, xn.data(), T, y.data(), scratch);
      for (int64_t i = 0; i < T * E; ++i) x[i] += y[static_cast<size_t>(i)];
    }
    rms_norm_rows(x, out_norm_, x, T, E, eps);
  }

  void attention(ThreadPool& pool, const LlamaLayer& lw, const float* xn, int64_t T, std::span<const Seq> seqs,
                 int64_t layer, float* out) const {
    const int64_t H = h_.n_head, Hkv = h_.n_head_kv, D = h_.d_head, Dkv = Hkv * D;
    std::vector<float> q(static_cast<size_t>(T * H * D)), k(static_cast<size_t>(T * Dkv)), v(k.size()), o(q.size());
    const LinearJob jobs[] = {{&lw.q, xn, T, q.data()}, {&lw.k, xn, T, k.data()}, {&lw.v, xn, T, v.data()}};
    linear_many(pool, jobs);
    std::vector<float> cs(static_cast<size_t>(D));
    auto rot = half_split_rope_ ? kernels::rope_half_split : kernels::rope_adjacent;
    for (const Seq& sq : seqs)
      for (int64_t i = 0; i < sq.n_tok; ++i) {
        const int64_t t = sq.first + i, pos = sq.pos0 + i;
        rope_.angles(pos, cs.data(), cs.data() + D / 2);
        for (int64_t h = 0; h < H; ++h) {
          float* qh = q.data() + (t * H + h) * D;
          if (lw.bq) for (int64_t j = 0; j < D; ++j) qh[j] += lw.bq[h * D + j];
          rot(qh, D, cs.data(), cs.data() + D / 2);
        }
        float* row = sq.cache->row(layer, pos);
        for (int64_t j = 0; j < Dkv; ++j) {
          row[j] = k[static_cast<size_t>(t * Dkv + j)] + (lw.bk ? lw.bk[j] : 0.0f);
          row[Dkv + j] = v[static_cast<size_t>(t * Dkv + j)] + (lw.bv ? lw.bv[j] : 0.0f);
        }
        for (int64_t h = 0; h < Hkv; ++h) rot(row + h * D, D, cs.data(), cs.data() + D / 2);
      }
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
    for (const Seq& sq : seqs) {
      KvCache& cache = *sq.cache;
      pool.parallel_for(sq.n_tok * H, [&](int64_t i0, int64_t i1) {
        std::vector<float> p(static_cast<size_t>(sq.pos0 + sq.n_tok));
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t ti = i / H, h = i % H, t = sq.first + ti, kvh = h / (H / Hkv), n_keys = sq.pos0 + ti + 1;
          const float* qh = q.data() + (t * H + h) * D;
          for (int64_t s = 0; s < n_keys; ++s) p[static_cast<size_t>(s)] = kernels::dot(qh, cache.row(layer, s) + kvh * D, D) * scale;
          kernels::softmax(p.data(), n_keys);
          float* oh = o.data() + (t * H + h) * D;
          std::fill(oh, oh + D, 0.0f);
          for (int64_t s = 0; s < n_keys; ++s) {
            const float* vs = cache.row(layer, s) + Dkv + kvh * D;
            for (int64_t j = 0; j < D; ++j) oh[j] += p[static_cast<size_t>(s)] * vs[j];
          }
        }
      });
    }
    linear(pool, lw.o, o.data(), T, out);
  }

  LlamaHParams h_;
  std::shared_ptr<const ModelFiles> files_;
  WeightBinder::Storage owned_;  // f32 copies of norms and biases
  RopeTable rope_;
  bool half_split_rope_ = false;
  MatrixView embd_, head_;
  const float* out_norm_ = nullptr;
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
