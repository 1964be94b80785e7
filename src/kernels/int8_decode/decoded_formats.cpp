// The table of decoded-row formats (which types take the decoded int8 path,
// with how many scales per block and whether a min term) and the row scratch.
#include <new>

#include "kernels/int8_decode/decoded_row.h"

namespace dseek::kernels {

const DecodedFormat* decoded_format(DType t) {
  static constexpr DecodedFormat kQ4_1{1, true, decode_q4_1}, kQ5_0{1, false, decode_q5_0}, kQ5_1{1, true, decode_q5_1},
      kQ2_K{2, true, decode_q2_k}, kQ3_K{2, false, decode_q3_k}, kIQ4_NL{1, false, decode_iq4_nl},
      kIQ4_XS{1, false, decode_iq4_xs}, kMXFP4{1, false, decode_mxfp4}, kTQ1_0{1, false, decode_tq1_0},
      kTQ2_0{1, false, decode_tq2_0}, kIQ2_XXS{1, false, decode_iq2_xxs}, kIQ2_XS{2, false, decode_iq2_xs},
      kIQ2_S{2, false, decode_iq2_s}, kIQ3_XXS{1, false, decode_iq3_xxs}, kIQ3_S{1, false, decode_iq3_s},
      kIQ1_S{1, false, decode_iq1_s}, kIQ1_M{2, false, decode_iq1_m};
  switch (t) {
    case DType::kQ4_1: return &kQ4_1;
    case DType::kQ5_0: return &kQ5_0;
    case DType::kQ5_1: return &kQ5_1;
    case DType::kQ2_K: return &kQ2_K;
    case DType::kQ3_K: return &kQ3_K;
    case DType::kIQ4_NL: return &kIQ4_NL;
    case DType::kIQ4_XS: return &kIQ4_XS;
    case DType::kMXFP4: return &kMXFP4;
    case DType::kTQ1_0: return &kTQ1_0;
    case DType::kTQ2_0: return &kTQ2_0;
    case DType::kIQ2_XXS: return &kIQ2_XXS;
    case DType::kIQ2_XS: return &kIQ2_XS;
    case DType::kIQ2_S: return &kIQ2_S;
    case DType::kIQ3_XXS: return &kIQ3_XXS;
    case DType::kIQ3_S: return &kIQ3_S;
    case DType::kIQ1_S: return &kIQ1_S;
    case DType::kIQ1_M: return &kIQ1_M;
    default: return nullptr;
  }
}

namespace {
constexpr int64_t round64(int64_t n) { return (n + 63) / 64 * 64; }
}  // namespace

// One allocation: q, then s0, s1, ms (floats) and mi (int32 pairs), each 64-byte aligned.
// The arrays are zero-filled so the entries a format does not write (s1, mi, ms) read as 0.
DecodedRowBuffer::DecodedRowBuffer(int64_t cols) {
  const int64_t nb = cols / 32, fbytes = round64(4 * nb);
  const int64_t total = round64(cols) + 3 * fbytes + round64(8 * nb);
  mem_ = ::operator new(static_cast<size_t>(total), std::align_val_t{64});
  auto* p = static_cast<char*>(mem_);
  __builtin_memset(p, 0, static_cast<size_t>(total));
  row_.q = reinterpret_cast<int8_t*>(p);
  p += round64(cols);
  row_.s0 = reinterpret_cast<float*>(p);
  row_.s1 = reinterpret_cast<float*>(p + fbytes);
  row_.ms = reinterpret_cast<float*>(p + 2 * fbytes);
  row_.mi = reinterpret_cast<int32_t*>(p + 3 * fbytes);
}

DecodedRowBuffer::~DecodedRowBuffer() { ::operator delete(mem_, std::align_val_t{64}); }

}  // namespace dseek::kernels
