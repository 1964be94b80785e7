// Helpers shared by the arch files: typed hyper-parameter lookups over GGUF
// keys or config.json that remember the first missing/mistyped key (so a parser
// reads straight through and checks once), and TensorSpec shorthands.
#pragma once

#include <charconv>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "format/gguf.h"
#include "model/arch.h"

namespace dseek {

class GgufKeys {
 public:
  GgufKeys(const GgufFile& f, std::string prefix) : f_(f), prefix_(std::move(prefix)) {}
  int64_t integer(const std::string& key) { return integer_impl(key, true, 0); }
  int64_t integer(const std::string& key, int64_t fallback) { return integer_impl(key, false, fallback); }
  double real(const std::string& key, double fallback) {
    auto v = f_.get_float(prefix_ + key);
    return v ? *v : fallback;
  }
  bool boolean(const std::string& key, bool fallback) {
    auto v = f_.get_bool(prefix_ + key);
    return v ? *v : fallback;
  }
  std::string string(const std::string& key) { return f_.get_string(prefix_ + key).value_or(""); }
  bool ok() const { return error_.ok(); }
  const Status& status() const { return error_; }

 private:
  int64_t integer_impl(const std::string& key, bool required, int64_t fallback) {
    const auto* v = f_.find(prefix_ + key);
    if (!v) {
      if (required && error_.ok()) error_ = Status::error(f_.path() + ": missing metadata key '" + prefix_ + key + "'");
      return fallback;
    }
    auto i = v->to_int();
    if (!i) {
      if (error_.ok()) error_ = Status::error(f_.path() + ": metadata key '" + prefix_ + key + "' is not an integer");
      return fallback;
    }
    return *i;
  }
  const GgufFile& f_;
  std::string prefix_;
  Status error_;
};

class JsonKeys {
 public:
  JsonKeys(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}
  int64_t integer(const std::string& key) { return integer_impl(key, true, 0); }
  int64_t integer(const std::string& key, int64_t fallback) { return integer_impl(key, false, fallback); }
  double real(const std::string& key, double fallback) {
    if (!j_.contains(key) || j_[key].is_null()) return fallback;
    if (!j_[key].is_number()) return fail(key, "is not a number"), fallback;
    return j_[key].get<double>();
  }
  bool boolean(const std::string& key, bool fallback) {
    if (!j_.contains(key) || j_[key].is_null()) return fallback;
    if (!j_[key].is_boolean()) return fail(key, "is not a boolean"), fallback;
    return j_[key].get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback) {
    if (!j_.contains(key) || j_[key].is_null()) return fallback;
    if (!j_[key].is_string()) return fail(key, "is not a string"), fallback;
    return j_[key].get<std::string>();
  }
  bool ok() const { return error_.ok(); }
  const Status& status() const { return error_; }
  // Records an error found elsewhere (a nested object's reader), unless one is already recorded.
  void fail_with(const Status& st) {
    if (error_.ok()) error_ = st;
  }

 private:
  int64_t integer_impl(const std::string& key, bool required, int64_t fallback) {
    if (!j_.contains(key) || j_[key].is_null()) {
      if (required) fail(key, "is missing");
      return fallback;
    }
    if (!j_[key].is_number_integer()) return fail(key, "is not an integer"), fallback;
    return j_[key].get<int64_t>();
  }
  void fail(const std::string& key, const std::string& what) {
    if (error_.ok()) error_ = Status::error(where_ + ": key '" + key + "' " + what);
  }
  const nlohmann::json& j_;
  std::string where_;
  Status error_;
};

inline TensorSpec spec(std::string gguf, std::string hf, std::vector<int64_t> ne, TensorInit init, int64_t fan_in) {
  TensorSpec s;
  s.gguf_name = std::move(gguf);
  s.hf_name = std::move(hf);
  s.ne = std::move(ne);
  s.init = init;
  s.fan_in = fan_in;
  s.quantizable = init == TensorInit::kMatrix || init == TensorInit::kEmbedding || init == TensorInit::kOutputHead;
  return s;
}

inline TensorSpec norm(std::string gguf, std::string hf, int64_t n) {
  return spec(std::move(gguf), std::move(hf), {n}, TensorInit::kNormWeight, 1);
}

// Layer tensors are named "<prefix>N.<slot name>" in each format.
constexpr std::string_view kGgufLayerPrefix = "blk.", kHfLayerPrefix = "model.layers.";

// The layer number in a GGUF or HF layer tensor's name, -1 if none.
inline int64_t layer_index(std::string_view name) {
  for (std::string_view prefix : {kGgufLayerPrefix, kHfLayerPrefix}) {
    if (name.substr(0, prefix.size()) != prefix) continue;
    int64_t n = -1;
    auto r = std::from_chars(name.data() + prefix.size(), name.data() + name.size(), n);
    return r.ec == std::errc() ? n : -1;
  }
  return -1;
}

}  // namespace dseek
