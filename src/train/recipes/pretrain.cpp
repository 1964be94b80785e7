// See pretrain.h. One step: grad_accum micro-batches of `batch` windows,
// gradients averaged, clipped, AdamW; then each MoE layer's selection bias
// moves by gamma * sign(mean load - load) (DeepSeek-V3 §2.1.2,
// auxiliary-loss-free balancing). Validation cross-entropy every eval_every.
#include "train/recipes/pretrain.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <optional>

#include "core/atomic_file.h"
#include "core/progress.h"
#include "core/thread_pool.h"
#include "tokenizer/tokenizer.h"
#include "train/data.h"
#include "train/checkpoint.h"
#include "train/export.h"
#include "train/plot.h"
#include "train/recipes/tokenizer.h"

namespace dseek::train {
namespace {

using nlohmann::json;

// section.key, when present, must be a number in [lo, hi].
template <typename V>
Status get(const json& t, const char* section, const char* key, V& out, double lo, double hi) {
  if (!t.contains(key)) return ok_status();
  const json& v = t[key];
  const std::string name = std::string(section) + "." + key;
  if (!v.is_number()) return Status::error(name + " must be a number");
  const double d = v.get<double>();
  if (!(d >= lo && d <= hi))
    return Status::error(name + " = " + v.dump() + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  out = static_cast<V>(d);
  return ok_status();
}

// dst[layer][expert] += src[layer][expert] (per-expert token counts).
void add_loads(std::vector<std::vector<int64_t>>& dst, const std::vector<std::vector<int64_t>>& src) {
  if (dst.size() < src.size()) dst.resize(src.size());
  for (size_t l = 0; l < src.size(); ++l) {
    dst[l].resize(src[l].size(), 0);
    for (size_t e = 0; e < src[l].size(); ++e) dst[l][e] += src[l][e];
  }
}

// Max over mean of per-expert token counts, averaged over MoE layers (1 = perfectly balanced).
double load_imbalance(const std::vector<std::vector<int64_t>>& loads) {
  double sum = 0;
  int n = 0;
  for (const auto& l : loads) {
    if (l.empty()) continue;
    const double total = static_cast<double>(std::accumulate(l.begin(), l.end(), int64_t{0}));
    if (total <= 0) continue;
    sum += static_cast<double>(*std::max_element(l.begin(), l.end())) / (total / static_cast<double>(l.size()));
    ++n;
  }
  return n ? sum / n : 0.0;
}

struct EvalResult {
  double ce = NAN, kd = 0;
};

EvalResult evaluate(TrainModel<float>& m, ThreadPool& pool, const WindowSampler& val, int64_t windows, int64_t batch,
                    const PretrainRun& run, double tau) {
  double ce = 0, kd = 0;
  int64_t tokens = 0, positions = 0;
  std::vector<float> teacher;
  const int64_t n = std::min(windows, val.n_fixed());
  for (int64_t k = 0; k < n; k += batch) {
    std::vector<int32_t> t;
    const int64_t rows = std::min(batch, n - k);
    for (int64_t i = 0; i < rows; ++i) val.fixed(k + i, t);
    LossOptions lo{.mtp_weight = 0, .balance_alpha = 0, .backward = false};
    if (run.teacher) {
      if (!run.teacher(t, rows, teacher).ok()) return {};
      lo.teacher_logits = teacher.data();
      lo.kd_weight = 1.0;
      lo.kd_temperature = tau;
    }
    const StepResult r = m.step(pool, t, rows, lo);
    ce += r.main_ce * static_cast<double>(r.tokens);
    kd += r.kd * static_cast<double>(t.size());
    tokens += r.tokens;
    positions += static_cast<int64_t>(t.size());
  }
  if (!tokens) return {};
  return {ce / static_cast<double>(tokens), kd / static_cast<double>(std::max<int64_t>(positions, 1))};
}

}  // namespace

Result<PretrainConfig> parse_pretrain_config(const json& j) {
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    return Status::error("the config needs a \"model\" object (DeepSeek config.json keys) and a \"training\" object");
  PretrainConfig c;
  c.source = j;
  json model = j["model"];
  if (!model.contains("vocab_size")) model["vocab_size"] = 2048;
  auto h = deepseek_hparams_from_hf_config(model);
  if (!h.ok()) return h.status();
  c.model = *h;
  if (c.model.yarn_factor > 0) return Status::error("training with YaRN rope scaling is not supported: remove rope_scaling");
  const json t = j.value("training", json::object());
  if (!t.is_object()) return Status::error("\"training\" must be an object");
  for (Status st : {get(t, "training", "seq_len", c.seq_len, 2, 8192), get(t, "training", "batch", c.batch, 1, 4096),
                    get(t, "training", "grad_accum", c.grad_accum, 1, 1024), get(t, "training", "steps", c.steps, 1, 1e8),
                    get(t, "training", "eval_every", c.eval_every, 1, 1e8), get(t, "training", "eval_windows", c.eval_windows, 1, 1e6),
                    get(t, "training", "checkpoint_every", c.checkpoint_every, 0, 1e8), get(t, "training", "lr", c.adam.lr, 0, 10),
                    get(t, "training", "min_lr", c.adam.min_lr, 0, 10), get(t, "training", "warmup", c.adam.warmup, 0, 1e8),
                    get(t, "training", "weight_decay", c.adam.weight_decay, 0, 10), get(t, "training", "beta1", c.adam.beta1, 0, 0.999999),
                    get(t, "training", "beta2", c.adam.beta2, 0, 0.999999), get(t, "training", "clip", c.adam.clip, 0, 1e6),
                    get(t, "training", "mtp_weight", c.loss.mtp_weight, 0, 100), get(t, "training", "balance_alpha", c.loss.balance_alpha, 0, 100),
                    get(t, "training", "bias_update_rate", c.bias_update_rate, 0, 1), get(t, "training", "val_fraction", c.val_fraction, 0, 0.49),
                    get(t, "training", "seed", c.seed, 0, 1e18), get(t, "training", "max_bytes", c.max_bytes, 1024, 1e12)})
    if (!st.ok()) return st;
  if (j.contains("distill")) {
    const json& d = j["distill"];
    if (!d.is_object()) return Status::error("\"distill\" must be an object");
    auto dget = [&](const char* key, auto& out, double lo, double hi) { return get(d, "distill", key, out, lo, hi); };
    for (Status st : {dget("kd_weight", c.distill.kd_weight, 0, 100), dget("ce_weight", c.distill.ce_weight, 0, 100),
                      dget("temperature", c.distill.temperature, 0.05, 100), dget("samples", c.distill.samples, 0, 1e6),
                      dget("sample_tokens", c.distill.sample_tokens, 1, 1e5),
                      dget("sample_temperature", c.distill.sample_temperature, 0, 10)})
      if (!st.ok()) return st;
  }
  if (t.contains("bf16")) {
    if (!t["bf16"].is_boolean()) return Status::error("training.bf16 must be true or false");
    c.loss.bf16 = t["bf16"].get<bool>();
  }
  if (t.contains("special_tokens")) {
    if (!t["special_tokens"].is_boolean()) return Status::error("training.special_tokens must be true or false");
    c.special_tokens = t["special_tokens"].get<bool>();
  }
  if (t.contains("export_dtype")) {
    if (!t["export_dtype"].is_string()) return Status::error("training.export_dtype must be a string");
    c.export_dtype = t["export_dtype"].get<std::string>();
    if (!dtype_from_name(c.export_dtype)) return Status::error("training.export_dtype: unknown type " + c.export_dtype);
  }
  c.adam.total_steps = c.steps;
  if (c.seq_len > c.model.n_ctx) return Status::error("training.seq_len exceeds the model's max_position_embeddings");
  if (c.model.n_embd * c.model.n_layer > (int64_t{1} << 24)) return Status::error("this model is far too large to train on a CPU here");
  return c;
}

namespace {

// The run's text as token ids, with the tokenizer that made them.
struct Corpus {
  std::string tok_path;
  std::unique_ptr<Tokenizer> tok;
  TokenData data;
};

// Reads the text, trains the tokenizer when none is given (the whole recipe is
// one command), checks a teacher's vocabulary, tokenizes. Sets cfg.model.n_vocab.
Result<Corpus> prepare_corpus(PretrainConfig& cfg, const PretrainRun& run) {
  auto text = read_text_files(run.data, cfg.max_bytes);
  if (!text.ok()) return text.status();
  Corpus c;
  c.tok_path = run.tokenizer;
  if (c.tok_path.empty()) {
    c.tok_path = run.out + ".tokenizer.gguf";
    auto r = train_tokenizer_file(*text, cfg.model.n_vocab, "deepseek-v3", c.tok_path);
    if (!r.ok()) return r.status();
    std::fprintf(stderr, "tokenizer: %zu tokens, %.2f bytes/token -> %s\n", r->n_tokens, r->bytes_per_token, c.tok_path.c_str());
  }
  auto tok = Tokenizer::load(c.tok_path);
  if (!tok.ok()) return tok.status();
  c.tok = std::make_unique<Tokenizer>(std::move(tok).value());
  cfg.model.n_vocab = static_cast<int64_t>(c.tok->vocab_size());
  if (run.teacher) {  // the student predicts over the teacher's vocabulary
    std::vector<float> probe;
    const std::vector<int32_t> one(static_cast<size_t>(cfg.seq_len), 0);
    if (Status st = run.teacher(one, 1, probe); !st.ok()) return st;
    if (static_cast<int64_t>(probe.size()) != cfg.seq_len * cfg.model.n_vocab)
      return Status::error("the teacher's vocabulary differs from the tokenizer's: distillation needs the same tokens");
  }
  auto data = tokenize_for_training(*c.tok, *text, cfg.val_fraction, cfg.seq_len, cfg.special_tokens);
  if (!data.ok()) return data.status();
  c.data = std::move(data).value();
  return c;
}

// The log's entries and the plot's series, filled step by step.
struct History {
  json steps = json::array(), evals = json::array();
  Series loss{"train CE (next token)", {}, {}}, mtp{"train CE (MTP, next-next)", {}, {}}, val{"validation CE", {}, {}};
  Series load{"expert load max/mean", {}, {}}, kd{"validation KL(teacher || student)", {}, {}};
  std::vector<std::vector<int64_t>> window_load;  // expert loads since the last evaluation
};

// Everything one training run works on.
struct Trainer {
  const PretrainConfig& cfg;
  const PretrainRun& run;
  const Corpus& corpus;
  ThreadPool pool;
  TrainModel<float> model;
  AdamW adam;
  std::string config_text, ckpt;
  std::optional<WindowSampler> train_windows;  // placed by start() at the step reached
  WindowSampler val_windows;
  LossOptions loss;
  std::vector<int32_t> batch;
  std::vector<float> teacher_logits;
  std::chrono::steady_clock::time_point t_start;
  int64_t tokens_done = 0, n_params = 0;
  PretrainSummary sum;
  History hist;

