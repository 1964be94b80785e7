// AVX-512 VNNI int8-activation matmul: vpdpbusd sums four u8 x s8 products
// per int32 lane in one instruction. The kernels are int8_avx512_impl.h's.
#include <immintrin.h>

namespace dseek::kernels {
namespace {
struct DotStep {
  static constexpr bool kVnni = true;
  static __m512i dot(__m512i acc, __m512i u, __m512i s) { return _mm512_dpbusd_epi32(acc, u, s); }
};
}  // namespace
}  // namespace dseek::kernels

#include "kernels/cpu/int8_avx512_impl.h"
#include "kernels/cpu/int8_decoded_avx512.h"

namespace dseek::kernels {

Int8Table int8_table_avx512vnni() {
  Int8Table t = avx512_int8_table(Isa::kAvx512Vnni);
  add_decoded_kernels(t);
  return t;
}

}  // namespace dseek::kernels
