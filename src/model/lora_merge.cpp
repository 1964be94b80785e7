// See merge_lora_gguf in lora_adapter.h. Metadata and unadapted tensors are
// copied byte for byte; each adapted tensor is dequantised, gets
// sum(factor * B A) added in float64, and is stored as F32.
#include <cstring>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "kernels/kernels.h"
#include "model/lora_adapter.h"

namespace dseek {
namespace {

Status merged_values(const GgufFile& g, const GgufTensorInfo& t, const LoraDelta& d, std::span<std::byte> out) {
  const int64_t cols = t.ne[0], rows = t.n_elements() / cols;
  const auto data = g.tensor_data(t);
  const size_t row_bytes = data.size() / static_cast<size_t>(rows);
  std::vector<float> w(static_cast<size_t>(cols));
  std::vector<double> acc(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    kernels::dequantize_row(t.dtype, data.data() + static_cast<size_t>(r) * row_bytes, w.data(), cols);
    std::fill(acc.begin(), acc.end(), 0.0);
    for (const auto& term : d.terms) {
      const LoraPairData& p = *term.pair;
      for (int64_t k = 0; k < p.rank; ++k) {
        const double bk = static_cast<double>(term.factor) * p.b[static_cast<size_t>(r * p.rank + k)];
        const float* a = p.a.data() + k * cols;
        for (int64_t c = 0; c < cols; ++c) acc[static_cast<size_t>(c)] += bk * a[c];
      }
    }
    for (int64_t c = 0; c < cols; ++c) w[static_cast<size_t>(c)] += static_cast<float>(acc[static_cast<size_t>(c)]);
    std::memcpy(out.data() + static_cast<size_t>(r * cols) * sizeof(float), w.data(), static_cast<size_t>(cols) * sizeof(float));
  }
  return ok_status();
}

}  // namespace

Status merge_lora_gguf(const std::string& base, const std::vector<std::string>& loras, const std::string& out) {
  auto g = GgufFile::open(base);
  if (!g.ok()) return g.status();
  if (g->get_string("general.type").value_or("model") == "adapter") return Status::error(base + " is an adapter, not a model");
  auto file = std::make_shared<const GgufFile>(std::move(g).value());
  const WeightSource ws = WeightSource::from_gguf(file);
  auto adapters = LoraAdapters::load(loras, ws, file->get_string("general.architecture").value_or(""));
  if (!adapters.ok()) return adapters.status();
  GgufWriter w(file->alignment());
  for (const auto& [k, v] : file->metadata())
    if (k != "general.alignment") w.set(k, v);
  std::vector<const LoraDelta*> delta;
  for (const auto& t : file->tensors()) {
    const LoraDelta* d = (*adapters)->find(t.name);
    w.add_tensor(t.name, d ? DType::kF32 : t.dtype, t.ne);
    delta.push_back(d);
  }
  return w.write(out, [&](size_t i, std::span<std::byte> bytes) {
    const GgufTensorInfo& t = file->tensors()[i];
    if (delta[i]) return merged_values(*file, t, *delta[i], bytes);
    const auto src = file->tensor_data(t);
    if (src.size() != bytes.size()) return Status::error("tensor '" + t.name + "': size mismatch");
    std::memcpy(bytes.data(), src.data(), bytes.size());
    return ok_status();
  });
}

}  // namespace dseek
