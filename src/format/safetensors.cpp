// safetensors parsing and validation (see safetensors.h).
#include "format/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_set>

namespace dseek {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's limit

Status header_error(const std::string& name, const std::string& what) {
  return Status::error(name + ": safetensors header: " + what);
}

}  // namespace

int64_t SafetensorsTensor::n_elements() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

namespace {

// A shape array: non-negative integers whose product fits int64 (the element count).
Result<int64_t> parse_shape(const nlohmann::json& shape, std::vector<int64_t>& out) {
  int64_t n = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) return Status::error("shape entries must be non-negative integers");
    const uint64_t x = d.get<uint64_t>();
    if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (x != 0 && n > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(x)))
      return Status::error("shape element count overflows");
    n *= static_cast<int64_t>(x);
    out.push_back(static_cast<int64_t>(x));
  }
  return n;
}

// One header entry {dtype, shape, data_offsets} checked against the data section
// [data_start, data_start + data_size) of `bytes`.
Result<SafetensorsTensor> parse_entry(const std::string& file, const std::string& key, const nlohmann::json& info,
                                      std::span<const std::byte> bytes, uint64_t data_start) {
  const uint64_t data_size = bytes.size() - data_start;
  const std::string where = "tensor '" + key + "': ";
  if (!info.is_object()) return header_error(file, where + "entry is not an object");
  if (!info.contains("dtype") || !info["dtype"].is_string()) return header_error(file, where + "missing dtype");
  const std::string st_dtype = info["dtype"].get<std::string>();
  // F8_E8M0 (power-of-two block scales, 2^(e-127), in DeepSeek-V4's checkpoints)
  // is exposed as its raw bytes, u8: the loader that knows a tensor is a scale
  // interprets them (model/arch/deepseek_v4_weights.cpp).
  const auto dt = st_dtype == "F8_E8M0" ? std::optional<DType>(DType::kU8) : dtype_from_safetensors(st_dtype);
  if (!dt) return header_error(file, where + "unsupported dtype '" + info["dtype"].get<std::string>() + "'");
  if (!info.contains("shape") || !info["shape"].is_array() || info["shape"].size() > 8)
    return header_error(file, where + "missing or bad shape");
  SafetensorsTensor t;
  t.name = key;
  t.dtype = *dt;
  t.file = file;
  auto n = parse_shape(info["shape"], t.shape);
  if (!n.ok()) return header_error(file, where + n.message());
  const auto& off = info.contains("data_offsets") ? info["data_offsets"] : nlohmann::json();
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    return header_error(file, where + "data_offsets must be [begin, end]");
  const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
  if (begin > end || end > data_size)
    return header_error(file, where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                                  "] outside the " + std::to_string(data_size) + "-byte data section (truncated file?)");
  const auto expect = dtype_bytes(t.dtype, *n);
  if (!expect || *expect != end - begin)
    return header_error(file, where + "holds " + std::to_string(end - begin) + " bytes but its dtype and shape need " +
                                  (expect ? std::to_string(*expect) : std::string("an overflowing number of")));
  t.data = bytes.subspan(data_start + begin, end - begin);
  return t;
}

// Tensors of one file must not share bytes.
Status check_no_overlap(const std::string& file, std::span<const SafetensorsTensor> tensors) {
  std::vector<const SafetensorsTensor*> by_start;
  for (const auto& t : tensors) by_start.push_back(&t);
  std::sort(by_start.begin(), by_start.end(), [](auto* a, auto* b) { return a->data.data() < b->data.data(); });
  for (size_t i = 1; i < by_start.size(); ++i)
    if (by_start[i]->data.data() < by_start[i - 1]->data.data() + by_start[i - 1]->data.size())
      return header_error(file, "tensors '" + by_start[i - 1]->name + "' and '" + by_start[i]->name + "' overlap");
  return ok_status();
}

}  // namespace

