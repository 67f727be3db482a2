// Go's %q for ASCII text: the quoting nats-server uses in its log lines (a client's argument
// errors, "processPub Bad or Missing Size: \"a b c\""; a client's name and version tag) and in
// its config dumps.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace pylon::proto {

// Appends `s` in double quotes: \" \\ \n \r \t escaped, other control bytes as \xHH, the rest
// (UTF-8 included) as is.
inline void append_go_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace pylon::proto
