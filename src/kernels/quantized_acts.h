// Activations quantised for the int8 dot path (what llama.cpp calls q8 activations):
// per token, blocks of 32 values as int8 with one f32 scale d = amax/127, plus
// the per-block side sums the k-quant kernels fold in. Filled once per linear
// call (kernels::quantize_activations), then read by every thread's row range.
// Not a weight format: it never reaches a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace dseek::kernels {

inline constexpr int64_t kActBlock = 32;

// 64-byte aligned storage, so a 64-byte SIMD load of two blocks never splits a cache line.
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{64}); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
};
template <class T>
using CacheLineVector = std::vector<T, CacheLineAllocator<T>>;

// A 64-byte aligned buffer of n uninitialised T: kernel scratch whose every
// byte read is written first (a zero-filling vector would be wasted work).
template <class T>
class CacheLineScratch {
 public:
  explicit CacheLineScratch(size_t n) : p_(CacheLineAllocator<T>().allocate(n)) {}
  ~CacheLineScratch() { CacheLineAllocator<T>().deallocate(p_, 0); }
  CacheLineScratch(const CacheLineScratch&) = delete;
  CacheLineScratch& operator=(const CacheLineScratch&) = delete;
  T* data() { return p_; }

 private:
  T* p_;
};

// n_tok rows of `cols` values (cols a multiple of 32). For token t and block b:
//   value[i] ~= d[b] * qs[i]                                 (qs in [-127, 127])
//   dsum[b]   = d[b] * float(sum of the block's 32 qs)        (q4_K's min term)
//   neg32[k]  = -32 * (qs[4k] + qs[4k+1] + qs[4k+2] + qs[4k+3])  (q6_K's -32 offset,
//               and x4 the +128 offset of an unsigned q8_0 operand)
//   neg32h[h] = -32 * (sum of the 16 qs of half-block h)       (the same, per q6_K sub-block)
//   neg128[b] = -128 * (sum of the block's 32 qs)                (the same, per q8_0 block)
struct QuantizedActs {
  int64_t n_tok = 0, cols = 0;
  CacheLineVector<int8_t> qs;      // [n_tok][cols]
  CacheLineVector<float> d, dsum;  // [n_tok][cols/32]
  CacheLineVector<int32_t> neg32;  // [n_tok][cols/4]
  CacheLineVector<int32_t> neg32h;  // [n_tok][cols/16]
  CacheLineVector<int32_t> neg128;  // [n_tok][cols/32]

  void resize(int64_t tokens, int64_t n_cols) {
    n_tok = tokens;
    cols = n_cols;
    qs.resize(static_cast<size_t>(tokens * n_cols));
    d.resize(static_cast<size_t>(tokens * n_cols / kActBlock));
    dsum.resize(d.size());
    neg32.resize(static_cast<size_t>(tokens * n_cols / 4));
    neg32h.resize(static_cast<size_t>(tokens * n_cols / 16));
    neg128.resize(d.size());
  }
  int64_t blocks() const { return cols / kActBlock; }
  const int8_t* qs_of(int64_t t) const { return qs.data() + t * cols; }
  const float* d_of(int64_t t) const { return d.data() + t * blocks(); }
  const float* dsum_of(int64_t t) const { return dsum.data() + t * blocks(); }
  const int32_t* neg32_of(int64_t t) const { return neg32.data() + t * (cols / 4); }
  const int32_t* neg32h_of(int64_t t) const { return neg32h.data() + t * (cols / 16); }
  const int32_t* neg128_of(int64_t t) const { return neg128.data() + t * blocks(); }
};

}  // namespace dseek::kernels
