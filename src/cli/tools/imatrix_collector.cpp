// See imatrix_collector.h.
#include "cli/tools/imatrix_collector.h"

#include <algorithm>
#include <cstring>

#include "format/gguf_writer.h"

namespace dseek::cli {

ImatrixCollector::ImatrixCollector(const GgufFile& model) {
  for (const GgufTensorInfo& t : model.tensors()) {
    if (t.ne.size() < 2 || t.ne.size() > 3 || !dtype_traits(t.dtype).is_float) continue;
    const std::span<const std::byte> data = model.tensor_data(t);
    Entry e;
    e.name = t.name;
    e.begin = data.data();
    e.end = data.data() + data.size();
    e.cols = t.ne[0];
    e.slices = t.ne.size() == 3 ? t.ne[2] : 1;
    if (e.cols <= 0 || e.slices <= 0 || data.empty()) continue;
    e.slice_bytes = data.size() / static_cast<uint64_t>(e.slices);
    entries_.push_back(std::move(e));
  }
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (Entry& e : entries_) {
    e.sum2.assign(static_cast<size_t>(e.slices * e.cols), 0.0);
    e.count.assign(static_cast<size_t>(e.slices), 0);
  }
}

void ImatrixCollector::observe(const kernels::MatrixView& w, const float* x, int64_t n_tok) {
  const auto it = std::upper_bound(entries_.begin(), entries_.end(), w.data,
                                   [](const std::byte* p, const Entry& e) { return p < e.begin; });
  if (it == entries_.begin() || w.data >= std::prev(it)->end || std::prev(it)->cols != w.cols) {
    ++unmatched_;
    return;
  }
  Entry& e = *std::prev(it);
  const auto slice = static_cast<int64_t>(static_cast<uint64_t>(w.data - e.begin) / e.slice_bytes);
  double* sum = e.sum2.data() + slice * e.cols;
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* row = x + t * w.cols;
    for (int64_t c = 0; c < w.cols; ++c) sum[c] += static_cast<double>(row[c]) * row[c];
  }
  e.count[static_cast<size_t>(slice)] += n_tok;
}

const ImatrixCollector::Entry* ImatrixCollector::find(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

const std::vector<double>& ImatrixCollector::sum2(const std::string& name) const {
  static const std::vector<double> kNone;
  const Entry* e = find(name);
  return e ? e->sum2 : kNone;
}

const std::vector<int64_t>& ImatrixCollector::counts(const std::string& name) const {
  static const std::vector<int64_t> kNone;
  const Entry* e = find(name);
  return e ? e->count : kNone;
}

int64_t ImatrixCollector::n_matrices_seen() const {
  return std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) {
    return std::any_of(e.count.begin(), e.count.end(), [](int64_t c) { return c > 0; });
  });
}

Status ImatrixCollector::write(const std::string& path, const ImatrixInfo& info) const {
  GgufWriter w;
  w.set("general.type", GgufValue::str("imatrix"));
  w.set("imatrix.datasets", GgufValue::string_array(info.datasets));
  w.set("imatrix.chunk_count", GgufValue::u32(static_cast<uint32_t>(info.chunk_count)));
  w.set("imatrix.chunk_size", GgufValue::u32(static_cast<uint32_t>(info.chunk_size)));
  std::vector<const Entry*> seen;
  for (const Entry& e : entries_)
    if (std::any_of(e.count.begin(), e.count.end(), [](int64_t c) { return c > 0; })) seen.push_back(&e);
  std::sort(seen.begin(), seen.end(), [](const Entry* a, const Entry* b) { return a->name < b->name; });
  for (const Entry* e : seen) {
    w.add_tensor(e->name + ".in_sum2", DType::kF32, {e->cols, e->slices});
    w.add_tensor(e->name + ".counts", DType::kF32, {1, e->slices});
  }
  return w.write(path, [&](size_t i, std::span<std::byte> out) {
    const Entry& e = *seen[i / 2];
    std::vector<float> v;
    if (i % 2 == 0) v.assign(e.sum2.begin(), e.sum2.end());
    else v.assign(e.count.begin(), e.count.end());
    if (v.size() * sizeof(float) != out.size()) return Status::error(e.name + ": imatrix tensor size mismatch");
    std::memcpy(out.data(), v.data(), out.size());
    return ok_status();
  });
}

}  // namespace dseek::cli
