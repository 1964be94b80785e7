// See fingerprint.h.
#include "dist/fingerprint.h"

#include <algorithm>
#include <fstream>
#include <vector>

#include "model/blocks/moe.h"

namespace dseek::dist {
namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull, kFnvPrime = 1099511628211ull;

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}

template <class T>
uint64_t fnv1a_value(uint64_t h, T v) {
  return fnv1a(h, &v, sizeof v);
}

Result<uint64_t> hash_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(std::string("cannot read ") + path + " to fingerprint the binary");
  uint64_t h = kFnvOffset;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h = fnv1a(h, buf.data(), static_cast<size_t>(in.gcount()));
  }
  return h;
}

uint64_t hash_matrix(uint64_t h, const kernels::MatrixView& m) {
  h = fnv1a_value(h, static_cast<int>(m.dtype));
  h = fnv1a_value(h, m.rows);
  h = fnv1a_value(h, m.cols);
  return fnv1a_value(h, m.row_bytes);
}

}  // namespace

Result<Fingerprint> fingerprint(const ModelFiles& files, const Model& model) {
  Fingerprint f;
  auto bin = hash_file("/proc/self/exe");
  if (!bin.ok()) return bin.status();
  f.binary = *bin;
  uint64_t h = kFnvOffset;
  if (files.gguf) {  // its sizes, metadata keys and tensor table (names, types, offsets, sizes)
    const GgufFile& g = *files.gguf;
    h = fnv1a_value(fnv1a_value(h, g.file_size()), g.data_offset());
    for (const auto& kv : g.metadata()) h = fnv1a(h, kv.first.data(), kv.first.size() + 1);
    for (const GgufTensorInfo& t : g.tensors()) {
      h = fnv1a(h, t.name.data(), t.name.size() + 1);
      h = fnv1a_value(fnv1a_value(fnv1a_value(h, static_cast<int>(t.dtype)), t.offset), t.n_bytes);
    }
  }
  for (const MoeWeights* m : model.moe_layers()) {
    h = fnv1a_value(h, m ? m->experts.size() : size_t{0});
    if (!m) continue;
    for (const MlpWeights& e : m->experts) h = hash_matrix(hash_matrix(hash_matrix(h, e.gate), e.up), e.down);
  }
  f.model = fnv1a_value(h, model.n_vocab());
  return f;
}

}  // namespace dseek::dist
