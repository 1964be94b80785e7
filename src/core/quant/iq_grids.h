// The fixed codebooks of ggml's i-quant types, as ggml lays them out: entry i
// of a grid holds 8 (iq2*, iq1s) or 4 (iq3*) byte values, value k in byte k
// (little-endian), so `reinterpret_cast<const uint8_t*>(&grid[i])` reads them
// in order. iq1s values are int8 -1/0/+1. Built at compile time from the
// packed data in iq_grids_packed.inc (see gen_iq_grids.py).
#pragma once

#include <array>
#include <cstdint>

namespace dseek {

extern const std::array<uint64_t, 256> kIq2xxsGrid;
extern const std::array<uint64_t, 512> kIq2xsGrid;
extern const std::array<uint64_t, 1024> kIq2sGrid;
extern const std::array<uint32_t, 256> kIq3xxsGrid;
extern const std::array<uint32_t, 512> kIq3sGrid;
extern const std::array<uint64_t, 2048> kIq1sGrid;

// The 8 signs of a group from 7 stored bits: bit 7 is chosen so that the
// number of negative signs is even (ggml's ksigns_iq2xs). Bit j set: value j negative.
constexpr uint8_t iq2_signs(uint32_t seven_bits) {
  const uint32_t s = seven_bits & 127;
  return static_cast<uint8_t>(s | ((__builtin_popcount(s) & 1) << 7));
}

// iq1_s / iq1_m shift each value by +-1/8 (ggml's IQ1S_DELTA).
inline constexpr float kIq1Delta = 0.125f;

}  // namespace dseek
