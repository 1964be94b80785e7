// An architecture's hyper-parameters as data: one row per field with its
// GGUF key (after "<arch>."), its Hugging Face config.json key, its default,
// whether each format requires it, its valid range and how it is written.
// One table drives the GGUF reader, the config.json reader, the GGUF writer
// (rows in writer order: a file's key order is part of its bytes) and the
// range checks. Fields that are not a plain key (derived values, enums,
// sub-objects) take small hooks in their row.
#pragma once

#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "model/arch_util.h"

namespace dseek {

enum class ParamType { kU32, kF32, kBool };

// Bounds no real model reaches and a damaged or hostile file may claim. Every
// size a file declares gets one, so that nothing downstream allocates or
// loops on a value like a 2^31-token context (terabytes of attention cache).
namespace hparam_limit {
inline constexpr double kContext = 1 << 24;   // positions (the longest real contexts: ~10 M)
inline constexpr double kWidth = 1 << 20;     // embedding, feed-forward and latent sizes
inline constexpr double kHeads = 4096;        // attention heads
inline constexpr double kHeadDim = 8192;      // one head's key / value / rope width
inline constexpr double kLayers = 4096;
inline constexpr double kExperts = 65536;     // routed experts, groups and those used per token
inline constexpr double kRopeTheta = 1e12;    // RoPE base frequency
inline constexpr double kScale = 1e6;         // multipliers (expert weight scale, YaRN factor)
}  // namespace hparam_limit

template <class H>
struct HParam {
  std::string_view name;                 // the field's name in messages
  std::string_view gguf;                 // key after "<arch>."; "" if GGUF has none
  std::string_view hf;                   // config.json key; "" if config.json has none
  int64_t H::*i = nullptr;               // the field: an integer,
  double H::*r = nullptr;                //   a real
  bool H::*b = nullptr;                  //   or a boolean
  double def = 0;                        // when the key is absent (and not required)
  bool gguf_required = false, hf_required = false;
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  ParamType type = ParamType::kU32;
  bool write_if_positive = false;        // written only when > 0 (an optional feature)
  // Hooks for what is not a plain key; each replaces the plain handling in its direction.
  void (*read_gguf)(const GgufFile& f, GgufKeys& k, H& h) = nullptr;  // after all plain rows
  void (*read_hf)(const nlohmann::json& c, JsonKeys& k, H& h) = nullptr;
  void (*write)(const H& h, const std::string& prefix, GgufWriter& w) = nullptr;
  bool write_none = false;               // read-only row (nothing written)
};

template <class H>
void read_gguf_hparams(std::span<const HParam<H>> table, const GgufFile& f, GgufKeys& k, H& h) {
  for (const HParam<H>& p : table) {
    if (p.gguf.empty() || p.read_gguf) continue;
    const std::string key(p.gguf);
    if (p.i) h.*p.i = p.gguf_required ? k.integer(key) : k.integer(key, static_cast<int64_t>(p.def));
    else if (p.r) h.*p.r = k.real(key, p.def);
    else if (p.b) h.*p.b = k.boolean(key, p.def != 0);
  }
  for (const HParam<H>& p : table)
    if (p.read_gguf) p.read_gguf(f, k, h);
}

template <class H>
void read_hf_hparams(std::span<const HParam<H>> table, const nlohmann::json& c, JsonKeys& k, H& h) {
  for (const HParam<H>& p : table) {
    if (p.read_hf) {
      p.read_hf(c, k, h);
      continue;
    }
    if (p.hf.empty()) continue;
    const std::string key(p.hf);
    if (p.i) h.*p.i = p.hf_required ? k.integer(key) : k.integer(key, static_cast<int64_t>(p.def));
    else if (p.r) h.*p.r = k.real(key, p.def);
    else if (p.b) h.*p.b = k.boolean(key, p.def != 0);
  }
}

template <class H>
void write_gguf_hparams(std::span<const HParam<H>> table, const std::string& prefix, const H& h, GgufWriter& w) {
  for (const HParam<H>& p : table) {
    if (p.write_none) continue;
    if (p.write) {
      p.write(h, prefix, w);
      continue;
    }
    const std::string key = prefix + std::string(p.gguf);
    const double v = p.i ? static_cast<double>(h.*p.i) : p.r ? h.*p.r : (h.*p.b ? 1.0 : 0.0);
    if (p.write_if_positive && !(v > 0)) continue;
    if (p.type == ParamType::kBool) w.set(key, GgufValue::boolean(h.*p.b));
    else if (p.type == ParamType::kF32) w.set(key, GgufValue::f32(static_cast<float>(h.*p.r)));
    else w.set(key, GgufValue::u32(static_cast<uint32_t>(h.*p.i)));
  }
}

// The first field outside its range, as "<where>: <name> (<keys>) is V, outside lo..hi".
template <class H>
Status check_hparam_ranges(std::span<const HParam<H>> table, const H& h, const std::string& where) {
  for (const HParam<H>& p : table) {
    if (!p.i && !p.r) continue;
    const double v = p.i ? static_cast<double>(h.*p.i) : h.*p.r;
    if (v >= p.lo && v <= p.hi) continue;
    auto num = [](double x) {
      if (std::isinf(x)) return std::string(x < 0 ? "-inf" : "inf");
      return x == std::floor(x) && std::abs(x) < 1e15 ? std::to_string(static_cast<int64_t>(x)) : std::to_string(x);
    };
    std::string keys;
    for (std::string_view key : {p.gguf, p.hf})
      if (!key.empty()) keys += (keys.empty() ? "" : " / ") + std::string(key);
    return Status::error(where + ": " + std::string(p.name) + (keys.empty() ? "" : " (" + keys + ")") + " is " + num(v) +
                         ", outside " + num(p.lo) + ".." + num(p.hi));
  }
  return ok_status();
}

// GGUF block_count counts the MTP (nextn) layers too (llama.cpp's convention):
// hooks for the n_layer row of an architecture whose H has n_layer and n_mtp.
template <class H>
void write_block_count_with_mtp(const H& h, const std::string& a, GgufWriter& w) {
  w.set(a + "block_count", GgufValue::u32(static_cast<uint32_t>(h.n_layer + h.n_mtp)));
}
template <class H>
void read_block_count_with_mtp(const GgufFile&, GgufKeys& k, H& h) {
  h.n_layer = k.integer("block_count") - h.n_mtp;
}

}  // namespace dseek
