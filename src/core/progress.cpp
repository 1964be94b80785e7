// See progress.h.
#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace dseek {

ProgressBar::ProgressBar(std::string label, uint64_t total)
    : label_(std::move(label)), total_(total ? total : 1), enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_(start_ - std::chrono::seconds(1)) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fputc('\n', stderr);
}

void ProgressBar::update(uint64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  draw(done);
}

void ProgressBar::update(uint64_t done, const std::string& status) {
  status_ = status;
  update(done);
}

void ProgressBar::draw(uint64_t done) {
  constexpr int kWidth = 30;
  const double frac = done >= total_ ? 1.0 : static_cast<double>(done) / static_cast<double>(total_);
  const int filled = static_cast<int>(frac * kWidth);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = frac > 0 ? secs * (1 - frac) / frac : 0;
  std::fprintf(stderr, "\r%s [%.*s%*s] %5.1f%%  %.0fs elapsed, ~%.0fs left %s ", label_.c_str(), filled,
               "##############################", kWidth - filled, "", frac * 100, secs, eta, status_.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace dseek
