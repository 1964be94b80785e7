// `dseek template -m MODEL < request.json`: render the model's chat template
// for {"messages": [...], "tools": [...], "add_generation_prompt": true, ...}
// (extra keys become template variables, e.g. "thinking"). Prints the prompt
// exactly, with no added newline. `--template FILE` renders a raw template;
// `--chat-format dsml` / `dsml-v4` renders DeepSeek-V3.2's / V4's built-in
// encoding (also chosen by default for a V3.2 / V4 model that has no template).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/chat_prompt.h"
#include "runtime/dsml_encoding.h"
#include "tokenizer/jinja/chat_template.h"

namespace dseek::cli {

namespace {

// V3.2's and V4's text for BOS / EOS (their encodings name them; no tokenizer is loaded here).
constexpr const char* kDeepseekBos = "<｜begin▁of▁sentence｜>";
constexpr const char* kDeepseekEos = "<｜end▁of▁sentence｜>";

// The request on stdin as JSON of type Json: DeepSeek's encoders print tool
// schemas in the order they were given (Python's json.dumps without sort_keys),
// so the DSML paths read it order-keeping; the Jinja engine takes sorted JSON.
template <class Json>
Result<Json> read_request() {
  const std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  Json ctx = Json::parse(input, nullptr, false);
  if (ctx.is_discarded() || !ctx.is_object()) return Status::error("stdin: expected a JSON object like {\"messages\": [...]}");
  if (!ctx.contains("messages") || !ctx["messages"].is_array()) return Status::error("stdin: \"messages\" must be an array");
  return ctx;
}

int render_dsml(ChatEncoding encoding) {
  auto request = read_request<nlohmann::ordered_json>();
  if (!request.ok()) return report(request.status());
  nlohmann::ordered_json& ctx = *request;
  if (!ctx.contains("bos_token")) ctx["bos_token"] = kDeepseekBos;
  if (!ctx.contains("eos_token")) ctx["eos_token"] = kDeepseekEos;
  if (!ctx.contains("add_generation_prompt")) ctx["add_generation_prompt"] = false;
  auto out = encoding == ChatEncoding::kDsmlV4 ? render_dsml_v4_chat(ctx) : render_dsml_chat(ctx);
  if (!out.ok()) return report(out.status());
  std::fwrite(out->data(), 1, out->size(), stdout);
  return kExitOk;
}

}  // namespace

int cmd_template(int argc, char** argv) {
  CLI::App app("Render a chat template for the messages given as JSON on stdin.", "template");
  std::string model, template_file, chat_format = "auto";
  app.add_option("-m,--model", model, "GGUF file, tokenizer_config.json or model directory");
  app.add_option("--template", template_file, "a raw Jinja template file instead of the model's");
  app.add_option("--chat-format", chat_format, "auto | template | dsml | dsml-v4 (DeepSeek-V3.2's / V4's encoding, no model needed)")->capture_default_str();
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  if (!valid_chat_format_name(chat_format)) return report("--chat-format must be auto, template, dsml or dsml-v4");
  const ChatEncoding named = named_chat_encoding(chat_format);
  const bool dsml = named != ChatEncoding::kJinja;
  if (!template_file.empty() && dsml) return report("--template and --chat-format dsml exclude each other");
  if (!dsml && model.empty() == template_file.empty()) return report("give exactly one of -m MODEL or --template FILE");
  if (dsml) return render_dsml(named);

  ChatTemplateSource src;
  if (!template_file.empty()) {
    std::ifstream in(template_file, std::ios::binary);
    if (!in) return report(template_file + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    src.source = ss.str();
  } else {
    auto s = load_chat_template(model);
    const ChatEncoding e = chat_format == "auto" ? default_chat_encoding(s, model, "") : ChatEncoding::kJinja;
    if (e != ChatEncoding::kJinja) return render_dsml(e);
    if (!s.ok()) return report(s.status());
    src = std::move(s).value();
  }
  auto request = read_request<nlohmann::json>();
  if (!request.ok()) return report(request.status());
  nlohmann::json& ctx = *request;
  if (!ctx.contains("bos_token")) ctx["bos_token"] = src.bos_token;
  if (!ctx.contains("eos_token")) ctx["eos_token"] = src.eos_token;
  if (!ctx.contains("add_generation_prompt")) ctx["add_generation_prompt"] = false;
  auto tmpl = ChatTemplate::parse(src.source);
  if (!tmpl.ok()) return report(tmpl.status());
  auto out = tmpl->render(ctx);
  if (!out.ok()) return report(out.status());
  std::fwrite(out->data(), 1, out->size(), stdout);
  return kExitOk;
}

}  // namespace dseek::cli
