// Loading DeepSeek-V4 Hugging Face directories as released (issue 18 item 3):
// DeepSeek's own tensor names, FP8 E4M3 weights with E8M0 (or F32) block
// scales `.scale`, routed experts as packed FP4 (I8) + E8M0 scales, an I64
// tid2eid; and transformers' names with merged gate_up_proj / down_proj.
// The directories are written here from a GGUF made by `dseek init`, so the
// same weights load both ways: MXFP4 experts are repacked bit-exactly, so the
// logits agree exactly (diff 0). GGUF has no FP8 type, so the FP8 directories
// are compared with each other (E8M0 scales vs the same scales as F32).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "format/safetensors_writer.h"
#include "kernels/kernels.h"
#include "model/arch/deepseek_v4_hparams.h"
#include "model/arch/deepseek_v4_names.h"
#include "model/model.h"
#include "model/mxfp4_rows.h"
#include "support/model_helpers.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using test::run_dseek;
using test::TempDir;

// GGUF names (after "blk.N.") -> DeepSeek's (after "layers.N."), as docs/design/deepseek-v4.md §3.1 / §3.5 list them.
const std::map<std::string, std::string> kLayerNames = {
    {"hc_attn_fn.weight", "hc_attn_fn"}, {"hc_attn_base.weight", "hc_attn_base"}, {"hc_attn_scale.weight", "hc_attn_scale"},
    {"hc_ffn_fn.weight", "hc_ffn_fn"},   {"hc_ffn_base.weight", "hc_ffn_base"},   {"hc_ffn_scale.weight", "hc_ffn_scale"},
    {"attn_norm.weight", "attn_norm.weight"}, {"attn_q_a.weight", "attn.wq_a.weight"},
    {"attn_q_a_norm.weight", "attn.q_norm.weight"}, {"attn_q_b.weight", "attn.wq_b.weight"},
    {"attn_kv.weight", "attn.wkv.weight"}, {"attn_kv_a_norm.weight", "attn.kv_norm.weight"},
    {"attn_sinks.weight", "attn.attn_sink"}, {"attn_output_a.weight", "attn.wo_a.weight"},
    {"attn_output_b.weight", "attn.wo_b.weight"}, {"ffn_norm.weight", "ffn_norm.weight"},
    {"ffn_gate_inp.weight", "ffn.gate.weight"}, {"exp_probs_b.bias", "ffn.gate.bias"},
    {"ffn_gate_tid2eid.weight", "ffn.gate.tid2eid"}, {"ffn_gate_shexp.weight", "ffn.shared_experts.w1.weight"},
    {"ffn_up_shexp.weight", "ffn.shared_experts.w3.weight"}, {"ffn_down_shexp.weight", "ffn.shared_experts.w2.weight"},
    // compressed layers (CSA / HCA) and the CSA indexer
    {"attn_compressor_kv.weight", "attn.compressor.wkv.weight"}, {"attn_compressor_gate.weight", "attn.compressor.wgate.weight"},
    {"attn_compressor_ape.weight", "attn.compressor.ape"}, {"attn_compressor_norm.weight", "attn.compressor.norm.weight"},
    {"indexer.attn_q_b.weight", "attn.indexer.wq_b.weight"}, {"indexer.proj.weight", "attn.indexer.weights_proj.weight"},
    {"indexer_compressor_kv.weight", "attn.indexer.compressor.wkv.weight"},
    {"indexer_compressor_gate.weight", "attn.indexer.compressor.wgate.weight"},
    {"indexer_compressor_ape.weight", "attn.indexer.compressor.ape"},
    {"indexer_compressor_norm.weight", "attn.indexer.compressor.norm.weight"},
};
const std::map<std::string, std::string> kGlobalNames = {
    {"token_embd.weight", "embed.weight"}, {"output.weight", "head.weight"}, {"output_norm.weight", "norm.weight"},
    {"output_hc_fn.weight", "hc_head_fn"}, {"output_hc_base.weight", "hc_head_base"},
    {"output_hc_scale.weight", "hc_head_scale"},
};
// The matrices V4 ships in FP8 (the routed experts are FP4).
bool fp8_in_release(const std::string& base) {
  for (const char* m : {"attn_q_a.", "attn_q_b.", "attn_kv.", "attn_output_a.", "attn_output_b.", "_shexp.", "indexer.attn_q_b."})
    if (base.find(m) != std::string::npos) return true;
  return false;
}

