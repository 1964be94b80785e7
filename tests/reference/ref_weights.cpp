// Reference-internal: GGUF tensors into float64 (via dequantize_row, the file
// format's own definition of each stored type) with shape checks, and metadata
// look-ups keyed by the architecture prefix. No model arithmetic here.
#include "reference/ref_weights.h"

#include <sstream>

#include "kernels/kernels.h"

namespace dseek::reference {
namespace {

std::string shape_string(const std::vector<int64_t>& ne) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < ne.size(); ++i) o << (i ? ", " : "") << ne[i];
  o << "]";
  return o.str();
}

}  // namespace

Result<WeightReader> WeightReader::open(const std::string& path, const std::string& key_prefix) {
  auto f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  return WeightReader(std::move(f).value(), key_prefix);
}

void WeightReader::fail(const std::string& what) {
  if (status_.ok()) status_ = Status::error(file_.path() + ": " + what);
}

Tensor WeightReader::tensor(const std::string& name, const std::vector<int64_t>& expected_ne) {
  const GgufTensorInfo* info = file_.find_tensor(name);
  if (!info) {
    fail("missing tensor '" + name + "'");
    return {};
  }
  if (info->ne != expected_ne) {
    fail("tensor '" + name + "' has shape " + shape_string(info->ne) + ", the hyper-parameters say " +
         shape_string(expected_ne));
    return {};
  }
  if (!dtype_traits(info->dtype).is_float) {
    fail("tensor '" + name + "' has non-float type " + std::string(dtype_name(info->dtype)));
    return {};
  }
  const int64_t cols = info->ne.empty() ? 1 : info->ne[0];
  const auto row_bytes = dtype_bytes(info->dtype, cols);
  if (cols <= 0 || !row_bytes) {
    fail("tensor '" + name + "': rows are not a whole number of blocks");
    return {};
  }
  Tensor t{info->ne, Vec(static_cast<size_t>(info->n_elements()))};
  t.int8_acts = info->dtype == DType::kQ8_0 || info->dtype == DType::kQ4_K || info->dtype == DType::kQ6_K;
  const int64_t rows = info->n_elements() / cols;
  const std::byte* src = file_.tensor_data(*info).data();
  std::vector<float> buf(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {  // one row of ne[0] values at a time, blocks never straddle rows
    kernels::dequantize_row(info->dtype, src + r * *row_bytes, buf.data(), cols);
    for (int64_t c = 0; c < cols; ++c) t.data[static_cast<size_t>(r * cols + c)] = buf[static_cast<size_t>(c)];
  }
  return t;
}

int64_t WeightReader::integer(const std::string& key) {
  auto v = file_.get_int(prefix_ + key);
  if (!v) fail("missing or non-integer key '" + prefix_ + key + "'");
  return v.value_or(0);
}

int64_t WeightReader::integer(const std::string& key, int64_t fallback) {
  return file_.get_int(prefix_ + key).value_or(fallback);
}

double WeightReader::real(const std::string& key, double fallback) {
  return file_.get_float(prefix_ + key).value_or(fallback);
}

bool WeightReader::boolean(const std::string& key, bool fallback) {
  return file_.get_bool(prefix_ + key).value_or(fallback);
}

std::string WeightReader::string(const std::string& key, const std::string& fallback) {
  return file_.get_string(prefix_ + key).value_or(fallback);
}

}  // namespace dseek::reference
