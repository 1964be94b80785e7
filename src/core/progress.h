// ProgressBar: a one-line progress bar on stderr for long work (loading,
// converting, quantising, training). Draws only when stderr is a terminal,
// at most ~10 times a second; prints nothing otherwise (scripts, CI logs).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dseek {

class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total);
  ~ProgressBar();  // finishes the line if anything was drawn
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(uint64_t done);
  // With a short status after the bar (training: step, tokens/s, loss).
  void update(uint64_t done, const std::string& status);

 private:
  void draw(uint64_t done);
  std::string status_;
  std::string label_;
  uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace dseek
