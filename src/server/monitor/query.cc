#include "server/monitor/query.h"

#include <fmt/format.h>

#include <cctype>
#include <limits>

namespace pylon::server::monitor {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

Query::Query(std::string_view target) {
  auto q = target.find('?');
  path_ = url_decode(target.substr(0, q));
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  // A fragment never reaches a server, but be tolerant.
  if (auto h = rest.find('#'); h != std::string_view::npos) rest = rest.substr(0, h);
  while (!rest.empty()) {
    auto amp = rest.find_first_of("&;");
    std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key = url_decode(part.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string() : url_decode(part.substr(eq + 1));
    params_.emplace_back(std::move(key), std::move(value));
  }
}

std::string Query::get(std::string_view key) const {
  for (const auto& [k, v] : params_) {
    if (k == key) return v;
  }
  return {};
}

bool Query::has(std::string_view key) const {
  for (const auto& [k, v] : params_) {
    if (k == key) return true;
  }
  return false;
}

std::optional<bool> Query::get_bool(std::string_view key, std::string* err) const {
  std::string v = get(key);
  if (v.empty()) return false;
  // strconv.ParseBool's accepted spellings.
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") return false;
  *err = fmt::format("Error decoding boolean for '{}': strconv.ParseBool: parsing {:?}: invalid syntax", key, v);
  return std::nullopt;
}

namespace {
enum class NumError { kNone, kSyntax, kRange };

// strconv.ParseUint(s, 10, 64), error for error: a byte that is not a digit is a syntax
// error, and overflow is a range error as soon as it happens (so "99999999999999999999x" is
// out of range, "1x" is invalid syntax).
NumError go_parse_uint(std::string_view s, uint64_t& n) {
  if (s.empty()) return NumError::kSyntax;
  n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return NumError::kSyntax;
    const auto d = static_cast<uint64_t>(c - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - d) / 10) return NumError::kRange;
    n = n * 10 + d;
  }
  return NumError::kNone;
}

// strconv.Atoi on 64 bits: one optional sign, then ParseUint's digits.
NumError go_atoi(std::string_view s, int64_t& v) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  uint64_t u = 0;
  if (NumError e = go_parse_uint(s, u); e != NumError::kNone) return e;
  constexpr uint64_t kMin = uint64_t{1} << 63;  // |INT64_MIN|
  if (u > kMin || (!neg && u == kMin)) return NumError::kRange;
  v = neg ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u);
  return NumError::kNone;
}

std::string_view problem(NumError e) { return e == NumError::kRange ? "value out of range" : "invalid syntax"; }
}  // namespace

std::optional<int64_t> Query::get_int(std::string_view key, std::string* err) const {
  std::string v = get(key);
  if (v.empty()) return 0;
  int64_t out = 0;
  if (NumError e = go_atoi(v, out); e != NumError::kNone) {
    *err = fmt::format("Error decoding int for '{}': strconv.Atoi: parsing {:?}: {}", key, v, problem(e));
    return std::nullopt;
  }
  return out;
}

std::optional<uint64_t> Query::get_uint(std::string_view key, std::string* err) const {
  std::string v = get(key);
  if (v.empty()) return 0;
  uint64_t out = 0;
  if (NumError e = go_parse_uint(v, out); e != NumError::kNone) {
    *err = fmt::format("Error decoding uint64 for '{}': strconv.ParseUint: parsing {:?}: {}", key, v, problem(e));
    return std::nullopt;
  }
  return out;
}

}  // namespace pylon::server::monitor
