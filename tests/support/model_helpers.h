// Header-only helpers for tests that link the model library: loading a model
// in one call, and reading llama2.c reference id lists ("prompt_ids: 1 403 ...").
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "model/model.h"
#include "support/test_support.h"

namespace dseek::test {

inline std::shared_ptr<const Model> load_model_or_fail(const std::string& path) {
  auto files = open_model_files(path);
  EXPECT_TRUE(files.ok()) << files.message();
  if (!files.ok()) return nullptr;
  auto m = load_model(std::make_shared<const ModelFiles>(std::move(files).value()));
  EXPECT_TRUE(m.ok()) << m.message();
  return m.ok() ? m.value() : nullptr;
}

// `dseek init --arch ARCH --preset PRESET --dtype DTYPE` into dir/m.gguf, loaded;
// null (with the failure recorded) when either step fails.
inline std::shared_ptr<const Model> init_and_load(const TempDir& dir, const std::string& arch,
                                                  const std::string& preset, const std::string& dtype) {
  const std::string path = (dir / "m.gguf").string();
  auto r = run_dseek("init --arch " + arch + " --preset " + preset + " --dtype " + dtype + " -o '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? load_model_or_fail(path) : nullptr;
}

// The ids on the line that starts with `key` in a llama2.c .ids reference file.
inline std::vector<int32_t> ids_after(const std::string& text, const std::string& key) {
  std::vector<int32_t> ids;
  const auto p = text.find(key);
  if (p == std::string::npos) return ids;
  std::istringstream in(text.substr(p + key.size(), text.find('\n', p) - p - key.size()));
  for (int32_t v; in >> v;) ids.push_back(v);
  return ids;
}

}  // namespace dseek::test
