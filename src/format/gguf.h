// GGUF v2/v3 reader over mmap: metadata (every value type, nested arrays),
// tensor infos, alignment and the data section. Validates everything before
// exposing it: a GgufFile that opened is safe to index. Spec: ggml docs/gguf.md.
// Not a model loader: it knows nothing of architectures or tensor meanings.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/status.h"

namespace dseek {

enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5,
  kFloat32 = 6, kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
const char* gguf_type_name(GgufType t);

struct GgufValue;
using GgufArray = std::vector<GgufValue>;

// One metadata value. Integers of every width are held as int64/uint64
// (the declared `type` is kept so the writer reproduces the file exactly).
struct GgufValue {
  GgufType type = GgufType::kUint8;
  GgufType elem_type = GgufType::kUint8;  // arrays only
  std::variant<std::monostate, uint64_t, int64_t, double, bool, std::string, GgufArray> v;

  static GgufValue u32(uint32_t x) { return {GgufType::kUint32, GgufType::kUint8, uint64_t{x}}; }
  static GgufValue i32(int32_t x) { return {GgufType::kInt32, GgufType::kUint8, int64_t{x}}; }
  static GgufValue u64(uint64_t x) { return {GgufType::kUint64, GgufType::kUint8, x}; }
  static GgufValue f32(float x) { return {GgufType::kFloat32, GgufType::kUint8, double{x}}; }
  static GgufValue boolean(bool x) { return {GgufType::kBool, GgufType::kUint8, x}; }
  static GgufValue str(std::string x) { return {GgufType::kString, GgufType::kUint8, std::move(x)}; }
  static GgufValue array(GgufType elem, GgufArray items) {
    return {GgufType::kArray, elem, std::move(items)};
  }
  static GgufValue string_array(const std::vector<std::string>& items);
  static GgufValue f32_array(const std::vector<float>& items);
  static GgufValue i32_array(const std::vector<int32_t>& items);

  std::optional<int64_t> to_int() const;   // any integer type (uint64 > INT64_MAX -> nullopt)
  std::optional<double> to_float() const;  // float types and integers
  std::optional<bool> to_bool() const;
  const std::string* to_string() const;
  const GgufArray* to_array() const;
  std::string summary(size_t max_items = 8) const;  // human-readable, arrays abbreviated
  bool operator==(const GgufValue& o) const = default;
};

struct GgufTensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> ne;  // GGUF order: ne[0] is the contiguous (innermost) dimension
  uint64_t offset = 0;      // relative to the data section
  uint64_t n_bytes = 0;     // validated: fits, does not overflow
  int64_t n_elements() const;
};

class GgufFile {
 public:
  // Maps and validates the file. Errors name the file, byte offset and reason.
  static Result<GgufFile> open(const std::string& path, const MapOptions& map = {});
  // Parse from memory (fuzzing, tests). `bytes` must outlive the GgufFile.
  static Result<GgufFile> parse(std::span<const std::byte> bytes, const std::string& name);

  uint32_t version() const { return version_; }
  const std::string& path() const { return path_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  // Typed arrays; nullopt if absent or of another element type.
  std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;
  std::optional<std::vector<float>> get_float_array(std::string_view key) const;
  std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  std::span<const std::byte> tensor_data(const GgufTensorInfo& t) const {
    return bytes_.subspan(data_offset_ + t.offset, t.n_bytes);
  }

 private:
  std::shared_ptr<MappedFile> file_;  // null when parsed from caller memory
  std::span<const std::byte> bytes_;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<GgufTensorInfo> tensors_;
};

}  // namespace dseek
