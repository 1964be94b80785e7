// See distill.h.
#include "train/recipes/distill.h"

#include <cstdio>

#include "core/atomic_file.h"
#include "core/progress.h"
#include "core/thread_pool.h"
#include "runtime/generate.h"
#include "tokenizer/tokenizer.h"
#include "train/data.h"
#include "train/param.h"

namespace dseek::train {
namespace {

// Sequence-level distillation data: continuations the teacher samples from
// short prompts cut out of the training text.
Result<std::string> teacher_samples(const Model& teacher, ThreadPool& pool, const Tokenizer& tok,
                                    const std::vector<int32_t>& ids, const DistillConfig& d, uint64_t seed) {
  std::string text;
  Rng rng(seed);
  ProgressBar bar("teacher samples", static_cast<uint64_t>(d.samples));
  const int64_t prompt_len = 8;
  if (static_cast<int64_t>(ids.size()) <= prompt_len) return Status::error("too little data to prompt the teacher");
  for (int64_t i = 0; i < d.samples; ++i) {
    const auto at = static_cast<size_t>(rng.next() % (ids.size() - static_cast<size_t>(prompt_len)));
    const std::vector<int32_t> prompt(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                      ids.begin() + static_cast<std::ptrdiff_t>(at + static_cast<size_t>(prompt_len)));
    Sampler sampler(SamplingParams{.temperature = static_cast<float>(d.sample_temperature), .seed = rng.next()});
    GenerateOptions go{.max_new_tokens = d.sample_tokens, .n_ctx = prompt_len + d.sample_tokens};
    auto r = generate(teacher, pool, prompt, sampler, go, [](int32_t) { return true; });
    if (!r.ok()) return r.status();
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), r->tokens.begin(), r->tokens.end());
    text += tok.decode(all, DecodeOptions{.skip_special = true});
    text += "\n";
    bar.update(static_cast<uint64_t>(i + 1));
  }
  return text;
}

}  // namespace

Result<PretrainSummary> run_distill(const PretrainConfig& cfg, PretrainRun run, std::shared_ptr<const Model> teacher,
                                    const std::string& teacher_path) {
  auto tok = Tokenizer::load(teacher_path);
  if (!tok.ok()) return Status::error(teacher_path + ": the teacher has no usable tokenizer: " + tok.message());
  if (static_cast<int64_t>(tok->vocab_size()) != teacher->n_vocab())
    return Status::error(teacher_path + ": the tokenizer and the teacher's output head differ in size");
  run.tokenizer = teacher_path;
  run.recipe = "distill";
  auto pool = std::make_shared<ThreadPool>(std::max(1, run.threads));
  if (cfg.distill.samples > 0) {
    auto text = read_text_files(run.data, cfg.max_bytes);
    if (!text.ok()) return text.status();
    const std::vector<int32_t> ids = tok->encode(*text, EncodeOptions{false, false});
    auto samples = teacher_samples(*teacher, *pool, *tok, ids, cfg.distill, cfg.seed);
    if (!samples.ok()) return samples.status();
    const std::string path = run.out + ".samples.txt";
    if (Status st = write_file_atomically(path, *samples); !st.ok()) return st;
    std::fprintf(stderr, "sequence-level distillation: %lld teacher samples (%zu bytes) -> %s\n",
                 static_cast<long long>(cfg.distill.samples), samples->size(), path.c_str());
    run.data.insert(run.data.begin(), path);  // first, so max_bytes never cuts the samples off
  }
  const int64_t V = teacher->n_vocab();
  run.teacher = [teacher, pool, V](std::span<const int32_t> tokens, int64_t n_seq, std::vector<float>& out) -> Status {
    const int64_t S = static_cast<int64_t>(tokens.size()) / n_seq;
    out.resize(tokens.size() * static_cast<size_t>(V));
    for (int64_t q = 0; q < n_seq; ++q) {
      KvCache cache = teacher->new_cache(S);
      if (Status st = teacher->forward(tokens.subspan(static_cast<size_t>(q * S), static_cast<size_t>(S)), cache, *pool,
                                       ForwardOptions{.all_logits = true}, out.data() + q * S * V);
          !st.ok())
        return st;
    }
    return ok_status();
  };
  return run_pretrain(cfg, run);
}

}  // namespace dseek::train
