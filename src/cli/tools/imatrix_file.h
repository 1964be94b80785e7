// Reading an importance matrix for `dseek quantize --imatrix FILE`: the GGUF
// files llama.cpp's llama-imatrix writes (per matrix `<name>.in_sum2`, the sum
// of squared inputs per column, for 3-D expert tensors one slice per expert,
// and `<name>.counts`, the calls per slice) and its older .dat format
// (int32 count; per entry int32 name length, name, int32 calls, int32 n,
// n floats; then trailing dataset info, ignored). Values are kept per
// column as mean squares (sum / calls), the weights quantize_row_weighted takes;
// a slice with no calls gets weight 1 per column.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace dseek::cli {

class ImportanceMatrix {
 public:
  static Result<ImportanceMatrix> load(const std::string& path);

  // The weights for row `row` of tensor `name` (GGUF shape `ne`: ne[0] columns,
  // for a 3-D expert tensor ne[1] rows per expert), or nullptr if the file has
  // none of the right length.
  const float* row_weights(const std::string& name, const std::vector<int64_t>& ne, int64_t row) const;
  size_t size() const { return values_.size(); }

 private:
  std::map<std::string, std::vector<float>, std::less<>> values_;  // by tensor name
};

}  // namespace dseek::cli
