// The i-quant grids, unpacked at compile time from level codes (see
// iq_grids.h and gen_iq_grids.py). constinit: no start-up work, no mutable state.
#include "core/quant/iq_grids.h"

#include <cstddef>

namespace dseek {
namespace {

#include "core/quant/iq_grids_packed.inc"

// Entry i: `width` values, each `bits` wide in packed[i] (value 0 lowest),
// replaced by its level and stored in byte k of the result.
template <class Word, size_t N, size_t Width, size_t Bits, size_t NLevels>
constexpr std::array<Word, N> unpack(const uint16_t (&packed)[N], const uint8_t (&levels)[NLevels]) {
  std::array<Word, N> out{};
  for (size_t i = 0; i < N; ++i) {
    Word w = 0;
    for (size_t k = 0; k < Width; ++k) {
      const uint32_t code = (packed[i] >> (Bits * k)) & ((1u << Bits) - 1);
      w |= static_cast<Word>(levels[code]) << (8 * k);
    }
    out[i] = w;
  }
  return out;
}

constexpr uint8_t kIq2Levels[3] = {8, 25, 43};
constexpr uint8_t kIq3xxsLevels[8] = {4, 12, 20, 28, 36, 44, 52, 62};
constexpr uint8_t kIq3sLevels[8] = {1, 3, 5, 7, 9, 11, 13, 15};
constexpr uint8_t kIq1Levels[3] = {0xFF, 0, 1};  // int8 -1, 0, +1

}  // namespace

constinit const std::array<uint64_t, 256> kIq2xxsGrid = unpack<uint64_t, 256, 8, 2>(k_iq2xxs_grid_packed, kIq2Levels);
constinit const std::array<uint64_t, 512> kIq2xsGrid = unpack<uint64_t, 512, 8, 2>(k_iq2xs_grid_packed, kIq2Levels);
constinit const std::array<uint64_t, 1024> kIq2sGrid = unpack<uint64_t, 1024, 8, 2>(k_iq2s_grid_packed, kIq2Levels);
constinit const std::array<uint32_t, 256> kIq3xxsGrid =
    unpack<uint32_t, 256, 4, 3>(k_iq3xxs_grid_packed, kIq3xxsLevels);
constinit const std::array<uint32_t, 512> kIq3sGrid = unpack<uint32_t, 512, 4, 3>(k_iq3s_grid_packed, kIq3sLevels);
constinit const std::array<uint64_t, 2048> kIq1sGrid = unpack<uint64_t, 2048, 8, 2>(k_iq1s_grid_packed, kIq1Levels);

}  // namespace dseek
