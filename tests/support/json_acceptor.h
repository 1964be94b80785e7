// nlohmann::json's verdict on a text as a SAX acceptor, for cross-checking
// dseek's JSON prefix checker (unit test and fuzz target). `overflow` marks
// the one rule nlohmann has that RFC 8259 and the checker do not: a number
// too large for a double.
#pragma once

#include <nlohmann/json.hpp>

namespace dseek::test {

class JsonAcceptor : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    overflow = ex.id == 406;
    return false;
  }
  bool overflow = false;
};

}  // namespace dseek::test
