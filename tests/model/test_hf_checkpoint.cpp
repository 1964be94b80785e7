// Loading a Hugging Face checkpoint (config.json + safetensors with DeepSeek's
// own names, FP8-E4M3 weights with 128x128 weight_scale_inv blocks, BF16
// embeddings, one tensor per expert, joint kv_b_proj, MTP as layer L) gives
// the same logits as a GGUF holding the very same weight values. For V3.2 the
// indexer too: wq_b and wk in FP8, weights_proj in BF16, k_norm weight and
// bias in f32, as released.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "core/float_convert.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using Floats = std::vector<float>;

Floats read_f32(const GgufFile& f, const std::string& name) {
  const auto* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  Floats v(static_cast<size_t>(t->n_elements()));
  kernels::dequantize_row(t->dtype, f.tensor_data(*t).data(), v.data(), t->n_elements());
  return v;
}

std::vector<std::byte> bytes_of(const void* p, size_t n) {
  std::vector<std::byte> b(n);
  std::memcpy(b.data(), p, n);
  return b;
}

// Quantises W [rows x cols] to FP8 with per-128x128-block scales (DeepSeek-V3's
// format) and returns the dequantised values the model must see.
Floats add_fp8(SafetensorsWriter& st, const std::string& name, const Floats& w, int64_t rows, int64_t cols) {
  const int64_t br = (rows + 127) / 128, bc = (cols + 127) / 128;
  Floats scale(static_cast<size_t>(br * bc), 0.0f), out(w.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& s = scale[static_cast<size_t>((r / 128) * bc + c / 128)];
      s = std::max(s, std::fabs(w[static_cast<size_t>(r * cols + c)]) / 448.0f);
    }
  std::vector<uint8_t> q(w.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c);
      const float s = scale[static_cast<size_t>((r / 128) * bc + c / 128)];
      q[i] = f32_to_fp8_e4m3(s > 0 ? w[i] / s : 0.0f);
      out[i] = fp8_e4m3_to_f32(q[i]) * s;
    }
  st.add(name, DType::kF8E4M3, {rows, cols}, bytes_of(q.data(), q.size()));
  st.add(name + "_scale_inv", DType::kF32, {br, bc}, bytes_of(scale.data(), scale.size() * 4));
  return out;
}

Floats add_bf16(SafetensorsWriter& st, const std::string& name, const Floats& w, std::vector<int64_t> shape) {
  std::vector<uint16_t> b(w.size());
  Floats out(w.size());
  for (size_t i = 0; i < w.size(); ++i) out[i] = bf16_to_f32(b[i] = f32_to_bf16(w[i]));
  st.add(name, DType::kBF16, std::move(shape), bytes_of(b.data(), b.size() * 2));
  return out;
}

void add_f32(SafetensorsWriter& st, const std::string& name, const Floats& w) {
  st.add(name, DType::kF32, {static_cast<int64_t>(w.size())}, bytes_of(w.data(), w.size() * 4));
}

std::vector<float> logits_of(const std::string& path, const std::vector<int32_t>& toks) {
  auto files = open_model_files(path);
  EXPECT_TRUE(files.ok()) << files.message();
  auto m = load_model(std::make_shared<const ModelFiles>(std::move(files).value()));
  EXPECT_TRUE(m.ok()) << m.message();
  if (!m.ok()) return {};
  ThreadPool pool(2);
  KvCache cache = (*m)->new_cache(static_cast<int64_t>(toks.size()));
  std::vector<float> out(toks.size() * static_cast<size_t>((*m)->n_vocab()));
  EXPECT_TRUE((*m)->forward(toks, cache, pool, {}, out.data()).ok());
  return out;
}

class HfCheckpoint : public ::testing::TestWithParam<std::string> {};

