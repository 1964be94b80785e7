// GGUF v3 writer (see gguf_writer.h).
#include "format/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/atomic_file.h"

namespace dseek {
namespace {

class Out {
 public:
  explicit Out(std::FILE* f) : f_(f) {}
  template <class T>
  void put(const T& x) { raw(&x, sizeof x); }
  void raw(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n) ok_ = false;
    pos_ += n;
  }
  void str(const std::string& s) {
    put(static_cast<uint64_t>(s.size()));
    raw(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    static const char zeros[64] = {};
    while (pos_ % alignment) raw(zeros, std::min<uint64_t>(64 - pos_ % 64, alignment - pos_ % alignment));
  }
  bool ok() const { return ok_; }

  void value(const GgufValue& v) {
    switch (v.type) {
      case GgufType::kUint8: put(static_cast<uint8_t>(std::get<uint64_t>(v.v))); break;
      case GgufType::kInt8: put(static_cast<int8_t>(std::get<int64_t>(v.v))); break;
      case GgufType::kUint16: put(static_cast<uint16_t>(std::get<uint64_t>(v.v))); break;
      case GgufType::kInt16: put(static_cast<int16_t>(std::get<int64_t>(v.v))); break;
      case GgufType::kUint32: put(static_cast<uint32_t>(std::get<uint64_t>(v.v))); break;
      case GgufType::kInt32: put(static_cast<int32_t>(std::get<int64_t>(v.v))); break;
      case GgufType::kUint64: put(std::get<uint64_t>(v.v)); break;
      case GgufType::kInt64: put(std::get<int64_t>(v.v)); break;
      case GgufType::kFloat32: put(static_cast<float>(std::get<double>(v.v))); break;
      case GgufType::kFloat64: put(std::get<double>(v.v)); break;
      case GgufType::kBool: put(static_cast<uint8_t>(std::get<bool>(v.v) ? 1 : 0)); break;
      case GgufType::kString: str(std::get<std::string>(v.v)); break;
      case GgufType::kArray: {
        const auto& a = std::get<GgufArray>(v.v);
        put(static_cast<uint32_t>(v.elem_type));
        put(static_cast<uint64_t>(a.size()));
        for (const auto& e : a) value(e);
        break;
      }
    }
  }

 private:
  std::FILE* f_;
  uint64_t pos_ = 0;
  bool ok_ = true;
};

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : kv_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(std::string name, DType dtype, std::vector<int64_t> ne) {
  GgufTensorInfo t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.ne = std::move(ne);
  t.n_bytes = dtype_bytes(dtype, t.n_elements()).value_or(0);
  t.offset = tensors_.empty() ? 0 : align_up(tensors_.back().offset + tensors_.back().n_bytes, alignment_);
  tensors_.push_back(std::move(t));
}

uint64_t GgufWriter::total_tensor_bytes() const {
  return tensors_.empty() ? 0 : tensors_.back().offset + tensors_.back().n_bytes;
}

Status GgufWriter::write(const std::string& path, const FillFn& fill, const ProgressFn& progress) const {
  for (const auto& t : tensors_) {
    if (dtype_traits(t.dtype).ggml_id < 0)
      return Status::error(path + ": tensor '" + t.name + "': dtype " + std::string(dtype_name(t.dtype)) +
                           " cannot be stored in GGUF");
    if (t.ne.empty() || t.ne.size() > 4 || t.ne[0] % dtype_traits(t.dtype).block_size != 0)
      return Status::error(path + ": tensor '" + t.name + "' has a shape GGUF cannot store as " +
                           std::string(dtype_name(t.dtype)));
  }
  // The header is a few MiB at most (vocabularies); the tensors are known to the byte.
  if (Status st = check_free_space(path, total_tensor_bytes() + (16ull << 20)); !st.ok()) return st;
  auto file = AtomicFile::create(path);
  if (!file.ok()) return file.status();
  Out out(file->file());
  out.raw("GGUF", 4);
  out.put(uint32_t{3});
  out.put(static_cast<uint64_t>(tensors_.size()));
  const bool has_alignment = [&] {
    for (const auto& kv : kv_) if (kv.first == "general.alignment") return true;
    return false;
  }();
  out.put(static_cast<uint64_t>(kv_.size() + (has_alignment || alignment_ == 32 ? 0 : 1)));
  for (const auto& [k, v] : kv_) {
    out.str(k);
    out.put(static_cast<uint32_t>(v.type));
    out.value(v);
  }
  if (!has_alignment && alignment_ != 32) {
    out.str("general.alignment");
    out.put(static_cast<uint32_t>(GgufType::kUint32));
    out.put(static_cast<uint32_t>(alignment_));
  }
  for (const auto& t : tensors_) {
    out.str(t.name);
    out.put(static_cast<uint32_t>(t.ne.size()));
    for (auto d : t.ne) out.put(static_cast<uint64_t>(d));
    out.put(static_cast<uint32_t>(dtype_traits(t.dtype).ggml_id));
    out.put(t.offset);
  }
  out.pad_to(alignment_);
  std::vector<std::byte> buf;
  const uint64_t total = total_tensor_bytes();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    buf.assign(static_cast<size_t>(t.n_bytes), std::byte{0});
    if (Status st = fill(i, buf); !st.ok()) return st;  // the temporary file goes with `file`
    out.raw(buf.data(), buf.size());
    if (i + 1 < tensors_.size()) out.pad_to(alignment_);
    if (progress) progress(t.offset + t.n_bytes, total);
    if (!out.ok()) break;
  }
  if (!out.ok()) return Status::error(temp_path_for(path) + ": write failed (disk full?): " + std::strerror(errno));
  return file->commit();
}

}  // namespace dseek
