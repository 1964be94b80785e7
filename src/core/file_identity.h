// Whether a write would destroy one of a command's inputs. Paths are compared
// as the files they name (device and inode, after following symbolic links),
// never as strings: `./m.gguf`, a symlink to it and a hard link to it are all
// the same file as `m.gguf`.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace dseek {

// True when both paths exist and name the same file.
bool same_file(const std::string& a, const std::string& b);

// An error when `output` (or the temporary file a write to it goes through)
// is one of `inputs`, or one of the files directly inside an input that is a
// directory (a Hugging Face model folder). `what` names the output in the message.
Status check_output_is_not_input(const std::string& output, const std::vector<std::string>& inputs,
                                 const std::string& what = "the output");

}  // namespace dseek
