// Internal to kernels/ (the int8 reference and the ISA kernels): unpacking
// q4_K's twelve bytes of 6-bit sub-block scales and mins (the layout of ggml's
// get_scale_min_k4) into 8 + 8 bytes, four at a time with 32-bit word
// operations. In an anonymous namespace on purpose: each ISA file compiles its
// own copy with its own flags, and an inline function shared across them could
// be linked from the wrong one.
#pragma once

#include <cstdint>
#include <cstring>

namespace dseek::kernels {
namespace {

// sc[j], m[j] for j = 0..7 from `scales` (12 bytes).
inline void unpack_q4_k_scales(const uint8_t* scales, uint8_t* sc, uint8_t* m) {
  uint32_t u[3];
  std::memcpy(u, scales, 12);
  const uint32_t lo6 = 0x3F3F3F3Fu, lo4 = 0x0F0F0F0Fu, top2 = 0x03030303u;
  const uint32_t sc0 = u[0] & lo6, m0 = u[1] & lo6;
  // j >= 4: low four bits from bytes 8..11, top two from bits 6..7 of bytes 0..3 (scales) / 4..7 (mins).
  const uint32_t sc1 = (u[2] & lo4) | (((u[0] >> 6) & top2) << 4);
  const uint32_t m1 = ((u[2] >> 4) & lo4) | (((u[1] >> 6) & top2) << 4);
  std::memcpy(sc, &sc0, 4);
  std::memcpy(sc + 4, &sc1, 4);
  std::memcpy(m, &m0, 4);
  std::memcpy(m + 4, &m1, 4);
}

}  // namespace
}  // namespace dseek::kernels
