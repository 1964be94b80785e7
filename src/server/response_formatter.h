// What the HTTP connection drives to turn a session's deltas into an answer:
// one implementation per wire protocol (OpenAI's in response.h, Anthropic's in
// anthropic_response.h). Non-streaming: add() every delta, then whole().
// Streaming: first_chunks(), chunk() per delta, last_chunks() at the end.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace dseek::server {

struct ChoiceDelta;

class ResponseFormatter {
 public:
  virtual ~ResponseFormatter() = default;

  virtual void add(const ChoiceDelta& d) = 0;
  virtual nlohmann::json whole(const nlohmann::json& usage) const = 0;
  // The first engine error of a gathered (non-streamed) answer; "" when none.
  virtual const std::string& error() const = 0;
  // The body of an error answer in this protocol's shape.
  virtual nlohmann::json error_body(const ApiError& e) const { return e.body(); }

  virtual bool started() const = 0;
  virtual std::string first_chunks() = 0;
  virtual std::string chunk(const ChoiceDelta& d) = 0;
  virtual std::string last_chunks(const nlohmann::json& usage) = 0;
};

}  // namespace dseek::server
