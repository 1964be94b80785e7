// See random_model.h.
#include "model/random_model.h"

#include <cmath>
#include <vector>

#include "kernels/kernels.h"
#include "model/mxfp4_rows.h"

namespace dseek {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Approximately standard normal: Irwin-Hall sum of four 16-bit uniforms,
// centred and scaled to unit variance. Cheap, deterministic, bounded (|x| < 3.5).
float gaussian(uint64_t& state) {
  const uint64_t r = splitmix64(state);
  const float sum = static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
  return (sum / 65535.0f - 2.0f) * 1.7320508f;
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void fill_row(const TensorSpec& spec, uint64_t& rng, float* row, int64_t n) {
  const float inv_sqrt_fan_in = 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(spec.fan_in, 1)));
  const uint64_t first_id = spec.init == TensorInit::kExpertIds ? splitmix64(rng) % static_cast<uint64_t>(spec.fan_in) : 0;
  for (int64_t i = 0; i < n; ++i) {
    switch (spec.init) {
      case TensorInit::kMatrix: row[i] = gaussian(rng) * inv_sqrt_fan_in; break;
      // A trained head's logits spread over several nats; 4/sqrt(E) gives std ~4 at unit-RMS input.
      case TensorInit::kOutputHead: row[i] = 4.0f * gaussian(rng) * inv_sqrt_fan_in; break;
      case TensorInit::kEmbedding: row[i] = gaussian(rng); break;
      case TensorInit::kNormWeight: row[i] = 1.0f + 0.1f * gaussian(rng); break;
      case TensorInit::kRouter: row[i] = 2.0f * gaussian(rng) * inv_sqrt_fan_in; break;
      case TensorInit::kBias: row[i] = 0.02f * gaussian(rng); break;
      case TensorInit::kZero: row[i] = 0.0f; break;
      case TensorInit::kExpertIds: row[i] = static_cast<float>((first_id + static_cast<uint64_t>(i)) % static_cast<uint64_t>(spec.fan_in)); break;
    }
  }
}

}  // namespace

DType storage_dtype(const TensorSpec& spec, DType wanted) {
  if (!spec.quantizable) return DType::kF32;
  for (DType d : {wanted, DType::kQ8_0, DType::kF16}) {
    const int64_t block = dtype_traits(d).block_size;
    if (spec.ne[0] % block == 0) {
      // Falling back from a quantised type stays quantised-ish; from a float type keep it.
      if (d != wanted && !(dtype_traits(wanted).block_size > 1)) return wanted;
      return d;
    }
  }
  return DType::kF16;
}

Status write_random_model(const Architecture& arch, const RandomModelOptions& opt, GgufWriter& w,
                          const std::string& path, const GgufWriter::ProgressFn& progress) {
  w.set("general.name", GgufValue::str(opt.name));
  w.set("general.file_type", GgufValue::u32(static_cast<uint32_t>(dtype_traits(opt.dtype).ggml_id)));
  arch.write_gguf_metadata(w);
  const std::vector<TensorSpec> specs = arch.tensor_specs();
  for (const auto& s : specs) {
    const bool expert = opt.expert_dtype && s.source == SlotSource::kMergedExperts;
    w.add_tensor(s.gguf_name, storage_dtype(s, expert ? *opt.expert_dtype : opt.dtype), s.ne);
  }

  std::vector<float> row;
  auto fill = [&](size_t i, std::span<std::byte> out) -> Status {
    const TensorSpec& s = specs[i];
    const DType dt = w.tensors()[i].dtype;
    const int64_t n_row = s.ne[0];
    const int64_t rows = w.tensors()[i].n_elements() / n_row;
    const uint64_t row_bytes = *dtype_bytes(dt, n_row);
    uint64_t rng = opt.seed ^ fnv1a(s.gguf_name);
    row.resize(static_cast<size_t>(n_row));
    for (int64_t r = 0; r < rows; ++r) {
      fill_row(s, rng, row.data(), n_row);
      std::byte* dst = out.data() + static_cast<uint64_t>(r) * row_bytes;
      if (dt == DType::kMXFP4) mxfp4_row_from_float(row.data(), n_row, reinterpret_cast<BlockMxfp4*>(dst));
      else kernels::quantize_row(dt, row.data(), dst, n_row);
    }
    return ok_status();
  };
  return w.write(path, fill, progress);
}

}  // namespace dseek
