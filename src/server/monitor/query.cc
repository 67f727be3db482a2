#include "server/monitor/query.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
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

std::optional<int64_t> Query::get_int(std::string_view key, std::string* err) const {
  std::string v = get(key);
  if (v.empty()) return 0;
  std::string_view digits = v;
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  int64_t out = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  if (digits.empty() || ec == std::errc::invalid_argument || p != digits.data() + digits.size()) {
    *err = fmt::format("Error decoding int for '{}': strconv.Atoi: parsing {:?}: invalid syntax", key, v);
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range) {
    *err = fmt::format("Error decoding int for '{}': strconv.Atoi: parsing {:?}: value out of range", key, v);
    return std::nullopt;
  }
  return out;
}

std::optional<uint64_t> Query::get_uint(std::string_view key, std::string* err) const {
  std::string v = get(key);
  if (v.empty()) return 0;
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec == std::errc::invalid_argument || p != v.data() + v.size() || v[0] == '-' || v[0] == '+') {
    *err = fmt::format("Error decoding uint64 for '{}': strconv.ParseUint: parsing {:?}: invalid syntax", key, v);
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range) {
    *err = fmt::format("Error decoding uint64 for '{}': strconv.ParseUint: parsing {:?}: value out of range", key, v);
    return std::nullopt;
  }
  return out;
}

}  // namespace pylon::server::monitor
