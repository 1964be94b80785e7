// libFuzzer target: the JSON-schema compiler and GrammarState. Input: a schema
// (JSON text), a NUL byte, then a document. Checks: compiling never crashes
// (a refusal is fine); feeding the document byte by byte and whole agree; a
// complete accepted document is valid JSON; the token masker agrees with
// accepts() on a small vocabulary.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/json_schema.h"
#include "runtime/json_schema_checker.h"
#include "runtime/token_trie.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

const std::vector<std::string> kVocab = {"{", "}", "[", "]", "\"", ":", ",", " ", "a", "\":", "1", "-", ".5", "true", "null", "\"a\"", "é", "\\n"};

void check_mask(const dseek::GrammarState& s, dseek::GrammarMasker& m) {
  std::vector<float> logits(kVocab.size(), 0.0f);
  m.mask(s, {}, logits.data());
  for (size_t i = 0; i < kVocab.size(); ++i) check((logits[i] == 0.0f) == s.accepts(kVocab[i]));
}

// A complete document is JSON text. RFC 8259's grammar allows numbers beyond a
// double's range (JavaScript's JSON.parse gives Infinity, Python's json.loads
// inf); nlohmann refuses them with out_of_range 406, which is the one refusal
// that does not mean the text is malformed.
bool json_text(std::string_view doc) {
  try {
    (void)nlohmann::json::parse(doc);
    return true;
  } catch (const nlohmann::json::out_of_range& e) {
    return e.id == 406;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  if (nul == std::string_view::npos || nul > 4096) return 0;
  nlohmann::json schema;
  try {
    schema = nlohmann::json::parse(in.substr(0, nul));
  } catch (const nlohmann::json::exception&) {
    return 0;
  }
  auto g = dseek::compile_json_schema(schema, dseek::SchemaOptions{(size & 1) != 0});
  if (!g.ok()) return 0;
  // States point into their grammar: it must not move after they are made.
  auto grammar = std::make_shared<const dseek::Grammar>(std::move(g).value());
  const std::string_view doc = in.substr(nul + 1);
  dseek::GrammarState whole(*grammar), bytes(*grammar);
  const bool all = whole.feed(doc);
  size_t fed = 0;
  for (char c : doc) {
    if (!bytes.feed(std::string_view(&c, 1))) break;
    ++fed;
  }
  check(all == (fed == doc.size()));
  if (all && whole.complete()) check(json_text(doc));
  auto vocab = std::make_shared<const dseek::ConstraintVocab>(kVocab, std::vector<bool>(kVocab.size(), false));
  dseek::GrammarMasker masker(grammar, vocab);
  check_mask(bytes, masker);
  return 0;
}
