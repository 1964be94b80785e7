// --ep, --ep-map and --ep-timeout (expert parallelism over MPI, src/dist) for
// the commands that run a model, and rank 0's part of starting it around
// loading the model: begin() before the files are bound (the executor goes
// into ModelFiles::experts), finish() after (fingerprints, placement).
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "model/model.h"

namespace dseek::dist {
class ExpertExchange;
}

namespace dseek::cli {

struct EpOptions {
  bool enabled = false;
  std::string map_path;
  double timeout_s = 60;
};

void add_ep_options(CLI::App& app, EpOptions* ep);

class EpStart {
 public:
  static Result<EpStart> begin(const EpOptions& opt);  // does nothing without --ep
  std::shared_ptr<const ExpertExecutor> executor() const;
  Status finish(const ModelFiles& files, const Model& model) const;

 private:
  EpOptions opt_;
  std::shared_ptr<dist::ExpertExchange> exchange_;
};

}  // namespace dseek::cli
