// ImatrixCollector: what `dseek imatrix` runs a model with. As the model's
// LinearObserver (model/blocks/linear.h) it finds each linear input's weight
// tensor by where the weight's bytes lie in the GGUF file, and per input
// column adds the squared activations (float64) and per matrix the rows seen;
// a 3-D expert tensor keeps one column vector and one count per expert, fed
// only by the rows routed to that expert. write() stores them as llama.cpp's
// llama-imatrix does (`<name>.in_sum2` f32 [cols x slices], `<name>.counts`
// f32 [1 x slices], general.type = "imatrix"), the form ImportanceMatrix reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "format/gguf.h"
#include "model/blocks/linear.h"

namespace dseek::cli {

// What the file records about its making (llama.cpp's imatrix.* keys).
struct ImatrixInfo {
  std::vector<std::string> datasets;  // the text files
  int64_t chunk_count = 0, chunk_size = 0;
};

class ImatrixCollector final : public LinearObserver {
 public:
  // Every 2-D and 3-D tensor of `model` (which must outlive the collector and
  // be the file the observed model's weights are mapped from).
  explicit ImatrixCollector(const GgufFile& model);

  void observe(const kernels::MatrixView& w, const float* x, int64_t n_tok) override;

  // The sums for tensor `name`: [slices x cols] and the rows per slice (empty if unknown).
  const std::vector<double>& sum2(const std::string& name) const;
  const std::vector<int64_t>& counts(const std::string& name) const;
  int64_t n_matrices_seen() const;
  int64_t unmatched_calls() const { return unmatched_; }  // weights not in the file (converted at load)

  Status write(const std::string& path, const ImatrixInfo& info) const;

 private:
  struct Entry {
    std::string name;
    const std::byte* begin = nullptr;
    const std::byte* end = nullptr;
    uint64_t slice_bytes = 0;  // one expert of a 3-D tensor; the whole tensor otherwise
    int64_t cols = 0, slices = 1;
    std::vector<double> sum2;    // [slices x cols]
    std::vector<int64_t> count;  // [slices]
  };
  const Entry* find(const std::string& name) const;

  std::vector<Entry> entries_;  // by begin address
  int64_t unmatched_ = 0;
};

}  // namespace dseek::cli