struct Layout {
  bool transformers = false;  // transformers' names, experts merged (float experts only)
  bool fp8 = false;           // FP8 matrices with block scales
  bool f32_scales = false;    // scales as F32 (the -Base models) instead of E8M0
};
// Changes an entry before it is written; false drops it.
using Edit = std::function<bool(std::string& name, std::vector<int64_t>& shape, std::vector<std::byte>& bytes)>;

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

class DirWriter {
 public:
  DirWriter(const Layout& lay, Edit edit) : lay_(lay), edit_(std::move(edit)) {}

  void put(std::string name, DType dt, std::vector<int64_t> shape, std::vector<std::byte> b, std::string st = {}) {
    if (edit_ && !edit_(name, shape, b)) return;
    w_.add(std::move(name), dt, std::move(shape), std::move(b), std::move(st));
  }
  void scale(const std::string& name, const std::vector<uint8_t>& e, std::vector<int64_t> shape) {
    if (!lay_.f32_scales) return put(name, DType::kU8, std::move(shape), bytes_of(e), "F8_E8M0");
    std::vector<float> f(e.size());
    for (size_t i = 0; i < e.size(); ++i) f[i] = std::ldexp(1.0f, e[i] - 127);
    put(name, DType::kF32, std::move(shape), bytes_of(f));
  }
  // W [rows x cols] f32 -> E4M3 with one power-of-two scale per 128 x 128 block.
  void fp8_matrix(const std::string& weight, const std::string& scale_name, const float* w, int64_t rows, int64_t cols) {
    const int64_t br = (rows + 127) / 128, bc = (cols + 127) / 128;
    std::vector<uint8_t> e(static_cast<size_t>(br * bc)), q(static_cast<size_t>(rows * cols));
    for (int64_t i = 0; i < br; ++i)
      for (int64_t j = 0; j < bc; ++j) {
        float amax = 0;
        for (int64_t r = i * 128; r < std::min(rows, i * 128 + 128); ++r)
          for (int64_t c = j * 128; c < std::min(cols, j * 128 + 128); ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
        const int ex = amax > 0 ? static_cast<int>(std::ceil(std::log2(amax / 448.0f))) : 0;
        e[static_cast<size_t>(i * bc + j)] = static_cast<uint8_t>(ex + 127);
        for (int64_t r = i * 128; r < std::min(rows, i * 128 + 128); ++r)
          for (int64_t c = j * 128; c < std::min(cols, j * 128 + 128); ++c)
            q[static_cast<size_t>(r * cols + c)] = kernels::fp8_e4m3_from_float(std::ldexp(w[r * cols + c], -ex));
      }
    put(weight, DType::kF8E4M3, {rows, cols}, bytes_of(q));
    scale(scale_name, e, {br, bc});
  }
  Status write(const std::string& path) const { return w_.write(path); }

 private:
  Layout lay_;
  Edit edit_;
  SafetensorsWriter w_;
};

nlohmann::json config_of(const DeepseekV4HParams& h) {
  std::vector<int64_t> ratios = h.compress_ratios;
  ratios.push_back(0);  // the MTP block's entry
  return {{"model_type", "deepseek_v4"}, {"vocab_size", h.n_vocab}, {"hidden_size", h.n_embd},
          {"num_hidden_layers", h.n_layer}, {"num_attention_heads", h.n_head}, {"num_key_value_heads", 1},
          {"head_dim", h.head_dim}, {"qk_rope_head_dim", h.d_rope}, {"q_lora_rank", h.q_lora_rank},
          {"o_groups", h.o_groups}, {"o_lora_rank", h.o_lora_rank}, {"sliding_window", h.window},
          {"compress_ratios", ratios}, {"rope_theta", h.rope_theta}, {"compress_rope_theta", h.compress_rope_theta},
          {"rope_scaling", {{"type", "yarn"}, {"factor", h.yarn_factor}, {"original_max_position_embeddings", h.yarn_orig_ctx},
                            {"beta_fast", h.yarn_beta_fast}, {"beta_slow", h.yarn_beta_slow}}},
          {"rms_norm_eps", h.rms_eps}, {"hc_mult", h.hc_mult}, {"hc_sinkhorn_iters", h.hc_sinkhorn_iters},
          {"hc_eps", h.hc_eps}, {"n_routed_experts", h.n_expert}, {"n_shared_experts", h.n_expert_shared},
          {"num_experts_per_tok", h.n_expert_used}, {"moe_intermediate_size", h.n_ff_exp},
          {"num_hash_layers", h.n_hash_layers}, {"routed_scaling_factor", h.route_scale}, {"norm_topk_prob", h.norm_topk},
          {"scoring_func", "sqrtsoftplus"}, {"index_n_heads", h.index_n_heads}, {"index_head_dim", h.index_head_dim},
          {"index_topk", h.index_topk}, {"swiglu_limit", h.swiglu_limit}, {"max_position_embeddings", h.n_ctx}};
}

// DeepSeek's experts: per expert I8 packed FP4 [rows, cols/2] + E8M0 [rows, cols/32].
void put_fp4_experts(DirWriter& out, const std::string& prefix, const WeightView& v, const char* wk) {
  const int64_t X = v.shape[0], rows = v.shape[1], cols = v.shape[2], nb = cols / kQKMxfp4;
  const auto* blocks = reinterpret_cast<const BlockMxfp4*>(v.data.data());
  for (int64_t e = 0; e < X; ++e) {
    std::vector<uint8_t> packed(static_cast<size_t>(rows * cols / 2)), sc(static_cast<size_t>(rows * nb));
    for (int64_t r = 0; r < rows; ++r)
      mxfp4_row_to_deepseek(blocks + (e * rows + r) * nb, cols, packed.data() + r * cols / 2, sc.data() + r * nb);
    const std::string name = prefix + "ffn.experts." + std::to_string(e) + "." + wk;
    out.put(name + ".weight", DType::kI8, {rows, cols / 2}, bytes_of(packed));
    out.put(name + ".scale", DType::kU8, {rows, nb}, bytes_of(sc), "F8_E8M0");
  }
}

// One GGUF tensor into the directory.
void put_tensor(DirWriter& out, const Layout& lay, const WeightView& v, const std::string& hf_name,
                std::map<int64_t, std::vector<std::byte>>& pending_gate) {
  int64_t layer = -1;
  std::string base = v.name;
  if (base.rfind("blk.", 0) == 0) {
    const size_t dot = base.find('.', 4);
    layer = std::stoll(base.substr(4, dot - 4));
    base = base.substr(dot + 1);
  }
  const std::string ds_prefix = "layers." + std::to_string(layer) + ".";
  const std::string hf_prefix = "model.layers." + std::to_string(layer) + ".mlp.experts.";
  const std::vector<std::byte> bytes(v.data.begin(), v.data.end());
  if (base.find("_exps.") != std::string::npos) {
    const char* wk = base == "ffn_gate_exps.weight" ? "w1" : base == "ffn_up_exps.weight" ? "w3" : "w2";
    if (!lay.transformers) return put_fp4_experts(out, ds_prefix, v, wk);
    const int64_t X = v.shape[0], F = v.shape[1], E = v.shape[2];
    if (base == "ffn_down_exps.weight") return out.put(hf_prefix + "down_proj", v.dtype, v.shape, bytes);
    if (base == "ffn_gate_exps.weight") return void(pending_gate[layer] = bytes);
    std::vector<std::byte> gu;  // up: interleave with the gate written before it, expert by expert
    const size_t half = bytes.size() / static_cast<size_t>(X);
    for (int64_t e = 0; e < X; ++e) {
      gu.insert(gu.end(), pending_gate[layer].begin() + e * half, pending_gate[layer].begin() + (e + 1) * half);
      gu.insert(gu.end(), bytes.begin() + e * half, bytes.begin() + (e + 1) * half);
    }
    return out.put(hf_prefix + "gate_up_proj", v.dtype, {X, 2 * F, E}, gu);
  }
  const std::string name = lay.transformers ? hf_name : layer < 0 ? kGlobalNames.at(base) : ds_prefix + kLayerNames.at(base);
  if (base == "ffn_gate_tid2eid.weight" && !lay.transformers) {
    std::vector<int64_t> ids(static_cast<size_t>(v.n_elements()));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(reinterpret_cast<const float*>(bytes.data())[i]);
    return out.put(name, DType::kI64, v.shape, bytes_of(ids));
  }
  if (lay.fp8 && fp8_in_release(base)) {
    const std::string scale = lay.transformers ? name + "_scale_inv" : name.substr(0, name.size() - 6) + "scale";
    return out.fp8_matrix(name, scale, reinterpret_cast<const float*>(bytes.data()), v.shape[0], v.shape[1]);
  }
  out.put(name, v.dtype, v.shape, bytes);
}

// A Hugging Face directory holding the weights of the GGUF at `gguf`.
void write_v4_dir(const std::string& gguf, const std::filesystem::path& dir, const Layout& lay, const Edit& edit = {}) {
  auto files = open_model_files(gguf);
  ASSERT_TRUE(files.ok()) << files.message();
  auto h = deepseek_v4_hparams_from_gguf(*files->gguf);
  ASSERT_TRUE(h.ok()) << h.message();
  std::map<std::string, std::string> hf;
  for (const TensorSpec& s : files->arch->tensor_specs()) hf[s.gguf_name] = s.hf_name;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << config_of(*h).dump(1);
  DirWriter out(lay, edit);
  std::map<int64_t, std::vector<std::byte>> pending_gate;
  for (const WeightView& v : files->weights.tensors()) put_tensor(out, lay, v, hf[v.name], pending_gate);
  ASSERT_TRUE(out.write((dir / "model.safetensors").string()).ok());
}

std::vector<int32_t> prompt(size_t n, int32_t vocab) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 37 + 11) % static_cast<size_t>(vocab));
  return t;
}

