// The string decoding of Go's encoding/json and encoding/base64, for go_json.cc. Internal to
// proto/: go_json.h is the interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pylon::proto::gojson::detail {

// The contents of a string literal (without its quotes, already validated by the scanner) as
// Go decodes it: escapes resolved, invalid UTF-8 and lone surrogates as U+FFFD.
std::string unquote(std::string_view s);

// base64.StdEncoding.Decode of `src` into `dst`; on error, Go's CorruptInputError text.
std::optional<std::string> base64_decode(std::string_view src, std::string& dst);

}  // namespace pylon::proto::gojson::detail
