// See expert_parallel.h.
#include "dist/expert_parallel.h"

#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "dist/fingerprint.h"
#include "dist/mpi_session.h"

namespace dseek::dist {
namespace {

constexpr int kExitFollower = 73;  // a follower could not start (its message says why)

// Every rank's fingerprint to every rank; all of them return the same verdict.
Status compare_fingerprints(const ModelFiles& files, const Model& model, int n_rank) {
  auto mine = fingerprint(files, model);
  if (!mine.ok()) return mine.status();
  const uint64_t own[2] = {mine->binary, mine->model};
  std::vector<uint64_t> all(static_cast<size_t>(2 * n_rank));
  check_mpi(MPI_Allgather(own, 2, MPI_UINT64_T, all.data(), 2, MPI_UINT64_T, MPI_COMM_WORLD),
            "MPI_Allgather of fingerprints");
  std::string bad;
  for (int r = 1; r < n_rank; ++r) {
    const size_t i = static_cast<size_t>(2 * r);
    if (all[i] != all[0]) bad += " rank " + std::to_string(r) + " runs a different dseek binary;";
    if (all[i + 1] != all[1]) bad += " rank " + std::to_string(r) + " has a different model file;";
  }
  if (!bad.empty()) return Status::error("--ep: the ranks do not match rank 0:" + bad + " every rank needs the same build and model");
  return ok_status();
}

// Rank 0 sends [ok, timeout ms] then the owner table; the others receive them.
Status share_placement(ExpertPlacement& p, std::chrono::milliseconds& timeout, bool leader_ok, int n_layer_expert) {
  int64_t head[2] = {leader_ok ? 1 : 0, timeout.count()};
  check_mpi(MPI_Bcast(head, 2, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast of the placement header");
  if (head[0] == 0) return Status::error("--ep: rank 0 could not place the experts (see its message)");
  timeout = std::chrono::milliseconds(head[1]);
  p.owner.resize(static_cast<size_t>(n_layer_expert));
  check_mpi(MPI_Bcast(p.owner.data(), n_layer_expert, MPI_INT32_T, 0, MPI_COMM_WORLD), "MPI_Bcast of the expert placement");
  return ok_status();
}

// " rank 0: 42 experts, 12.5 MiB;" for each rank.
std::string describe(const ExpertPlacement& p, const Model& model) {
  std::vector<int64_t> count(static_cast<size_t>(p.n_rank), 0);
  const std::vector<const MoeWeights*> layers = model.moe_layers();
  for (int64_t l = 0; l < p.n_layer; ++l)
    if (layers[static_cast<size_t>(l)])
      for (int64_t e = 0; e < static_cast<int64_t>(layers[static_cast<size_t>(l)]->experts.size()); ++e)
        ++count[static_cast<size_t>(p.owner_of(l, e))];
  std::string out;
  char buf[96];
  for (int r = 0; r < p.n_rank; ++r) {
    std::snprintf(buf, sizeof buf, " rank %d: %lld experts, %.1f MiB;", r, static_cast<long long>(count[static_cast<size_t>(r)]),
                  static_cast<double>(p.bytes_per_rank[static_cast<size_t>(r)]) / (1 << 20));
    out += buf;
  }
  return out;
}

Result<std::string> read_text(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path);
  if (!in) return Status::error("--ep-map: cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The value of -m/--model (or --model=) in a dseek command line.
std::string model_argument(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-m" || a == "--model") && i + 1 < argc) return argv[i + 1];
    if (a.rfind("--model=", 0) == 0) return a.substr(8);
  }
  return "";
}

int thread_argument(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "-t") == 0 || std::strcmp(argv[i], "--threads") == 0) return std::atoi(argv[i + 1]);
  return 0;
}

// A follower rank: the same model, the handshake, then the expert loop.
Status follow(int argc, char** argv, int rank, int n_rank) {
  const std::string path = model_argument(argc, argv);
  if (path.empty()) return Status::error("--ep needs the model path as -m/--model");
  auto opened = open_model_files(path);
  if (!opened.ok()) return opened.status();
  const auto files = std::make_shared<const ModelFiles>(std::move(opened).value());
  auto model = load_model(files);
  if (!model.ok()) return model.status();
  if (Status st = compare_fingerprints(*files, **model, n_rank); !st.ok()) return st;
  const std::vector<const MoeWeights*> layers = (*model)->moe_layers();
  ExpertPlacement placement = place_experts(layers, n_rank, "").value();  // shape only; owners come from rank 0
  std::chrono::milliseconds timeout{0};
  if (Status st = share_placement(placement, timeout, true, static_cast<int>(placement.owner.size())); !st.ok())
    return st;
  const int threads = thread_argument(argc, argv);
  ThreadPool pool(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  Watchdog watchdog(timeout);
  serve_experts(**model, pool, rank, n_rank, watchdog);
  return ok_status();
}

}  // namespace

bool wants_expert_parallel(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--ep") == 0) return true;
  return false;
}

int run_expert_parallel(int argc, char** argv, const std::function<int()>& leader) {
  std::optional<MpiSession> session;
  try {
    session.emplace(&argc, &argv);
  } catch (const MpiError& e) {
    std::fprintf(stderr, "dseek: error: --ep: %s\n", e.what());
    return 1;
  }
  if (session->rank() == 0) {
    const int rc = leader();
    // The others wait for rank 0's next word; a failed command must not leave them waiting.
    if (rc != 0 && session->size() > 1) abort_job("the command failed (see above)", rc);
    return rc;
  }
  Status st;
  try {
    st = follow(argc, argv, session->rank(), session->size());
  } catch (const MpiError& e) {
    st = Status::error(e.what());
  }
  if (!st.ok()) abort_job(st.message(), kExitFollower);
  return 0;
}

Result<std::shared_ptr<ExpertExchange>> start_leader(const LeaderOptions& opt) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) return Status::error("--ep: MPI is not running (dseek starts it when --ep is on its command line)");
  if (opt.timeout.count() <= 0) return Status::error("--ep-timeout must be positive");
  int n_rank = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n_rank);
  return std::make_shared<ExpertExchange>(n_rank, opt.timeout);
}

Status finish_leader_start(ExpertExchange& exchange, const ModelFiles& files, const Model& model,
                           const LeaderOptions& opt) {
  try {
    const int n_rank = exchange.n_rank();
    if (Status st = compare_fingerprints(files, model, n_rank); !st.ok()) return st;
    auto text = read_text(opt.ep_map_path);
    auto placed = text.ok() ? place_experts(model.moe_layers(), n_rank, *text) : Result<ExpertPlacement>(text.status());
    ExpertPlacement p = placed.ok() ? *placed : ExpertPlacement{};
    std::chrono::milliseconds timeout = opt.timeout;
    if (Status st = share_placement(p, timeout, placed.ok(), static_cast<int>(p.owner.size())); !st.ok())
      return placed.ok() ? st : placed.status();
    std::fprintf(stderr, "dseek --ep: %d rank(s); routed experts:%s\n", n_rank, describe(p, model).c_str());
    exchange.set_placement(std::move(p));
    return ok_status();
  } catch (const MpiError& e) {
    return Status::error(std::string("--ep: ") + e.what());
  }
}

}  // namespace dseek::dist
