// See grpo.h.
#include "train/recipes/grpo.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/progress.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model/model_files.h"
#include "runtime/generate.h"
#include "tokenizer/tokenizer.h"
#include "train/export.h"
#include "train/optimizer.h"
#include "train/plot.h"
#include "train/recipes/arithmetic.h"

namespace dseek::train {
namespace {

using nlohmann::json;

struct Policy {
  std::shared_ptr<const Model> model;
};

// The current policy as the inference engine sees it (exported in f32, loaded back).
Result<Policy> snapshot(const TrainModel<float>& m, const std::string& tokenizer_path, const std::string& path) {
  if (Status st = export_gguf(m, ExportOptions{.tokenizer_path = tokenizer_path, .name = "dseek-grpo"}, path); !st.ok())
    return st;
  auto files = open_model_files(path);
  if (!files.ok()) return files.status();
  auto model = load_model(std::make_shared<const ModelFiles>(std::move(files).value()));
  if (!model.ok()) return model.status();
  return Policy{*model};
}

// An answer ends at the end of its line: every token holding a newline stops
// generation (and EOS). Returns the completion with the newline token appended
// when it stopped, so the decision to stop is part of what is trained.
struct Stops {
  std::vector<int32_t> ids;
  int32_t newline = -1;
};

Stops line_stops(const Tokenizer& tok) {
  Stops s;
  for (int32_t id = 0; id < static_cast<int32_t>(tok.vocab_size()); ++id) {
    const std::string_view b = tok.token_bytes(id);
    if (b.find('\n') != std::string_view::npos) s.ids.push_back(id);
    if (b == "\n") s.newline = id;
  }
  if (tok.eos_id() >= 0) s.ids.push_back(tok.eos_id());
  return s;
}

Result<std::vector<int32_t>> complete(const Policy& p, ThreadPool& pool, const std::vector<int32_t>& prompt,
                                      double temperature, uint64_t seed, int64_t max_new, const Stops& stops) {
  Sampler sampler(SamplingParams{.temperature = static_cast<float>(temperature), .seed = seed});
  GenerateOptions go{.max_new_tokens = max_new, .stop_tokens = stops.ids,
                     .n_ctx = static_cast<int64_t>(prompt.size()) + max_new + 1};
  auto r = generate(*p.model, pool, prompt, sampler, go, [](int32_t) { return true; });
  if (!r.ok()) return r.status();
  std::vector<int32_t> out = r->tokens;
  if (r->stop == GenerateResult::Stop::kStopToken && stops.newline >= 0) out.push_back(stops.newline);
  return out;
}

struct Eval {
  double greedy = 0, sampled = 0, reward = 0;  // accuracies (greedy; one sample at the rollout temperature), greedy reward
};

// Accuracy on the held-out problems: greedy, and with one sample each at the
// rollout temperature (fixed seeds, so evaluations compare).
Result<Eval> evaluate(const Policy& p, ThreadPool& pool, const Tokenizer& tok,
                      const std::vector<ArithmeticProblem>& probs, const GrpoConfig& c) {
  Eval e;
  const Stops stops = line_stops(tok);
  uint64_t seed = 77;
  for (const auto& pr : probs) {
    const auto prompt = tok.encode(pr.prompt(), EncodeOptions{false, false});
    auto greedy = complete(p, pool, prompt, 0.0, 0, c.max_new, stops);
    if (!greedy.ok()) return greedy.status();
    const ArithmeticReward r = score_completion(pr, tok.decode(*greedy));
    e.greedy += r.correct;
    e.reward += r.value(c.format_weight);
    auto sampled = complete(p, pool, prompt, c.temperature, ++seed, c.max_new, stops);
    if (!sampled.ok()) return sampled.status();
    e.sampled += score_completion(pr, tok.decode(*sampled)).correct;
  }
  const double n = static_cast<double>(std::max<size_t>(probs.size(), 1));
  e.greedy /= n, e.sampled /= n, e.reward /= n;
  return e;
}

}  // namespace

Result<GrpoSummary> run_grpo(const GrpoConfig& c) {
  if (c.task != "arithmetic") return Status::error("unknown task '" + c.task + "' (available: arithmetic)");
  if (c.group < 2) return Status::error("--group must be at least 2 (advantages are relative within a group)");
  if (c.prompts < 1 || c.steps < 1 || c.max_new < 1 || c.max_new > 512 || c.max_operand < 1 || c.max_operand > 1000000)
    return Status::error("--prompts, --steps, --max-new (<= 512) and the operand range must be positive");
  auto tok = Tokenizer::load(c.model);
  if (!tok.ok()) return Status::error(c.model + ": no tokenizer: " + tok.message());
  const int64_t max_seq = 64 + c.max_new;
  auto policy = import_gguf(c.model, max_seq);
  if (!policy.ok()) return policy.status();
  auto reference = import_gguf(c.model, max_seq);
  if (!reference.ok()) return reference.status();
  TrainModel<float>& pi = **policy;
  TrainModel<float>& ref = **reference;
  AdamW adam(AdamWConfig{.lr = c.lr, .min_lr = c.lr, .weight_decay = c.weight_decay, .warmup = 0,
                         .total_steps = c.steps, .clip = c.clip},
             pi.params());
  ThreadPool pool(std::max(1, c.threads));
  const std::string snap = c.out + ".policy.tmp.gguf";
  const auto held_out = arithmetic_problems(c.held_out, c.max_operand, c.seed ^ 0xabcdef);
  const int32_t eos = std::max(tok->eos_id(), 0);
  const Stops stops = line_stops(*tok);

  auto first = snapshot(pi, c.model, snap);
  if (!first.ok()) return first.status();
  auto acc0 = evaluate(*first, pool, *tok, held_out, c);
  if (!acc0.ok()) return acc0.status();
  GrpoSummary sum;
  sum.initial_accuracy = acc0->greedy;
  sum.initial_sampled_accuracy = acc0->sampled;
  std::fprintf(stderr, "grpo: held-out accuracy before training %.1f%% greedy, %.1f%% sampled (%lld problems)\n",
               100 * acc0->greedy, 100 * acc0->sampled, static_cast<long long>(held_out.size()));
  json steps = json::array(),
       evals = json::array({{{"step", 0}, {"accuracy", acc0->greedy}, {"sampled_accuracy", acc0->sampled},
                             {"reward", acc0->reward}}});
  Series s_reward{"mean training reward", {}, {}}, s_acc{"held-out accuracy (greedy)", {0.0}, {acc0->greedy}},
      s_sacc{"held-out accuracy (sampled)", {0.0}, {acc0->sampled}};
  ProgressBar bar("grpo", static_cast<uint64_t>(c.steps));
  uint64_t seed = c.seed;
  for (int64_t step = 0; step < c.steps; ++step) {
    auto pol = step == 0 ? std::move(first) : snapshot(pi, c.model, snap);
    if (!pol.ok()) return pol.status();
    const auto problems = arithmetic_problems(c.prompts, c.max_operand, c.seed * 1000003 + static_cast<uint64_t>(step));
    // Roll out G completions per prompt; rows are prompt + completion, padded with EOS.
    std::vector<std::vector<int32_t>> rows;
    std::vector<size_t> prompt_len;
    std::vector<double> rewards, advantages;
    int64_t n_correct = 0;
    for (const auto& pr : problems) {
      const std::vector<int32_t> prompt = tok->encode(pr.prompt(), EncodeOptions{false, false});
      std::vector<double> group;
      for (int64_t g = 0; g < c.group; ++g) {
        auto out = complete(*pol, pool, prompt, c.temperature, ++seed, c.max_new, stops);
        if (!out.ok()) return out.status();
        const ArithmeticReward r = score_completion(pr, tok->decode(*out));
        n_correct += r.correct;
        group.push_back(r.value(c.format_weight));
        std::vector<int32_t> row = prompt;
        row.insert(row.end(), out->begin(), out->end());
        rows.push_back(std::move(row));
        prompt_len.push_back(prompt.size());
      }
      double mean = 0, var = 0;
      for (double r : group) mean += r / static_cast<double>(group.size());
      for (double r : group) var += (r - mean) * (r - mean) / static_cast<double>(group.size());
      for (double r : group) advantages.push_back((r - mean) / (std::sqrt(var) + 1e-4));
      rewards.insert(rewards.end(), group.begin(), group.end());
    }
    size_t S = 0;
    for (const auto& r : rows) S = std::max(S, r.size());
    std::vector<int32_t> tokens, targets;
    std::vector<float> weights;
    for (size_t i = 0; i < rows.size(); ++i) {
      std::vector<int32_t> row = rows[i];
      const size_t n_out = row.size() - prompt_len[i];
      row.resize(S, eos);  // padding: never a target
      for (size_t t = 0; t < S; ++t) {
        const bool generated = t + 1 >= prompt_len[i] && t + 1 < prompt_len[i] + n_out;
        targets.push_back(generated ? row[t + 1] : -1);
      }
      tokens.insert(tokens.end(), row.begin(), row.end());
    }
    const auto n_seq = static_cast<int64_t>(rows.size());
    std::vector<double> lp_pi, lp_ref;
    pi.token_logprobs(pool, tokens, n_seq, lp_pi);
    ref.token_logprobs(pool, tokens, n_seq, lp_ref);
    double kl = 0;
    int64_t n_tok = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      const double n_out = static_cast<double>(rows[i].size() - prompt_len[i]);
      for (size_t t = 0; t < S; ++t) {
        const size_t k = i * S + t;
        if (targets[k] < 0) {
          weights.push_back(0);
          continue;
        }
        // d/dlogp of [-A logp + beta (r - log r - 1)], r = pi_ref / pi: -A + beta (1 - r).
        const double ratio = std::exp(lp_ref[k] - lp_pi[k]);
        kl += ratio - std::log(ratio) - 1;
        ++n_tok;
        weights.push_back(static_cast<float>((advantages[i] - c.beta * (1 - ratio)) / (n_out * static_cast<double>(n_seq))));
      }
    }
    pi.zero_grad();
    pi.step(pool, tokens, n_seq, LossOptions{.mtp_weight = 0, .balance_alpha = 0, .pg_targets = targets.data(),
                                             .pg_weights = weights.data()});
    adam.step(pi.params());
    double mean_reward = 0;
    for (double r : rewards) mean_reward += r / static_cast<double>(rewards.size());
    sum.final_reward = mean_reward;
    sum.steps = step + 1;
    json e = {{"step", step + 1}, {"reward", mean_reward},
              {"train_accuracy", static_cast<double>(n_correct) / static_cast<double>(rows.size())},
              {"kl_to_reference", n_tok ? kl / static_cast<double>(n_tok) : 0.0}};
    s_reward.x.push_back(static_cast<double>(step + 1)), s_reward.y.push_back(mean_reward);
    if ((step + 1) % c.eval_every == 0 || step + 1 == c.steps) {
      auto now = snapshot(pi, c.model, snap);
      if (!now.ok()) return now.status();
      auto acc = evaluate(*now, pool, *tok, held_out, c);
      if (!acc.ok()) return acc.status();
      sum.final_accuracy = acc->greedy;
      sum.final_sampled_accuracy = acc->sampled;
      evals.push_back({{"step", step + 1}, {"accuracy", acc->greedy}, {"sampled_accuracy", acc->sampled},
                       {"reward", acc->reward}});
      s_acc.x.push_back(static_cast<double>(step + 1)), s_acc.y.push_back(acc->greedy);
      s_sacc.x.push_back(static_cast<double>(step + 1)), s_sacc.y.push_back(acc->sampled);
      std::fprintf(stderr, "grpo step %lld: mean reward %.3f, held-out accuracy %.1f%% greedy, %.1f%% sampled, KL to reference %.4f\n",
                   static_cast<long long>(step + 1), mean_reward, 100 * acc->greedy, 100 * acc->sampled,
                   e["kl_to_reference"].get<double>());
    }
    steps.push_back(e);
    char status[128];
    std::snprintf(status, sizeof status, "step %lld  reward %.3f  accuracy %.1f%%", static_cast<long long>(step + 1),
                  mean_reward, 100 * sum.final_accuracy);
    bar.update(static_cast<uint64_t>(step + 1), status);
  }
  std::filesystem::remove(snap);
  if (Status st = export_gguf(pi, ExportOptions{.tokenizer_path = c.model, .name = "dseek-grpo",
                                                .description = "GRPO on " + c.task + " from " + c.model},
                              c.out);
      !st.ok())
    return st;
  const json log = {{"config", {{"model", c.model}, {"task", c.task}, {"steps", c.steps}, {"prompts", c.prompts},
                                {"group", c.group}, {"lr", c.lr}, {"beta", c.beta}, {"temperature", c.temperature},
                                {"max_operand", c.max_operand}, {"held_out", c.held_out}, {"seed", c.seed}}},
                    {"steps", steps}, {"evals", evals},
                    {"final", {{"initial_accuracy", sum.initial_accuracy}, {"final_accuracy", sum.final_accuracy},
                               {"initial_sampled_accuracy", sum.initial_sampled_accuracy},
                               {"final_sampled_accuracy", sum.final_sampled_accuracy}, {"final_reward", sum.final_reward}}}};
  std::ofstream(c.out + ".log.json") << log.dump(1) << "\n";
  if (Status st = write_svg_plot(c.out + ".svg", "dseek train grpo (" + c.task + ")",
                                 {{"reward", {s_reward}}, {"held-out accuracy", {s_acc, s_sacc}}});
      !st.ok())
    return st;
  return sum;
}

}  // namespace dseek::train
