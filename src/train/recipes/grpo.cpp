// See grpo.h.
#include "train/recipes/grpo.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
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

Status check_config(const GrpoConfig& c) {
  if (c.task != "arithmetic") return Status::error("unknown task '" + c.task + "' (available: arithmetic)");
  if (c.group < 2) return Status::error("--group must be at least 2 (advantages are relative within a group)");
  if (c.prompts < 1 || c.steps < 1 || c.max_new < 1 || c.max_new > 512 || c.max_operand < 1 || c.max_operand > 1000000)
    return Status::error("--prompts, --steps, --max-new (<= 512) and the operand range must be positive");
  if (c.curriculum_steps < 0) return Status::error("--curriculum must not be negative");
  return ok_status();
}

// One step's rollouts: G rows of prompt + completion per problem.
struct Rollouts {
  std::vector<std::vector<int32_t>> rows;
  std::vector<size_t> prompt_len;
  std::vector<double> rewards, advantages;
  int64_t n_correct = 0;
};

// Advantages normalised within one group: (r - mean) / (std + 1e-4).
void add_group_advantages(const std::vector<double>& group, std::vector<double>& advantages) {
  double mean = 0, var = 0;
  for (double r : group) mean += r / static_cast<double>(group.size());
  for (double r : group) var += (r - mean) * (r - mean) / static_cast<double>(group.size());
  for (double r : group) advantages.push_back((r - mean) / (std::sqrt(var) + 1e-4));
}

Result<Rollouts> roll_out(const Policy& pol, ThreadPool& pool, const Tokenizer& tok,
                          const std::vector<ArithmeticProblem>& problems, const GrpoConfig& c, const Stops& stops,
                          uint64_t& seed) {
  Rollouts ro;
  for (const auto& pr : problems) {
    const std::vector<int32_t> prompt = tok.encode(pr.prompt(), EncodeOptions{false, false});
    std::vector<double> group;
    for (int64_t g = 0; g < c.group; ++g) {
      auto out = complete(pol, pool, prompt, c.temperature, ++seed, c.max_new, stops);
      if (!out.ok()) return out.status();
      const ArithmeticReward r = score_completion(pr, tok.decode(*out));
      ro.n_correct += r.correct;
      group.push_back(r.value(c.format_weight));
      std::vector<int32_t> row = prompt;
      row.insert(row.end(), out->begin(), out->end());
      ro.rows.push_back(std::move(row));
      ro.prompt_len.push_back(prompt.size());
    }
    add_group_advantages(group, ro.advantages);
    ro.rewards.insert(ro.rewards.end(), group.begin(), group.end());
  }
  return ro;
}

// The rollouts as one training batch: rows padded with EOS to the longest,
// targets only on generated tokens (-1 elsewhere), per-token weights.
struct PgBatch {
  std::vector<int32_t> tokens, targets;
  std::vector<float> weights;
  size_t S = 0;
  int64_t n_seq = 0;
  double kl = 0;  // summed k3 KL estimate over the n_tok targets
  int64_t n_tok = 0;
};

PgBatch pad_rows(const Rollouts& ro, int32_t eos) {
  PgBatch b;
  for (const auto& r : ro.rows) b.S = std::max(b.S, r.size());
  for (size_t i = 0; i < ro.rows.size(); ++i) {
    std::vector<int32_t> row = ro.rows[i];
    const size_t n_out = row.size() - ro.prompt_len[i];
    row.resize(b.S, eos);  // padding: never a target
    for (size_t t = 0; t < b.S; ++t) {
      const bool generated = t + 1 >= ro.prompt_len[i] && t + 1 < ro.prompt_len[i] + n_out;
      b.targets.push_back(generated ? row[t + 1] : -1);
    }
    b.tokens.insert(b.tokens.end(), row.begin(), row.end());
  }
  b.n_seq = static_cast<int64_t>(ro.rows.size());
  return b;
}

void set_weights(const Rollouts& ro, const std::vector<double>& lp_pi, const std::vector<double>& lp_ref, double beta,
                 PgBatch& b) {
  for (size_t i = 0; i < ro.rows.size(); ++i) {
    const double n_out = static_cast<double>(ro.rows[i].size() - ro.prompt_len[i]);
    for (size_t t = 0; t < b.S; ++t) {
      const size_t k = i * b.S + t;
      if (b.targets[k] < 0) {
        b.weights.push_back(0);
        continue;
      }
      // d/dlogp of [-A logp + beta (r - log r - 1)], r = pi_ref / pi: -A + beta (1 - r).
      const double ratio = std::exp(lp_ref[k] - lp_pi[k]);
      b.kl += ratio - std::log(ratio) - 1;
      ++b.n_tok;
      b.weights.push_back(static_cast<float>((ro.advantages[i] - beta * (1 - ratio)) / (n_out * static_cast<double>(b.n_seq))));
    }
  }
}

