// MXFP4 rows (32 E2M1 values sharing one E8M0 exponent, ggml's block layout
// BlockMxfp4) to and from the layout DeepSeek-V4's checkpoints store routed
// experts in: packed nibbles [cols/2] per row (byte k holds element 2k in its
// low nibble, 2k+1 in its high one) plus a separate E8M0 scale per 32 inputs
// (docs/design/deepseek-v4.md §3.3). The repacking only moves nibbles and
// copies exponent bytes: the values stay bit-exact. Also a float writer, for
// `dseek init`'s random experts (dseek's quantisers have no MXFP4 writer).
#pragma once

#include <cstdint>

#include "core/quant/blocks.h"

namespace dseek {

// One row of `cols` values (cols % 32 == 0): DeepSeek's packed bytes + scales -> cols/32 blocks.
void mxfp4_row_from_deepseek(const uint8_t* packed, const uint8_t* scales, int64_t cols, BlockMxfp4* out);
// The inverse: cols/32 blocks -> packed bytes [cols/2] and scales [cols/32].
void mxfp4_row_to_deepseek(const BlockMxfp4* in, int64_t cols, uint8_t* packed, uint8_t* scales);
// Rounds `cols` floats to MXFP4: per block the smallest power-of-two scale
// that puts the largest magnitude at or under 6, then each value to the
// nearest E2M1 level (ties to the even code).
void mxfp4_row_from_float(const float* x, int64_t cols, BlockMxfp4* out);

}  // namespace dseek
