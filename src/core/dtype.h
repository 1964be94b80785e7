// Element types dseek reads and writes, and one traits row per type
// (block size, bytes per block, GGUF/ggml id, safetensors name). Bit layouts of
// the quantised blocks live in core/quant/*.h; model code never sees them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dseek {

enum class DType : uint8_t {
  kF32, kF16, kBF16, kF64, kF8E4M3,
  kI8, kI16, kI32, kI64, kU8, kBool,
  kQ4_0, kQ8_0, kQ4_K, kQ5_K, kQ6_K,
  // Read (dequantised, dotted) from GGUF files as ggml writes them.
  kQ4_1, kQ5_0, kQ5_1, kQ2_K, kQ3_K, kIQ4_NL, kIQ4_XS,
  kIQ3_XXS, kIQ3_S, kIQ2_XXS, kIQ2_XS, kIQ2_S, kIQ1_S, kIQ1_M, kTQ1_0, kTQ2_0, kMXFP4,
};
inline constexpr int kDTypeCount = 33;

struct DTypeTraits {
  DType dtype;
  std::string_view name;         // our name, lower case: "f32", "q4_k", "f8_e4m3"
  int64_t block_size;            // elements per block (1 for plain types)
  int64_t type_size;             // bytes per block
  int ggml_id;                   // GGUF tensor type id, -1 if GGUF has none
  std::string_view st_name;      // safetensors dtype string, "" if none
  bool is_float;                 // dequantises to float (vs. integer/bool data)
};

const DTypeTraits& dtype_traits(DType t);
inline std::string_view dtype_name(DType t) { return dtype_traits(t).name; }
std::optional<DType> dtype_from_ggml(uint32_t ggml_id);
std::optional<DType> dtype_from_safetensors(std::string_view st_name);
std::optional<DType> dtype_from_name(std::string_view name);  // our names, case-insensitive

// Bytes for n_elements of type t; nullopt if n is not a whole number of blocks
// or the size overflows.
std::optional<uint64_t> dtype_bytes(DType t, int64_t n_elements);

}  // namespace dseek
