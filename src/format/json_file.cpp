// See json_file.h.
#include "format/json_file.h"

#include <fstream>
#include <sstream>

namespace dseek {

Result<nlohmann::json> read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(path + ": cannot open");
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Status::error(path + ": offset " + std::to_string(e.byte) + ": invalid JSON: " + e.what());
  }
}

}  // namespace dseek
