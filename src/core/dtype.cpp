// The dtype traits table. See dtype.h.
#include "core/dtype.h"

#include <array>
#include <cctype>
#include <limits>

#include "core/quant/blocks.h"
#include "core/quant/iq_blocks.h"

namespace dseek {
namespace {

constexpr std::array<DTypeTraits, kDTypeCount> kTraits = {{
    {DType::kF32, "f32", 1, 4, 0, "F32", true},
    {DType::kF16, "f16", 1, 2, 1, "F16", true},
    {DType::kBF16, "bf16", 1, 2, 30, "BF16", true},
    {DType::kF64, "f64", 1, 8, 28, "F64", true},
    {DType::kF8E4M3, "f8_e4m3", 1, 1, -1, "F8_E4M3", true},
    {DType::kI8, "i8", 1, 1, 24, "I8", false},
    {DType::kI16, "i16", 1, 2, 25, "I16", false},
    {DType::kI32, "i32", 1, 4, 26, "I32", false},
    {DType::kI64, "i64", 1, 8, 27, "I64", false},
    {DType::kU8, "u8", 1, 1, -1, "U8", false},
    {DType::kBool, "bool", 1, 1, -1, "BOOL", false},
    {DType::kQ4_0, "q4_0", kQK4_0, sizeof(BlockQ4_0), 2, "", true},
    {DType::kQ8_0, "q8_0", kQK8_0, sizeof(BlockQ8_0), 8, "", true},
    {DType::kQ4_K, "q4_k", kQK_K, sizeof(BlockQ4_K), 12, "", true},
    {DType::kQ5_K, "q5_k", kQK_K, sizeof(BlockQ5_K), 13, "", true},
    {DType::kQ6_K, "q6_k", kQK_K, sizeof(BlockQ6_K), 14, "", true},
    {DType::kQ4_1, "q4_1", kQK4_0, sizeof(BlockQ4_1), 3, "", true},
    {DType::kQ5_0, "q5_0", kQK4_0, sizeof(BlockQ5_0), 6, "", true},
    {DType::kQ5_1, "q5_1", kQK4_0, sizeof(BlockQ5_1), 7, "", true},
    {DType::kQ2_K, "q2_k", kQK_K, sizeof(BlockQ2_K), 10, "", true},
    {DType::kQ3_K, "q3_k", kQK_K, sizeof(BlockQ3_K), 11, "", true},
    {DType::kIQ4_NL, "iq4_nl", kQK4_NL, sizeof(BlockIQ4_NL), 20, "", true},
    {DType::kIQ4_XS, "iq4_xs", kQK_K, sizeof(BlockIQ4_XS), 23, "", true},
    {DType::kIQ3_XXS, "iq3_xxs", kQK_K, sizeof(BlockIQ3_XXS), 18, "", true},
    {DType::kIQ3_S, "iq3_s", kQK_K, sizeof(BlockIQ3_S), 21, "", true},
    {DType::kIQ2_XXS, "iq2_xxs", kQK_K, sizeof(BlockIQ2_XXS), 16, "", true},
    {DType::kIQ2_XS, "iq2_xs", kQK_K, sizeof(BlockIQ2_XS), 17, "", true},
    {DType::kIQ2_S, "iq2_s", kQK_K, sizeof(BlockIQ2_S), 22, "", true},
    {DType::kIQ1_S, "iq1_s", kQK_K, sizeof(BlockIQ1_S), 19, "", true},
    {DType::kIQ1_M, "iq1_m", kQK_K, sizeof(BlockIQ1_M), 29, "", true},
    {DType::kTQ1_0, "tq1_0", kQK_K, sizeof(BlockTQ1_0), 34, "", true},
    {DType::kTQ2_0, "tq2_0", kQK_K, sizeof(BlockTQ2_0), 35, "", true},
    {DType::kMXFP4, "mxfp4", kQKMxfp4, sizeof(BlockMxfp4), 39, "", true},
}};

}  // namespace

const DTypeTraits& dtype_traits(DType t) { return kTraits[static_cast<size_t>(t)]; }

std::optional<DType> dtype_from_ggml(uint32_t ggml_id) {
  for (const auto& tr : kTraits)
    if (tr.ggml_id >= 0 && static_cast<uint32_t>(tr.ggml_id) == ggml_id) return tr.dtype;
  return std::nullopt;
}

std::optional<DType> dtype_from_safetensors(std::string_view st_name) {
  for (const auto& tr : kTraits)
    if (!tr.st_name.empty() && tr.st_name == st_name) return tr.dtype;
  return std::nullopt;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& tr : kTraits) {
    if (tr.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(name[i])) == tr.name[i];
    if (same) return tr.dtype;
  }
  return std::nullopt;
}

std::optional<uint64_t> dtype_bytes(DType t, int64_t n_elements) {
  const auto& tr = dtype_traits(t);
  if (n_elements < 0 || n_elements % tr.block_size != 0) return std::nullopt;
  uint64_t blocks = static_cast<uint64_t>(n_elements / tr.block_size);
  if (blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(tr.type_size))
    return std::nullopt;
  return blocks * static_cast<uint64_t>(tr.type_size);
}

}  // namespace dseek
