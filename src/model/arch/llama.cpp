// Llama-family dense transformers: Llama 2/3 (R1-Distill-Llama) and, with
// q/k/v biases, Qwen2 (R1-Distill-Qwen), as one architecture file: tensor and
// hyper-parameter tables (GGUF `llama.*` / `qwen2.*`, HF config.json), presets,
// and the layer the decoder skeleton runs: GQA attention with RoPE (adjacent
// pairs for GGUF llama, whose converter permutes q/k; half-split for Qwen2 and
// for Hugging Face llama checkpoints), optional q/k/v biases, SwiGLU MLP; the
// output head tied or separate.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/arch.h"
#include "model/arch_util.h"
#include "model/blocks/linear.h"
#include "model/blocks/rope.h"
#include "model/common_tensors.h"
#include "model/decoder.h"
#include "model/hparam_table.h"
#include "model/llama.h"
#include "model/weight_binder.h"

namespace dseek {
namespace {

namespace ct = common_tensors;
using H = LlamaHParams;
using Slot = TensorSlot<H>;

int64_t E(const H& h) { return h.n_embd; }
int64_t V(const H& h) { return h.n_vocab; }
int64_t F(const H& h) { return h.n_ff; }
int64_t Dq(const H& h) { return h.n_head * h.d_head; }
int64_t Dkv(const H& h) { return h.n_head_kv * h.d_head; }
bool qkv_bias(const H& h, int64_t) { return h.qkv_bias; }
bool untied(const H& h, int64_t) { return !h.tied_embeddings; }

constexpr Slot mat(std::string_view gguf, std::string_view hf, HDim<H> ne0, HDim<H> ne1) {
  return {.gguf = gguf, .hf = hf, .ne = {ne0, ne1, nullptr}};
}
constexpr Slot bias(std::string_view gguf, std::string_view hf, HDim<H> n) {
  return {.gguf = gguf, .hf = hf, .ne = {n, nullptr, nullptr}, .init = TensorInit::kBias, .quantizable = false,
          .when = qkv_bias};
}
constexpr Slot norm(std::string_view gguf, std::string_view hf, HDim<H> n, SlotScope scope = SlotScope::kLayer) {
  return {.gguf = gguf, .hf = hf, .scope = scope, .ne = {n, nullptr, nullptr}, .init = TensorInit::kNormWeight,
          .quantizable = false};
}

constexpr Slot kLlamaSlots[] = {
    {.gguf = ct::kTokenEmbd.gguf, .hf = ct::kTokenEmbd.hf, .scope = SlotScope::kGlobal, .ne = {E, V, nullptr},
     .init = TensorInit::kEmbedding},
    norm(ct::kAttnNorm.gguf, ct::kAttnNorm.hf, E),
    mat(ct::kAttnQ.gguf, ct::kAttnQ.hf, E, Dq),
    bias("attn_q.bias", "self_attn.q_proj.bias", Dq),
    mat("attn_k.weight", "self_attn.k_proj.weight", E, Dkv),
    bias("attn_k.bias", "self_attn.k_proj.bias", Dkv),
    mat("attn_v.weight", "self_attn.v_proj.weight", E, Dkv),
    bias("attn_v.bias", "self_attn.v_proj.bias", Dkv),
    mat(ct::kAttnOut.gguf, ct::kAttnOut.hf, Dq, E),
    norm(ct::kFfnNorm.gguf, ct::kFfnNorm.hf, E),
    mat(ct::kFfnGate.gguf, ct::kFfnGate.hf, E, F),
    mat(ct::kFfnDown.gguf, ct::kFfnDown.hf, F, E),
    mat(ct::kFfnUp.gguf, ct::kFfnUp.hf, E, F),
    norm(ct::kOutputNorm.gguf, ct::kOutputNorm.hf, E, SlotScope::kGlobal),
    {.gguf = ct::kOutput.gguf, .hf = ct::kOutput.hf, .scope = SlotScope::kGlobal, .ne = {E, V, nullptr},
     .init = TensorInit::kOutputHead, .when = untied},
};
static_assert(std::size(kLlamaSlots) == static_cast<size_t>(LlamaTensor::kOutput) + 1, "one slot per LlamaTensor, in order");

// Defaults that depend on other fields: K/V heads = heads (no GQA), head size = E / H.
void read_head_dims_gguf(const GgufFile&, GgufKeys& k, H& h) {
  h.n_head_kv = k.integer("attention.head_count_kv", h.n_head);
  h.d_head = h.n_head > 0 ? k.integer("attention.key_length", h.n_embd / h.n_head) : 0;
}
void read_head_kv_hf(const nlohmann::json&, JsonKeys& k, H& h) {
  h.n_head_kv = k.integer("num_key_value_heads", h.n_head);
  h.d_head = h.n_head > 0 ? k.integer("head_dim", h.n_embd / h.n_head) : 0;
}
// A vocabulary size left out of the metadata: the embedding's rows, else the tokenizer's size.
// The output head is tied to the embedding when the file has none.
void read_vocab_gguf(const GgufFile& f, GgufKeys& k, H& h) {
  h.n_vocab = k.integer("vocab_size", 0);
  const auto* emb = f.find_tensor(llama_tensors().gguf_name(LlamaTensor::kTokenEmbd));
  if (h.n_vocab == 0 && emb && emb->ne.size() == 2) h.n_vocab = emb->ne[1];
  if (h.n_vocab == 0)
    if (auto toks = f.get_string_array("tokenizer.ggml.tokens")) h.n_vocab = static_cast<int64_t>(toks->size());
  h.tied_embeddings = f.find_tensor(llama_tensors().gguf_name(LlamaTensor::kOutput)) == nullptr && !f.tensors().empty();
}
void write_head_dim(const H& h, const std::string& a, GgufWriter& w) {
  w.set(a + "rope.dimension_count", GgufValue::u32(static_cast<uint32_t>(h.d_head)));
}

using P = HParam<H>;
using namespace hparam_limit;
// In GGUF writer order (general.architecture first, written by the arch).
constexpr P kLlamaParams[] = {
    {.name = "n_ctx", .gguf = "context_length", .hf = "max_position_embeddings", .i = &H::n_ctx, .def = 2048, .lo = 1,
     .hi = kContext},
    {.name = "n_embd", .gguf = "embedding_length", .hf = "hidden_size", .i = &H::n_embd, .gguf_required = true,
     .hf_required = true, .lo = 1, .hi = kWidth},
    {.name = "n_layer", .gguf = "block_count", .hf = "num_hidden_layers", .i = &H::n_layer, .gguf_required = true,
     .hf_required = true, .lo = 1, .hi = kLayers},
    {.name = "n_ff", .gguf = "feed_forward_length", .hf = "intermediate_size", .i = &H::n_ff, .gguf_required = true,
     .hf_required = true, .lo = 1, .hi = kWidth},
    {.name = "n_head", .gguf = "attention.head_count", .hf = "num_attention_heads", .i = &H::n_head,
     .gguf_required = true, .hf_required = true, .lo = 1, .hi = kHeads},
    {.name = "n_head_kv", .gguf = "attention.head_count_kv", .hf = "", .i = &H::n_head_kv, .lo = 1, .hi = kHeads, .read_gguf = read_head_dims_gguf,
     .read_hf = read_head_kv_hf},
    {.name = "d_head", .gguf = "", .hf = "", .i = &H::d_head, .lo = 2, .hi = kHeadDim, .write = write_head_dim},
    {.name = "rope_theta", .gguf = "rope.freq_base", .hf = "rope_theta", .r = &H::rope_theta, .def = 10000.0,
     .lo = 1, .hi = kRopeTheta, .type = ParamType::kF32},
    {.name = "rms_eps", .gguf = "attention.layer_norm_rms_epsilon", .hf = "rms_norm_eps", .r = &H::rms_eps, .def = 1e-5,
     .lo = 0, .hi = 1, .type = ParamType::kF32},
    {.name = "n_vocab", .gguf = "vocab_size", .hf = "vocab_size", .i = &H::n_vocab, .hf_required = true, .lo = 1,
     .hi = 1 << 24, .read_gguf = read_vocab_gguf},
    {.name = "tied_embeddings", .gguf = "", .hf = "tie_word_embeddings", .b = &H::tied_embeddings, .write_none = true},
};

Status validate(const LlamaHParams& h, const std::string& where) {
  if (Status st = check_hparam_ranges<H>(kLlamaParams, h, where); !st.ok()) return st;
  if (h.n_head % h.n_head_kv) return Status::error(where + ": head_count must be a multiple of head_count_kv");
  if (h.d_head % 2) return Status::error(where + ": head dimension must be positive and even");
  return ok_status();
}

class LlamaArch final : public Architecture {
 public:
  explicit LlamaArch(LlamaHParams h) : h_(h) {}
  std::string_view name() const override { return h_.qkv_bias ? "qwen2" : "llama"; }
  std::string_view gguf_arch() const override { return name(); }
  int64_t vocab_size() const override { return h_.n_vocab; }
  int64_t context_length() const override { return h_.n_ctx; }