Status Safetensors::add_file(std::span<const std::byte> bytes, const std::string& name) {
  if (bytes.size() < 8) return Status::error(name + ": offset 0: file too short to be safetensors (" + std::to_string(bytes.size()) + " bytes)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8)
    return Status::error(name + ": offset 0: header length " + std::to_string(header_len) + " exceeds the file (" +
                         std::to_string(bytes.size()) + " bytes): truncated or not safetensors");
  const auto* hp = reinterpret_cast<const char*>(bytes.data() + 8);
  nlohmann::json header = nlohmann::json::parse(hp, hp + header_len, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return header_error(name, "not valid JSON");
  if (!header.is_object()) return header_error(name, "not a JSON object");
  const size_t first = tensors_.size();
  for (const auto& [key, info] : header.items()) {
    if (key == "__metadata__") {
      if (!info.is_object()) return header_error(name, "__metadata__ is not an object");
      continue;
    }
    auto t = parse_entry(name, key, info, bytes, 8 + header_len);
    if (!t.ok()) return t.status();
    tensors_.push_back(std::move(t).value());
  }
  const std::span<const SafetensorsTensor> mine(tensors_.data() + first, tensors_.size() - first);
  if (Status st = check_no_overlap(name, mine); !st.ok()) return st;
  files_.push_back(name);
  return ok_status();
}

Result<Safetensors> Safetensors::parse(std::span<const std::byte> bytes, const std::string& name) {
  Safetensors s;
  Status st = s.add_file(bytes, name);
  if (!st.ok()) return st;
  for (size_t i = 0; i < s.tensors_.size(); ++i) s.index_.emplace(s.tensors_[i].name, i);
  return s;
}

Result<Safetensors> Safetensors::open(const std::string& path, const MapOptions& map) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = path;
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "model.safetensors.index.json", ec)) p /= "model.safetensors.index.json";
    else if (fs::exists(p / "model.safetensors", ec)) p /= "model.safetensors";
    else return Status::error(path + ": no model.safetensors or model.safetensors.index.json in this directory");
  }
  Safetensors s;
  auto map_one = [&s, &map](const std::string& file) -> Status {
    auto m = MappedFile::open(file, map);
    if (!m.ok()) return m.status();
    auto shared = std::make_shared<MappedFile>(std::move(m).value());
    Status st = s.add_file(shared->bytes(), file);
    if (st.ok()) s.maps_.push_back(std::move(shared));
    return st;
  };
  if (p.filename().string().size() >= 5 && p.extension() == ".json") {
    std::ifstream in(p);
    if (!in) return Status::error(p.string() + ": cannot open");
    nlohmann::json index = nlohmann::json::parse(in, nullptr, false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      return Status::error(p.string() + ": not a safetensors index (needs a \"weight_map\" object)");
    std::map<std::string, std::vector<std::string>> by_file;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string()) return Status::error(p.string() + ": weight_map entry '" + tensor + "' is not a file name");
      const std::string f = file.get<std::string>();
      if (f.find('/') != std::string::npos || f == ".." || f.empty())
        return Status::error(p.string() + ": weight_map names '" + f + "', which is not a plain file name");
      by_file[f].push_back(tensor);
    }
    for (const auto& [file, names] : by_file) {
      const fs::path shard = p.parent_path() / file;
      if (!fs::exists(shard, ec))
        return Status::error(p.string() + ": weight_map names shard '" + file + "' (for '" + names.front() +
                             "'), which does not exist in " + p.parent_path().string());
      Status st = map_one(shard.string());
      if (!st.ok()) return st;
      std::unordered_set<std::string_view> in_shard;
      for (const auto& t : s.tensors_)
        if (t.file == shard.string()) in_shard.insert(t.name);
      for (const auto& n : names)
        if (!in_shard.count(n)) return Status::error(p.string() + ": tensor '" + n + "' is not in its shard " + shard.string());
    }
  } else {
    Status st = map_one(p.string());
    if (!st.ok()) return st;
  }
  for (size_t i = 0; i < s.tensors_.size(); ++i)
    if (!s.index_.emplace(s.tensors_[i].name, i).second)
      return Status::error(path + ": tensor '" + s.tensors_[i].name + "' appears in more than one shard");
  return s;
}

const SafetensorsTensor* Safetensors::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace dseek
