// GGUF parsing and validation (see gguf.h). Every count and size read from the
// file is checked against the bytes that remain before anything is allocated,
// so a lying header yields an error, never a huge allocation or an over-read.
#include <algorithm>
#include <limits>
#include <sstream>
#include <unordered_set>

#include "format/byte_reader.h"
#include "format/gguf.h"

namespace dseek {
namespace {

constexpr uint32_t kMaxDims = 4;             // ggml's GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;            // nested arrays deeper than this are refused
constexpr uint64_t kMaxMetadataValues = 16u << 20;  // bounds memory for metadata trees
constexpr uint64_t kMaxStringBytes = 256u << 20;

// Minimum encoded size of one value of type t (to bound counts before allocating).
uint64_t min_encoded_size(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: return 8;
    case GgufType::kString: return 8;
    case GgufType::kArray: return 12;
  }
  return 1;
}

bool valid_type(uint32_t t) { return t <= 12; }

class Parser {
 public:
  Parser(std::span<const std::byte> bytes, const std::string& name) : r_(bytes), name_(name) {}

  Status fail(const std::string& what) const { return fail_at(r_.pos(), what); }
  Status fail_at(uint64_t pos, const std::string& what) const {
    std::ostringstream s;
    s << name_ << ": offset " << pos << ": " << what;
    return Status::error(s.str());
  }

  ByteReader& reader() { return r_; }

  Status read_string(std::string* out, const char* what) {
    uint64_t len = 0;
    const uint64_t at = r_.pos();
    if (!r_.read(&len)) return fail(std::string("truncated: ") + what + " length");
    if (len > kMaxStringBytes) return fail_at(at, std::string(what) + " length " + std::to_string(len) + " is absurd");
    if (!r_.read_bytes(len, out))
      return fail_at(at, std::string(what) + " of " + std::to_string(len) + " bytes runs past the end of the file");
    return ok_status();
  }

  Status read_value(GgufType type, int depth, GgufValue* out) {
    out->type = type;
    if (++values_ > kMaxMetadataValues) return fail("more than 16Mi metadata values; refusing");
    switch (type) {
      case GgufType::kUint8: return read_scalar<uint8_t, uint64_t>(out);
      case GgufType::kInt8: return read_scalar<int8_t, int64_t>(out);
      case GgufType::kUint16: return read_scalar<uint16_t, uint64_t>(out);
      case GgufType::kInt16: return read_scalar<int16_t, int64_t>(out);
      case GgufType::kUint32: return read_scalar<uint32_t, uint64_t>(out);
      case GgufType::kInt32: return read_scalar<int32_t, int64_t>(out);
      case GgufType::kUint64: return read_scalar<uint64_t, uint64_t>(out);
      case GgufType::kInt64: return read_scalar<int64_t, int64_t>(out);
      case GgufType::kFloat32: return read_scalar<float, double>(out);
      case GgufType::kFloat64: return read_scalar<double, double>(out);
      case GgufType::kBool: {
        uint8_t b = 0;
        if (!r_.read(&b)) return fail("truncated bool value");
        if (b > 1) return fail("bool value " + std::to_string(b) + " is neither 0 nor 1");
        out->v = b == 1;
        return ok_status();
      }
      case GgufType::kString: {
        std::string s;
        Status st = read_string(&s, "string value");
        if (!st.ok()) return st;
        out->v = std::move(s);
        return ok_status();
      }
      case GgufType::kArray: return read_array(depth, out);
    }
    return fail("unknown value type");
  }

 private:
  template <class Raw, class Held>
  Status read_scalar(GgufValue* out) {
    Raw x{};
    if (!r_.read(&x)) return fail(std::string("truncated ") + gguf_type_name(out->type) + " value");
    out->v = static_cast<Held>(x);
    return ok_status();
  }

  Status read_array(int depth, GgufValue* out) {
    if (depth >= kMaxArrayDepth) return fail("arrays nested deeper than 8 levels");
    uint32_t elem = 0;
    uint64_t count = 0;
    if (!r_.read(&elem)) return fail("truncated array element type");
    if (!valid_type(elem)) return fail("array of unknown value type " + std::to_string(elem));
    const uint64_t at = r_.pos();
    if (!r_.read(&count)) return fail("truncated array length");
    const auto et = static_cast<GgufType>(elem);
    if (count > r_.remaining() / min_encoded_size(et))
      return fail_at(at, "array claims " + std::to_string(count) + " elements, more than the file can hold");
    out->elem_type = et;
    GgufArray items(static_cast<size_t>(count));
    for (auto& item : items) {
      Status st = read_value(et, depth + 1, &item);
      if (!st.ok()) return st;
    }
    out->v = std::move(items);
    return ok_status();
  }