  std::vector<std::pair<std::string, std::string>> describe() const override {
    auto s = [](auto x) { std::ostringstream o; o << x; return o.str(); };
    return {{"n_vocab", s(h_.n_vocab)}, {"n_embd", s(h_.n_embd)}, {"n_layer", s(h_.n_layer)},
            {"n_head", s(h_.n_head)}, {"n_head_kv", s(h_.n_head_kv)}, {"d_head", s(h_.d_head)},
            {"n_ff", s(h_.n_ff)}, {"n_ctx", s(h_.n_ctx)}, {"rope_theta", s(h_.rope_theta)},
            {"rms_norm_eps", s(h_.rms_eps)}, {"tied_embeddings", h_.tied_embeddings ? "true" : "false"},
            {"qkv_bias", h_.qkv_bias ? "true" : "false"}};
  }

  std::vector<TensorSpec> tensor_specs() const override { return llama_tensors().specs(h_, h_.n_layer); }

  void write_gguf_metadata(GgufWriter& w) const override {
    w.set("general.architecture", GgufValue::str(std::string(name())));
    write_gguf_hparams<H>(kLlamaParams, std::string(name()) + ".", h_, w);
  }

  Result<std::unique_ptr<Model>> create_model(std::shared_ptr<const ModelFiles> files) const override {
    return create_llama_model(h_, std::move(files));
  }

