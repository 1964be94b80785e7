// Rewriting any GGUF file with its floating-point tensors in another type,
// tensor by tensor, whatever the file holds (a model, a quant zoo, an
// imatrix): `dseek quantize IN OUT --type T` for files that are not a model
// dseek knows. Needs no architecture: names, shapes, order and metadata are
// kept; only the element type (and general.file_type) changes.
#pragma once

#include <string>

#include "core/dtype.h"
#include "core/status.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"

namespace dseek {

// Every float tensor of `in` stored as `type` (a type kernels::can_quantize
// writes); tensors whose rows are not whole blocks of `type` become f32,
// integer tensors are copied. Streams one row at a time.
Status retype_gguf(const GgufFile& in, DType type, const std::string& out_path,
                   const GgufWriter::ProgressFn& progress = nullptr);

}  // namespace dseek
