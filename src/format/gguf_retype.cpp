// See gguf_retype.h.
#include "format/gguf_retype.h"

#include <cstring>
#include <vector>

#include "kernels/kernels.h"

namespace dseek {
namespace {

// The type tensor t is written in: `type` where its rows hold whole blocks,
// f32 for other float tensors, unchanged for integer data.
DType target_type(const GgufTensorInfo& t, DType type) {
  const auto& tr = dtype_traits(t.dtype);
  if (!tr.is_float) return t.dtype;
  const int64_t cols = t.ne.empty() ? 1 : t.ne[0];
  return cols % dtype_traits(type).block_size == 0 ? type : DType::kF32;
}

}  // namespace

Status retype_gguf(const GgufFile& in, DType type, const std::string& out_path,
                   const GgufWriter::ProgressFn& progress) {
  if (!dtype_traits(type).is_float || !kernels::can_quantize(type) || dtype_traits(type).ggml_id < 0)
    return Status::error("cannot write GGUF tensors of type " + std::string(dtype_name(type)));
  GgufWriter w(in.alignment());
  for (const auto& [k, v] : in.metadata())
    if (k != "general.alignment") w.set(k, v);
  if (in.find("general.file_type"))
    w.set("general.file_type", GgufValue::u32(static_cast<uint32_t>(dtype_traits(type).ggml_id)));
  for (const auto& t : in.tensors()) w.add_tensor(t.name, target_type(t, type), t.ne);
  std::vector<float> row;
  return w.write(
      out_path,
      [&](size_t i, std::span<std::byte> out) -> Status {
        const GgufTensorInfo& t = in.tensors()[i];
        const DType to = w.tensors()[i].dtype;
        const auto src = in.tensor_data(t);
        if (to == t.dtype) {
          std::memcpy(out.data(), src.data(), out.size());
          return ok_status();
        }
        const int64_t cols = t.ne.empty() ? 1 : t.ne[0], rows = t.n_elements() / cols;
        const uint64_t in_row = *dtype_bytes(t.dtype, cols), out_row = *dtype_bytes(to, cols);
        row.resize(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
          kernels::dequantize_row(t.dtype, src.data() + static_cast<uint64_t>(r) * in_row, row.data(), cols);
          kernels::quantize_row(to, row.data(), out.data() + static_cast<uint64_t>(r) * out_row, cols);
        }
        return ok_status();
      },
      progress);
}

}  // namespace dseek