  double active_fraction(std::string_view) const override { return 1.0; }
  bool is_mtp_tensor(std::string_view) const override { return false; }

 private:
  LlamaHParams h_;
};


// ---- The layer ------------------------------------------------------------


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
    b.set_adapters(files_->adapters.get());
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
    linear_many(pool, jobs, arena);
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
    linear(pool, lw.o, o, T, out, arena);
  }

  LlamaHParams h_;
  std::shared_ptr<const ModelFiles> files_;
  WeightBinder::Storage owned_;  // f32 copies of norms and biases
  RopeTable rope_;
  bool half_split_rope_ = false;
  std::vector<LlamaLayer> layers_;
};

}  // namespace


Result<std::unique_ptr<Architecture>> llama_preset(std::string_view preset, int64_t n_vocab, bool qkv_bias,
                                                    int64_t n_layer) {
  LlamaHParams h;
  h.n_vocab = n_vocab;
  h.qkv_bias = qkv_bias;
  if (preset == "tiny") {
    h.n_embd = 64; h.n_layer = 2; h.n_head = 4; h.n_head_kv = 2; h.n_ff = 172;
  } else if (preset == "small") {
    h.n_embd = 256; h.n_layer = 4; h.n_head = 8; h.n_head_kv = 4; h.n_ff = 688;
  } else {
    return Status::error("unknown preset '" + std::string(preset) + "' for " + (qkv_bias ? "qwen2" : "llama") + " (tiny, small)");
  }
  if (n_layer > 0) h.n_layer = n_layer;
  h.d_head = h.n_embd / h.n_head;
  h.rope_theta = qkv_bias ? 1000000.0 : 500000.0;
  h.rms_eps = qkv_bias ? 1e-6 : 1e-5;
  h.n_ctx = 4096;
  return std::unique_ptr<Architecture>(new LlamaArch(h));
}

const LlamaTensors& llama_tensors() {
  static const LlamaTensors table{kLlamaSlots};
  return table;
}

Result<std::unique_ptr<Architecture>> llama_from_gguf(const GgufFile& f, bool qkv_bias) {
  GgufKeys k(f, std::string(qkv_bias ? "qwen2" : "llama") + ".");
  LlamaHParams h;
  h.qkv_bias = qkv_bias;
  read_gguf_hparams<H>(kLlamaParams, f, k, h);
  if (!k.ok()) return k.status();
  Status st = validate(h, f.path());
  if (!st.ok()) return st;
  return std::unique_ptr<Architecture>(new LlamaArch(h));
}

Result<std::unique_ptr<Architecture>> llama_from_hf_config(const nlohmann::json& c, bool qkv_bias) {
  JsonKeys k(c, "config.json");
  LlamaHParams h;
  h.qkv_bias = qkv_bias;
  read_hf_hparams<H>(kLlamaParams, c, k, h);
  if (!k.ok()) return k.status();
  Status st = validate(h, "config.json");
  if (!st.ok()) return st;
  return std::unique_ptr<Architecture>(new LlamaArch(h));
}

Result<std::unique_ptr<Model>> create_llama_model(const LlamaHParams& h, std::shared_ptr<const ModelFiles> files) {
  return make_bound_model<LlamaModel>(h, std::move(files));
}

}  // namespace dseek
