// libFuzzer target: the safetensors header parser and tensor views.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "format/safetensors.h"
#include "kernels/kernels.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto s = dseek::Safetensors::parse({reinterpret_cast<const std::byte*>(data), size}, "fuzz.safetensors");
  if (!s.ok()) return 0;
  std::vector<float> row;
  for (const auto& t : s->tensors()) {
    const int64_t n = std::min<int64_t>(t.n_elements(), 4096);
    if (n <= 0 || !dseek::dtype_traits(t.dtype).is_float) continue;
    row.resize(static_cast<size_t>(n));
    dseek::kernels::dequantize_row(t.dtype, t.data.data(), row.data(), n);
  }
  return 0;
}
