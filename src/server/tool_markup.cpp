// Tool-call markup per DeepSeek generation and the grammar built from it.
#include "server/tool_markup.h"

#include <algorithm>

namespace dseek {
namespace {

using nlohmann::json;

// From the chat templates DeepSeek ships (see ../shared/design/DEEPSEEK_NOTES.md):
//   V3 / R1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>…<｜tool▁calls▁end｜>
//   V3.1:    <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>…<｜tool▁calls▁end｜>
constexpr ToolMarkup kMarkups[] = {
    {"v3.1", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>"},
    {"v3", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>function<｜tool▁sep｜>", "\n```json\n", "\n```<｜tool▁call▁end｜>",
     "<｜tool▁calls▁end｜>"},
};

constexpr std::string_view kProbeName = "dseek_probe_function";

}  // namespace

const ToolMarkup& default_tool_markup() { return kMarkups[1]; }

const ToolMarkup* detect_tool_markup(const ChatFormat& format) {
  const json call = {{"type", "function"}, {"id", "call_0"}, {"function", {{"name", kProbeName}, {"arguments", "{}"}}}};
  const json probe = {{"messages", json::array({{{"role", "user"}, {"content", "x"}},
                                                {{"role", "assistant"}, {"content", ""}, {"tool_calls", json::array({call})}}})},
                      {"add_generation_prompt", false}};
  auto r = format.render(probe);
  if (!r.ok()) return nullptr;
  for (const ToolMarkup& m : kMarkups) {
    const std::string opening = std::string(m.calls_begin) + std::string(m.call_begin) + std::string(kProbeName) + std::string(m.name_suffix);
    if (r->find(opening) != std::string::npos) return &m;
  }
  return nullptr;
}

bool template_renders_tools(const ChatFormat& format) {
  const json tools = json::array({{{"type", "function"}, {"function", {{"name", kProbeName}, {"parameters", json::object()}}}}});
  const json ctx = {{"messages", json::array({{{"role", "user"}, {"content", "x"}}})}, {"tools", tools}, {"add_generation_prompt", true}};
  auto r = format.render(ctx);
  return r.ok() && r->find(kProbeName) != std::string::npos;
}

// The "## Tools" section of DeepSeek-V3.1's model card ("ToolCall" chapter),
// which Ollama's deepseek-v3.1 and deepseek3 renderers also follow; the
// format line shows the call markup of the model's own generation.
std::string tool_system_prompt(const json& tools, const ToolMarkup& m) {
  std::string s = "## Tools\nYou have access to the following tools:\n";
  for (const json& t : tools) {
    const json& f = t["function"];
    s += "\n### " + f["name"].get<std::string>() + "\nDescription: " + f.value("description", std::string()) +
         "\n\nParameters: " + f.value("parameters", json::object()).dump() + "\n";
  }
  s += "\nIMPORTANT: ALWAYS adhere to this exact format for tool use:\n";
  s += std::string(m.calls_begin) + std::string(m.call_begin) + "tool_call_name" + std::string(m.name_suffix) + "tool_call_arguments" +
       std::string(m.call_end) + "{{additional_tool_calls}}" + std::string(m.calls_end) + "\n\n";
  s += "Where:\n\n- `tool_call_name` must be an exact match to one of the available tools\n"
       "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
       "- For multiple tool calls, chain them directly without separators or spaces\n";
  return s;
}

json with_tool_system_prompt(const json& messages, const json& tools, const ToolMarkup& markup) {
  json out = messages;
  const std::string section = tool_system_prompt(tools, markup);
  for (json& m : out)
    if (m.value("role", "") == "system") {
      m["content"] = m["content"].get<std::string>() + "\n\n" + section;
      return out;
    }
  out.insert(out.begin(), json{{"role", "system"}, {"content", section}});
  return out;
}

namespace {

Result<int32_t> arguments_node(Grammar& g, const json& tool) {
  const json& f = tool["function"];
  const bool strict = f.value("strict", false) == true;
  if (strict && f.contains("parameters")) {
    auto n = add_json_schema(g, f["parameters"], SchemaOptions{true});
    if (!n.ok()) return Status::error("tools: function '" + f["name"].get<std::string>() + "' is strict, but its parameters " + n.message());
    return n;
  }
  GrammarNode obj;  // any JSON object
  obj.types = kTypeObject;
  obj.additional = g.any_value();
  obj.items = g.any_value();
  return g.add(std::move(obj));
}

}  // namespace

Result<std::shared_ptr<const Grammar>> tool_call_grammar(const ToolGrammarSpec& spec, const ToolMarkup& m) {
  auto g = std::make_shared<Grammar>();
  std::vector<int32_t> calls;
  for (const json& t : spec.tools) {
    const std::string name = t["function"]["name"].get<std::string>();
    if (std::find(spec.names.begin(), spec.names.end(), name) == spec.names.end()) continue;
    auto args = arguments_node(*g, t);
    if (!args.ok()) return args.status();
    calls.push_back(g->sequence({g->literal(name, true), g->literal(std::string(m.name_suffix), true), *args,
                                 g->literal(std::string(m.call_end), true)}));
  }
  if (calls.empty()) return Status::error("no callable function");
  const int32_t one_call = calls.size() == 1 ? calls[0] : g->any_of(calls);
  const int32_t end = g->literal(std::string(m.calls_end), true);
  int32_t after = end;
  if (spec.parallel) {  // after = calls_end | call_begin one_call after
    after = g->add(GrammarNode{});
    const int32_t next = g->sequence({g->literal(std::string(m.call_begin), true), one_call, after});
    const int32_t either = g->any_of({end, next});
    g->nodes[static_cast<size_t>(after)] = g->nodes[static_cast<size_t>(either)];
  }
  g->root = spec.opened ? g->sequence({one_call, after}) : g->sequence({g->literal(std::string(m.call_begin), true), one_call, after});
  return std::shared_ptr<const Grammar>(std::move(g));
}

}  // namespace dseek
