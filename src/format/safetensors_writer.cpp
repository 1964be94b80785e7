// See safetensors_writer.h.
#include "format/safetensors_writer.h"

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"

namespace dseek {

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<int64_t> shape, std::vector<std::byte> bytes,
                            std::string st_dtype) {
  entries_.push_back({std::move(name), dtype, std::move(shape), std::move(bytes), std::move(st_dtype)});
}

Status SafetensorsWriter::write(const std::string& path) const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const auto& e : entries_) {
    const std::string_view st_name = e.st_dtype.empty() ? dtype_traits(e.dtype).st_name : e.st_dtype;
    if (st_name.empty())
      return Status::error(path + ": tensor '" + e.name + "': dtype " + std::string(dtype_name(e.dtype)) +
                           " has no safetensors name");
    header[e.name] = {{"dtype", st_name},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  auto file = AtomicFile::create(path);
  if (!file.ok()) return file.status();
  std::FILE* f = file->file();
  const uint64_t n = h.size();
  bool ok = std::fwrite(&n, 8, 1, f) == 1 && std::fwrite(h.data(), 1, h.size(), f) == h.size();
  for (const auto& e : entries_) ok = ok && std::fwrite(e.bytes.data(), 1, e.bytes.size(), f) == e.bytes.size();
  if (!ok) return Status::error(path + ": write failed (disk full?)");
  return file->commit();
}

}  // namespace dseek
