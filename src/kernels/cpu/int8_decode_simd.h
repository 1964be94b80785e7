// Internal to kernels/: SIMD decoders of the decoded-row types (the row form
// of kernels/int8_decode/decoded_row.h). The scalar decoders keep GEMV of
// these types far from memory bandwidth; each ISA may replace a type's decoder
// with one that writes exactly the same integers and scales (bit for bit, so
// the int8 kernels' results do not change). nullptr: the scalar decoder.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/per_dtype.h"
#include "kernels/int8_decode/decoded_row.h"

namespace dseek::kernels {

using DecodeRowFn = void (*)(const std::byte* row, int64_t cols, const DecodedRow& out);

// The AVX-512 (F, BW, VL, DQ) decoders; callers check the CPU has them
// (int8_decode_avx512.cpp, int8_decode_grid_avx512.cpp).
const PerDType<DecodeRowFn>& decoders_avx512();
void add_simple_decoders_avx512(PerDType<DecodeRowFn>& t);
void add_grid_decoders_avx512(PerDType<DecodeRowFn>& t);

// Block i's bytes, for the SIMD decoders to read in place: copying a block
// first (load_any_block) makes the vector loads of its codes straddle the
// copy's stores, and a load that store forwarding cannot serve stalls.
template <class Block>
const uint8_t* block_at(const std::byte* row, int64_t i) {
  return reinterpret_cast<const uint8_t*>(row) + i * static_cast<int64_t>(sizeof(Block));
}

inline uint16_t u16_at(const uint8_t* p) {
  uint16_t v;
  __builtin_memcpy(&v, p, 2);
  return v;
}

inline uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// t's decoder in `table`, or the scalar one where the table has none.
inline DecodeRowFn decoder_or_scalar(const PerDType<DecodeRowFn>& table, DType t) {
  const DecodeRowFn f = table[t];
  return f ? f : decoded_format(t)->decode;
}

}  // namespace dseek::kernels
