// DeepSeek tool-call markup as data (one ToolMarkup per model generation, so
// V3.2's DSML or V4 are one more table entry), and what the server derives
// from it: the system-prompt text that shows tools to a model whose chat
// template does not render `tools`, and the grammar that holds a tool-call
// block to declared functions and (strict) their parameter schemas.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "runtime/chat_prompt.h"
#include "runtime/json_schema.h"

namespace dseek {

// How a call's arguments are written: one JSON object, or DSML parameters
// (<｜DSML｜parameter name="K" string="true|false">V</｜DSML｜parameter> lines,
// string values raw, the others JSON).
enum class ToolArguments { kJson, kDsml };

struct ToolMarkup {
  std::string_view generation;   // "v3" (also R1), "v3.1", "v3.2", "v4"
  std::string_view calls_begin;  // opens the block of calls
  std::string_view call_begin;   // opens each call, up to the function name
  std::string_view name_suffix;  // between the name and the arguments
  std::string_view call_end;     // after the arguments
  std::string_view calls_end;    // closes the block
  ToolArguments arguments = ToolArguments::kJson;
};

// The markup this chat template renders for an assistant tool call, found by
// rendering a probe call; nullptr when it renders none of the known forms.
const ToolMarkup* detect_tool_markup(const ChatFormat& format);
// The V3/R1 entry (used to describe tools when a template has no markup).
const ToolMarkup& default_tool_markup();
// Whether the template renders the request's `tools` itself.
bool template_renders_tools(const ChatFormat& format);

// The "## Tools" system-prompt section of DeepSeek's model cards (see the .cpp).
std::string tool_system_prompt(const nlohmann::json& tools, const ToolMarkup& markup);
// messages with that section appended to the first system message (or a new one first).
nlohmann::json with_tool_system_prompt(const nlohmann::json& messages, const nlohmann::json& tools, const ToolMarkup& markup);

struct ToolGrammarSpec {
  nlohmann::ordered_json tools;         // the request's tools array (DSML parameters follow its key order)
  std::vector<std::string> names;       // callable functions (all, or the one tool_choice names)
  bool parallel = true;                 // more than one call allowed
  bool opened = false;                  // the text so far ends inside call_begin (the name comes next)
  bool text_first = false;              // free text first, which ends the output or goes on into calls_begin
};

// A grammar for the rest of a tool-call block: from the name (opened), from
// right after calls_begin, or (text_first) from the start of the reply. Arguments are always a JSON object (DSML: well-formed
// parameters with JSON for non-string values); a tool with "strict": true holds
// them to its "parameters" schema (an error if that schema cannot be
// enforced). DSML's strict parameters come in the schema's property order.
Result<std::shared_ptr<const Grammar>> tool_call_grammar(const ToolGrammarSpec& spec, const ToolMarkup& markup);

}  // namespace dseek
