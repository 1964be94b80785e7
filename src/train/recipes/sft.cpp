// See sft.h. One step: `batch` rows of packed conversations, the mean
// cross-entropy of the assistant tokens (LossOptions' per-token targets with
// weight 1/count), AdamW on the trained parameters (all, or the LoRA A/B).
// plus mtp_weight times the MTP cross-entropy (every next-next token within a
// conversation), so the MTP head follows the trunk. The balance loss is off.
#include "train/recipes/sft.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/progress.h"
#include "core/thread_pool.h"
#include "model/lora_adapter.h"
#include "runtime/chat_prompt.h"
#include "tokenizer/jinja/chat_template.h"
#include "train/export.h"
#include "train/plot.h"
#include "train/sft_data.h"

namespace dseek::train {
namespace {

using nlohmann::json;

struct SftData {
  std::vector<SftDocument> train, val;
  int32_t pad_id = 0;
};

// Reads one data file as conversations, or as plain-text windows (c.text).
using DocumentReader = std::function<Result<std::vector<SftDocument>>(const std::string&)>;

Result<DocumentReader> document_reader(const SftConfig& c, const Tokenizer& tok) {
  if (c.text)
    return DocumentReader([&c, &tok](const std::string& path) { return read_text_documents(path, tok, c.seq_len); });
  auto src = load_chat_template(c.model);
  if (!src.ok()) return Status::error(c.model + " has no usable chat template: " + src.message());
  auto format = ChatFormat::parse(*src, tok);
  if (!format.ok()) return Status::error(c.model + ": the chat template does not parse: " + format.message());
  return DocumentReader([&tok, f = std::make_shared<ChatFormat>(std::move(format).value())](const std::string& path) {
    return read_sft_file(path, *f, tok);
  });
}

Result<SftData> load_data(const SftConfig& c) {
  auto tok = Tokenizer::load(c.model);
  if (!tok.ok()) return tok.status();
  auto read = document_reader(c, *tok);
  if (!read.ok()) return read.status();
  auto docs = (*read)(c.data);
  if (!docs.ok()) return docs.status();
  SftData d;
  d.pad_id = tok->eos_id() >= 0 ? tok->eos_id() : 0;
  if (!c.val_data.empty() && !c.eval_only) {
    auto val = (*read)(c.val_data);
    if (!val.ok()) return val.status();
    d.train = std::move(docs).value(), d.val = std::move(val).value();
    return d;
  }
  const size_t n = docs->size();
  const size_t n_val = c.eval_only ? n
                       : n < 2     ? 0
                                   : std::max<size_t>(1, static_cast<size_t>(static_cast<double>(n) * c.val_fraction));
  d.train.assign(docs->begin(), docs->end() - static_cast<long>(n_val));
  d.val.assign(docs->end() - static_cast<long>(n_val), docs->end());
  return d;
}

struct Sft {
  const SftConfig& c;
  SftData data;
  ThreadPool pool;
  std::unique_ptr<TrainModel<float>> model;
  std::optional<LoraSet<float>> lora;
  std::vector<Param<float>*> trained;
  std::optional<AdamW> adam;
  size_t next_doc = 0;
  Sft(const SftConfig& cfg, SftData d) : c(cfg), data(std::move(d)), pool(std::max(1, cfg.threads)) {}
};

struct BatchLoss {
  double ce = NAN;   // mean assistant-token cross-entropy
  double mtp = 0;    // mean MTP cross-entropy
};

// The losses of a packed batch; gradients too when `backward` (of ce + mtp_weight * mtp).
BatchLoss batch_loss(Sft& s, const PackedBatch& b, bool backward, double mtp_weight) {
  int64_t count = 0;
  for (int32_t t : b.targets) count += t >= 0;
  if (count == 0) return {};
  const std::vector<float> w(b.targets.size(), 1.0f / static_cast<float>(count));
  LossOptions opt;
  opt.mtp_weight = mtp_weight, opt.balance_alpha = 0, opt.backward = backward;
  opt.pg_targets = b.targets.data(), opt.pg_weights = w.data();
  opt.segment_starts = b.segment_starts;
  if (s.lora) s.lora->merge();
  const StepResult r = s.model->step(s.pool, b.tokens, b.rows, opt);
  if (s.lora) s.lora->take_gradients();
  return {.ce = r.loss - mtp_weight * r.mtp_ce, .mtp = r.mtp_ce};
}

// Every held-out conversation once, alone in its row; token-weighted mean.
double validation_ce(Sft& s) {
  double sum = 0;
  int64_t tokens = 0;
  for (const SftDocument& doc : s.data.val) {
    const PackedBatch b = single_document(doc, s.c.seq_len);
    int64_t n = 0;
    for (int32_t t : b.targets) n += t >= 0;
    if (n > 0) sum += batch_loss(s, b, false, 0).ce * static_cast<double>(n), tokens += n;
  }
  return tokens ? sum / static_cast<double>(tokens) : NAN;
}

Status setup(Sft& s) {
  auto m = import_gguf(s.c.model, s.c.seq_len);
  if (!m.ok()) return m.status();
  s.model = std::move(m).value();
  if (s.c.lora) {
    auto set = LoraSet<float>::attach(*s.model, s.c.lora_cfg);
    if (!set.ok()) return set.status();
    s.lora.emplace(std::move(set).value());
    s.trained = s.lora->params();
  } else {
    s.trained.assign(s.model->params().begin(), s.model->params().end());
  }
  AdamWConfig ac = s.c.adam;
  ac.total_steps = s.c.steps;
  s.adam.emplace(ac, s.trained);
  const std::string ckpt = s.c.out + ".ckpt";
  if (!s.c.lora && s.c.resume && std::filesystem::exists(ckpt)) {
    if (Status st = load_checkpoint(*s.model, *s.adam, "sft", ckpt); !st.ok()) return st;
    s.next_doc = static_cast<size_t>(s.adam->steps_done() * s.c.batch);
  }
  return ok_status();
}

Status write_adapter(const Sft& s, const std::string& path) {
  LoraAdapterFile f;
  f.architecture = "deepseek2", f.alpha = static_cast<float>(s.lora->alpha());
  for (const auto& lp : s.lora->pairs())
    f.pairs.push_back({.base = lp.base->name, .rows = lp.base->rows, .cols = lp.base->cols, .rank = s.lora->rank(),
                       .a = lp.a.w, .b = lp.b.w});
  return write_lora_adapter(f, path);
}

Status save_state(Sft& s) {
  if (s.lora) return write_adapter(s, s.c.out);
  return save_checkpoint(*s.model, *s.adam, "sft", s.c.out + ".ckpt");
}

struct Curves {
  json steps = json::array(), evals = json::array();
  Series train{"train CE (assistant tokens)", {}, {}}, val{"validation CE (assistant tokens)", {}, {}};
};

Status write_outputs(Sft& s, const SftSummary& sum, const Curves& cv) {
  if (s.lora) {
    if (Status st = write_adapter(s, s.c.out); !st.ok()) return st;
  } else {
    ExportOptions ex{.tokenizer_path = s.c.model, .name = "dseek-sft", .description = "fine-tuned by dseek train sft"};
    if (Status st = export_gguf(*s.model, ex, s.c.out); !st.ok()) return st;
  }
  json cfg = {{"model", s.c.model}, {"data", s.c.data}, {"val_data", s.c.val_data}, {"steps", s.c.steps}, {"batch", s.c.batch},
              {"seq_len", s.c.seq_len}, {"lr", s.c.adam.lr}, {"mtp_weight", s.c.mtp_weight}, {"lora", s.c.lora}, {"text", s.c.text}};
  if (s.c.lora)
    cfg["lora_rank"] = s.c.lora_cfg.rank, cfg["lora_alpha"] = s.c.lora_cfg.alpha, cfg["lora_targets"] = s.c.lora_cfg.targets;
  const json log = {{"config", cfg}, {"trainable_parameters", sum.trainable}, {"train_conversations", sum.train_docs},
                    {"val_conversations", sum.val_docs}, {"steps", cv.steps}, {"evals", cv.evals},
                    {"final", {{"steps", sum.steps}, {"train_ce", sum.final_train_ce}, {"initial_val_ce", sum.initial_val_ce},
                               {"val_ce", sum.final_val_ce}}}};
  std::ofstream(s.c.out + ".log.json") << log.dump(1) << "\n";
  return write_svg_plot(s.c.out + ".svg", "dseek train sft", {{"cross-entropy (nats/token)", {cv.train, cv.val}}});
}

Status train_loop(Sft& s, SftSummary& sum, Curves& cv) {
  const SftConfig& c = s.c;
  const int64_t first = s.adam->steps_done();
  const int64_t last = c.max_steps >= 0 ? std::min(c.steps, first + c.max_steps) : c.steps;
  ProgressBar bar("sft", static_cast<uint64_t>(c.steps));
  PackedBatch b;
  const auto t0 = std::chrono::steady_clock::now();
  int64_t tokens = 0;
  for (int64_t step = first; step < last; ++step) {
    s.next_doc = pack_documents(s.data.train, s.next_doc, c.batch, c.seq_len, s.data.pad_id, b);
    s.model->zero_grad();
    if (s.lora) s.lora->zero_grad();
    const BatchLoss loss = batch_loss(s, b, true, c.mtp_weight);
    const double ce = loss.ce;
    if (!std::isfinite(ce)) return Status::error("a batch has no assistant tokens within --seq-len " + std::to_string(c.seq_len));
    const double gnorm = s.adam->step(s.trained);
    tokens += static_cast<int64_t>(b.tokens.size());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sum.final_train_ce = ce;
    sum.final_train_mtp_ce = loss.mtp;
    sum.steps = step + 1;
    json entry = {{"step", step + 1}, {"train_ce", ce}, {"train_mtp_ce", loss.mtp}, {"lr", scheduled_lr(s.adam->config(), step)},
                  {"grad_norm", gnorm}, {"tokens_per_s", static_cast<double>(tokens) / std::max(secs, 1e-9)}};
    cv.train.x.push_back(static_cast<double>(step + 1)), cv.train.y.push_back(ce);
    if ((step + 1) % c.eval_every == 0 || step + 1 == last) {
      sum.final_val_ce = validation_ce(s);
      entry["val_ce"] = sum.final_val_ce;
      cv.evals.push_back({{"step", step + 1}, {"val_ce", sum.final_val_ce}});
      cv.val.x.push_back(static_cast<double>(step + 1)), cv.val.y.push_back(sum.final_val_ce);
    }
    cv.steps.push_back(entry);
    char status[120];
    std::snprintf(status, sizeof status, "step %lld  loss %.3f  val %.3f", static_cast<long long>(step + 1), ce,
                  sum.final_val_ce);
    bar.update(static_cast<uint64_t>(step + 1), status);
    if (c.checkpoint_every > 0 && (step + 1) % c.checkpoint_every == 0)
      if (Status st = save_state(s); !st.ok()) return st;
  }
  return ok_status();
}

Result<SftSummary> evaluate_only(const SftConfig& c, SftData data) {
  Sft s(c, std::move(data));
  auto m = import_gguf(c.model, c.seq_len);
  if (!m.ok()) return m.status();
  s.model = std::move(m).value();
  SftSummary sum;
  sum.val_docs = static_cast<int64_t>(s.data.val.size());
  sum.initial_val_ce = sum.final_val_ce = validation_ce(s);
  return sum;
}

}  // namespace

Status check_sft_config(const SftConfig& c) {
  auto range = [](const char* name, double v, double lo, double hi) {
    return v >= lo && v <= hi ? ok_status()
                              : Status::error(std::string(name) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  };
  for (Status st : {range("--steps", static_cast<double>(c.steps), 1, 1e8), range("--batch", static_cast<double>(c.batch), 1, 4096),
                    range("--seq-len", static_cast<double>(c.seq_len), 2, 8192), range("--lr", c.adam.lr, 0, 10),
                    range("--eval-every", static_cast<double>(c.eval_every), 1, 1e8), range("--val-fraction", c.val_fraction, 0, 0.5),
                    range("--checkpoint-every", static_cast<double>(c.checkpoint_every), 0, 1e8),
                    range("--threads", c.threads, 1, 1024), range("--mtp-weight", c.mtp_weight, 0, 100)})
    if (!st.ok()) return st;
  if (c.model.empty() || c.data.empty() || (c.out.empty() && !c.eval_only))
    return Status::error("sft needs --model, --data and -o (or --eval-only)");
  return ok_status();
}

Result<SftSummary> run_sft(const SftConfig& c) {
  if (Status st = check_sft_config(c); !st.ok()) return st;
  auto data = load_data(c);
  if (!data.ok()) return data.status();
  if (c.eval_only) return evaluate_only(c, std::move(data).value());
  if (data->train.empty()) return Status::error(c.data + ": no conversations left to train on");
  auto s = std::make_unique<Sft>(c, std::move(data).value());
  if (Status st = setup(*s); !st.ok()) return st;
  SftSummary sum;
  sum.train_docs = static_cast<int64_t>(s->data.train.size());
  sum.val_docs = static_cast<int64_t>(s->data.val.size());
  for (const Param<float>* p : s->trained) sum.trainable += p->size();
  sum.initial_val_ce = sum.final_val_ce = validation_ce(*s);
  std::fprintf(stderr, "sft: %lld trainable parameters (%s), %lld / %lld %s train / validation, val CE %.4f\n",
               static_cast<long long>(sum.trainable), c.lora ? "LoRA" : "full", static_cast<long long>(sum.train_docs),
               static_cast<long long>(sum.val_docs), c.text ? "text windows" : "conversations", sum.initial_val_ce);
  Curves cv;
  if (c.text) cv.train.name = "train CE", cv.val.name = "validation CE";
  if (Status st = train_loop(*s, sum, cv); !st.ok()) return st;
  if (!c.lora)
    if (Status st = save_state(*s); !st.ok()) return st;
  if (Status st = write_outputs(*s, sum, cv); !st.ok()) return st;
  return sum;
}

}  // namespace dseek::train
