// See ep_options.h.
#include "cli/ep_options.h"

#include "dist/expert_parallel.h"

namespace dseek::cli {
namespace {

dist::LeaderOptions leader_options(const EpOptions& opt) {
  return {.ep_map_path = opt.map_path,
          .timeout = std::chrono::milliseconds(static_cast<int64_t>(opt.timeout_s * 1000))};
}

}  // namespace

void add_ep_options(CLI::App& app, EpOptions* ep) {
  app.add_flag("--ep", ep->enabled,
               "expert parallelism: run under `mpirun -np N`; routed experts spread over the N processes (docs/scale-out.md)");
  app.add_option("--ep-map", ep->map_path, "with --ep: file of 'LAYER EXPERT RANK' lines placing experts (LAYER may be *)");
  app.add_option("--ep-timeout", ep->timeout_s,
                 "with --ep: seconds one expert exchange may take before every process ends with an error")
      ->capture_default_str();
}

Result<EpStart> EpStart::begin(const EpOptions& opt) {
  EpStart s;
  s.opt_ = opt;
  if (!opt.enabled) {
    if (!opt.map_path.empty()) return Status::error("--ep-map needs --ep");
    return s;
  }
  auto exchange = dist::start_leader(leader_options(opt));
  if (!exchange.ok()) return exchange.status();
  s.exchange_ = std::move(exchange).value();
  return s;
}

std::shared_ptr<const ExpertExecutor> EpStart::executor() const { return exchange_; }

Status EpStart::finish(const ModelFiles& files, const Model& model) const {
  if (!exchange_) return ok_status();
  return dist::finish_leader_start(*exchange_, files, model, leader_options(opt_));
}

}  // namespace dseek::cli
