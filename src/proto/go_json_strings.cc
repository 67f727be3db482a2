// Go's string decoding for go_json.cc (go_json_strings.h): decode.go's unquote over
// unicode/utf8's rules, and encoding/base64's StdEncoding.Decode.
#include "proto/go_json_strings.h"

#include <cstdint>
#include <utility>

namespace pylon::proto::gojson::detail {

namespace {

constexpr char32_t kReplacement = 0xfffd;

void append_utf8(std::string& out, char32_t r) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xc0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3f));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xe0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (r & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (r & 0x3f));
  }
}

// utf8.DecodeRune: the rune at s[0] and its length; U+FFFD and 1 for anything invalid
// (overlong forms, surrogates, beyond U+10FFFF, a truncated sequence).
std::pair<char32_t, size_t> decode_rune(std::string_view s) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c0 = b(0);
  if (c0 < 0x80) return {c0, 1};
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return k < s.size() && b(k) >= lo && b(k) <= hi;
  };
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    if (cont(1)) return {static_cast<char32_t>((c0 & 0x1f) << 6 | (b(1) & 0x3f)), 2};
  } else if (c0 >= 0xe0 && c0 <= 0xef) {
    const unsigned char lo = c0 == 0xe0 ? 0xa0 : 0x80, hi = c0 == 0xed ? 0x9f : 0xbf;
    if (cont(1, lo, hi) && cont(2)) {
      return {static_cast<char32_t>((c0 & 0x0f) << 12 | (b(1) & 0x3f) << 6 | (b(2) & 0x3f)), 3};
    }
  } else if (c0 >= 0xf0 && c0 <= 0xf4) {
    const unsigned char lo = c0 == 0xf0 ? 0x90 : 0x80, hi = c0 == 0xf4 ? 0x8f : 0xbf;
    if (cont(1, lo, hi) && cont(2) && cont(3)) {
      return {static_cast<char32_t>((c0 & 0x07) << 18 | (b(1) & 0x3f) << 12 | (b(2) & 0x3f) << 6 | (b(3) & 0x3f)),
              4};
    }
  }
  return {kReplacement, 1};
}

// getu4: the code of "\uXXXX" at the start of s, or -1.
int32_t getu4(std::string_view s) {
  if (s.size() < 6 || s[0] != '\\' || s[1] != 'u') return -1;
  int32_t r = 0;
  for (size_t k = 2; k < 6; ++k) {
    const char c = s[k];
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return -1;
    }
    r = r * 16 + v;
  }
  return r;
}

}  // namespace

// The contents of a string literal (without its quotes, already validated) as Go decodes it.
std::string unquote(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t r = 0;
  while (r < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[r]);
    if (c == '\\') {
      const char e = r + 1 < s.size() ? s[r + 1] : '\0';
      switch (e) {
        case 'b': out += '\b'; r += 2; continue;
        case 'f': out += '\f'; r += 2; continue;
        case 'n': out += '\n'; r += 2; continue;
        case 'r': out += '\r'; r += 2; continue;
        case 't': out += '\t'; r += 2; continue;
        case 'u': {
          int32_t rr = getu4(s.substr(r));
          r += 6;
          if (rr >= 0xd800 && rr < 0xe000) {
            const int32_t rr1 = getu4(s.substr(r));
            if (rr < 0xdc00 && rr1 >= 0xdc00 && rr1 < 0xe000) {
              append_utf8(out, static_cast<char32_t>(((rr - 0xd800) << 10 | (rr1 - 0xdc00)) + 0x10000));
              r += 6;
              continue;
            }
            rr = kReplacement;
          }
          append_utf8(out, static_cast<char32_t>(rr < 0 ? kReplacement : rr));
          continue;
        }
        default:  // '"', '\\', '/'
          out += e;
          r += 2;
          continue;
      }
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++r;
      continue;
    }
    auto [rune, size] = decode_rune(s.substr(r));
    if (rune == kReplacement && size == 1) {
      append_utf8(out, kReplacement);
    } else {
      out.append(s.substr(r, size));
    }
    r += size;
  }
  return out;
}

// base64.StdEncoding.Decode; on error, Go's CorruptInputError text.
std::optional<std::string> base64_decode(std::string_view src, std::string& dst) {
  auto map = [](unsigned char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  auto corrupt = [](size_t at) { return "illegal base64 data at input byte " + std::to_string(at); };
  auto newline = [](char c) { return c == '\n' || c == '\r'; };
  size_t si = 0;
  while (si < src.size()) {  // decodeQuantum
    unsigned char dbuf[4] = {0, 0, 0, 0};
    size_t dlen = 4;
    std::optional<std::string> err;
    for (size_t j = 0; j < 4; ++j) {
      if (si == src.size()) {
        if (j == 0) return std::nullopt;
        return corrupt(si - j);  // StdEncoding pads: a short quantum is corrupt
      }
      const unsigned char in = static_cast<unsigned char>(src[si]);
      ++si;
      if (const int out = map(in); out >= 0) {
        dbuf[j] = static_cast<unsigned char>(out);
        continue;
      }
      if (newline(static_cast<char>(in))) {
        --j;
        continue;
      }
      if (in != '=') return corrupt(si - 1);
      if (j == 0 || j == 1) return corrupt(si - 1);
      if (j == 2) {
        while (si < src.size() && newline(src[si])) ++si;
        if (si == src.size()) return corrupt(src.size());
        if (src[si] != '=') return corrupt(si - 1);
        ++si;
      }
      while (si < src.size() && newline(src[si])) ++si;
      if (si < src.size()) err = corrupt(si);
      dlen = j;
      break;
    }
    const uint32_t val = uint32_t{dbuf[0]} << 18 | uint32_t{dbuf[1]} << 12 | uint32_t{dbuf[2]} << 6 | dbuf[3];
    const char bytes[3] = {static_cast<char>(val >> 16), static_cast<char>(val >> 8), static_cast<char>(val)};
    dst.append(bytes, dlen - 1);
    if (err) return err;
  }
  return std::nullopt;
}

}  // namespace pylon::proto::gojson::detail
