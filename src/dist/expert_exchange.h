// Expert parallelism over MPI: rank 0 runs the whole model except the routed
// experts other ranks hold; per MoE layer it sends those experts' rows there
// and takes their outputs back (MPI_Alltoallv both ways), while it runs its
// own share. The outputs land in the rows moe_forward would have computed
// itself and are added in its fixed order, so logits are bit-identical to a
// single process for any number of ranks.
//
// One exchange, as every rank sees it (rank 0 is the only source of work):
//   1. MPI_Bcast of a header: [command, layer, rows for rank 0 .. rows for rank N-1]
//   2. MPI_Alltoallv rank 0 -> owners: per row [expert id (int32 bits), x (E floats)],
//      rows grouped by ascending expert, tokens ascending within an expert
//   3. MPI_Alltoallv owners -> rank 0: per row the expert's output (E floats), same order
// A stop command ends the followers' loop.
#pragma once

#include <chrono>
#include <mutex>

#include "dist/expert_placement.h"
#include "dist/watchdog.h"
#include "model/blocks/moe.h"
#include "model/model.h"

namespace dseek::dist {

// Rank 0's executor (ModelFiles::experts under --ep).
class ExpertExchange final : public ExpertExecutor {
 public:
  ExpertExchange(int n_rank, std::chrono::milliseconds timeout);
  ~ExpertExchange() override;  // tells the other ranks to stop; reports what was exchanged
  ExpertExchange(const ExpertExchange&) = delete;
  ExpertExchange& operator=(const ExpertExchange&) = delete;

  void set_placement(ExpertPlacement p) {
    placement_ = std::move(p);
    started_ = true;
  }
  const ExpertPlacement& placement() const { return placement_; }
  int n_rank() const { return n_rank_; }

  void run(ThreadPool& pool, int64_t layer, const MoeWeights& m, const ExpertBatch& b, const float* xn,
           int64_t n_embd, float* ys, StepArena& arena) const override;

 private:
  void exchange(ThreadPool& pool, int64_t layer, const MoeWeights& m, const ExpertBatch& b, const float* xn,
                int64_t n_embd, float* ys, StepArena& arena) const;
  void run_own_share(ThreadPool& pool, int64_t layer, const MoeWeights& m, const ExpertBatch& b, const float* xn,
                     int64_t n_embd, float* ys, StepArena& arena) const;

  int n_rank_;
  bool started_ = false;  // the others are in their loop (only then is a stop theirs to read)
  ExpertPlacement placement_;
  mutable std::mutex mu_;  // one exchange at a time (forward may be called from several threads)
  // Totals for the report at the end (docs/scale-out.md's bytes per token): under mu_.
  mutable uint64_t exchanges_ = 0, rows_sent_ = 0, bytes_sent_ = 0, bytes_back_ = 0;
  mutable Watchdog watchdog_;
};

// A follower rank's loop: answers rank 0's exchanges with `model`'s experts
// until rank 0 says stop. Errors in an exchange end the whole job.
void serve_experts(const Model& model, ThreadPool& pool, int rank, int n_rank, Watchdog& watchdog);

}  // namespace dseek::dist
