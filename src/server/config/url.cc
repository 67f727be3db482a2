#include "server/config/url.h"

#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

namespace pylon::server {

namespace {
std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}
}  // namespace

void split_host_port(const std::string& text, std::string& host, int& port) {
  port = 0;
  std::string rest = text;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) throw std::invalid_argument(fmt::format("invalid address \"{}\"", text));
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (rest.empty()) return;
    if (rest[0] != ':') throw std::invalid_argument(fmt::format("invalid address \"{}\"", text));
    rest = rest.substr(1);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string::npos) {
      host = rest;
      return;
    }
    host = rest.substr(0, colon);
    rest = rest.substr(colon + 1);
  }
  int p = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), p);
  if (ec != std::errc() || ptr != rest.data() + rest.size() || p < 0 || p > 65535) {
    throw std::invalid_argument(fmt::format("invalid port in \"{}\"", text));
  }
  port = p;
}

Url parse_url(const std::string& text) {
  Url u;
  std::string rest = text;
  if (auto s = rest.find("://"); s != std::string::npos) {
    u.scheme = rest.substr(0, s);
    rest = rest.substr(s + 3);
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (auto colon = cred.find(':'); colon != std::string::npos) {
      u.user = percent_decode(cred.substr(0, colon));
      u.password = percent_decode(cred.substr(colon + 1));
    } else {
      u.user = percent_decode(cred);
    }
  }
  if (rest.empty()) throw std::invalid_argument(fmt::format("invalid URL \"{}\": no host", text));
  split_host_port(rest, u.host, u.port);
  return u;
}

std::string Url::str() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return fmt::format("{}{}{}:{}", scheme, scheme.empty() ? "" : "://", h, port);
}

}  // namespace pylon::server
