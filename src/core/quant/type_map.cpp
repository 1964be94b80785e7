// Parsing and applying `--type-map` rules (type_map.h).
#include "core/quant/type_map.h"

namespace dseek {

Result<TensorTypeMap> TensorTypeMap::parse(std::string_view spec, bool (*writable)(DType)) {
  TensorTypeMap map;
  size_t pos = 0;
  while (pos <= spec.size()) {
    const size_t comma = std::min(spec.find(',', pos), spec.size());
    const std::string entry(spec.substr(pos, comma - pos));
    pos = comma + 1;
    if (entry.empty()) {
      if (comma == spec.size()) break;  // a trailing comma
      return Status::error("--type-map: empty entry in '" + std::string(spec) + "'");
    }
    // The type follows the last '=' (a regex may contain '=' itself).
    const size_t eq = entry.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size())
      return Status::error("--type-map: entry '" + entry + "' is not REGEX=TYPE");
    const std::string pattern = entry.substr(0, eq), type_name = entry.substr(eq + 1);
    const auto type = dtype_from_name(type_name);
    if (!type) return Status::error("--type-map: unknown type '" + type_name + "' in entry '" + entry + "'");
    if (!writable(*type))
      return Status::error("--type-map: type '" + type_name + "' in entry '" + entry + "' is not a type dseek can write");
    try {
      map.rules_.push_back({pattern, std::regex(pattern, std::regex::ECMAScript), *type});
    } catch (const std::regex_error& e) {
      return Status::error("--type-map: bad regular expression '" + pattern + "' in entry '" + entry + "': " + e.what());
    }
  }
  if (map.rules_.empty()) return Status::error("--type-map: no REGEX=TYPE entries in '" + std::string(spec) + "'");
  return map;
}

DType TensorTypeMap::type_of(const std::string& name, DType fallback) const {
  for (const Rule& r : rules_)
    if (std::regex_search(name, r.re)) return r.type;
  return fallback;
}

}  // namespace dseek
