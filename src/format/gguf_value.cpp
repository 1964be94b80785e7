// GgufValue accessors and constructors (see gguf.h).
#include <limits>
#include <sstream>

#include "format/gguf.h"

namespace dseek {

GgufValue GgufValue::string_array(const std::vector<std::string>& items) {
  GgufArray a;
  a.reserve(items.size());
  for (const auto& s : items) a.push_back(str(s));
  return array(GgufType::kString, std::move(a));
}

GgufValue GgufValue::f32_array(const std::vector<float>& items) {
  GgufArray a;
  a.reserve(items.size());
  for (float x : items) a.push_back(f32(x));
  return array(GgufType::kFloat32, std::move(a));
}

GgufValue GgufValue::i32_array(const std::vector<int32_t>& items) {
  GgufArray a;
  a.reserve(items.size());
  for (int32_t x : items) a.push_back(i32(x));
  return array(GgufType::kInt32, std::move(a));
}

std::optional<int64_t> GgufValue::to_int() const {
  if (const auto* u = std::get_if<uint64_t>(&v)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  return std::nullopt;
}

std::optional<double> GgufValue::to_float() const {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<bool> GgufValue::to_bool() const {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  return std::nullopt;
}

const std::string* GgufValue::to_string() const { return std::get_if<std::string>(&v); }
const GgufArray* GgufValue::to_array() const { return std::get_if<GgufArray>(&v); }

std::string GgufValue::summary(size_t max_items) const {
  std::ostringstream s;
  if (const auto* a = to_array()) {
    s << "[" << gguf_type_name(elem_type) << " x " << a->size() << "]";
    if (!a->empty()) {
      s << " ";
      for (size_t i = 0; i < a->size() && i < max_items; ++i) s << (i ? ", " : "") << (*a)[i].summary(0);
      if (a->size() > max_items) s << ", ...";
    }
    return s.str();
  }
  if (const auto* str = to_string()) {
    std::string t = str->size() > 60 ? str->substr(0, 57) + "..." : *str;
    for (char& c : t)
      if (c == '\n') c = ' ';
    s << '"' << t << '"';
    return s.str();
  }
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* d = std::get_if<double>(&v)) {
    s << *d;
    return s.str();
  }
  if (auto i = to_int()) return std::to_string(*i);
  if (const auto* u = std::get_if<uint64_t>(&v)) return std::to_string(*u);
  return "?";
}

}  // namespace dseek
