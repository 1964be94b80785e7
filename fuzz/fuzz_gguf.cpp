// libFuzzer target: the GGUF parser, then everything that reads a parsed file
// (metadata summaries, architecture hyper-parameters, tensor dequantisation).
// Any crash, over-read (ASan) or UB (UBSan) is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "format/gguf.h"
#include "kernels/kernels.h"
#include "model/arch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = dseek::GgufFile::parse({reinterpret_cast<const std::byte*>(data), size}, "fuzz.gguf");
  if (!f.ok()) return 0;
  for (const auto& [k, v] : f->metadata()) (void)v.summary();
  auto arch = dseek::architecture_from_gguf(*f);
  if (arch.ok()) {
    (void)(*arch)->describe();
    // Tensor tables can be huge for absurd-but-valid hyper-parameters; only build small ones.
    if ((*arch)->vocab_size() < 100000) (void)(*arch)->tensor_specs().size();
  }
  std::vector<float> row;
  for (const auto& t : f->tensors()) {
    const int64_t n = std::min<int64_t>(t.ne[0], 4096);
    const int64_t block = dseek::dtype_traits(t.dtype).block_size;
    const int64_t n_whole = n / block * block;
    if (n_whole <= 0 || t.n_bytes < *dseek::dtype_bytes(t.dtype, n_whole)) continue;
    row.resize(static_cast<size_t>(n_whole));
    dseek::kernels::dequantize_row(t.dtype, f->tensor_data(t).data(), row.data(), n_whole);
  }
  return 0;
}
