// Tool-call markup per DeepSeek generation and the grammar built from it.
#include "server/tool_markup.h"

#include <algorithm>

namespace dseek {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// From the chat templates DeepSeek ships (see ../shared/design/DEEPSEEK_NOTES.md):
//   V3 / R1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>…<｜tool▁calls▁end｜>
//   V3.1:    <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>…<｜tool▁calls▁end｜>
//   V3.2:    <｜DSML｜function_calls>\n<｜DSML｜invoke name="NAME">\nPARAMS\n</｜DSML｜invoke>…\n</｜DSML｜function_calls>
//            (runtime/dsml_encoding.h; PARAMS empty or parameter lines joined by "\n")
//   V4:      V3.2's with the block <｜DSML｜tool_calls>…</｜DSML｜tool_calls>
constexpr ToolMarkup kMarkups[] = {
    {"v4", "<｜DSML｜tool_calls>", "\n<｜DSML｜invoke name=\"", "\">\n", "\n</｜DSML｜invoke>", "\n</｜DSML｜tool_calls>",
     ToolArguments::kDsml},
    {"v3.2", "<｜DSML｜function_calls>", "\n<｜DSML｜invoke name=\"", "\">\n", "\n</｜DSML｜invoke>",
     "\n</｜DSML｜function_calls>", ToolArguments::kDsml},
    {"v3.1", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>"},
    {"v3", "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>function<｜tool▁sep｜>", "\n```json\n", "\n```<｜tool▁call▁end｜>",
     "<｜tool▁calls▁end｜>"},
};

constexpr std::string_view kProbeName = "dseek_probe_function";

}  // namespace

const ToolMarkup& default_tool_markup() { return kMarkups[3]; }

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

constexpr std::string_view kParamBegin = "<｜DSML｜parameter name=\"";
constexpr std::string_view kParamEnd = "</｜DSML｜parameter>";

// One DSML parameter of any name and value.
int32_t any_dsml_parameter(Grammar& g) {
  const int32_t raw = g.sequence({g.literal("true\">", true), g.raw_until(std::string(kParamEnd))});
  const int32_t other = g.sequence({g.literal("false\">", true), g.any_value(), g.literal(std::string(kParamEnd), true)});
  return g.sequence({g.literal(std::string(kParamBegin), true), g.raw_until("\""), g.literal(" string=\"", true), g.any_of({raw, other})});
}

// Parameters of any names, then the call's end: `end | P (\n P)* end`.
int32_t any_dsml_parameters(Grammar& g, int32_t end) {
  const int32_t p = any_dsml_parameter(g);
  const int32_t rest = g.add(GrammarNode{});  // rest = end | "\n" p rest
  const int32_t more = g.any_of({end, g.sequence({g.literal("\n", true), p, rest})});
  g.nodes[static_cast<size_t>(rest)] = g.nodes[static_cast<size_t>(more)];
  return g.any_of({end, g.sequence({p, rest})});
}

bool is_plain_string_schema(const json& s) {
  return s.is_object() && s.value("type", json()) == "string" && !s.contains("enum") && !s.contains("const") &&
         !s.contains("minLength") && !s.contains("maxLength");
}

// The named parameter `key` holding `schema`: a plain string schema is raw
// text, anything else JSON (strings included, then quoted).
Result<int32_t> strict_dsml_parameter(Grammar& g, const std::string& key, const json& schema) {
  const int32_t head = g.literal(std::string(kParamBegin) + key + "\" string=\"", true);
  if (is_plain_string_schema(schema)) return g.sequence({head, g.literal("true\">", true), g.raw_until(std::string(kParamEnd))});
  auto v = add_json_schema(g, schema, SchemaOptions{true});
  if (!v.ok()) return v.status();
  return g.sequence({head, g.literal("false\">", true), *v, g.literal(std::string(kParamEnd), true)});
}

// Strict: the schema's properties in its order, each required one present:
// tail(i) = the alternatives "\n P_j tail(j+1)" for j from i up to the first
// required property, plus `end` when none is left.
Result<int32_t> strict_dsml_parameters(Grammar& g, const ordered_json& params, int32_t end) {
  const bool closed = !params.contains("additionalProperties") || params["additionalProperties"] == false;
  if (!params.is_object() || params.value("type", ordered_json()) != "object" || !params.contains("properties") || !closed)
    return Status::error("must be an object schema with properties and no additionalProperties for DSML parameters");
  std::vector<std::pair<std::string, bool>> props;  // name, required
  const ordered_json req = params.value("required", ordered_json::array());
  for (auto& [k, v] : params["properties"].items())
    props.emplace_back(k, std::find(req.begin(), req.end(), ordered_json(k)) != req.end());
  const size_t n = props.size();
  std::vector<int32_t> p(n), first(n + 1), later(n + 1);  // first/later: tail(i) with no / some parameter before
  for (size_t i = 0; i < n; ++i) {
    auto node = strict_dsml_parameter(g, props[i].first, params["properties"][props[i].first]);
    if (!node.ok()) return node.status();
    p[i] = *node;
  }
  first[n] = later[n] = end;
  for (size_t i = n; i-- > 0;) {
    std::vector<int32_t> f, l;
    size_t j = i;
    for (; j < n; ++j) {
      f.push_back(g.sequence({p[j], later[j + 1]}));
      l.push_back(g.sequence({g.literal("\n", true), p[j], later[j + 1]}));
      if (props[j].second) break;
    }
    if (j == n) f.push_back(end), l.push_back(end);
    first[i] = g.any_of(std::move(f));
    later[i] = g.any_of(std::move(l));
  }
  return first[0];
}

// DSML arguments and the call's end (they end together: no parameters is "\n</…invoke>").
Result<int32_t> dsml_arguments_node(Grammar& g, const ordered_json& tool, const ToolMarkup& m) {
  const ordered_json& f = tool["function"];
  const int32_t end = g.literal(std::string(m.call_end), true);
  if (f.value("strict", false) != true || !f.contains("parameters")) return any_dsml_parameters(g, end);
  auto r = strict_dsml_parameters(g, f["parameters"], end);
  if (!r.ok()) return Status::error("tools: function '" + f["name"].get<std::string>() + "' is strict, but its parameters " + r.message());
  return r;
}

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
  for (const ordered_json& t : spec.tools) {
    const std::string name = t["function"]["name"].get<std::string>();
    if (std::find(spec.names.begin(), spec.names.end(), name) == spec.names.end()) continue;
    const bool dsml = m.arguments == ToolArguments::kDsml;
    auto args = dsml ? dsml_arguments_node(*g, t, m) : arguments_node(*g, t);
    if (!args.ok()) return args.status();
    std::vector<int32_t> parts = {g->literal(name, true), g->literal(std::string(m.name_suffix), true), *args};
    if (!dsml) parts.push_back(g->literal(std::string(m.call_end), true));
    calls.push_back(g->sequence(std::move(parts)));
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
  if (spec.opened) g->root = g->sequence({one_call, after});
  else if (spec.text_first)
    g->root = g->sequence({g->text_or_until(std::string(m.calls_begin)), g->literal(std::string(m.call_begin), true), one_call, after});
  else g->root = g->sequence({g->literal(std::string(m.call_begin), true), one_call, after});
  return std::shared_ptr<const Grammar>(std::move(g));
}

}  // namespace dseek
