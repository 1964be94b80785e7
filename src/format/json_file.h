// Reading a JSON file (config.json, tokenizer_config.json, index files) into
// nlohmann::json with an error that names the file and the parse position.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace dseek {

Result<nlohmann::json> read_json_file(const std::string& path);

}  // namespace dseek