  ByteReader r_;
  std::string name_;
  uint64_t values_ = 0;
};

Status parse_tensor_info(Parser& p, GgufTensorInfo* t) {
  ByteReader& r = p.reader();
  Status st = p.read_string(&t->name, "tensor name");
  if (!st.ok()) return st;
  uint32_t n_dims = 0;
  if (!r.read(&n_dims)) return p.fail("truncated tensor '" + t->name + "' dimension count");
  if (n_dims == 0 || n_dims > kMaxDims)
    return p.fail("tensor '" + t->name + "' has " + std::to_string(n_dims) + " dimensions (1..4 allowed)");
  t->ne.resize(n_dims);
  int64_t n = 1;
  for (auto& d : t->ne) {
    uint64_t x = 0;
    if (!r.read(&x)) return p.fail("truncated tensor '" + t->name + "' shape");
    if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return p.fail("tensor '" + t->name + "' dimension " + std::to_string(x) + " is absurd");
    d = static_cast<int64_t>(x);
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      return p.fail("tensor '" + t->name + "' element count overflows 64 bits");
    n *= d;
  }
  uint32_t type = 0;
  const uint64_t type_at = r.pos();
  if (!r.read(&type)) return p.fail("truncated tensor '" + t->name + "' type");
  auto dt = dtype_from_ggml(type);
  if (!dt) return p.fail_at(type_at, "tensor '" + t->name + "' has unsupported ggml type " + std::to_string(type));
  t->dtype = *dt;
  if (t->ne[0] % dtype_traits(t->dtype).block_size != 0)
    return p.fail("tensor '" + t->name + "' row of " + std::to_string(t->ne[0]) + " elements is not a whole number of " +
                  std::string(dtype_name(t->dtype)) + " blocks");
  auto bytes = dtype_bytes(t->dtype, n);
  if (!bytes) return p.fail("tensor '" + t->name + "' byte size overflows");
  t->n_bytes = *bytes;
  if (!r.read(&t->offset)) return p.fail("truncated tensor '" + t->name + "' offset");
  return ok_status();
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static constexpr const char* kNames[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                           "bool", "string", "array", "uint64", "int64", "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? kNames[i] : "unknown";
}

int64_t GgufTensorInfo::n_elements() const {
  int64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

Result<GgufFile> GgufFile::open(const std::string& path, const MapOptions& map) {
  auto mapped = MappedFile::open(path, map);
  if (!mapped.ok()) return mapped.status();
  auto file = std::make_shared<MappedFile>(std::move(mapped).value());
  auto parsed = parse(file->bytes(), path);
  if (!parsed.ok()) return parsed.status();
  parsed->file_ = std::move(file);
  return parsed;
}

namespace {

using Metadata = std::vector<std::pair<std::string, GgufValue>>;

// n_kv metadata entries: key, type, value; keys unique.
Status read_metadata(Parser& p, uint64_t n_kv, Metadata& kv) {
  ByteReader& r = p.reader();
  std::unordered_set<std::string> keys;
  kv.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    const uint64_t at = r.pos();
    if (Status st = p.read_string(&key, "metadata key"); !st.ok()) return st;
    uint32_t type = 0;
    if (!r.read(&type)) return p.fail("truncated type of metadata key '" + key + "'");
    if (!valid_type(type)) return p.fail("metadata key '" + key + "' has unknown value type " + std::to_string(type));
    GgufValue v;
    if (Status st = p.read_value(static_cast<GgufType>(type), 0, &v); !st.ok()) return st;
    if (!keys.insert(key).second) return p.fail_at(at, "duplicate metadata key '" + key + "'");
    kv.emplace_back(std::move(key), std::move(v));
  }
  return ok_status();
}

// The tensor infos (already sized to the header's count); names unique.
Status read_tensor_infos(Parser& p, std::vector<GgufTensorInfo>& tensors) {
  std::unordered_set<std::string> names;
  for (auto& t : tensors) {
    const uint64_t at = p.reader().pos();
    if (Status st = parse_tensor_info(p, &t); !st.ok()) return st;
    if (!names.insert(t.name).second) return p.fail_at(at, "duplicate tensor name '" + t.name + "'");
  }
  return ok_status();
}

// Tensors must be aligned, inside the data section [data_offset, file_size) and must not overlap.
Status check_tensor_layout(Parser& p, const std::vector<GgufTensorInfo>& tensors, uint64_t alignment,
                           uint64_t end_of_infos, uint64_t data_offset, uint64_t file_size) {
  const uint64_t data_size = data_offset <= file_size ? file_size - data_offset : 0;
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : tensors) {
    if (t.offset % alignment != 0)
      return p.fail_at(end_of_infos, "tensor '" + t.name + "' offset " + std::to_string(t.offset) +
                                         " is not a multiple of the alignment " + std::to_string(alignment));
    // Kernels read tensors in place: 8-byte alignment keeps every scalar and block load aligned.
    if ((data_offset + t.offset) % 8 != 0)
      return p.fail_at(data_offset, "tensor '" + t.name + "' starts at file offset " +
                                        std::to_string(data_offset + t.offset) + ", which is not 8-byte aligned");
    if (t.offset > data_size || t.n_bytes > data_size - t.offset)
      return p.fail_at(data_offset + std::min(t.offset, data_size),
                       "tensor '" + t.name + "' (" + std::to_string(t.n_bytes) + " bytes at data offset " +
                           std::to_string(t.offset) + ") runs past the end of the file (truncated?)");
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto* prev = by_offset[i - 1];
    if (prev->offset + prev->n_bytes > by_offset[i]->offset)
      return p.fail_at(data_offset + by_offset[i]->offset,
                       "tensors '" + prev->name + "' and '" + by_offset[i]->name + "' overlap");
  }
  return ok_status();
}

}  // namespace

Result<GgufFile> GgufFile::parse(std::span<const std::byte> bytes, const std::string& name) {
  Parser p(bytes, name);
  ByteReader& r = p.reader();
  GgufFile f;
  f.bytes_ = bytes;
  f.path_ = name;

  char magic[4] = {};
  if (!r.read(&magic)) return p.fail("file too short to be GGUF (" + std::to_string(bytes.size()) + " bytes)");
  if (std::string_view(magic, 4) != "GGUF") return p.fail_at(0, "not a GGUF file (bad magic)");
  if (!r.read(&f.version_)) return p.fail("truncated header (version)");
  if (f.version_ < 2 || f.version_ > 3)
    return p.fail_at(4, "GGUF version " + std::to_string(f.version_) + " is not supported (2 and 3 are)");
  uint64_t n_tensors = 0, n_kv = 0;
  if (!r.read(&n_tensors) || !r.read(&n_kv)) return p.fail("truncated header (counts)");
  // A metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least 8+4+8+4+8.
  if (n_kv > r.remaining() / 13) return p.fail_at(16, "header claims " + std::to_string(n_kv) + " metadata entries, more than the file can hold");
  if (n_tensors > r.remaining() / 32) return p.fail_at(8, "header claims " + std::to_string(n_tensors) + " tensors, more than the file can hold");
  if (Status st = read_metadata(p, n_kv, f.kv_); !st.ok()) return st;

  if (const GgufValue* a = f.find("general.alignment")) {
    auto al = a->to_int();
    if (!al || *al <= 0 || (*al & (*al - 1)) != 0 || *al > (1 << 20))
      return p.fail("general.alignment must be a power of two up to 1 MiB");
    f.alignment_ = static_cast<uint64_t>(*al);
  }
  f.tensors_.resize(static_cast<size_t>(n_tensors));
  if (Status st = read_tensor_infos(p, f.tensors_); !st.ok()) return st;

  const uint64_t end_of_infos = r.pos();
  f.data_offset_ = (end_of_infos + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  if (n_tensors > 0 && f.data_offset_ > bytes.size())
    return p.fail_at(end_of_infos, "file ends before its tensor data section");
  if (Status st = check_tensor_layout(p, f.tensors_, f.alignment_, end_of_infos, f.data_offset_, bytes.size()); !st.ok())
    return st;
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& [k, v] : kv_)
    if (k == key) return &v;
  return nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const auto* v = find(key);
  return v ? v->to_int() : std::nullopt;
}
std::optional<double> GgufFile::get_float(std::string_view key) const {
  const auto* v = find(key);
  return v ? v->to_float() : std::nullopt;
}
std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const auto* v = find(key);
  return v ? v->to_bool() : std::nullopt;
}
std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const auto* v = find(key);
  const auto* s = v ? v->to_string() : nullptr;
  return s ? std::optional<std::string>(*s) : std::nullopt;
}

std::optional<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  const auto* v = find(key);
  const auto* a = v ? v->to_array() : nullptr;
  if (!a || v->elem_type != GgufType::kString) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(a->size());
  for (const auto& e : *a) out.push_back(*e.to_string());
  return out;
}

std::optional<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  const auto* v = find(key);
  const auto* a = v ? v->to_array() : nullptr;
  if (!a) return std::nullopt;
  std::vector<float> out;
  out.reserve(a->size());
  for (const auto& e : *a) {
    auto x = e.to_float();
    if (!x) return std::nullopt;
    out.push_back(static_cast<float>(*x));
  }
  return out;
}

std::optional<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const auto* v = find(key);
  const auto* a = v ? v->to_array() : nullptr;
  if (!a) return std::nullopt;
  std::vector<int64_t> out;
  out.reserve(a->size());
  for (const auto& e : *a) {
    auto x = e.to_int();
    if (!x) return std::nullopt;
    out.push_back(*x);
  }
  return out;
}

}  // namespace dseek
