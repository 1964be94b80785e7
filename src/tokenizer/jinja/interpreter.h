// Renders a parsed template against a context, with jinja2's semantics for
// the features chat templates use (scoping of for/set/macro, loop variables,
// namespace(), filters, tests, str/dict methods, Python-style operators).
// Bounded: total work, recursion depth and output size are capped, so a
// hostile template ends in an error, never a hang or an exhausted machine.
#pragma once

#include <string>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"

namespace dseek::jinja {

struct RenderLimits {
  int64_t max_steps = 5'000'000;         // node and expression evaluations
  int max_depth = 100;                   // macro / nesting recursion
  size_t max_output = 64u << 20;         // bytes
};

Result<std::string> render(const Body& body, const Value& context, const RenderLimits& limits = {});

}  // namespace dseek::jinja
