// The chat page (src/server/web/index.html), embedded into the binary at build
// time so the server needs no files beside it and loads nothing from elsewhere.
#pragma once

#include <string_view>

namespace dseek::server {

extern const std::string_view kIndexHtml;

}  // namespace dseek::server
