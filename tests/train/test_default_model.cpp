// The committed default model (assets/shakespeare/) is what its training log
// says: it loads in the inference engine and the trainer, has the committed
// config's shapes, and its validation cross-entropy on tinyshakespeare's
// held-out tail, recomputed here, matches the logged final figure.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/model_helpers.h"
#include "tokenizer/tokenizer.h"
#include "train/data.h"
#include "train/export.h"

namespace dseek::train {
namespace {

namespace fs = std::filesystem;
const fs::path kDir = fs::path(DSEEK_SOURCE_DIR) / "assets" / "shakespeare";

TEST(DefaultModel, MatchesItsConfigAndTrainingLog) {
  const std::string model = (kDir / "dseek-shakespeare.gguf").string();
  ASSERT_TRUE(fs::exists(model)) << "the default model is committed at " << model;
  std::ifstream cfg_in(kDir / "config.json"), log_in(kDir / "train-log.json");
  const auto cfg = nlohmann::json::parse(cfg_in);
  const auto log = nlohmann::json::parse(log_in);
  auto inference = test::load_model_or_fail(model);
  ASSERT_TRUE(inference);
  EXPECT_EQ(inference->n_vocab(), cfg["model"]["vocab_size"].get<int64_t>());
  auto m = import_gguf(model, cfg["training"]["seq_len"].get<int64_t>());
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ((*m)->hparams().n_embd, cfg["model"]["hidden_size"].get<int64_t>());
  EXPECT_EQ((*m)->hparams().n_layer, cfg["model"]["num_hidden_layers"].get<int64_t>());
  EXPECT_EQ((*m)->hparams().n_mtp, 1);
  EXPECT_EQ((*m)->hparams().n_expert, cfg["model"]["n_routed_experts"].get<int64_t>());

  const fs::path text = fs::path(DSEEK_TESTDATA) / "text" / "tinyshakespeare.txt";
  if (!fs::exists(text)) GTEST_SKIP() << "tinyshakespeare.txt not in " << DSEEK_TESTDATA;
  auto tok = Tokenizer::load(model);
  ASSERT_TRUE(tok.ok()) << tok.message();
  auto raw = read_text_files({text.string()}, size_t{64} << 20);
  ASSERT_TRUE(raw.ok());
  const int64_t S = cfg["training"]["seq_len"].get<int64_t>();
  auto data = tokenize_for_training(*tok, *raw, cfg["training"]["val_fraction"].get<double>(), S, false);
  ASSERT_TRUE(data.ok()) << data.message();
  EXPECT_EQ(data->val.size(), log["val_tokens"].get<size_t>()) << "the same held-out split as in training";
  const WindowSampler val(data->val, S, 0);
  ThreadPool pool(2);
  double ce = 0;
  int64_t n = 0;
  const int64_t windows = std::min<int64_t>(cfg["training"]["eval_windows"].get<int64_t>(), val.n_fixed());
  for (int64_t k = 0; k < windows; ++k) {
    std::vector<int32_t> w;
    val.fixed(k, w);
    const StepResult r = (*m)->step(pool, w, 1, LossOptions{.mtp_weight = 0, .balance_alpha = 0, .backward = false});
    ce += r.main_ce * static_cast<double>(r.tokens);
    n += r.tokens;
  }
  ce /= static_cast<double>(n);
  const double logged = log["final"]["val_ce"].get<double>();
  // The file stores f16 weights (training ran in f32): allow their rounding.
  EXPECT_NEAR(ce, logged, 0.03) << "validation CE recomputed " << ce << ", logged " << logged;
  EXPECT_LT(ce, std::log(static_cast<double>(inference->n_vocab())) - 2.0) << "the model has learned something";
}

}  // namespace
}  // namespace dseek::train