  Trainer(const PretrainConfig& c, const PretrainRun& r, const Corpus& cor)
      : cfg(c), run(r), corpus(cor), pool(std::max(1, r.threads)), model(c.model, c.seq_len, c.seed),
        adam(c.adam, model.params()), config_text(c.source.dump()), ckpt(r.out + ".ckpt"),
        val_windows(cor.data.val, c.seq_len, 0), loss(c.loss) {}
};

// The log so far as a checkpoint keeps it: entries, and expert loads since the last evaluation.
std::string history_text(const History& h) {
  return json{{"steps", h.steps}, {"evals", h.evals}, {"window_load", h.window_load}}.dump();
}

// A JSON number, or NaN for the null that JSON writes for it.
double number(const json& v) { return v.is_number() ? v.get<double>() : NAN; }

// The inverse of history_text: the entries, and the plot's series rebuilt from them.
void restore_entries(History& h, const json& j) {
  h.steps = j.at("steps");
  h.evals = j.at("evals");
  if (j.contains("window_load")) h.window_load = j["window_load"].get<std::vector<std::vector<int64_t>>>();
  for (const json& e : h.steps) {
    const double x = number(e.value("step", json()));
    h.loss.x.push_back(x), h.loss.y.push_back(number(e.value("train_ce", json())));
    h.mtp.x.push_back(x), h.mtp.y.push_back(number(e.value("mtp_ce", json())));
    if (e.contains("expert_load_max_over_mean"))
      h.load.x.push_back(x), h.load.y.push_back(number(e["expert_load_max_over_mean"]));
  }
  for (const json& e : h.evals) {
    const double x = number(e.value("step", json()));
    h.val.x.push_back(x), h.val.y.push_back(number(e.value("val_ce", json())));
    if (e.contains("val_kd")) h.kd.x.push_back(x), h.kd.y.push_back(number(e["val_kd"]));
  }
}

Status restore_history(History& h, const std::string& text, const std::string& ckpt) {
  if (text.empty()) return ok_status();
  const json j = json::parse(text, nullptr, false);
  try {
    if (!j.is_discarded() && j.is_object()) {
      restore_entries(h, j);
      return ok_status();
    }
  } catch (const json::exception&) {  // a shape our own writer never produces
  }
  return Status::error(ckpt + ": the checkpoint's training history is not valid");
}

Status save_state(Trainer& t) {
  return save_checkpoint(t.model, t.adam, t.config_text, t.ckpt,
                         RecipeState{.sampler = t.train_windows->state(), .history = history_text(t.hist)});
}

// Resumes from the checkpoint when asked (weights, optimizer, the sampler's
// position and the log so far), else places the training windows at the start.
Status start(Trainer& t) {
  const PretrainConfig& cfg = t.cfg;
  t.train_windows.emplace(t.corpus.data.train, cfg.seq_len, cfg.seed * 7919);
  if (t.run.resume && std::filesystem::exists(t.ckpt)) {
    RecipeState state;
    if (Status st = load_checkpoint(t.model, t.adam, t.config_text, t.ckpt, &state); !st.ok()) return st;
    if (Status st = restore_history(t.hist, state.history, t.ckpt); !st.ok()) return st;
    t.train_windows->set_state(state.sampler);
    std::fprintf(stderr, "resumed from %s at step %lld\n", t.ckpt.c_str(), static_cast<long long>(t.adam.steps_done()));
  }
  for (const auto* p : t.model.params()) t.n_params += p->size();
  std::fprintf(stderr, "model: %lld parameters, %zu train / %zu val tokens, %lld steps of %lld x %lld x %lld tokens\n",
               static_cast<long long>(t.n_params), t.corpus.data.train.size(), t.corpus.data.val.size(),
               static_cast<long long>(cfg.steps), static_cast<long long>(cfg.grad_accum),
               static_cast<long long>(cfg.batch), static_cast<long long>(cfg.seq_len));
  if (t.run.teacher) {
    t.loss.ce_weight = cfg.distill.ce_weight;
    t.loss.kd_weight = cfg.distill.kd_weight;
    t.loss.kd_temperature = cfg.distill.temperature;
  }
  return ok_status();
}

// grad_accum micro-batches; gradients summed, then averaged. Returns the step's mean figures.
Result<StepResult> accumulate_gradients(Trainer& t) {
  const PretrainConfig& cfg = t.cfg;
  t.model.zero_grad();
  StepResult acc;
  for (int64_t micro = 0; micro < cfg.grad_accum; ++micro) {
    t.batch.clear();
    t.train_windows->sample(cfg.batch, t.batch);
    if (t.run.teacher) {
      if (Status st = t.run.teacher(t.batch, cfg.batch, t.teacher_logits); !st.ok()) return st;
      t.loss.teacher_logits = t.teacher_logits.data();
    }
    const StepResult r = t.model.step(t.pool, t.batch, cfg.batch, t.loss);
    acc.kd += r.kd / static_cast<double>(cfg.grad_accum);
    acc.main_ce += r.main_ce / static_cast<double>(cfg.grad_accum);
    acc.mtp_ce += r.mtp_ce / static_cast<double>(cfg.grad_accum);
    acc.balance += r.balance / static_cast<double>(cfg.grad_accum);
    acc.loss += r.loss / static_cast<double>(cfg.grad_accum);
    t.tokens_done += static_cast<int64_t>(t.batch.size());
    add_loads(t.hist.window_load, r.expert_load);
    add_loads(acc.expert_load, r.expert_load);
  }
  if (cfg.grad_accum > 1)
    for (auto* p : t.model.params())
      for (float& g : p->g) g /= static_cast<float>(cfg.grad_accum);
  return acc;
}

// Auxiliary-loss-free balancing: overloaded experts become less likely to be chosen.
// `loads` holds this step's counts per MoE layer (main layers, then MTP), the
// same order as expert_biases().
void update_expert_biases(TrainModel<float>& model, const std::vector<std::vector<int64_t>>& loads, double rate) {
  const auto biases = model.expert_biases();
  if (!(rate > 0 && biases.size() == loads.size())) return;
  for (size_t l = 0; l < biases.size(); ++l) {
    const double mean = static_cast<double>(std::accumulate(loads[l].begin(), loads[l].end(), int64_t{0})) /
                        static_cast<double>(loads[l].size());
    for (size_t e = 0; e < loads[l].size(); ++e) {
      const double err = mean - static_cast<double>(loads[l][e]);
      (*biases[l])[e] += static_cast<float>(rate * (err > 0 ? 1 : err < 0 ? -1 : 0));
    }
  }
}

// At an evaluation step: the expert-load balance since the last one, and the validation loss.
void evaluate_now(Trainer& t, int64_t step, const StepResult& acc, json& entry) {
  const double imb = load_imbalance(t.hist.window_load);
  t.sum.load_max_over_mean = imb;
  entry["expert_load_max_over_mean"] = imb;
  t.hist.load.x.push_back(static_cast<double>(step + 1)), t.hist.load.y.push_back(imb);
  t.hist.window_load.clear();
  if (t.corpus.data.val.empty()) return;
  const EvalResult ev = evaluate(t.model, t.pool, t.val_windows, t.cfg.eval_windows, t.cfg.batch, t.run, t.cfg.distill.temperature);
  t.sum.final_val_ce = ev.ce;
  t.sum.final_val_kd = ev.kd;
  json e = {{"step", step + 1}, {"val_ce", ev.ce}, {"val_ppl", std::exp(ev.ce)}};
  if (t.run.teacher) {
    e["val_kd"] = ev.kd;
    t.hist.kd.x.push_back(static_cast<double>(step + 1)), t.hist.kd.y.push_back(ev.kd);
  }
  t.hist.evals.push_back(e);
  std::fprintf(stderr, "%s step %lld: train CE %.4f, validation CE %.4f%s, %.0f tokens/s\n", t.run.recipe.c_str(),
               static_cast<long long>(step + 1), acc.main_ce, ev.ce,
               t.run.teacher ? (", validation KL to teacher " + std::to_string(ev.kd)).c_str() : "", t.sum.tokens_per_s);
  t.hist.val.x.push_back(static_cast<double>(step + 1)), t.hist.val.y.push_back(ev.ce);
}

Status train_step(Trainer& t, int64_t step, int64_t last, ProgressBar& bar) {
  const PretrainConfig& cfg = t.cfg;
  auto acc = accumulate_gradients(t);
  if (!acc.ok()) return acc.status();
  const double lr = scheduled_lr(cfg.adam, step);
  const double gnorm = t.adam.step(t.model.params());
  update_expert_biases(t.model, acc->expert_load, cfg.bias_update_rate);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t.t_start).count();
  t.sum.tokens_per_s = static_cast<double>(t.tokens_done) / std::max(secs, 1e-9);
  t.sum.final_train_ce = acc->main_ce;
  t.sum.steps = step + 1;
  json entry = {{"step", step + 1}, {"loss", acc->loss}, {"train_ce", acc->main_ce}, {"mtp_ce", acc->mtp_ce},
                {"balance_loss", acc->balance}, {"kd", acc->kd}, {"lr", lr}, {"grad_norm", gnorm}, {"tokens_per_s", t.sum.tokens_per_s}};
  t.hist.loss.x.push_back(static_cast<double>(step + 1)), t.hist.loss.y.push_back(acc->main_ce);
  t.hist.mtp.x.push_back(static_cast<double>(step + 1)), t.hist.mtp.y.push_back(acc->mtp_ce);
  if ((step + 1) % cfg.eval_every == 0 || step + 1 == last) evaluate_now(t, step, *acc, entry);
  t.hist.steps.push_back(entry);
  char status[160];
  std::snprintf(status, sizeof status, "step %lld  %.0f tok/s  loss %.3f  val %.3f", static_cast<long long>(step + 1),
                t.sum.tokens_per_s, acc->main_ce, t.sum.final_val_ce);
  bar.update(static_cast<uint64_t>(step + 1), status);
  if (cfg.checkpoint_every > 0 && (step + 1) % cfg.checkpoint_every == 0)
    if (Status st = save_state(t); !st.ok()) return st;
  return ok_status();
}

Status write_outputs(const Trainer& t) {
  const PretrainConfig& cfg = t.cfg;
  const PretrainRun& run = t.run;
  const DType export_dtype = dtype_from_name(cfg.export_dtype).value_or(DType::kF32);
  ExportOptions ex{.tokenizer_path = t.corpus.tok_path, .dtype = export_dtype, .name = "dseek-" + run.recipe,
                   .description = "trained by dseek train " + run.recipe};
  if (Status st = export_gguf(t.model, ex, run.out); !st.ok()) return st;
  const PretrainSummary& sum = t.sum;
  json log = {{"config", cfg.source}, {"parameters", t.n_params}, {"train_tokens", t.corpus.data.train.size()},
              {"val_tokens", t.corpus.data.val.size()}, {"threads", run.threads}, {"steps", t.hist.steps}, {"evals", t.hist.evals},
              {"final", {{"steps", sum.steps}, {"train_ce", sum.final_train_ce}, {"val_ce", sum.final_val_ce},
                         {"tokens_per_s", sum.tokens_per_s}, {"expert_load_max_over_mean", sum.load_max_over_mean},
                         {"val_kd", sum.final_val_kd}}}};
  if (Status st = write_file_atomically(run.out + ".log.json", log.dump(1) + "\n"); !st.ok())
    return Status::error("cannot write the training log: " + st.message());
  const History& h = t.hist;
  std::vector<Panel> panels = {{"cross-entropy (nats/token)", {h.loss, h.mtp, h.val}}, {"expert load balance", {h.load}}};
  if (run.teacher) panels.push_back({"distillation", {h.kd}});
  return write_svg_plot(run.out + ".svg", "dseek train " + run.recipe, panels);
}

}  // namespace

Result<PretrainSummary> run_pretrain(const PretrainConfig& cfg_in, const PretrainRun& run) {
  PretrainConfig cfg = cfg_in;
  auto corpus = prepare_corpus(cfg, run);
  if (!corpus.ok()) return corpus.status();
  auto t = std::make_unique<Trainer>(cfg, run, *corpus);
  if (Status st = start(*t); !st.ok()) return st;
  ProgressBar bar("train", static_cast<uint64_t>(cfg.steps));
  t->t_start = std::chrono::steady_clock::now();
  const int64_t first = t->adam.steps_done();
  const int64_t last = run.max_steps >= 0 ? std::min(cfg.steps, first + run.max_steps) : cfg.steps;
  for (int64_t step = first; step < last; ++step)
    if (Status st = train_step(*t, step, last, bar); !st.ok()) return st;
  if (Status st = save_state(*t); !st.ok()) return st;
  if (Status st = write_outputs(*t); !st.ok()) return st;
  return t->sum;
}

}  // namespace dseek::train
