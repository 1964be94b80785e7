// A trainable tensor: values, gradients, and how it is initialised and
// regularised. Row-major [rows x cols] (a vector when rows == 1). Named by its
// GGUF tensor name (or our own name where the GGUF form is assembled at export,
// e.g. per-expert matrices that GGUF merges into one 3-D tensor).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace dseek::train {

template <typename T>
struct Param {
  std::string name;
  int64_t rows = 0, cols = 0;
  std::vector<T> w, g;
  bool decay = true;  // weight decay applies to matrices, not to norm weights

  int64_t size() const { return rows * cols; }
  void shape(std::string n, int64_t r, int64_t c, bool is_matrix = true) {
    name = std::move(n);
    rows = r;
    cols = c;
    w.assign(static_cast<size_t>(r * c), T(0));
    g.assign(static_cast<size_t>(r * c), T(0));
    decay = is_matrix;
  }
};

// Deterministic normal numbers (splitmix64 + Box-Muller): the same seed gives
// the same model on every platform, unlike std::normal_distribution.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  double normal() {
    const double u = uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }

 private:
  uint64_t s_;
};

template <typename T>
void init_normal(Param<T>& p, Rng& rng, double stddev) {
  for (auto& x : p.w) x = static_cast<T>(rng.normal() * stddev);
}
template <typename T>
void init_ones(Param<T>& p) {
  for (auto& x : p.w) x = T(1);
}

}  // namespace dseek::train
