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

namespace dseek::kernels {

Int8Table int8_table_avx512vnni() { return avx512_int8_table(Isa::kAvx512Vnni); }

}  // namespace dseek::kernels
