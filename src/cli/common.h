// Small helpers every subcommand uses: uniform error output and CLI11 parsing
// that maps usage errors to exit code 2.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <string>

#include "core/status.h"
#include "model/model.h"

namespace dseek::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// Prints "dseek: error: <message>" on stderr and returns kExitBadInput.
inline int report(const Status& s) {
  std::fprintf(stderr, "dseek: error: %s\n", s.message().c_str());
  return kExitBadInput;
}
inline int report(const std::string& message) { return report(Status::error(message)); }

// Parses argv with CLI11. Returns -1 to continue, else the exit code to return
// (0 after --help, 2 after a usage error).
inline int parse_args(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::fputs(app.help().c_str(), stdout);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "dseek %s: %s\nRun 'dseek %s --help' for usage.\n", app.get_name().c_str(),
                 e.what(), app.get_name().c_str());
    return kExitBadInput;
  }
  return -1;
}

// `--mode naive|absorbed|auto` (MLA attention form), shared by the commands that take it.
inline constexpr const char* kAttentionModeHelp = "MLA attention form: naive | absorbed | auto";
inline bool parse_attention_mode(const std::string& name, AttentionMode* mode) {
  if (name == "naive") *mode = AttentionMode::kNaive;
  else if (name == "absorbed") *mode = AttentionMode::kAbsorbed;
  else if (name == "auto") *mode = AttentionMode::kAuto;
  else return false;
  return true;
}

// `--cache-type f32|bf16|fp8`: how MLA models store their latent cache (kernels/cache_rows.h).
inline CLI::Option* add_cache_type_option(CLI::App& app, KvCacheType* type) {
  static const std::map<std::string, KvCacheType> kNames{
      {"f32", KvCacheType::kF32}, {"bf16", KvCacheType::kBf16}, {"fp8", KvCacheType::kFp8}};
  return app.add_option("--cache-type", *type, "MLA latent cache storage: f32 | bf16 | fp8 (DeepSeek models)")
      ->transform(CLI::CheckedTransformer(kNames))
      ->default_str("f32");
}

}  // namespace dseek::cli
