// Reading CONNECT and INFO JSON the way the reference server does: nats-server 2.9.10 is
// built with go1.19 and decodes both with encoding/json's Unmarshal into a Go struct. A peer
// that sends `{"port":1.5}` gets the connection closed with Go's words,
// `json: cannot unmarshal number 1.5 into Go struct field Info.port of type int`, and
// nothing else happens to the server. So this reader:
//
// - first checks the whole text as Go's scanner does (checkValid), with its SyntaxError
//   texts ("invalid character '}' looking for beginning of object key string",
//   "unexpected end of JSON input");
// - then decodes into a described struct with Go's rules: keys match field names exactly,
//   else case-insensitively; unknown keys are ignored; null leaves a field alone; a value of
//   the wrong JSON type, or a number that does not fit the field's Go type, is an
//   UnmarshalTypeError whose text names the struct, the field path and the Go type; the
//   first such error is the result, as Go's;
// - never throws and never recurses on the input's nesting (a deep value is skipped
//   iteratively; Go's own depth limit, 10000, is a syntax error like Go's).
//
// Go details followed: strings decode their escapes, a lone surrogate becomes U+FFFD and so
// does each byte of invalid UTF-8; integers go through strconv.ParseInt/ParseUint (so 1.0,
// 1e2 and 1e400 are not integers); []byte fields take base64 (StdEncoding) or an array of
// numbers. Not followed: the Unicode Kelvin sign and long s fold onto k and s in Go's
// case-insensitive key match; here only ASCII letters fold.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pylon::proto::gojson {

// Go's json.Valid, with the text of its SyntaxError when the input is not one JSON value.
std::optional<std::string> syntax_error(std::string_view text);

// The Go types of the struct fields the reference decodes CONNECT and INFO into.
enum class Type : uint8_t {
  kBool,
  kString,
  kInt,                // Go int (64 bits)
  kInt32,
  kUint8,              // Go byte
  kUint64,
  kStringSlice,        // []string
  kBytes,              // []byte: base64 text, or an array of numbers
  kSubjectPermission,  // *SubjectPermission {allow, deny []string}
  // A field of Pylon's own that the reference's struct lacks: Go skips it as an unknown
  // field whatever its value, so a string is taken and any other value skipped, never an
  // error (found by the JSON differential fuzzing: {"monitor_url":8}).
  kExtensionString,
  kExtensionBool,  // the same for a bool (route INFO's no_gossip, which nats-server 2.9 lacks)
};

struct Field {
  std::string_view name;  // the JSON name (the struct tag)
  Type type;
};

// A Go struct: its name as Go's UnmarshalTypeError prints it inside ("Info") and as a whole
// value ("server.Info"), and its fields.
struct StructType {
  std::string_view name;
  std::string_view qualified_name;
  std::span<const Field> fields;
};

struct SubjectPermission {
  std::vector<std::string> allow, deny;
};

// One decoded field; which member holds it follows the field's Type. `null` is set for the
// slice and pointer types when the JSON said null (Go sets them to nil).
struct Value {
  bool null = false;
  bool b = false;
  int64_t i = 0;   // kInt, kInt32, kUint8
  uint64_t u = 0;  // kUint64
  std::string s;   // kString, kBytes (decoded bytes)
  std::vector<std::string> list;
  SubjectPermission perm;
};

// json.Unmarshal(text, &v) where v is of `type`: calls `set(index of the field, value)` for
// each field the JSON gives a well-typed value, in the order of the text (a repeated key
// sets the field again, as Go). Returns Go's error text, or nullopt when Unmarshal would
// return nil. Fields set before an error are still reported (Go keeps decoding after a type
// error, too); callers that see an error discard the struct, as the reference does.
std::optional<std::string> unmarshal(std::string_view text, const StructType& type,
                                     const std::function<void(size_t field, const Value& value)>& set);

}  // namespace pylon::proto::gojson
