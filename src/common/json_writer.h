// JsonWriter: a small, fast writer of JSON text into a std::string.
//
// It does not check structure beyond placing commas: callers pair Begin/End
// calls themselves. Strings are escaped per RFC 8259; invalid UTF-8 is passed
// through byte for byte (log lines are not always valid UTF-8, and mangling
// them would lose data) except control characters, which are escaped.
// Not thread-safe; cheap to create.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lode {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // Writes an object key; the next call writes its value.
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts already-encoded JSON as one value.
  JsonWriter& Raw(std::string_view json);

  // Appends `s` escaped as the inside of a JSON string (no quotes).
  static void AppendEscaped(std::string_view s, std::string* out);

 private:
  void Separate();

  std::string* out_;
  // One entry per open container: true once it holds a value.
  std::vector<bool> has_value_;
  bool after_key_ = false;
};

}  // namespace lode