std::vector<float> logits_of(const std::string& path) {
  auto m = test::load_model_or_fail(path);
  if (!m) return {};
  return test::chunked_logits(*m, prompt(20, static_cast<int32_t>(m->n_vocab())), 20, AttentionMode::kAuto);
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = a.size() == b.size() ? 0 : 1e30;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
  return d;
}

Status open_status(const std::string& path) {
  auto files = open_model_files(path);
  if (!files.ok()) return files.status();
  auto m = load_model(std::make_shared<const ModelFiles>(std::move(files).value()));
  return m.ok() ? ok_status() : m.status();
}

// The tiny preset with MXFP4 experts, written once.
class V4Load : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    gguf_ = (*dir_ / "m.gguf").string();
    auto r = run_dseek("init --arch deepseek-v4 --preset tiny --dtype f32 --expert-dtype mxfp4 -o '" + gguf_ + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static inline TempDir* dir_ = nullptr;
  static inline std::string gguf_;
};

TEST_F(V4Load, InitWritesMxfp4Experts) {
  auto files = open_model_files(gguf_);
  ASSERT_TRUE(files.ok()) << files.message();
  const WeightView* w = files->weights.find("blk.0.ffn_gate_exps.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, DType::kMXFP4);
  EXPECT_EQ(files->weights.find("blk.0.attn_q_a.weight")->dtype, DType::kF32);
}

TEST_F(V4Load, DeepSeekNamesWithFp4ExpertsGiveTheGgufsLogitsExactly) {
  const auto dir = *dir_ / "ds";
  write_v4_dir(gguf_, dir, {});
  const auto want = logits_of(gguf_), got = logits_of(dir.string());
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(max_diff(got, want), 0.0);
}

TEST_F(V4Load, ABareSafetensorsFileBesideItsConfigLoadsTheSame) {
  const auto dir = *dir_ / "ds_bare";
  write_v4_dir(gguf_, dir, {});
  EXPECT_EQ(max_diff(logits_of((dir / "model.safetensors").string()), logits_of(gguf_)), 0.0);
}

TEST_F(V4Load, Fp8WithE8m0ScalesEqualsTheSameScalesAsF32) {
  const auto e8m0 = *dir_ / "fp8_e8m0", f32 = *dir_ / "fp8_f32";
  write_v4_dir(gguf_, e8m0, {.fp8 = true});
  write_v4_dir(gguf_, f32, {.fp8 = true, .f32_scales = true});
  auto files = open_model_files(e8m0.string());
  ASSERT_TRUE(files.ok()) << files.message();
  const WeightView* q = files->weights.find("model.layers.0.self_attn.q_a_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->dtype, DType::kF8E4M3);  // used in place, not expanded
  const auto a = logits_of(e8m0.string()), b = logits_of(f32.string()), g = logits_of(gguf_);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(max_diff(a, b), 0.0);
  // Against the f32 GGUF the FP8 rounding of the matrices shows (E4M3: 3 mantissa bits), but only as rounding.
  const double d = max_diff(a, g);
  std::printf("FP8 (E8M0 scales) vs f32 GGUF: max |logit diff| %.3g\n", d);
  EXPECT_GT(d, 0.0);
  EXPECT_LT(d, 5.0);
}

TEST_F(V4Load, TransformersNamesWithMergedExpertsGiveTheGgufsLogitsExactly) {
  TempDir d;
  const std::string f32_gguf = (d / "f.gguf").string();
  ASSERT_EQ(run_dseek("init --arch deepseek-v4 --preset tiny --dtype f32 -o '" + f32_gguf + "'").exit_code, 0);
  write_v4_dir(f32_gguf, d / "hf", {.transformers = true});
  const auto want = logits_of(f32_gguf), got = logits_of((d / "hf").string());
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(max_diff(got, want), 0.0);
}

TEST_F(V4Load, QuantizeKeepsTheMxfp4ExpertsBitExact) {
  const auto dir = *dir_ / "ds_q";
  write_v4_dir(gguf_, dir, {});
  const std::string out = (*dir_ / "q.gguf").string();
  auto r = run_dseek("quantize '" + dir.string() + "' '" + out + "' --type f32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = open_model_files(gguf_), b = open_model_files(out);
  ASSERT_TRUE(a.ok() && b.ok());
  for (const char* name : {"blk.0.ffn_gate_exps.weight", "blk.2.ffn_down_exps.weight"}) {
    const WeightView *x = a->weights.find(name), *y = b->weights.find(name);
    ASSERT_TRUE(x && y) << name;
    EXPECT_EQ(y->dtype, DType::kMXFP4);
    ASSERT_EQ(x->data.size(), y->data.size());
    EXPECT_EQ(std::memcmp(x->data.data(), y->data.data(), x->data.size()), 0) << name;
  }
  EXPECT_EQ(max_diff(logits_of(out), logits_of(gguf_)), 0.0);
}

TEST_F(V4Load, BrokenDirectoriesAreClearErrors) {
  struct Case {
    const char* what;
    Edit edit;
    const char* message;
  };
  const Case cases[] = {
      {"a scale tensor cut short",
       [](std::string& n, std::vector<int64_t>& shape, std::vector<std::byte>& b) {
         if (n == "layers.1.ffn.experts.2.w1.scale") shape[1] -= 1, b.resize(b.size() - static_cast<size_t>(shape[0]));
         return true;
       },
       "layers.1.ffn.experts.2.w1.scale"},
      {"a NaN scale byte",
       [](std::string& n, std::vector<int64_t>&, std::vector<std::byte>& b) {
         if (n == "layers.0.ffn.experts.0.w2.scale") b[3] = std::byte{0xFF};
         return true;
       },
       "NaN"},
      {"a missing expert",
       [](std::string& n, std::vector<int64_t>&, std::vector<std::byte>&) { return n != "layers.2.ffn.experts.7.w3.weight"; },
       "missing tensor 'layers.2.ffn.experts.7.w3.weight'"},
      {"a missing scale",
       [](std::string& n, std::vector<int64_t>&, std::vector<std::byte>&) { return n != "layers.0.ffn.experts.1.w1.scale"; },
       "layers.0.ffn.experts.1.w1.weight' has no scale"},
      {"an unknown tensor",
       [](std::string& n, std::vector<int64_t>&, std::vector<std::byte>&) {
         if (n == "layers.0.attn.wq_a.weight") n = "layers.0.attn.wq_z.weight";
         return true;
       },
       "layers.0.attn.wq_z.weight"},
      {"a missing attention matrix",
       [](std::string& n, std::vector<int64_t>&, std::vector<std::byte>&) { return n != "layers.1.attn.wkv.weight"; },
       "missing tensor 'layers.1.attn.wkv.weight'"},
      {"a layer without experts",
       [](std::string& n, std::vector<int64_t>&, std::vector<std::byte>&) { return n.find("layers.1.ffn.experts.") != 0; },
       "missing tensor 'layers.1.ffn.experts.0.w1.weight'"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const auto dir = *dir_ / ("broken" + std::to_string(i++));
    write_v4_dir(gguf_, dir, {}, c.edit);
    const Status st = open_status(dir.string());
    EXPECT_FALSE(st.ok()) << c.what;
    EXPECT_NE(st.message().find(c.message), std::string::npos) << c.what << ": " << st.message();
  }
}

TEST(V4Names, DeepSeeksNamesTranslate) {
  EXPECT_EQ(deepseek_v4_transformers_name("embed.weight", 43), "model.embed_tokens.weight");
  EXPECT_EQ(deepseek_v4_transformers_name("hc_head_base", 43), "model.hc_head.hc_base");
  EXPECT_EQ(deepseek_v4_transformers_name("layers.5.attn.wq_a.scale", 43), "model.layers.5.self_attn.q_a_proj.weight_scale_inv");
  EXPECT_EQ(deepseek_v4_transformers_name("layers.2.attn.indexer.compressor.ape", 43),
            "model.layers.2.self_attn.compressor.indexer.position_bias");
  EXPECT_EQ(deepseek_v4_transformers_name("layers.3.attn.compressor.wgate.weight", 43),
            "model.layers.3.self_attn.compressor.gate_proj.weight");
  EXPECT_EQ(deepseek_v4_transformers_name("layers.0.ffn.experts.17.w2.scale", 43),
            "model.layers.0.mlp.experts.17.down_proj.weight_scale_inv");
  EXPECT_EQ(deepseek_v4_transformers_name("layers.0.ffn.gate.bias", 43), "model.layers.0.mlp.gate.e_score_correction_bias");
  EXPECT_EQ(deepseek_v4_transformers_name("mtp.0.e_proj.weight", 43), "model.layers.43.e_proj.weight");
  EXPECT_EQ(deepseek_v4_transformers_name("mtp.0.attn.wkv.weight", 43), "model.layers.43.self_attn.kv_proj.weight");
  EXPECT_EQ(deepseek_v4_native_name("model.layers.5.self_attn.q_a_proj.weight_scale_inv", 43), "layers.5.attn.wq_a.scale");
  EXPECT_EQ(deepseek_v4_native_name("model.layers.43.attn_hc.fn", 43), "mtp.0.hc_attn_fn");
  EXPECT_EQ(deepseek_v4_native_name("model.layers.1.mlp.experts.3.up_proj.weight", 43), "layers.1.ffn.experts.3.w3.weight");
  EXPECT_EQ(deepseek_v4_native_name("lm_head.weight", 43), "head.weight");
  EXPECT_EQ(deepseek_v4_transformers_name("layers.0.attn.wq_z.weight", 43), "");
  EXPECT_EQ(deepseek_v4_transformers_name("layers.x.attn.wq_a.weight", 43), "");
  EXPECT_EQ(deepseek_v4_transformers_name("e_proj.weight", 43), "");
}

TEST(V4Mxfp4Rows, DeepSeekLayoutRoundTripsAndDequantisesAsTheSpecSays) {
  // Element 2k in the low nibble of byte k, 2k+1 in the high one; value = E2M1 * 2^(e-127).
  uint8_t packed[32], scales[2] = {127, 129};
  for (int k = 0; k < 32; ++k) packed[k] = static_cast<uint8_t>((k * 7 + 3) & 0xFF);
  BlockMxfp4 blocks[2];
  mxfp4_row_from_deepseek(packed, scales, 64, blocks);
  std::vector<float> x(64);
  kernels::dequantize_row(DType::kMXFP4, blocks, x.data(), 64);
  static constexpr float kE2M1[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int i = 0; i < 64; ++i) {
    const int nib = (packed[i / 2] >> (4 * (i % 2))) & 0xF;
    const float want = (nib & 8 ? -1.0f : 1.0f) * kE2M1[nib & 7] * std::ldexp(1.0f, scales[i / 32] - 127);
    EXPECT_EQ(x[static_cast<size_t>(i)], want) << i;
  }
  uint8_t back[32], back_scales[2];
  mxfp4_row_to_deepseek(blocks, 64, back, back_scales);
  EXPECT_EQ(std::memcmp(back, packed, 32), 0);
  EXPECT_EQ(std::memcmp(back_scales, scales, 2), 0);
  // The float writer reproduces representable values exactly.
  BlockMxfp4 again[2];
  mxfp4_row_from_float(x.data(), 64, again);
  std::vector<float> y(64);
  kernels::dequantize_row(DType::kMXFP4, again, y.data(), 64);
  EXPECT_EQ(x, y);
}

TEST(V4Preset, FlashHasTheReleasedShapesAndCacheFigures) {
  auto arch = architecture_preset("deepseek-v4", "flash", 129280, -1, -1);
  ASSERT_TRUE(arch.ok()) << arch.message();
  std::map<std::string, std::string> d;
  for (auto& [k, v] : (*arch)->describe()) d[k] = v;
  EXPECT_EQ(d["layer kinds"], "2 sliding, 21 CSA, 20 HCA");
  EXPECT_EQ(d["n_embd"], "4096");
  EXPECT_NE(d["ring layout (planned): bytes / token / layer (CSA)"].find("640 + "), std::string::npos) << d["ring layout (planned): bytes / token / layer (CSA)"];
  EXPECT_NE(d["ring layout (planned): bytes / token / layer (HCA)"].find("16 + "), std::string::npos);
  EXPECT_NE(d["ring layout (planned): bytes / token / layer (sliding)"].find("0 + 256 KiB"), std::string::npos);
  EXPECT_EQ(d["ring layout (planned): bytes / token"].rfind("13760 + ", 0), 0u) << d["ring layout (planned): bytes / token"];
  auto few = architecture_preset("deepseek-v4", "flash", 129280, -1, 2);
  ASSERT_TRUE(few.ok()) << few.message();
  for (auto& [k, v] : (*few)->describe())
    if (k == "layer kinds") {
      EXPECT_EQ(v, "2 sliding, 0 CSA, 0 HCA");
    }
}

}  // namespace
}  // namespace dseek
