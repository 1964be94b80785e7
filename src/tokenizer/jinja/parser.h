// Template text -> statement tree, with jinja2's whitespace rules as
// transformers configures them (trim_blocks, lstrip_blocks, `-` and `+`
// modifiers). Errors name the line and what was expected.
#pragma once

#include <string_view>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"

namespace dseek::jinja {

Result<Body> parse_template(std::string_view source);

}  // namespace dseek::jinja
