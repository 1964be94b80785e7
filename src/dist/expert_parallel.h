// Starting and running an --ep job (`mpirun -np N dseek <command> ... --ep`).
// main() hands the whole process to run_expert_parallel: rank 0 runs the
// command as usual (tokenizer, sampler, engine, HTTP), with its model's routed
// experts spread over the ranks (ModelFiles::experts = an ExpertExchange);
// the other ranks load the same model file, touch only their experts' bytes
// (the file is mapped, so untouched pages cost no memory) and answer rank 0's
// exchanges until it stops. At start every rank compares fingerprints of the
// binary and the model (a mismatch is an error on every rank) and takes the
// expert placement and exchange timeout from rank 0.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "dist/expert_exchange.h"
#include "model/model.h"

namespace dseek::dist {

// Whether argv (a dseek command line) asks for expert parallelism (--ep).
bool wants_expert_parallel(int argc, char** argv);

// Initialises MPI and runs `leader` on rank 0 and the expert loop on the
// others; returns the process's exit code. A rank that fails ends the job.
int run_expert_parallel(int argc, char** argv, const std::function<int()>& leader);

// Rank 0's options (the command's --ep-map and --ep-timeout).
struct LeaderOptions {
  std::string ep_map_path;                      // "" = balance by bytes only
  std::chrono::milliseconds timeout{60'000};    // bound on one exchange
};

// Rank 0, before the model is bound: the executor to put in ModelFiles::experts.
Result<std::shared_ptr<ExpertExchange>> start_leader(const LeaderOptions& opt);
// Rank 0, after: fingerprints compared, placement made and sent to the others.
Status finish_leader_start(ExpertExchange& exchange, const ModelFiles& files, const Model& model,
                           const LeaderOptions& opt);

}  // namespace dseek::dist
