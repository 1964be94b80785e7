// ImportanceMatrix: llama.cpp's imatrix files, GGUF or legacy .dat (imatrix_file.h).
#include "cli/tools/imatrix_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "format/gguf.h"

namespace dseek::cli {
namespace {

constexpr std::string_view kSum2 = ".in_sum2", kCounts = ".counts";

Result<std::map<std::string, std::vector<float>, std::less<>>> load_gguf(const GgufFile& g, const std::string& path) {
  std::map<std::string, std::vector<float>, std::less<>> out;
  for (const auto& t : g.tensors()) {
    if (!t.name.ends_with(kSum2)) continue;
    const std::string name = t.name.substr(0, t.name.size() - kSum2.size());
    const GgufTensorInfo* counts = g.find_tensor(name + std::string(kCounts));
    if (t.dtype != DType::kF32 || !counts || counts->dtype != DType::kF32)
      return Status::error(path + ": " + t.name + " needs f32 data and an f32 " + name + std::string(kCounts));
    const int64_t n = t.n_elements(), slices = counts->n_elements();
    if (slices <= 0 || n % slices != 0) return Status::error(path + ": " + name + ": counts do not divide in_sum2");
    std::vector<float> v(static_cast<size_t>(n)), c(static_cast<size_t>(slices));
    std::memcpy(v.data(), g.tensor_data(t).data(), v.size() * 4);
    std::memcpy(c.data(), g.tensor_data(*counts).data(), c.size() * 4);
    const int64_t per = n / slices;
    // A slice no row reached (an expert the text never routed to) weighs every column alike: the plain error.
    for (int64_t i = 0; i < n; ++i) {
      const float calls = c[static_cast<size_t>(i / per)];
      v[static_cast<size_t>(i)] = calls > 0 ? v[static_cast<size_t>(i)] / calls : 1.0f;
    }
    out[name] = std::move(v);
  }
  return out;
}

Result<std::map<std::string, std::vector<float>, std::less<>>> load_dat(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  auto i32 = [&](int32_t& v) {
    if (pos + 4 > bytes.size()) return false;
    std::memcpy(&v, bytes.data() + pos, 4);
    pos += 4;
    return true;
  };
  std::map<std::string, std::vector<float>, std::less<>> out;
  int32_t n_entries = 0;
  if (!f || !i32(n_entries) || n_entries <= 0) return Status::error(path + ": not an imatrix file (GGUF or llama.cpp .dat)");
  for (int32_t e = 0; e < n_entries; ++e) {
    int32_t len = 0, calls = 0, n = 0;
    if (!i32(len) || len <= 0 || pos + static_cast<size_t>(len) > bytes.size())
      return Status::error(path + ": entry " + std::to_string(e) + ": bad name length");
    std::string name = bytes.substr(pos, static_cast<size_t>(len));
    pos += static_cast<size_t>(len);
    if (!i32(calls) || !i32(n) || n <= 0 || pos + 4 * static_cast<size_t>(n) > bytes.size())
      return Status::error(path + ": entry '" + name + "': truncated");
    std::vector<float> v(static_cast<size_t>(n));
    std::memcpy(v.data(), bytes.data() + pos, v.size() * 4);
    pos += v.size() * 4;
    out[std::move(name)] = std::move(v);  // llama.cpp stores these already averaged (times calls): a common factor
  }
  return out;
}

}  // namespace

Result<ImportanceMatrix> ImportanceMatrix::load(const std::string& path) {
  ImportanceMatrix m;
  if (auto g = GgufFile::open(path); g.ok()) {
    auto v = load_gguf(*g, path);
    if (!v.ok()) return v.status();
    m.values_ = std::move(*v);
  } else {
    auto v = load_dat(path);
    if (!v.ok()) return v.status();
    m.values_ = std::move(*v);
  }
  if (m.values_.empty()) return Status::error(path + ": no importance entries (<name>.in_sum2 tensors)");
  return m;
}

const float* ImportanceMatrix::row_weights(const std::string& name, const std::vector<int64_t>& ne, int64_t row) const {
  const auto it = values_.find(name);
  if (it == values_.end() || ne.empty()) return nullptr;
  const auto cols = static_cast<size_t>(ne[0]);
  const std::vector<float>& v = it->second;
  if (v.size() == cols) return v.data();
  // A 3-D expert tensor: one slice of `cols` per expert, ne[1] rows each.
  if (ne.size() == 3 && v.size() == cols * static_cast<size_t>(ne[2])) return v.data() + cols * static_cast<size_t>(row / ne[1]);
  return nullptr;
}

}  // namespace dseek::cli