// One policy-gradient step on the rollouts. Returns the mean KL to the reference.
double train_on(TrainModel<float>& pi, TrainModel<float>& ref, AdamW& adam, ThreadPool& pool, const Rollouts& ro,
                int32_t eos, double beta) {
  PgBatch b = pad_rows(ro, eos);
  std::vector<double> lp_pi, lp_ref;
  pi.token_logprobs(pool, b.tokens, b.n_seq, lp_pi);
  ref.token_logprobs(pool, b.tokens, b.n_seq, lp_ref);
  set_weights(ro, lp_pi, lp_ref, beta, b);
  pi.zero_grad();
  pi.step(pool, b.tokens, b.n_seq, LossOptions{.mtp_weight = 0, .balance_alpha = 0, .pg_targets = b.targets.data(),
                                               .pg_weights = b.weights.data()});
  adam.step(pi.params());
  return b.n_tok ? b.kl / static_cast<double>(b.n_tok) : 0.0;
}

// What the run leaves behind besides the policy: the log's steps and evaluations, and the plot's series.
struct History {
  json steps = json::array(), evals = json::array();
  Series reward{"mean training reward", {}, {}}, acc{"held-out accuracy (greedy)", {}, {}},
      sampled_acc{"held-out accuracy (sampled)", {}, {}};

  void add_eval(int64_t step, const Eval& e) {
    evals.push_back({{"step", step}, {"accuracy", e.greedy}, {"sampled_accuracy", e.sampled}, {"reward", e.reward}});
    acc.x.push_back(static_cast<double>(step)), acc.y.push_back(e.greedy);
    sampled_acc.x.push_back(static_cast<double>(step)), sampled_acc.y.push_back(e.sampled);
  }
};

Result<Eval> snapshot_and_evaluate(const TrainModel<float>& pi, ThreadPool& pool, const Tokenizer& tok,
                                   const std::vector<ArithmeticProblem>& held_out, const GrpoConfig& c,
                                   const std::string& snap) {
  auto now = snapshot(pi, c.model, snap);
  if (!now.ok()) return now.status();
  return evaluate(*now, pool, tok, held_out, c);
}

Status write_outputs(const TrainModel<float>& pi, const GrpoConfig& c, const GrpoSummary& sum, const History& h) {
  if (Status st = export_gguf(pi, ExportOptions{.tokenizer_path = c.model, .name = "dseek-grpo",
                                                .description = "GRPO on " + c.task + " from " + c.model},
                              c.out);
      !st.ok())
    return st;
  const json log = {{"config", {{"model", c.model}, {"task", c.task}, {"steps", c.steps}, {"prompts", c.prompts},
                                {"group", c.group}, {"lr", c.lr}, {"beta", c.beta}, {"temperature", c.temperature},
                                {"max_operand", c.max_operand}, {"held_out", c.held_out}, {"seed", c.seed},
                                {"curriculum_steps", c.curriculum_steps}}},
                    {"steps", h.steps}, {"evals", h.evals},
                    {"final", {{"initial_accuracy", sum.initial_accuracy}, {"final_accuracy", sum.final_accuracy},
                               {"initial_sampled_accuracy", sum.initial_sampled_accuracy},
                               {"final_sampled_accuracy", sum.final_sampled_accuracy}, {"final_reward", sum.final_reward}}}};
  if (Status st = write_file_atomically(c.out + ".log.json", log.dump(1) + "\n"); !st.ok())
    return Status::error("cannot write the training log: " + st.message());
  return write_svg_plot(c.out + ".svg", "dseek train grpo (" + c.task + ")",
                        {{"reward", {h.reward}}, {"held-out accuracy", {h.acc, h.sampled_acc}}});
}

// The run's fixed parts: tokenizer, policy and frozen reference, optimiser, held-out problems.
struct GrpoRun {
  const GrpoConfig& c;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<TrainModel<float>> pi, ref;
  std::unique_ptr<AdamW> adam;
  ThreadPool pool;
  std::string snap;
  std::vector<ArithmeticProblem> held_out;
  int32_t eos = 0;
  Stops stops;
  GrpoSummary sum;
  History hist;
  uint64_t seed = 0;

  explicit GrpoRun(const GrpoConfig& cfg) : c(cfg), pool(std::max(1, cfg.threads)) {}
};

