// See watchdog.h.
#include "dist/watchdog.h"

#include "dist/mpi_session.h"

namespace dseek::dist {

// Exit code of a job ended by the watchdog (distinct from a command's own failures).
constexpr int kExitTimeout = 75;

Watchdog::Watchdog(std::chrono::milliseconds limit) : limit_(limit) {
  const TerminationSignalsBlocked blocked;  // the watchdog thread never takes SIGINT/SIGTERM
  thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::set_limit(std::chrono::milliseconds limit) {
  std::lock_guard lock(mu_);
  limit_ = limit;
}

void Watchdog::arm(std::string what) {
  {
    std::lock_guard lock(mu_);
    armed_ = true;
    deadline_ = std::chrono::steady_clock::now() + limit_;
    what_ = std::move(what);
  }
  cv_.notify_all();
}

void Watchdog::disarm() {
  std::lock_guard lock(mu_);
  armed_ = false;
}

void Watchdog::watch() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (!armed_) {
      cv_.wait(lock);
      continue;
    }
    const auto deadline = deadline_;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && armed_ && deadline_ == deadline) {
      const auto secs = std::chrono::duration_cast<std::chrono::seconds>(limit_).count();
      abort_job(what_ + " got no answer within " + std::to_string(secs) + " s (a rank died, hangs or lost its link)",
                kExitTimeout);
    }
  }
}

}  // namespace dseek::dist
