// Scalar conversions between float and the narrow float formats dseek stores:
// IEEE binary16 (f16), bfloat16 (bf16) and FP8 E4M3 ("e4m3fn": no infinities,
// S.1111.111 is NaN, max 448). Bit-exact, round-to-nearest-even on the way down.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace dseek {

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  if (exp == 0) {
    // zero or subnormal: man * 2^-24
    float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7F800000u | (man << 13));  // inf / NaN
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (man << 13));
}

inline uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return sign | 0x7E00u;  // NaN (quiet)
  if (ax >= 0x477FF000u) return sign | 0x7C00u;  // rounds to >= 65520 -> inf
  if (ax < 0x38800000u) {
    // result is subnormal (or zero): round(|f| * 2^24) to nearest even
    float v = std::bit_cast<float>(ax) * 16777216.0f;  // exact scaling by 2^24
    float r = std::nearbyint(v);                        // default rounding = to nearest even
    return sign | static_cast<uint16_t>(r);
  }
  // normal: rebias exponent, round mantissa 23 -> 10 bits to nearest even
  uint32_t mant_round = ax + 0x0FFFu + ((ax >> 13) & 1u);
  return sign | static_cast<uint16_t>((mant_round - 0x38000000u) >> 13);
}

inline float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

// FP8 E4M3 (OCP "e4m3fn", torch.float8_e4m3fn): bias 7, no inf, 0x7F/0xFF NaN.
inline float fp8_e4m3_to_f32(uint8_t v) {
  const bool neg = v & 0x80u;
  const int exp = (v >> 3) & 0xF;
  const int man = v & 0x7;
  float r;
  if (exp == 0xF && man == 0x7) {
    r = std::numeric_limits<float>::quiet_NaN();
  } else if (exp == 0) {
    r = std::ldexp(static_cast<float>(man), -9);  // subnormal: man/8 * 2^-6
  } else {
    r = std::ldexp(static_cast<float>(8 + man), exp - 10);  // (1 + man/8) * 2^(exp-7)
  }
  return neg ? -r : r;
}

// Round to nearest even, saturating to +-448 (what DeepSeek's quantiser does
// after clamping); NaN stays NaN.
inline uint8_t f32_to_fp8_e4m3(float f) {
  if (std::isnan(f)) return 0x7F;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  float a = std::fabs(f);
  if (a >= 448.0f) return sign | 0x7E;
  if (a < std::ldexp(1.0f, -6)) {  // subnormal range: multiples of 2^-9
    const int q = static_cast<int>(std::nearbyint(a * 512.0f));  // ties to even (default rounding)
    return sign | static_cast<uint8_t>(q);                       // q == 8 is the smallest normal, 0x08
  }
  int ex = 0;
  const float fr = std::frexp(a, &ex);  // a = fr * 2^ex, fr in [0.5, 1)
  int e = ex - 1;
  int m = static_cast<int>(std::nearbyint((fr * 2.0f - 1.0f) * 8.0f));
  if (m == 8) m = 0, ++e;
  return sign | static_cast<uint8_t>(((e + 7) << 3) | m);  // a < 448 never rounds past 448 (0x7E)
}

}  // namespace dseek