Status open_run(GrpoRun& r) {
  const GrpoConfig& c = r.c;
  auto tok = Tokenizer::load(c.model);
  if (!tok.ok()) return Status::error(c.model + ": no tokenizer: " + tok.message());
  r.tok = std::make_unique<Tokenizer>(std::move(tok).value());
  const int64_t max_seq = 64 + c.max_new;
  auto policy = import_gguf(c.model, max_seq);
  if (!policy.ok()) return policy.status();
  auto reference = import_gguf(c.model, max_seq);
  if (!reference.ok()) return reference.status();
  r.pi = std::move(policy).value();
  r.ref = std::move(reference).value();
  r.adam = std::make_unique<AdamW>(AdamWConfig{.lr = c.lr, .min_lr = c.lr, .weight_decay = c.weight_decay, .warmup = 0,
                                               .total_steps = c.steps, .clip = c.clip},
                                   r.pi->params());
  r.snap = c.out + ".policy.tmp.gguf";
  r.held_out = arithmetic_problems(c.held_out, c.max_operand, c.seed ^ 0xabcdef);
  r.eos = std::max(r.tok->eos_id(), 0);
  r.stops = line_stops(*r.tok);
  r.seed = c.seed;
  return ok_status();
}

// One GRPO step from the policy `pol` (the current weights, exported): rollouts, update, log, evaluation.
Status grpo_step(GrpoRun& r, const Policy& pol, int64_t step, ProgressBar& bar) {
  const GrpoConfig& c = r.c;
  const auto problems = arithmetic_problems(c.prompts, curriculum_operand_limit(c, step),
                                            c.seed * 1000003 + static_cast<uint64_t>(step));
  auto ro = roll_out(pol, r.pool, *r.tok, problems, c, r.stops, r.seed);
  if (!ro.ok()) return ro.status();
  const double kl = train_on(*r.pi, *r.ref, *r.adam, r.pool, *ro, r.eos, c.beta);
  double mean_reward = 0;
  for (double x : ro->rewards) mean_reward += x / static_cast<double>(ro->rewards.size());
  r.sum.final_reward = mean_reward;
  r.sum.steps = step + 1;
  json e = {{"step", step + 1}, {"reward", mean_reward},
            {"train_accuracy", static_cast<double>(ro->n_correct) / static_cast<double>(ro->rows.size())},
            {"kl_to_reference", kl}};
  r.hist.reward.x.push_back(static_cast<double>(step + 1)), r.hist.reward.y.push_back(mean_reward);
  if ((step + 1) % c.eval_every == 0 || step + 1 == c.steps) {
    auto acc = snapshot_and_evaluate(*r.pi, r.pool, *r.tok, r.held_out, c, r.snap);
    if (!acc.ok()) return acc.status();
    r.sum.final_accuracy = acc->greedy;
    r.sum.final_sampled_accuracy = acc->sampled;
    r.hist.add_eval(step + 1, *acc);
    std::fprintf(stderr, "grpo step %lld: mean reward %.3f, held-out accuracy %.1f%% greedy, %.1f%% sampled, KL to reference %.4f\n",
                 static_cast<long long>(step + 1), mean_reward, 100 * acc->greedy, 100 * acc->sampled, kl);
  }
  r.hist.steps.push_back(e);
  char status[128];
  std::snprintf(status, sizeof status, "step %lld  reward %.3f  accuracy %.1f%%", static_cast<long long>(step + 1),
                mean_reward, 100 * r.sum.final_accuracy);
  bar.update(static_cast<uint64_t>(step + 1), status);
  return ok_status();
}

}  // namespace

int64_t curriculum_operand_limit(const GrpoConfig& c, int64_t step) {
  const int64_t first = std::min<int64_t>(10, c.max_operand);
  if (c.curriculum_steps <= 0 || step >= c.curriculum_steps) return c.max_operand;
  return first + (c.max_operand - first) * step / c.curriculum_steps;
}

Result<GrpoSummary> run_grpo(const GrpoConfig& c) {
  if (Status st = check_config(c); !st.ok()) return st;
  GrpoRun r(c);
  if (Status st = open_run(r); !st.ok()) return st;
  auto first = snapshot(*r.pi, c.model, r.snap);
  if (!first.ok()) return first.status();
  auto acc0 = evaluate(*first, r.pool, *r.tok, r.held_out, c);
  if (!acc0.ok()) return acc0.status();
  r.sum.initial_accuracy = acc0->greedy;
  r.sum.initial_sampled_accuracy = acc0->sampled;
  std::fprintf(stderr, "grpo: held-out accuracy before training %.1f%% greedy, %.1f%% sampled (%lld problems)\n",
               100 * acc0->greedy, 100 * acc0->sampled, static_cast<long long>(r.held_out.size()));
  r.hist.add_eval(0, *acc0);
  ProgressBar bar("grpo", static_cast<uint64_t>(c.steps));
  for (int64_t step = 0; step < c.steps; ++step) {
    auto pol = step == 0 ? std::move(first) : snapshot(*r.pi, c.model, r.snap);
    if (!pol.ok()) return pol.status();
    if (Status st = grpo_step(r, *pol, step, bar); !st.ok()) return st;
  }
  std::filesystem::remove(r.snap);
  if (Status st = write_outputs(*r.pi, c, r.sum, r.hist); !st.ok()) return st;
  return r.sum;
}

}  // namespace dseek::train
