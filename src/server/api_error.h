// Errors as OpenAI-compatible clients expect them: an HTTP status and
// {"error": {"message", "type", "param", "code"}}. Every refusal the server
// makes goes through here, so clients can always read error.message.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace dseek::server {

struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string message;
  std::string param;  // the request field at fault, if any
  std::string code;

  nlohmann::json body() const {
    return {{"error",
             {{"message", message},
              {"type", type},
              {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
              {"code", code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code)}}}};
  }
};

inline ApiError invalid(const std::string& message, const std::string& param = "", const std::string& code = "") {
  return {400, "invalid_request_error", message, param, code};
}

}  // namespace dseek::server
