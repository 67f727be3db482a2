// Duration and size helpers for option values, following the reference's opts.go.
#include <charconv>
#include <cstdint>

#include "server/config/config.h"

namespace pylon::config {

namespace {

constexpr uint64_t kTop = uint64_t{1} << 63;

std::string go_quote(std::string_view s) {
  // As Go's time package quotes in its errors: \" \\, and \xNN for controls and non-ASCII.
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x80) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

[[noreturn]] void bad_duration(std::string_view orig) {
  throw std::invalid_argument("time: invalid duration " + go_quote(orig));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::chrono::nanoseconds parse_go_duration(std::string_view orig) {
  std::string_view s = orig;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) bad_duration(orig);

  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || is_digit(s[0]))) bad_duration(orig);

    // Integer part.
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (v > kTop / 10) bad_duration(orig);
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kTop) bad_duration(orig);
    }
    bool pre = i > 0;
    s.remove_prefix(i);

    // Fraction part: digits beyond int64 precision are skipped, as Go does.
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && is_digit(s[j]); ++j) {
        if (overflow) continue;
        if (f > (kTop - 1) / 10) {
          overflow = true;
          continue;
        }
        uint64_t y = f * 10 + static_cast<uint64_t>(s[j] - '0');
        if (y > kTop) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) bad_duration(orig);

    // Unit.
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !is_digit(s[u])) ++u;
    if (u == 0) throw std::invalid_argument("time: missing unit in duration " + go_quote(orig));
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit;
    if (unit_name == "ns") unit = 1;
    else if (unit_name == "us" || unit_name == "\xC2\xB5s" || unit_name == "\xCE\xBCs") unit = 1000;
    else if (unit_name == "ms") unit = 1000000;
    else if (unit_name == "s") unit = 1000000000;
    else if (unit_name == "m") unit = 60ull * 1000000000;
    else if (unit_name == "h") unit = 3600ull * 1000000000;
    else
      throw std::invalid_argument("time: unknown unit " + go_quote(unit_name) + " in duration " +
                                  go_quote(orig));

    if (v > kTop / unit) bad_duration(orig);
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kTop) bad_duration(orig);
    }
    total += v;
    if (total > kTop) bad_duration(orig);
  }
  if (neg) return std::chrono::nanoseconds(static_cast<int64_t>(0 - total));
  if (total > kTop - 1) bad_duration(orig);
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

std::chrono::nanoseconds parse_duration(const Value& v, bool* legacy_seconds) {
  if (legacy_seconds) *legacy_seconds = false;
  if (v.is_string()) {
    try {
      return parse_go_duration(v.as_string());
    } catch (const std::invalid_argument& e) {
      throw ConfigError(v.pos(), e.what());
    }
  }
  if (v.is_int()) {
    int64_t secs = v.as_int();
    constexpr int64_t kMax = INT64_MAX / 1000000000;
    if (secs > kMax || secs < -kMax)
      throw ConfigError(v.pos(), "duration of " + std::to_string(secs) + " seconds is out of range");
    if (legacy_seconds) *legacy_seconds = true;
    return std::chrono::seconds(secs);
  }
  std::string_view k = v.kind_name();
  throw ConfigError(v.pos(), "expected a duration (a string such as \"2s\" or \"1m30s\", or an "
                             "integer number of seconds), found " +
                                 std::string(k[0] == 'a' || k[0] == 'i' ? "an " : "a ") +
                                 std::string(k));
}

int64_t parse_size(const Value& v) {
  if (v.is_int()) return v.as_int();
  if (!v.is_string()) throw ConfigError(v.pos(), "must be int64 or string");
  const std::string& s = v.as_string();
  if (s.empty()) return 0;
  std::string_view prefix(s.data(), s.size() - 1);
  char suffix = s.back();
  // strconv.ParseInt accepts an optional sign.
  std::string_view digits = prefix;
  bool neg = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    neg = digits[0] == '-';
    digits.remove_prefix(1);
  }
  uint64_t mag = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), mag);
  if (digits.empty() || ec == std::errc::invalid_argument || ptr != digits.data() + digits.size())
    throw ConfigError(v.pos(), "strconv.ParseInt: parsing " + go_quote(prefix) + ": invalid syntax");
  if (ec == std::errc::result_out_of_range || mag > (neg ? kTop : kTop - 1))
    throw ConfigError(v.pos(), "strconv.ParseInt: parsing " + go_quote(prefix) +
                                   ": value out of range");
  int shift;
  switch (suffix) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: throw ConfigError(v.pos(), "sizes defined as strings must end in K, M, G, T");
  }
  if (mag > (kTop >> shift) || (!neg && mag == (kTop >> shift)))
    throw ConfigError(v.pos(), "size " + go_quote(s) + " is out of range");
  int64_t n = static_cast<int64_t>(mag << shift);  // mag << shift <= 2^63 only when neg
  return neg ? static_cast<int64_t>(0 - static_cast<uint64_t>(n)) : n;
}

}  // namespace pylon::config
