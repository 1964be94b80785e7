// Test helper: the SIMD decoders of the decoded-row types (kernels/cpu/
// int8_decode_simd.h) against the scalar ones, every output array bit for bit.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/int8_decode_simd.h"

namespace dseek::kernels {

// The SIMD decoder tables this CPU can run, by name.
struct DecoderTable {
  const char* isa;
  const PerDType<DecodeRowFn>* table;
};
inline std::vector<DecoderTable> decoder_tables_here() {
  std::vector<DecoderTable> found;
  if (int8_table(Isa::kAvx512)) found.push_back({"avx512", &decoders_avx512()});
  return found;
}

// Number of differing entries of one array (bitwise).
template <class T>
int64_t differing(const T* a, const T* b, int64_t n) {
  int64_t d = 0;
  for (int64_t i = 0; i < n; ++i) d += std::memcmp(a + i, b + i, sizeof(T)) != 0;
  return d;
}

// Decodes `row` (cols weights of type t) with the scalar decoder and `simd`; expects identical arrays.
inline void expect_same_decode(DType t, DecodeRowFn simd, const std::byte* row, int64_t cols, const std::string& what) {
  const DecodedRowBuffer want(cols), got(cols);
  decoded_format(t)->decode(row, cols, want.row());
  simd(row, cols, got.row());
  const DecodedRow &a = want.row(), &b = got.row();
  const int64_t nb = cols / 32;
  EXPECT_EQ(differing(a.q, b.q, cols), 0) << what << ": q";
  EXPECT_EQ(differing(a.s0, b.s0, nb), 0) << what << ": s0";
  EXPECT_EQ(differing(a.s1, b.s1, nb), 0) << what << ": s1";
  EXPECT_EQ(differing(a.ms, b.ms, nb), 0) << what << ": ms";
  EXPECT_EQ(differing(a.mi, b.mi, 2 * nb), 0) << what << ": mi";
}

}  // namespace dseek::kernels
