// `dseek quantize` beyond models: any GGUF (the quant zoo, which is not a
// model) converted tensor by tensor to f32, each tensor equal to ggml's own
// dequantisation; the new writable types on a real model; read-only types refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <random>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "support/test_support.h"

namespace dseek {
namespace {

using test::run_dseek;

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

TEST(CliQuantizeTypes, AnyGgufToF32TensorByTensor) {
  const auto zoo = test::testdata_dir() / ".." / "quants" / "quant-zoo.gguf";
  if (test::testdata_dir().empty() || !std::filesystem::exists(zoo)) GTEST_SKIP() << "quant zoo not found at " << zoo;
  test::TempDir dir;
  auto r = run_dseek("quantize " + q(zoo) + " " + q(dir / "f.gguf") + " --type f32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto in = GgufFile::open(zoo.string());
  auto out = GgufFile::open((dir / "f.gguf").string());
  ASSERT_TRUE(in.ok() && out.ok());
  EXPECT_EQ(out->get_string_array("zoo.types"), in->get_string_array("zoo.types"));
  ASSERT_EQ(out->tensors().size(), in->tensors().size());
  int compared = 0;
  for (const auto& t : out->tensors()) {
    EXPECT_EQ(t.dtype, DType::kF32) << t.name;
    if (!t.name.ends_with(".q")) continue;
    const GgufTensorInfo* deq = in->find_tensor(t.name.substr(0, t.name.size() - 2) + ".deq");
    ASSERT_NE(deq, nullptr) << t.name;
    const auto a = out->tensor_data(t), b = in->tensor_data(*deq);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0) << t.name << " differs from ggml's dequantisation";
    ++compared;
  }
  EXPECT_EQ(compared, 21);
}

TEST(CliQuantizeTypes, NewWritableTypesRunAndReadOnlyOnesAreRefused) {
  test::TempDir dir;
  const auto m = dir / "m.gguf";
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 --preset small -o " + q(m)).exit_code, 0);
  for (const char* type : {"q2_k", "q3_k", "iq4_nl", "iq4_xs", "q4_1", "q5_0", "q5_1"}) {
    SCOPED_TRACE(type);
    auto r = run_dseek("quantize " + q(m) + " " + q(dir / "q.gguf") + " --type " + type);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto l = run_dseek("logits -m " + q(dir / "q.gguf") + " --tokens '5 17 300' -o " + q(dir / "l.bin"));
    ASSERT_EQ(l.exit_code, 0) << l.err;
    const std::string bytes = test::read_file(dir / "l.bin");
    ASSERT_FALSE(bytes.empty());
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    for (float x : v) ASSERT_TRUE(std::isfinite(x));
  }
  auto bad = run_dseek("quantize " + q(m) + " " + q(dir / "x.gguf") + " --type iq2_xxs");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("iq2_xxs"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
}

std::vector<float> logits_of(const test::TempDir& dir, const std::filesystem::path& model) {
  auto l = run_dseek("logits -m " + q(model) + " --tokens '5 17 300 41 9' -o " + q(dir / "l.bin"));
  EXPECT_EQ(l.exit_code, 0) << l.err;
  const std::string bytes = test::read_file(dir / "l.bin");
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

// RMS of (a - b) over RMS of b.
double relative_rms(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, n = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    d += (a[i] - b[i]) * static_cast<double>(a[i] - b[i]);
    n += b[i] * static_cast<double>(b[i]);
  }
  return std::sqrt(d / n);
}

// A community-style mix: experts in q2_K, attention in q8_0, the rest q6_K.
// Each tensor gets its rule's type (first match wins), the file loads and
// runs, and its logits sit between the all-q6_K and all-q2_K files' distances
// from the f32 model (the mix is no worse than its lowest type).
TEST(CliQuantizeTypes, TypeMapWritesAMixedModelThatRuns) {
  test::TempDir dir;
  const auto m = dir / "m.gguf", mix = dir / "mix.gguf";
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 --preset small --dtype f32 -o " + q(m)).exit_code, 0);
  auto r = run_dseek("quantize " + q(m) + " " + q(mix) + " --type q6_k --type-map 'ffn_.*_exps=q2_k,attn.*=q8_0,attn_q_a=f16'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto g = GgufFile::open(mix.string());
  ASSERT_TRUE(g.ok()) << g.message();
  int experts = 0, attention = 0, rest = 0;
  for (const auto& t : g->tensors()) {
    if (t.dtype == DType::kF32) continue;  // norms, router, biases
    if (t.name.find("_exps") != std::string::npos && t.name.find("ffn_") != std::string::npos) {
      EXPECT_EQ(t.dtype, t.ne[0] % 256 == 0 ? DType::kQ2_K : DType::kQ8_0) << t.name << " (q8_0 where rows are not whole 256-blocks)";
      ++experts;
    } else if (t.name.find("attn") != std::string::npos) {
      EXPECT_EQ(t.dtype, DType::kQ8_0) << t.name << " (attn.* comes first: attn_q_a=f16 never applies)";
      ++attention;
    } else if (t.ne[0] % 256 == 0) {
      EXPECT_EQ(t.dtype, DType::kQ6_K) << t.name;
      ++rest;
    }
  }
  EXPECT_GT(experts, 0);
  EXPECT_GT(attention, 0);
  EXPECT_GT(rest, 0);
  ASSERT_EQ(run_dseek("quantize " + q(m) + " " + q(dir / "q2.gguf") + " --type q2_k").exit_code, 0);
  ASSERT_EQ(run_dseek("quantize " + q(m) + " " + q(dir / "q6.gguf") + " --type q6_k").exit_code, 0);
  const auto ref = logits_of(dir, m), lmix = logits_of(dir, mix), l2 = logits_of(dir, dir / "q2.gguf"),
             l6 = logits_of(dir, dir / "q6.gguf");
  ASSERT_FALSE(ref.empty());
  ASSERT_EQ(lmix.size(), ref.size());
  for (float x : lmix) ASSERT_TRUE(std::isfinite(x));
  const double e_mix = relative_rms(lmix, ref), e2 = relative_rms(l2, ref), e6 = relative_rms(l6, ref);
  std::printf("type map: relative RMS logit error q6_K %.4f, mix %.4f, q2_K %.4f\n", e6, e_mix, e2);
  EXPECT_LT(e_mix, e2);
  EXPECT_LT(e6, e_mix);
  EXPECT_LT(e_mix, 0.5);
}

TEST(CliQuantizeTypes, TypeMapRefusesUnknownTypesAndBadRegexes) {
  test::TempDir dir;
  const auto m = dir / "m.gguf";
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 --preset small -o " + q(m)).exit_code, 0);
  const std::pair<const char*, const char*> cases[] = {
      {"ffn_.*=q9_k", "unknown type 'q9_k'"},
      {"ffn_.*=iq2_xxs", "not a type dseek can write"},
      {"ffn_(=q8_0", "bad regular expression 'ffn_('"},
      {"attn.*", "is not REGEX=TYPE"},
      {"attn=q8_0,,ffn=q4_k", "empty entry"},
  };
  for (const auto& [map, why] : cases) {
    SCOPED_TRACE(map);
    auto r = run_dseek("quantize " + q(m) + " " + q(dir / "x.gguf") + " --type-map '" + map + "'");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
  }
}

// --imatrix: a llama.cpp-style GGUF importance matrix (<name>.in_sum2 and
// <name>.counts) for the model's 256-wide matrices changes exactly those
// tensors of an iq4_xs file, which still runs; a file that is no imatrix is refused.
TEST(CliQuantizeTypes, ImatrixWeightsTheIq4Writers) {
  test::TempDir dir;
  const auto m = dir / "m.gguf", imat = dir / "imatrix.gguf";
  ASSERT_EQ(run_dseek("init --arch deepseek-v3 --preset small --dtype f32 -o " + q(m)).exit_code, 0);
  auto g = GgufFile::open(m.string());
  ASSERT_TRUE(g.ok());
  GgufWriter w;
  std::vector<std::vector<float>> data;
  std::vector<std::string> weighted;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& t : g->tensors()) {
    if (t.ne.size() != 2 || t.ne[0] % 256 != 0 || t.name.find("norm") != std::string::npos) continue;
    std::vector<float> sum2(static_cast<size_t>(t.ne[0]));
    for (auto& v : sum2) v = 10.0f * std::exp(2.0f * normal(rng));
    data.push_back(std::move(sum2));
    data.push_back({10.0f});
    w.add_tensor(t.name + ".in_sum2", DType::kF32, {t.ne[0]});
    w.add_tensor(t.name + ".counts", DType::kF32, {1});
    weighted.push_back(t.name);
  }
  ASSERT_FALSE(weighted.empty());
  ASSERT_TRUE(w.write(imat.string(), [&](size_t i, std::span<std::byte> out) {
    std::memcpy(out.data(), data[i].data(), out.size());
    return ok_status();
  }).ok());
  auto plain = run_dseek("quantize " + q(m) + " " + q(dir / "a.gguf") + " --type iq4_xs");
  auto with = run_dseek("quantize " + q(m) + " " + q(dir / "b.gguf") + " --type iq4_xs --imatrix " + q(imat));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(with.exit_code, 0) << with.err;
  auto a = GgufFile::open((dir / "a.gguf").string()), b = GgufFile::open((dir / "b.gguf").string());
  ASSERT_TRUE(a.ok() && b.ok());
  int changed = 0;
  for (const auto& t : a->tensors()) {
    const auto x = a->tensor_data(t), y = b->tensor_data(*b->find_tensor(t.name));
    const bool same = x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size()) == 0;
    const bool has_importance = std::find(weighted.begin(), weighted.end(), t.name) != weighted.end();
    if (has_importance && t.dtype == DType::kIQ4_XS) changed += !same;
    else EXPECT_TRUE(same) << t.name << " has no importance: unchanged";
  }
  EXPECT_GT(changed, 0);
  for (float x : logits_of(dir, dir / "b.gguf")) ASSERT_TRUE(std::isfinite(x));
  auto bad = run_dseek("quantize " + q(m) + " " + q(dir / "c.gguf") + " --type iq4_xs --imatrix " + q(m));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("no importance entries"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace dseek
