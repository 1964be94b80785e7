// An HTTP answer before it goes on the wire: status, headers and either a
// whole body or a generation session to drive (streamed or gathered).
// Serialising is by hand because streams need their head written before the
// body exists, with chunked coding for HTTP/1.1 and a close-delimited body for 1.0.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace dseek::server {

class Session;
class ResponseFormatter;

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false;  // end the connection after this answer

  // A generation instead of a ready body.
  std::shared_ptr<Session> session;
  std::shared_ptr<ResponseFormatter> builder;
  bool stream = false;

  void set(const std::string& name, const std::string& value) { headers.emplace_back(name, value); }
};

Reply json_reply(int status, const nlohmann::json& body);
// An OpenAI-style error (Retry-After on 429).
Reply error_reply(const ApiError& e);
// Protocol-level refusals (404, 413, 415, 431, ...) with the messages clients saw before.
Reply http_error(int status, const std::string& method, const std::string& path);

// Status line and headers. content_length < 0: chunked for HTTP/1.1, close-delimited for 1.0.
std::string serialize_head(const Reply& r, unsigned version, bool keep_alive, long long content_length);
// One chunk of chunked transfer coding; an empty `data` gives nothing (the last chunk is kLastChunk).
std::string chunk_frame(const std::string& data);
inline constexpr const char* kLastChunk = "0\r\n\r\n";

}  // namespace dseek::server
