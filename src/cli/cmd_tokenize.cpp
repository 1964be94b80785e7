// `dseek tokenize` and `dseek detokenize`: the tokenizer's CLI contract, used by
// other tools. tokenize reads ALL of stdin as one text, byte for byte (no newline
// stripping, no BOS); --jsonl is the bulk form (one JSON string per line in, one
// JSON array per line out). -m takes a GGUF file, a tokenizer.json or a directory.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "tokenizer/tokenizer.h"

namespace dseek::cli {
namespace {

std::string read_stdin() {
  std::string data;
  char buf[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) data.append(buf, n);
  return data;
}

// One output line for `ids`: space-separated ids, or a JSON array of pieces / ids.
std::string format_ids(const Tokenizer& tok, const std::vector<int32_t>& ids, bool pieces, bool json_ids) {
  if (pieces) {
    nlohmann::json a = nlohmann::json::array();
    for (int32_t id : ids) a.push_back(std::string(tok.token_text(id)));
    return a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string s = json_ids ? "[" : "";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? (json_ids ? "," : " ") : "") + std::to_string(ids[i]);
  return json_ids ? s + "]" : s;
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  CLI::App app("Tokenize stdin (all of it, as one text, byte for byte; no BOS is added).", "tokenize");
  std::string model_path;
  bool ids = false, pieces = false, no_special = false, jsonl = false, bos = false;
  app.add_option("-m,--model", model_path, "GGUF file, tokenizer.json, or model directory")->required();
  auto* ids_flag = app.add_flag("--ids", ids, "print the ids on one line, separated by single spaces (default)");
  app.add_flag("--pieces", pieces, "print the tokens' vocabulary spellings as a JSON array")->excludes(ids_flag);
  app.add_flag("--no-special", no_special, "treat special-token text in the input as plain text");
  app.add_flag("--jsonl", jsonl, "read one JSON string per line, write one JSON array per line");
  app.add_flag("--bos", bos, "prepend the BOS token");
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;

  auto tok = Tokenizer::load(model_path);
  if (!tok.ok()) return report(tok.status());
  const EncodeOptions opts{.parse_special = !no_special, .add_bos = bos};
  const std::string input = read_stdin();
  if (!jsonl) {
    const auto out = tok->encode(input, opts);
    std::printf("%s\n", format_ids(*tok, out, pieces, false).c_str());
    return kExitOk;
  }
  Tokenizer::Scratch scratch;
  std::vector<int32_t> out;
  std::istringstream lines(input);
  std::string line;
  for (size_t n = 1; std::getline(lines, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_string()) return report("--jsonl: line " + std::to_string(n) + " is not a JSON string");
    tok->encode(j.get_ref<const std::string&>(), opts, scratch, out);
    std::printf("%s\n", format_ids(*tok, out, pieces, true).c_str());
  }
  return kExitOk;
}

int cmd_detokenize(int argc, char** argv) {
  CLI::App app("Turn token ids (stdin: separated by spaces, commas or newlines, or a JSON array) into text.",
               "detokenize");
  std::string model_path;
  bool skip_special = false;
  app.add_option("-m,--model", model_path, "GGUF file, tokenizer.json, or model directory")->required();
  app.add_flag("--skip-special", skip_special, "leave out control tokens (BOS, EOS, ...)");
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;

  auto tok = Tokenizer::load(model_path);
  if (!tok.ok()) return report(tok.status());
  std::string input = read_stdin();
  for (char& c : input)
    if (c == '[' || c == ']' || c == ',') c = ' ';
  std::istringstream in(input);
  std::vector<int32_t> ids;
  for (std::string t; in >> t;) {
    char* end = nullptr;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || v >= static_cast<long long>(tok->vocab_size()))
      return report("'" + t + "' is not a token id of this vocabulary (0.." + std::to_string(tok->vocab_size() - 1) +
                    ")");
    ids.push_back(static_cast<int32_t>(v));
  }
  const std::string text = tok->decode(ids, {.skip_special = skip_special});
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

}  // namespace dseek::cli
