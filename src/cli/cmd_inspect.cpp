// `dseek inspect PATH`: what a model file or directory holds — format,
// architecture, hyper-parameters, tokenizer summary, tensor table, total and
// active-per-token parameter counts. `--json` for scripts.
#include <cinttypes>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "model/model_files.h"

namespace dseek::cli {
namespace {

std::string human_count(int64_t n) {
  char buf[32];
  if (n >= 1'000'000'000) std::snprintf(buf, sizeof buf, "%.2f B", static_cast<double>(n) / 1e9);
  else if (n >= 1'000'000) std::snprintf(buf, sizeof buf, "%.2f M", static_cast<double>(n) / 1e6);
  else if (n >= 1'000) std::snprintf(buf, sizeof buf, "%.2f K", static_cast<double>(n) / 1e3);
  else std::snprintf(buf, sizeof buf, "%" PRId64, n);
  return buf;
}

std::string human_bytes(uint64_t n) {
  char buf[32];
  const double x = static_cast<double>(n);
  if (n >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", x / (1ull << 30));
  else if (n >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", x / (1ull << 20));
  else if (n >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", x / 1024);
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " B", n);
  return buf;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Tokenizer summary from GGUF metadata or tokenizer.json, as JSON.
nlohmann::json tokenizer_summary(const ModelFiles& m) {
  nlohmann::json t = nlohmann::json::object();
  if (m.gguf) {
    const auto& g = *m.gguf;
    if (!g.find("tokenizer.ggml.model")) return t;
    t["model"] = g.get_string("tokenizer.ggml.model").value_or("");
    t["pre"] = g.get_string("tokenizer.ggml.pre").value_or("");
    if (const auto* v = g.find("tokenizer.ggml.tokens"); v && v->to_array()) t["tokens"] = v->to_array()->size();
    if (const auto* v = g.find("tokenizer.ggml.merges"); v && v->to_array()) t["merges"] = v->to_array()->size();
    const auto toks = g.find("tokenizer.ggml.tokens");
    for (const char* which : {"bos", "eos"}) {
      auto id = g.get_int(std::string("tokenizer.ggml.") + which + "_token_id");
      if (!id) continue;
      t[std::string(which) + "_id"] = *id;
      if (toks && toks->to_array() && *id >= 0 && static_cast<size_t>(*id) < toks->to_array()->size())
        t[std::string(which) + "_token"] = *(*toks->to_array())[static_cast<size_t>(*id)].to_string();
    }
    if (auto tmpl = g.get_string("tokenizer.chat_template")) t["chat_template_chars"] = tmpl->size();
    return t;
  }
  if (!m.tokenizer_json.empty()) t["file"] = m.tokenizer_json;
  if (m.tokenizer_config) {
    const auto& c = *m.tokenizer_config;
    for (const char* k : {"bos_token", "eos_token"}) {
      if (!c.contains(k)) continue;
      const auto& v = c[k];
      if (v.is_string()) t[k] = v;
      else if (v.is_object() && v.contains("content")) t[k] = v["content"];
    }
    if (c.contains("chat_template") && c["chat_template"].is_string())
      t["chat_template_chars"] = c["chat_template"].get<std::string>().size();
  }
  return t;
}

nlohmann::json build_report(const ModelFiles& m) {
  nlohmann::json r;
  r["path"] = m.path;
  if (m.gguf) {
    r["format"] = "gguf";
    r["gguf_version"] = m.gguf->version();
    r["alignment"] = m.gguf->alignment();
    r["file_bytes"] = m.gguf->file_size();
    r["metadata_keys"] = m.gguf->metadata().size();
  } else {
    r["format"] = "safetensors";
    r["files"] = m.safetensors->files();
  }
  if (m.arch) {
    r["architecture"] = m.arch->name();
    r["gguf_architecture"] = m.arch->gguf_arch();
    nlohmann::json hp = nlohmann::json::array();
    for (const auto& [k, v] : m.arch->describe()) hp.push_back({k, v});
    r["hyper_parameters"] = hp;
  } else {
    r["architecture"] = nullptr;
    r["architecture_note"] = m.arch_error;
  }
  r["tokenizer"] = tokenizer_summary(m);
  nlohmann::json tensors = nlohmann::json::array();
  std::vector<std::pair<std::string, int64_t>> counted;
  std::map<std::string, uint64_t> bytes_by_dtype;
  uint64_t total_bytes = 0;
  for (const auto& t : m.weights.tensors()) {
    tensors.push_back({{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"bytes", t.data.size()}});
    total_bytes += t.data.size();
    bytes_by_dtype[std::string(dtype_name(t.dtype))] += t.data.size();
    // FP8 block scales are metadata of the weight beside them, not parameters.
    if (t.name.size() < 16 || t.name.substr(t.name.size() - 16) != "weight_scale_inv") counted.emplace_back(t.name, t.n_elements());
  }
  r["tensors"] = tensors;
  r["tensor_bytes"] = total_bytes;
  r["bytes_by_dtype"] = bytes_by_dtype;
  if (m.arch) {
    const ParamCounts c = count_params(*m.arch, counted);
    r["parameters"] = {{"total", c.total}, {"mtp", c.mtp}, {"active_per_token", c.active}};
  } else {
    int64_t total = 0;
    for (const auto& [n, k] : counted) total += k;
    r["parameters"] = {{"total", total}};
  }
  return r;
}

void print_text(const nlohmann::json& r, bool show_tensors) {
  std::printf("file:          %s\n", r["path"].get<std::string>().c_str());
  if (r["format"] == "gguf")
    std::printf("format:        GGUF v%u, %s, alignment %" PRIu64 ", %zu metadata keys\n", r["gguf_version"].get<uint32_t>(),
                human_bytes(r["file_bytes"].get<uint64_t>()).c_str(), r["alignment"].get<uint64_t>(),
                r["metadata_keys"].get<size_t>());
  else
    std::printf("format:        safetensors, %zu file(s)\n", r["files"].size());
  if (r["architecture"].is_null()) {
    std::printf("architecture:  none (%s)\n", r["architecture_note"].get<std::string>().c_str());
  } else {
    std::printf("architecture:  %s (GGUF name %s)\n", r["architecture"].get<std::string>().c_str(),
                r["gguf_architecture"].get<std::string>().c_str());
    std::printf("hyper-parameters:\n");
    for (const auto& kv : r["hyper_parameters"])
      std::printf("  %-26s %s\n", kv[0].get<std::string>().c_str(), kv[1].get<std::string>().c_str());
  }
  const auto& t = r["tokenizer"];
  if (t.empty()) {
    std::printf("tokenizer:     none\n");
  } else {
    std::printf("tokenizer:\n");
    for (const auto& [k, v] : t.items())
      std::printf("  %-26s %s\n", k.c_str(), v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
  }
  if (r["tensors"].empty()) {
    std::printf("weights:       none (a vocabulary-only file: tokenizer and hyper-parameters, no tensors)\n");
    return;
  }
  const auto& p = r["parameters"];
  std::printf("parameters:    %s total", human_count(p["total"].get<int64_t>()).c_str());
  if (p.contains("active_per_token")) {
    if (p["mtp"].get<int64_t>() > 0) std::printf(" (of which MTP %s)", human_count(p["mtp"].get<int64_t>()).c_str());
    std::printf(", %s active per token", human_count(p["active_per_token"].get<int64_t>()).c_str());
  }
  std::printf("\nweights:       %s in %zu tensors (", human_bytes(r["tensor_bytes"].get<uint64_t>()).c_str(), r["tensors"].size());
  bool first = true;
  for (const auto& [k, v] : r["bytes_by_dtype"].items()) {
    std::printf("%s%s %s", first ? "" : ", ", k.c_str(), human_bytes(v.get<uint64_t>()).c_str());
    first = false;
  }
  std::printf(")\n");
  if (!show_tensors) return;
  std::printf("tensors (shape row-major, outermost first):\n");
  std::printf("  %-48s %-8s %-22s %s\n", "name", "dtype", "shape", "bytes");
  for (const auto& x : r["tensors"])
    std::printf("  %-48s %-8s %-22s %s\n", x["name"].get<std::string>().c_str(), x["dtype"].get<std::string>().c_str(),
                shape_str(x["shape"].get<std::vector<int64_t>>()).c_str(), human_bytes(x["bytes"].get<uint64_t>()).c_str());
}

// A GGUF whose hyper-parameters are out of range (or otherwise unusable) is
// still described, weights and all, with the reason as a warning: inspect is
// where one looks at a file that will not load.
Result<ModelFiles> open_for_inspection(const std::string& path) {
  auto m = open_model_files(path);
  if (m.ok()) return m;
  auto gguf = GgufFile::open(path);
  if (!gguf.ok()) return m.status();
  std::fprintf(stderr, "dseek: warning: %s\n", m.message().c_str());
  ModelFiles files;
  files.path = path;
  auto shared = std::make_shared<const GgufFile>(std::move(gguf).value());
  files.gguf = shared;
  files.weights = WeightSource::from_gguf(shared);
  files.arch_error = m.message();
  return files;
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  CLI::App app("Describe a model: a GGUF file, a .safetensors file or a Hugging Face model directory.", "inspect");
  std::string path;
  bool json = false, no_tensors = false;
  app.add_option("path", path, "GGUF file, .safetensors file or model directory")->required();
  app.add_flag("--json", json, "machine-readable JSON on stdout");
  app.add_flag("--no-tensors", no_tensors, "omit the tensor table");
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;

  auto m = open_for_inspection(path);
  if (!m.ok()) return report(m.status());
  const nlohmann::json r = build_report(*m);
  if (json) {
    nlohmann::json out = r;
    if (no_tensors) out.erase("tensors");
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    print_text(r, !no_tensors);
  }
  return kExitOk;
}

}  // namespace dseek::cli
