// Bounds how long a rank waits inside one exchange of expert parallelism: a
// peer that died or hangs mid-step would otherwise block every rank forever.
// arm() starts the clock for one exchange, disarm() stops it; past the limit
// the watchdog's thread ends the whole job (abort_job) with a message naming
// the exchange. Waiting between steps (an idle server) is not bounded.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace dseek::dist {

class Watchdog {
 public:
  explicit Watchdog(std::chrono::milliseconds limit);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void set_limit(std::chrono::milliseconds limit);
  void arm(std::string what);
  void disarm();

 private:
  void watch();

  std::mutex mu_;
  std::condition_variable cv_;
  std::chrono::milliseconds limit_;
  bool armed_ = false, stop_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::string what_;
  std::thread thread_;
};

// Arms a watchdog for one scope.
class Armed {
 public:
  Armed(Watchdog& w, std::string what) : w_(w) { w_.arm(std::move(what)); }
  ~Armed() { w_.disarm(); }
  Armed(const Armed&) = delete;
  Armed& operator=(const Armed&) = delete;

 private:
  Watchdog& w_;
};

}  // namespace dseek::dist
