// See metrics.h.
#include "server/metrics.h"

#include <cstdio>

namespace dseek::server {

namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void scalar(std::string& out, const char* name, const char* type, const char* help, double v) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + num(v) + "\n";
}

}  // namespace

void Histogram::observe(double v) {
  std::lock_guard lock(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++n_;
}

void Histogram::render(const std::string& name, const std::string& help, std::string& out) const {
  std::lock_guard lock(mu_);
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(n_) + "\n";
  out += name + "_sum " + num(sum_) + "\n" + name + "_count " + std::to_string(n_) + "\n";
}

std::string Metrics::render(const EngineStats& e) const {
  std::string out;
  scalar(out, "dseek_requests_total", "counter", "Completion requests received.", static_cast<double>(requests.load()));
  scalar(out, "dseek_requests_failed_total", "counter", "Requests answered with an error.", static_cast<double>(requests_failed.load()));
  scalar(out, "dseek_requests_cancelled_total", "counter", "Requests cancelled (client gone).", static_cast<double>(requests_cancelled.load()));
  scalar(out, "dseek_requests_rejected_busy_total", "counter", "Requests refused with 429.", static_cast<double>(requests_rejected_busy.load()));
  scalar(out, "dseek_prompt_tokens_total", "counter", "Prompt tokens processed or reused.", static_cast<double>(prompt_tokens.load()));
  scalar(out, "dseek_generated_tokens_total", "counter", "Tokens generated.", static_cast<double>(generated_tokens.load()));
  scalar(out, "dseek_prompt_cache_hit_tokens_total", "counter", "Prompt tokens served from the prefix cache.", static_cast<double>(cache_hit_tokens.load()));
  scalar(out, "dseek_requests_active", "gauge", "Sequences being generated now.", static_cast<double>(e.active));
  scalar(out, "dseek_queue_depth", "gauge", "Requests waiting for a slot.", static_cast<double>(e.waiting));
  scalar(out, "dseek_kv_pages_used", "gauge", "Cache pages in use (sequences and prefix cache).", static_cast<double>(e.pages_used));
  scalar(out, "dseek_kv_pages_total", "gauge", "Cache pages in the pool.", static_cast<double>(e.pages_total));
  scalar(out, "dseek_prefix_cache_pages", "gauge", "Pages held by the prefix cache.", static_cast<double>(e.cached_pages));
  scalar(out, "dseek_engine_steps_total", "counter", "Batched model steps run.", static_cast<double>(e.steps));
  if (e.spec) {
    scalar(out, "dseek_spec_draft_tokens_total", "counter", "Speculative draft tokens verified.", static_cast<double>(e.spec_drafted));
    scalar(out, "dseek_spec_accepted_tokens_total", "counter", "Speculative draft tokens accepted.", static_cast<double>(e.spec_accepted));
    const double rate = e.spec_drafted > 0 ? static_cast<double>(e.spec_accepted) / static_cast<double>(e.spec_drafted) : 0.0;
    scalar(out, "dseek_spec_acceptance_rate", "gauge", "Accepted over verified draft tokens since start.", rate);
  }
  ttft.render("dseek_time_to_first_token_seconds", "Time from request to first generated token.", out);
  per_token.render("dseek_time_per_output_token_seconds", "Time between generated tokens.", out);
  return out;
}

}  // namespace dseek::server
