// AVX-512 VNNI int8-activation matmul: vpdpbusd sums four u8 x s8 products
// per int32 lane in one instruction. The kernels are int8_avx512_impl.h's.
#include <immintrin.h>

namespace dseek::kernels {
namespace {
struct Isa {
  static constexpr bool kVnni = true;
  static __m512i dot(__m512i acc, __m512i u, __m512i s) { return _mm512_dpbusd_epi32(acc, u, s); }
};
}  // namespace
}  // namespace dseek::kernels

#include "kernels/cpu/int8_avx512_impl.h"

namespace dseek::kernels {

Int8Table int8_table_avx512vnni() {
  Int8Table t;
  t.q8_0 = matmul_int8<Q8_0>;
  t.q4_k = matmul_int8<Q4_K>;
  t.q6_k = matmul_int8<Q6_K>;
  t.quantize = quantize_acts;
  t.peak_probe = peak_probe;
  t.isa = "avx512vnni";
  return t;
}

}  // namespace dseek::kernels
