// `dseek template -m MODEL < request.json`: render the model's chat template
// for {"messages": [...], "tools": [...], "add_generation_prompt": true, ...}
// (extra keys become template variables, e.g. "thinking"). Prints the prompt
// exactly, with no added newline. `--template FILE` renders a raw template.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "tokenizer/jinja/chat_template.h"

namespace dseek::cli {

int cmd_template(int argc, char** argv) {
  CLI::App app("Render a chat template for the messages given as JSON on stdin.", "template");
  std::string model, template_file;
  app.add_option("-m,--model", model, "GGUF file, tokenizer_config.json or model directory");
  app.add_option("--template", template_file, "a raw Jinja template file instead of the model's");
  if (int rc = parse_args(app, argc, argv); rc >= 0) return rc;
  if (model.empty() == template_file.empty()) return report("give exactly one of -m MODEL or --template FILE");

  ChatTemplateSource src;
  if (!template_file.empty()) {
    std::ifstream in(template_file, std::ios::binary);
    if (!in) return report(template_file + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    src.source = ss.str();
  } else {
    auto s = load_chat_template(model);
    if (!s.ok()) return report(s.status());
    src = std::move(s).value();
  }
  const std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  nlohmann::json ctx = nlohmann::json::parse(input, nullptr, false);
  if (ctx.is_discarded() || !ctx.is_object()) return report("stdin: expected a JSON object like {\"messages\": [...]}");
  if (!ctx.contains("messages") || !ctx["messages"].is_array()) return report("stdin: \"messages\" must be an array");
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
