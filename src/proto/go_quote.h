// Go's %q: the quoting nats-server uses in its log lines (a client's argument
// errors, "processPub Bad or Missing Size: \"a b c\""; a client's name and version tag) and in
// its config dumps.
#pragma once

#include <string>
#include <string_view>

namespace pylon::proto {

namespace go_quote_detail {
// Go's utf8.DecodeRune: the rune at s[i] and its length, or -1 (and length 1) for a byte that
// starts no valid sequence (overlong forms, surrogates and values past U+10FFFF included).
inline long decode_rune(std::string_view s, size_t i, size_t& len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  len = 1;
  if (c < 0x80) return c;
  size_t n;
  long r;
  long min;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; r = c & 0x1f; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; r = c & 0x0f; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; r = c & 0x07; min = 0x10000; }
  else return -1;
  if (i + n > s.size()) return -1;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return -1;
    r = (r << 6) | (b(k) & 0x3f);
  }
  if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) return -1;
  len = n;
  return r;
}
}  // namespace go_quote_detail

// Appends `s` in double quotes as Go's strconv.Quote (and so %q) writes it: \a \b \f \n \r \t
// \v \" \\ escaped by name, other control bytes and DEL as \xHH, bytes of no valid UTF-8
// sequence as \xHH, the C1 controls and U+00AD (which Go does not print) as \u00HH, and the
// rest of UTF-8 as is.
inline void append_go_quoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto hex_byte = [&](const char* prefix, unsigned v) {
    out += prefix;
    out += kHex[(v >> 4) & 15];
    out += kHex[v & 15];
  };
  out += '"';
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const long r = go_quote_detail::decode_rune(s, i, len);
    if (r < 0) {
      hex_byte("\\x", static_cast<unsigned char>(s[i]));
    } else if (r >= 0x80) {
      if (r <= 0x9f || r == 0xad) {
        hex_byte("\\u00", static_cast<unsigned>(r));
      } else {
        out.append(s.substr(i, len));
      }
    } else {
      switch (r) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        default:
          if (r < 0x20 || r == 0x7f) {
            hex_byte("\\x", static_cast<unsigned>(r));
          } else {
            out += static_cast<char>(r);
          }
      }
    }
    i += len;
  }
  out += '"';
}

}  // namespace pylon::proto
