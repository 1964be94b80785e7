// What every rank of an --ep job must share: the same dseek binary and the
// same model. Each rank hashes its own executable and its model's
// description (the GGUF header with its metadata and tensor table, and the
// shapes of the routed experts); the ranks compare the hashes at start.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "model/model.h"

namespace dseek::dist {

struct Fingerprint {
  uint64_t binary = 0;  // FNV-1a of /proc/self/exe
  uint64_t model = 0;   // FNV-1a of the model's header and expert shapes
};

Result<Fingerprint> fingerprint(const ModelFiles& files, const Model& model);

}  // namespace dseek::dist
