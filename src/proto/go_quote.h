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

// Go's strconv.IsPrint is false for these runes past ASCII: the C1 controls, the spaces other
// than ASCII's (U+00A0, U+1680, U+2000-U+200A, U+202F, U+205F, U+3000), the soft hyphen and
// the other format characters and separators of U+200B-U+200F, U+2028-U+202E,
// U+2060-U+206F, U+FEFF and U+FFF9-U+FFFB. (Unassigned code points, which Go also escapes,
// are printed as they are.)
inline bool go_unprintable(long r) {
  return (r >= 0x80 && r <= 0xa0) || r == 0xad || r == 0x1680 || (r >= 0x2000 && r <= 0x200f) ||
         (r >= 0x2028 && r <= 0x202f) || (r >= 0x205f && r <= 0x206f) || r == 0x3000 || r == 0xfeff ||
         (r >= 0xfff9 && r <= 0xfffb);
}

// An ASCII byte as strconv writes it between `quote` quotes: the quote and the backslash
// escaped, \a \b \f \n \r \t \v by name, other control bytes and DEL as \xHH.
inline void append_go_escaped_ascii(std::string& out, unsigned char c, char quote) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '\a': out += "\\a"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\v': out += "\\v"; return;
    case '\\': out += "\\\\"; return;
    default: break;
  }
  if (c == static_cast<unsigned char>(quote)) {
    out += '\\';
    out += static_cast<char>(c);
  } else if (c < 0x20 || c == 0x7f) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  } else {
    out += static_cast<char>(c);
  }
}

// A rune past ASCII that Go does not print, as strconv escapes it: \uHHHH.
inline void append_go_escaped_rune(std::string& out, long r) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(r >> shift) & 15];
}

// Appends `s` in double quotes as Go's strconv.Quote (and so %q) writes it: ASCII as
// append_go_escaped_ascii, bytes of no valid UTF-8 sequence as \xHH, the runes of
// go_unprintable as \uHHHH, the rest of UTF-8 as is.
inline void append_go_quoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const long r = go_quote_detail::decode_rune(s, i, len);
    if (r < 0) {
      const auto c = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else if (r < 0x80) {
      append_go_escaped_ascii(out, static_cast<unsigned char>(r), '"');
    } else if (go_unprintable(r)) {
      append_go_escaped_rune(out, r);
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out += '"';
}

}  // namespace pylon::proto