TEST_P(HfCheckpoint, Fp8MatchesGgufWithTheSameValues) {
  const std::string arch = GetParam();
  const bool v32 = arch == "deepseek-v32";
  test::TempDir dir;
  const auto src_path = (dir / "src.gguf").string();
  ASSERT_EQ(test::run_dseek("init --arch " + arch + " --preset small -o '" + src_path + "'").exit_code, 0);
  auto src = GgufFile::open(src_path);
  ASSERT_TRUE(src.ok());
  const std::string prefix = *src->get_string("general.architecture") + ".";  // deepseek2 or deepseek32
  const auto key = [&](const std::string& k) { return *src->get_int(prefix + k); };
  const int64_t E = key("embedding_length"), H = key("attention.head_count"), Ckv = key("attention.kv_lora_rank");
  const int64_t Dr = key("rope.dimension_count"), Dn = key("attention.key_length_mla") - Dr, Dv = key("attention.value_length_mla");
  const int64_t X = key("expert_count"), Fe = key("expert_feed_forward_length"), V = key("vocab_size");
  const int64_t L = key("block_count") - key("nextn_predict_layers");

  std::filesystem::create_directory(dir / "hf");
  SafetensorsWriter st;
  std::map<std::string, Floats> same;  // GGUF name -> the exact values the HF checkpoint encodes
  for (const auto& t : src->tensors()) {
    const std::string& n = t.name;
    Floats w = read_f32(*src, n);
    const int64_t cols = t.ne[0], rows = t.n_elements() / cols;
    const std::string layer = n.rfind("blk.", 0) == 0 ? n.substr(4, n.find('.', 4) - 4) : "";
    const std::string hf = "model.layers." + layer + ".";
    auto suffix = [&](const char* s) { return n.size() >= std::strlen(s) && n.compare(n.size() - std::strlen(s), std::string::npos, s) == 0; };
    if (n == "token_embd.weight") same[n] = add_bf16(st, "model.embed_tokens.weight", w, {rows, cols});
    else if (n == "output.weight") same[n] = add_bf16(st, "lm_head.weight", w, {rows, cols});
    else if (suffix("attn_k_b.weight") || suffix("attn_v_b.weight")) continue;  // joined below
    else if (suffix("_exps.weight")) {
      const std::string kind = n.find("gate") != std::string::npos ? "gate_proj" : n.find("up_") != std::string::npos ? "up_proj" : "down_proj";
      const int64_t er = rows / X;
      Floats merged;
      for (int64_t e = 0; e < X; ++e) {
        Floats we(w.begin() + e * er * cols, w.begin() + (e + 1) * er * cols);
        Floats d = add_fp8(st, hf + "mlp.experts." + std::to_string(e) + "." + kind + ".weight", we, er, cols);
        merged.insert(merged.end(), d.begin(), d.end());
      }
      same[n] = merged;
    } else if (t.ne.size() == 1) {
      static const std::map<std::string, std::string> kNames = {
          {"attn_norm.weight", "input_layernorm.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
          {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"}, {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"},
          {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"}, {"nextn.enorm.weight", "enorm.weight"},
          {"nextn.hnorm.weight", "hnorm.weight"}, {"nextn.shared_head_norm.weight", "shared_head.norm.weight"},
          {"indexer.k_norm.weight", "self_attn.indexer.k_norm.weight"}, {"indexer.k_norm.bias", "self_attn.indexer.k_norm.bias"}};
      const std::string tail = n == "output_norm.weight" ? "" : n.substr(n.find('.', 4) + 1);
      add_f32(st, n == "output_norm.weight" ? "model.norm.weight" : hf + kNames.at(tail), w);
      same[n] = w;
    } else {
      static const std::map<std::string, std::string> kNames = {
          {"attn_q_a.weight", "self_attn.q_a_proj.weight"}, {"attn_q_b.weight", "self_attn.q_b_proj.weight"},
          {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"}, {"attn_output.weight", "self_attn.o_proj.weight"},
          {"ffn_gate.weight", "mlp.gate_proj.weight"}, {"ffn_up.weight", "mlp.up_proj.weight"}, {"ffn_down.weight", "mlp.down_proj.weight"},
          {"ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight"}, {"ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight"},
          {"ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight"}, {"ffn_gate_inp.weight", "mlp.gate.weight"},
          {"nextn.eh_proj.weight", "eh_proj.weight"}, {"indexer.attn_q_b.weight", "self_attn.indexer.wq_b.weight"},
          {"indexer.attn_k.weight", "self_attn.indexer.wk.weight"}};
      const std::string tail = n.substr(n.find('.', 4) + 1);
      if (tail == "indexer.proj.weight") {  // the indexer's head weights are BF16 in the release
        same[n] = add_bf16(st, hf + "self_attn.indexer.weights_proj.weight", w, {rows, cols});
      } else if (tail == "ffn_gate_inp.weight") {  // the router stays in high precision (as in the release)
        st.add(hf + kNames.at(tail), DType::kF32, {rows, cols}, bytes_of(w.data(), w.size() * 4));
        same[n] = w;
      } else {
        same[n] = add_fp8(st, hf + kNames.at(tail), w, rows, cols);
      }
    }
  }
  // kv_b_proj [H*(Dn+Dv) x Ckv] from attn_k_b (W_UK^T per head) and attn_v_b.
  for (int64_t l = 0; l <= L; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".";
    if (!src->find_tensor(g + "attn_k_b.weight")) continue;
    const Floats kb = read_f32(*src, g + "attn_k_b.weight"), vb = read_f32(*src, g + "attn_v_b.weight");
    Floats kv(static_cast<size_t>(H * (Dn + Dv) * Ckv));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t c = 0; c < Ckv; ++c) {
        for (int64_t i = 0; i < Dn; ++i) kv[static_cast<size_t>((h * (Dn + Dv) + i) * Ckv + c)] = kb[static_cast<size_t>((h * Ckv + c) * Dn + i)];
        for (int64_t j = 0; j < Dv; ++j) kv[static_cast<size_t>((h * (Dn + Dv) + Dn + j) * Ckv + c)] = vb[static_cast<size_t>((h * Dv + j) * Ckv + c)];
      }
    same[g + "attn_kv_b.weight"] = add_fp8(st, "model.layers." + std::to_string(l) + ".self_attn.kv_b_proj.weight", kv, H * (Dn + Dv), Ckv);
  }
  ASSERT_TRUE(st.write((dir / "hf/model.safetensors").string()).ok());
  nlohmann::json cfg = {{"model_type", v32 ? "deepseek_v32" : "deepseek_v3"}, {"vocab_size", V}, {"hidden_size", E}, {"num_hidden_layers", L},
                        {"num_attention_heads", H}, {"q_lora_rank", key("attention.q_lora_rank")}, {"kv_lora_rank", Ckv},
                        {"qk_nope_head_dim", Dn}, {"qk_rope_head_dim", Dr}, {"v_head_dim", Dv},
                        {"intermediate_size", key("feed_forward_length")}, {"moe_intermediate_size", Fe},
                        {"n_routed_experts", X}, {"n_shared_experts", key("expert_shared_count")},
                        {"num_experts_per_tok", key("expert_used_count")}, {"n_group", key("expert_group_count")},
                        {"topk_group", key("expert_group_used_count")}, {"first_k_dense_replace", key("leading_dense_block_count")},
                        {"num_nextn_predict_layers", 1}, {"scoring_func", "sigmoid"}, {"topk_method", "noaux_tc"},
                        {"norm_topk_prob", true}, {"routed_scaling_factor", *src->get_float(prefix + "expert_weights_scale")},
                        {"rope_theta", *src->get_float(prefix + "rope.freq_base")}, {"rms_norm_eps", *src->get_float(prefix + "attention.layer_norm_rms_epsilon")},
                        {"max_position_embeddings", key("context_length")},
                        {"rope_scaling", {{"type", "yarn"}, {"factor", *src->get_float(prefix + "rope.scaling.factor")},
                                          {"original_max_position_embeddings", key("rope.scaling.original_context_length")},
                                          {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", 1.0}, {"mscale_all_dim", 1.0}}},
                        {"quantization_config", {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"weight_block_size", {128, 128}}}}};
  if (v32) {
    cfg["index_n_heads"] = key("attention.indexer.head_count");
    cfg["index_head_dim"] = key("attention.indexer.key_length");
    cfg["index_topk"] = key("attention.indexer.top_k");
  }
  test::write_file(dir / "hf/config.json", cfg.dump(2));

  // GGUF with the same values (f32), in the older joint attn_kv_b layout.
  GgufWriter w;
  for (const auto& [k, v] : src->metadata()) w.set(k, v);
  std::vector<std::string> names;
  for (const auto& t : src->tensors()) {
    if (t.name.find("attn_k_b") != std::string::npos || t.name.find("attn_v_b") != std::string::npos) continue;
    names.push_back(t.name);
    w.add_tensor(t.name, DType::kF32, t.ne);
  }
  for (int64_t l = 0; l <= L; ++l) {
    const std::string n = "blk." + std::to_string(l) + ".attn_kv_b.weight";
    names.push_back(n);
    w.add_tensor(n, DType::kF32, {Ckv, H * (Dn + Dv)});
  }
  const auto same_path = (dir / "same.gguf").string();
  ASSERT_TRUE(w.write(same_path, [&](size_t i, std::span<std::byte> out) {
                 const Floats& v = same.at(names[i]);
                 std::memcpy(out.data(), v.data(), out.size());
                 return ok_status();
               }).ok());

  const auto j = nlohmann::json::parse(test::run_dseek("inspect --json '" + (dir / "hf").string() + "'").out);
  EXPECT_EQ(j["architecture"], arch);
  EXPECT_TRUE(j["bytes_by_dtype"].contains("f8_e4m3"));

  std::vector<int32_t> toks;
  const int n_tok = v32 ? 48 : 20;  // V3.2 small: index_topk 32, so the last 16 queries are sparse
  for (int i = 0; i < n_tok; ++i) toks.push_back((i * 131 + 7) % static_cast<int32_t>(V));
  const auto a = logits_of(same_path, toks), b = logits_of((dir / "hf").string(), toks);
  ASSERT_EQ(a.size(), b.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(a[i])));
  }
  std::printf("HF FP8 checkpoint vs GGUF with the same values: max |diff| %.3g (logit scale %.3g)\n", diff, scale);
  EXPECT_LE(diff, 1e-4 * scale);
  EXPECT_GT(scale, 1.0);

  // `dseek quantize` converts the HF directory (FP8 dequantised, experts merged,
  // kv_b_proj split into attn_k_b / attn_v_b) to GGUF: f32 keeps the logits.
  const auto conv = (dir / "conv.gguf").string();
  auto q = test::run_dseek("quantize '" + (dir / "hf").string() + "' '" + conv + "' --type f32");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const auto c = logits_of(conv, toks);
  ASSERT_EQ(c.size(), b.size());
  double conv_diff = 0;
  for (size_t i = 0; i < c.size(); ++i) conv_diff = std::max(conv_diff, std::fabs(static_cast<double>(c[i]) - b[i]));
  std::printf("HF FP8 checkpoint vs `dseek quantize --type f32` of it: max |diff| %.3g\n", conv_diff);
  EXPECT_LE(conv_diff, 1e-4 * scale);
  // ... and a q8_0 conversion holds the same tensors up to q8_0 rounding
  // (half a step of each 32-block's scale amax/127, plus the scale's own f16 rounding: 127 * 2^-11 steps).
  auto q8 = test::run_dseek("quantize '" + (dir / "hf").string() + "' '" + (dir / "q8.gguf").string() + "' --type q8_0");
  ASSERT_EQ(q8.exit_code, 0) << q8.err;
  auto fq = GgufFile::open((dir / "q8.gguf").string());
  auto ff = GgufFile::open(conv);
  ASSERT_TRUE(fq.ok() && ff.ok());
  ASSERT_EQ(fq->tensors().size(), ff->tensors().size());
  int quantised = 0;
  for (const auto& t : ff->tensors()) {
    const auto* tq = fq->find_tensor(t.name);
    ASSERT_NE(tq, nullptr) << t.name;
    const Floats a = read_f32(*ff, t.name), bq = read_f32(*fq, t.name);
    for (size_t blk = 0; blk < a.size() / 32 * 32; blk += 32) {
      float amax = 0;
      for (size_t i = blk; i < blk + 32; ++i) amax = std::max(amax, std::fabs(a[i]));
      for (size_t i = blk; i < blk + 32; ++i) ASSERT_LE(std::fabs(a[i] - bq[i]), amax / 127 * 0.57 + 1e-7) << t.name << " " << i;
    }
    quantised += tq->dtype == DType::kQ8_0;
  }
  EXPECT_GT(quantised, 20);
}

INSTANTIATE_TEST_SUITE_P(DeepSeek, HfCheckpoint, ::testing::Values("deepseek-v3", "deepseek-v32"),
                         [](const auto& info) { return info.param == "deepseek-v3" ? std::string("V3") : std::string("V32"); });

}  // namespace
}  // namespace dseek
