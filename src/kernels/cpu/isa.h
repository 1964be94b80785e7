// Internal to kernels/: the CPU instruction-set levels the kernels are built
// for, ordered by capability (a later one implies the earlier ones), and
// whether this CPU (and its OS) can run each.
#pragma once

#include <array>
#include <cstdint>

namespace dseek::kernels {

enum class Isa : uint8_t {
  kScalar,      // the references in kernels/ref
  kAvx2,        // AVX2 + FMA + F16C
  kAvx512,      // AVX-512 F/BW/VL/DQ (and AVX2's)
  kAvx512Vnni,  // the same + AVX512_VNNI (vpdpbusd)
};
inline constexpr int kIsaCount = 4;
inline constexpr std::array<Isa, 3> kSimdIsas = {Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni};

// Lower-case display name ("scalar", "avx2", "avx512", "avx512vnni").
const char* isa_name(Isa isa);
// CPUID and XGETBV, read once: true when this machine can run `isa`'s kernels.
bool cpu_supports(Isa isa);

}  // namespace dseek::kernels
