// AVX-512BW int8-activation matmul for CPUs without VNNI: vpmaddubsw (u8 x s8
// pairs to int16) then vpmaddwd by ones (pairs to int32). Operands are kept
// small enough that the int16 pair sums never saturate (int8_avx512_impl.h).
#include <immintrin.h>

namespace dseek::kernels {
namespace {
struct DotStep {
  static constexpr bool kVnni = false;
  static __m512i dot(__m512i acc, __m512i u, __m512i s) {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
  }
};
}  // namespace
}  // namespace dseek::kernels

#include "kernels/cpu/int8_avx512_impl.h"
#include "kernels/cpu/int8_decoded_avx512.h"

namespace dseek::kernels {

Int8Table int8_table_avx512bw() {
  Int8Table t = avx512_int8_table(Isa::kAvx512);
  add_decoded_kernels(t);
  return t;
}

}  // namespace dseek::kernels
