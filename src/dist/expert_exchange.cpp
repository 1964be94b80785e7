// See expert_exchange.h.
#include "dist/expert_exchange.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <thread>
#include <string>
#include <vector>

#include "dist/mpi_session.h"

namespace dseek::dist {
namespace {

enum Command : int64_t { kStop = 0, kExperts = 1 };
constexpr int kExitExchange = 74;  // an MPI call of an exchange failed

// MPI counts are int: a step must not send more than 2^31 floats to one rank.
int to_count(int64_t n) {
  if (n > INT32_MAX) throw MpiError("an expert exchange of " + std::to_string(n) + " floats exceeds MPI's int counts");
  return static_cast<int>(n);
}

struct Counts {
  std::vector<int> count, displ;
  explicit Counts(int n) : count(static_cast<size_t>(n), 0), displ(static_cast<size_t>(n), 0) {}
  void finish() {
    for (size_t r = 1; r < count.size(); ++r) displ[r] = displ[r - 1] + count[r - 1];
  }
};

// MPI's blocking calls spin a core while they wait. A follower waits most of
// its life (an idle server), and where ranks share cores (localhost, tests)
// spinning ranks slow the one with work. So every exchange call is the
// nonblocking form, polled for a while and then with short sleeps.
void wait_politely(MPI_Request& req, const char* what) {
  std::chrono::microseconds pause{1};
  for (int polls = 0;; ++polls) {
    int done = 0;
    check_mpi(MPI_Test(&req, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    if (polls < 2000) continue;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

void alltoallv(const float* send, const Counts& s, float* recv, const Counts& r, const char* what) {
  static float dummy = 0;  // MPI wants valid buffers even for zero counts; never written
  MPI_Request req;
  check_mpi(MPI_Ialltoallv(send ? send : &dummy, s.count.data(), s.displ.data(), MPI_FLOAT, recv ? recv : &dummy,
                           r.count.data(), r.displ.data(), MPI_FLOAT, MPI_COMM_WORLD, &req),
            what);
  wait_politely(req, what);
}

void bcast_header(std::vector<int64_t>& header) {
  const char* what = "MPI_Ibcast of an exchange header";
  MPI_Request req;
  check_mpi(MPI_Ibcast(header.data(), static_cast<int>(header.size()), MPI_INT64_T, 0, MPI_COMM_WORLD, &req), what);
  wait_politely(req, what);
}

}  // namespace

ExpertExchange::ExpertExchange(int n_rank, std::chrono::milliseconds timeout)
    : n_rank_(n_rank), watchdog_(timeout) {}

ExpertExchange::~ExpertExchange() {
  if (!started_) return;
  if (exchanges_ > 0 && n_rank_ > 1)
    std::fprintf(stderr,
                 "dseek --ep: %llu layer exchanges, %llu rows to other ranks, %.2f MiB out and %.2f MiB back "
                 "(headers excluded)\n",
                 static_cast<unsigned long long>(exchanges_), static_cast<unsigned long long>(rows_sent_),
                 static_cast<double>(bytes_sent_) / (1 << 20), static_cast<double>(bytes_back_) / (1 << 20));
  std::vector<int64_t> header(static_cast<size_t>(2 + n_rank_), 0);
  header[0] = kStop;
  try {
    bcast_header(header);
  } catch (const MpiError& e) {
    abort_job(e.what(), kExitExchange);
  }
}

void ExpertExchange::run(ThreadPool& pool, int64_t layer, const MoeWeights& m, const ExpertBatch& b, const float* xn,
                         int64_t n_embd, float* ys, StepArena& arena) const {
  std::lock_guard lock(mu_);
  try {
    exchange(pool, layer, m, b, xn, n_embd, ys, arena);
  } catch (const MpiError& e) {
    abort_job(e.what(), kExitExchange);
  }
}

void ExpertExchange::exchange(ThreadPool& pool, int64_t layer, const MoeWeights& m, const ExpertBatch& b,
                              const float* xn, int64_t E, float* ys, StepArena& arena) const {
  const StepArena::Scope scope(arena);
  const size_t N = static_cast<size_t>(n_rank_);
  std::vector<int64_t> header(2 + N, 0);
  header[0] = kExperts, header[1] = layer;
  for (int64_t a = 0; a < b.n_active; ++a) header[2 + placement_.owner_of(layer, b.expert[a])] += b.offset[a + 1] - b.offset[a];
  const Armed armed(watchdog_, "layer " + std::to_string(layer) + "'s expert exchange");
  bcast_header(header);
  const int64_t W = E + 1, remote = b.offset[b.n_active] - header[2];
  Counts out(n_rank_), back(n_rank_);
  for (size_t r = 1; r < N; ++r) out.count[r] = to_count(header[2 + r] * W), back.count[r] = to_count(header[2 + r] * E);
  out.finish(), back.finish();
  float* send = arena.take<float>(remote * W);
  std::vector<int64_t> cursor(N, 0);  // rows written per rank
  for (int64_t a = 0; a < b.n_active; ++a) {
    const auto r = static_cast<size_t>(placement_.owner_of(layer, b.expert[a]));
    if (r == 0) continue;
    for (int64_t row = b.offset[a]; row < b.offset[a + 1]; ++row) {
      float* dst = send + out.displ[r] + cursor[r]++ * W;
      std::memcpy(dst, &b.expert[a], sizeof(float));
      std::memcpy(dst + 1, xn + b.token[row] * E, static_cast<size_t>(E) * sizeof(float));
    }
  }
  alltoallv(send, out, nullptr, Counts(n_rank_), "MPI_Alltoallv of expert inputs");
  ++exchanges_, rows_sent_ += static_cast<uint64_t>(remote);
  bytes_sent_ += static_cast<uint64_t>(remote * W) * sizeof(float), bytes_back_ += static_cast<uint64_t>(remote * E) * sizeof(float);
  run_own_share(pool, layer, m, b, xn, E, ys, arena);  // while the other ranks run theirs
  float* recv = arena.take<float>(remote * E);
  alltoallv(nullptr, Counts(n_rank_), recv, back, "MPI_Alltoallv of expert outputs");
  std::fill(cursor.begin(), cursor.end(), 0);
  for (int64_t a = 0; a < b.n_active; ++a) {
    const auto r = static_cast<size_t>(placement_.owner_of(layer, b.expert[a]));
    if (r == 0) continue;
    const int64_t n = b.offset[a + 1] - b.offset[a];
    std::memcpy(ys + b.offset[a] * E, recv + back.displ[r] + cursor[r] * E, static_cast<size_t>(n * E) * sizeof(float));
    cursor[r] += n;
  }
}

// Rank 0's experts of this step: gathered into a batch of their own, run, and
// their rows copied to where the full batch keeps them.
void ExpertExchange::run_own_share(ThreadPool& pool, int64_t layer, const MoeWeights& m, const ExpertBatch& b,
                                   const float* xn, int64_t E, float* ys, StepArena& arena) const {
  const StepArena::Scope scope(arena);
  ExpertBatch own;
  own.expert = arena.take<int32_t>(b.n_active);
  own.offset = arena.take<int64_t>(b.n_active + 1);
  int32_t* first = arena.take<int32_t>(b.n_active);  // index into b of each own active expert
  own.offset[0] = 0;
  for (int64_t a = 0; a < b.n_active; ++a) {
    if (placement_.owner_of(layer, b.expert[a]) != 0) continue;
    first[own.n_active] = static_cast<int32_t>(a);
    own.expert[own.n_active] = b.expert[a];
    own.offset[own.n_active + 1] = own.offset[own.n_active] + b.offset[a + 1] - b.offset[a];
    ++own.n_active;
  }
  if (own.n_active == 0) return;
  if (own.n_active == b.n_active) return run_local_experts(pool, m, b, xn, E, ys, arena);
  const int64_t rows = own.offset[own.n_active];
  own.token = arena.take<int32_t>(rows);
  for (int64_t i = 0; i < own.n_active; ++i)
    std::memcpy(own.token + own.offset[i], b.token + b.offset[first[i]],
                static_cast<size_t>(own.offset[i + 1] - own.offset[i]) * sizeof(int32_t));
  float* own_ys = arena.take<float>(rows * E);
  run_local_experts(pool, m, own, xn, E, own_ys, arena);
  for (int64_t i = 0; i < own.n_active; ++i)
    std::memcpy(ys + b.offset[first[i]] * E, own_ys + own.offset[i] * E,
                static_cast<size_t>((own.offset[i + 1] - own.offset[i]) * E) * sizeof(float));
}

namespace {

// A follower's part of one exchange: rows in, its experts over them, outputs back.
void answer_exchange(const std::vector<const MoeWeights*>& layers, int64_t layer, int64_t n, int64_t E, int n_rank,
                     ThreadPool& pool, StepArena& arena) {
  if (layer < 0 || layer >= static_cast<int64_t>(layers.size()) || !layers[static_cast<size_t>(layer)])
    throw MpiError("rank 0 sent rows for layer " + std::to_string(layer) + ", which has no routed experts here");
  const MoeWeights& m = *layers[static_cast<size_t>(layer)];
  const int64_t W = E + 1;
  Counts in(n_rank), back(n_rank);
  in.count[0] = to_count(n * W), back.count[0] = to_count(n * E);
  float* rows = arena.take<float>(n * W);
  alltoallv(nullptr, Counts(n_rank), rows, in, "MPI_Alltoallv of expert inputs");
  ExpertBatch b;
  b.expert = arena.take<int32_t>(n), b.offset = arena.take<int64_t>(n + 1), b.token = arena.take<int32_t>(n);
  float* xs = arena.take<float>(n * E);
  b.offset[0] = 0;
  for (int64_t r = 0; r < n; ++r) {
    int32_t e = 0;
    std::memcpy(&e, rows + r * W, sizeof e);
    if (e < 0 || e >= static_cast<int64_t>(m.experts.size())) throw MpiError("rank 0 sent an unknown expert id");
    if (b.n_active == 0 || b.expert[b.n_active - 1] != e) b.expert[b.n_active++] = e;
    b.offset[b.n_active] = r + 1;
    b.token[r] = static_cast<int32_t>(r);
    std::memcpy(xs + r * E, rows + r * W + 1, static_cast<size_t>(E) * sizeof(float));
  }
  float* ys = arena.take<float>(n * E);
  if (n > 0) run_local_experts(pool, m, b, xs, E, ys, arena);
  alltoallv(ys, back, nullptr, Counts(n_rank), "MPI_Alltoallv of expert outputs");
}

}  // namespace

void serve_experts(const Model& model, ThreadPool& pool, int rank, int n_rank, Watchdog& watchdog) {
  const std::vector<const MoeWeights*> layers = model.moe_layers();
  const int64_t E = model.n_embd();
  StepArena arena;
  std::vector<int64_t> header(static_cast<size_t>(2 + n_rank));
  try {
    for (;;) {
      bcast_header(header);  // unbounded: a server may sit idle between requests
      if (header[0] == kStop) return;
      const Armed armed(watchdog, "layer " + std::to_string(header[1]) + "'s expert exchange");
      arena.reset();
      answer_exchange(layers, header[1], header[2 + static_cast<size_t>(rank)], E, n_rank, pool, arena);
    }
  } catch (const MpiError& e) {
    abort_job(e.what(), kExitExchange);
  }
}

}  // namespace dseek::dist
