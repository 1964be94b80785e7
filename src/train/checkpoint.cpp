// See checkpoint.h. The checksum covers every value the loader uses: the
// step, config, sampler state and history, and each tensor's name and bytes
// in file order. It is computed from the in-memory state before writing and
// from the mapped file before anything is restored.
#include "train/checkpoint.h"

#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/crc32.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"

namespace dseek::train {
namespace {

constexpr const char* kStep = "dseek.train.step";
constexpr const char* kConfig = "dseek.train.config";
constexpr const char* kSampler = "dseek.train.sampler_state";
constexpr const char* kHistory = "dseek.train.history";
constexpr const char* kCrc = "dseek.train.crc32";

struct Checksum {
  Crc32 crc;
  void u64(uint64_t x) { crc.update(&x, sizeof x); }
  void str(std::string_view s) {
    u64(s.size());
    crc.update(s);
  }
  void tensor(std::string_view name, std::span<const std::byte> bytes) {
    str(name);
    u64(bytes.size());
    crc.update(bytes.data(), bytes.size());
  }
};

void header_checksum(Checksum& c, uint64_t step, std::string_view config, const RecipeState& s) {
  c.u64(step);
  c.str(config);
  c.u64(s.sampler);
  c.str(s.history);
}

// Every tensor a checkpoint of `m` holds, in file order: parameters with their moments, then biases.
std::vector<std::pair<std::string, std::vector<float>*>> checkpoint_tensors(TrainModel<float>& m, AdamW& opt) {
  std::vector<std::pair<std::string, std::vector<float>*>> out;
  const auto params = m.params();
  for (size_t i = 0; i < params.size(); ++i) {
    out.emplace_back("p." + params[i]->name, &params[i]->w);
    out.emplace_back("m." + params[i]->name, &opt.first_moments()[i]);
    out.emplace_back("v." + params[i]->name, &opt.second_moments()[i]);
  }
  const auto biases = m.expert_biases();
  for (size_t i = 0; i < biases.size(); ++i) out.emplace_back("bias." + std::to_string(i), biases[i]);
  return out;
}

std::span<const std::byte> bytes_of(const std::vector<float>& v) { return std::as_bytes(std::span<const float>(v)); }

std::optional<uint64_t> get_u64(const GgufFile& f, const char* key) {
  const GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  if (const auto* u = std::get_if<uint64_t>(&v->v)) return *u;
  return std::nullopt;
}

// Reads the recipe state and verifies the checksum over the whole file.
Result<RecipeState> verified_state(const GgufFile& f, const std::string& path) {
  const auto stored = get_u64(f, kCrc);
  if (!stored)
    return Status::error(path + ": the checkpoint has no checksum (written by an older dseek?): it cannot be checked; "
                                "delete it to start over");
  RecipeState s;
  s.sampler = get_u64(f, kSampler).value_or(0);
  s.history = f.get_string(kHistory).value_or("");
  Checksum c;
  header_checksum(c, get_u64(f, kStep).value_or(0), f.get_string(kConfig).value_or(""), s);
  for (const GgufTensorInfo& t : f.tensors()) c.tensor(t.name, f.tensor_data(t));
  if (c.crc.value() != *stored)
    return Status::error(path + ": the checkpoint is damaged (its CRC-32 does not match: a flipped bit or an "
                                "incomplete copy); delete it to start over or restore a good copy");
  return s;
}

}  // namespace

Status save_checkpoint(TrainModel<float>& m, AdamW& opt, const std::string& config_json, const std::string& path,
                       const RecipeState& state) {
  const auto tensors = checkpoint_tensors(m, opt);
  const uint64_t step = static_cast<uint64_t>(opt.steps_done());
  Checksum c;
  header_checksum(c, step, config_json, state);
  for (const auto& [name, data] : tensors) c.tensor(name, bytes_of(*data));
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("dseek-checkpoint"));
  w.set(kStep, GgufValue::u64(step));
  w.set(kConfig, GgufValue::str(config_json));
  w.set(kSampler, GgufValue::u64(state.sampler));
  w.set(kHistory, GgufValue::str(state.history));
  w.set(kCrc, GgufValue::u64(c.crc.value()));
  for (const auto& [name, data] : tensors) w.add_tensor(name, DType::kF32, {static_cast<int64_t>(data->size())});
  return w.write(path, [&](size_t i, std::span<std::byte> out) -> Status {
    std::memcpy(out.data(), tensors[i].second->data(), out.size());
    return ok_status();
  });
}

Status load_checkpoint(TrainModel<float>& m, AdamW& opt, const std::string& config_json, const std::string& path,
                       RecipeState* state) {
  auto f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  auto s = verified_state(*f, path);
  if (!s.ok()) return s.status();
  if (f->get_string(kConfig).value_or("") != config_json)
    return Status::error(path + ": this checkpoint was made with a different config");
  const auto tensors = checkpoint_tensors(m, opt);
  for (const auto& [name, dst] : tensors) {  // all checked before any is restored
    const GgufTensorInfo* t = f->find_tensor(name);
    if (!t || t->dtype != DType::kF32 || t->n_elements() != static_cast<int64_t>(dst->size()))
      return Status::error(path + ": missing or mis-shaped tensor " + name);
  }
  for (const auto& [name, dst] : tensors)
    std::memcpy(dst->data(), f->tensor_data(*f->find_tensor(name)).data(), dst->size() * sizeof(float));
  opt.set_steps_done(static_cast<int64_t>(get_u64(*f, kStep).value_or(0)));
  if (state) *state = std::move(s).value();
  return ok_status();
}

}  // namespace dseek::train
