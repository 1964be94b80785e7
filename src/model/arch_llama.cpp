// Llama-family dense transformers: Llama 2/3 (R1-Distill-Llama) and, with
// q/k/v biases, Qwen2 (R1-Distill-Qwen). GQA attention + SwiGLU MLP.
// Hyper-parameters from GGUF (`llama.*` / `qwen2.*`) or HF config.json.
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/arch.h"
#include "model/arch_util.h"
#include "model/llama.h"

namespace dseek {
namespace {

Status validate(const LlamaHParams& h, const std::string& where) {
  if (h.n_vocab <= 0 || h.n_embd <= 0 || h.n_layer <= 0 || h.n_head <= 0 || h.n_head_kv <= 0 || h.n_ff <= 0)
    return Status::error(where + ": vocab, embedding, layer, head, kv-head and feed-forward sizes must be positive");
  if (h.n_head % h.n_head_kv) return Status::error(where + ": head_count must be a multiple of head_count_kv");
  if (h.d_head <= 0 || h.d_head % 2) return Status::error(where + ": head dimension must be positive and even");
  if (h.n_embd > (1 << 20) || h.n_layer > 4096 || h.n_head > 4096 || h.n_vocab > (1 << 24))
    return Status::error(where + ": hyper-parameters are absurdly large");
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

  std::vector<TensorSpec> tensor_specs() const override {
    const int64_t E = h_.n_embd, Dq = h_.n_head * h_.d_head, Dkv = h_.n_head_kv * h_.d_head;
    std::vector<TensorSpec> t;
    t.push_back(spec("token_embd.weight", "model.embed_tokens.weight", {E, h_.n_vocab}, TensorInit::kEmbedding, E));
    for (int64_t i = 0; i < h_.n_layer; ++i) {
      const std::string b = "blk." + std::to_string(i) + ".", hf = "model.layers." + std::to_string(i) + ".";
      t.push_back(norm(b + "attn_norm.weight", hf + "input_layernorm.weight", E));
      const std::pair<const char*, int64_t> proj[] = {{"q", Dq}, {"k", Dkv}, {"v", Dkv}};
      for (const auto& [p, out] : proj) {
        t.push_back(spec(b + "attn_" + p + ".weight", hf + "self_attn." + p + "_proj.weight", {E, out}, TensorInit::kMatrix, E));
        if (h_.qkv_bias) {
          TensorSpec bias = spec(b + "attn_" + p + ".bias", hf + "self_attn." + p + "_proj.bias", {out}, TensorInit::kBias, 1);
          bias.quantizable = false;
          t.push_back(bias);
        }
      }
      t.push_back(spec(b + "attn_output.weight", hf + "self_attn.o_proj.weight", {Dq, E}, TensorInit::kMatrix, Dq));
      t.push_back(norm(b + "ffn_norm.weight", hf + "post_attention_layernorm.weight", E));
      t.push_back(spec(b + "ffn_gate.weight", hf + "mlp.gate_proj.weight", {E, h_.n_ff}, TensorInit::kMatrix, E));
      t.push_back(spec(b + "ffn_down.weight", hf + "mlp.down_proj.weight", {h_.n_ff, E}, TensorInit::kMatrix, h_.n_ff));
      t.push_back(spec(b + "ffn_up.weight", hf + "mlp.up_proj.weight", {E, h_.n_ff}, TensorInit::kMatrix, E));
    }
    t.push_back(norm("output_norm.weight", "model.norm.weight", E));
    if (!h_.tied_embeddings) t.push_back(spec("output.weight", "lm_head.weight", {E, h_.n_vocab}, TensorInit::kOutputHead, E));
    return t;
  }

  void write_gguf_metadata(GgufWriter& w) const override {
    const std::string a = std::string(name()) + ".";
    w.set("general.architecture", GgufValue::str(std::string(name())));
    w.set(a + "context_length", GgufValue::u32(static_cast<uint32_t>(h_.n_ctx)));
    w.set(a + "embedding_length", GgufValue::u32(static_cast<uint32_t>(h_.n_embd)));
    w.set(a + "block_count", GgufValue::u32(static_cast<uint32_t>(h_.n_layer)));
    w.set(a + "feed_forward_length", GgufValue::u32(static_cast<uint32_t>(h_.n_ff)));
    w.set(a + "attention.head_count", GgufValue::u32(static_cast<uint32_t>(h_.n_head)));
    w.set(a + "attention.head_count_kv", GgufValue::u32(static_cast<uint32_t>(h_.n_head_kv)));
    w.set(a + "rope.dimension_count", GgufValue::u32(static_cast<uint32_t>(h_.d_head)));
    w.set(a + "rope.freq_base", GgufValue::f32(static_cast<float>(h_.rope_theta)));
    w.set(a + "attention.layer_norm_rms_epsilon", GgufValue::f32(static_cast<float>(h_.rms_eps)));
    w.set(a + "vocab_size", GgufValue::u32(static_cast<uint32_t>(h_.n_vocab)));
  }

  Result<std::unique_ptr<Model>> create_model(std::shared_ptr<const ModelFiles> files) const override {
    return create_llama_model(h_, std::move(files));
  }

  double active_fraction(std::string_view) const override { return 1.0; }
  bool is_mtp_tensor(std::string_view) const override { return false; }

 private:
  LlamaHParams h_;
};

}  // namespace

Result<std::unique_ptr<Architecture>> llama_preset(std::string_view preset, int64_t n_vocab, bool qkv_bias) {
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
  h.d_head = h.n_embd / h.n_head;
  h.rope_theta = qkv_bias ? 1000000.0 : 500000.0;
  h.rms_eps = qkv_bias ? 1e-6 : 1e-5;
  h.n_ctx = 4096;
  return std::unique_ptr<Architecture>(new LlamaArch(h));
}

Result<std::unique_ptr<Architecture>> llama_from_gguf(const GgufFile& f, bool qkv_bias) {
  const std::string arch = qkv_bias ? "qwen2" : "llama";
  GgufKeys k(f, arch + ".");
  LlamaHParams h;
  h.qkv_bias = qkv_bias;
  h.n_embd = k.integer("embedding_length");
  h.n_layer = k.integer("block_count");
  h.n_head = k.integer("attention.head_count");
  h.n_head_kv = k.integer("attention.head_count_kv", h.n_head);
  h.n_ff = k.integer("feed_forward_length");
  h.n_ctx = k.integer("context_length", 2048);
  h.d_head = h.n_head > 0 ? k.integer("attention.key_length", h.n_embd / h.n_head) : 0;
  h.rope_theta = k.real("rope.freq_base", 10000.0);
  h.rms_eps = k.real("attention.layer_norm_rms_epsilon", 1e-5);
  h.n_vocab = k.integer("vocab_size", 0);
  const auto* emb = f.find_tensor("token_embd.weight");
  if (h.n_vocab == 0 && emb && emb->ne.size() == 2) h.n_vocab = emb->ne[1];
  if (h.n_vocab == 0) {
    if (auto toks = f.get_string_array("tokenizer.ggml.tokens")) h.n_vocab = static_cast<int64_t>(toks->size());
  }
  h.tied_embeddings = f.find_tensor("output.weight") == nullptr && !f.tensors().empty();
  if (!k.ok()) return k.status();
  Status st = validate(h, f.path());
  if (!st.ok()) return st;
  return std::unique_ptr<Architecture>(new LlamaArch(h));
}

Result<std::unique_ptr<Architecture>> llama_from_hf_config(const nlohmann::json& c, bool qkv_bias) {
  JsonKeys k(c, "config.json");
  LlamaHParams h;
  h.qkv_bias = qkv_bias;
  h.n_vocab = k.integer("vocab_size");
  h.n_embd = k.integer("hidden_size");
  h.n_layer = k.integer("num_hidden_layers");
  h.n_head = k.integer("num_attention_heads");
  h.n_head_kv = k.integer("num_key_value_heads", h.n_head);
  h.n_ff = k.integer("intermediate_size");
  h.n_ctx = k.integer("max_position_embeddings", 2048);
  h.d_head = h.n_head > 0 ? k.integer("head_dim", h.n_embd / h.n_head) : 0;
  h.rope_theta = k.real("rope_theta", 10000.0);
  h.rms_eps = k.real("rms_norm_eps", 1e-5);
  h.tied_embeddings = k.boolean("tie_word_embeddings", false);
  if (!k.ok()) return k.status();
  Status st = validate(h, "config.json");
  if (!st.ok()) return st;
  return std::unique_ptr<Architecture>(new LlamaArch(h));
}

}  // namespace dseek
