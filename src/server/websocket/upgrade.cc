#include "server/websocket/upgrade.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace pylon::server::websocket {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const char* status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Internal Server Error";
  }
}

// The request's header fields, by lower-case name, each with every value it was given.
struct Request {
  std::string method, target;
  std::unordered_map<std::string, std::vector<std::string>> headers;
  const std::string* first(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() || it->second.empty() ? nullptr : &it->second.front();
  }
  std::string get(const std::string& name) const {
    auto* v = first(name);
    return v ? *v : std::string();
  }
  // The reference's wsHeaderContains: a comma-separated token equal (ignoring case) to `value`.
  bool contains(const std::string& name, std::string_view value) const {
    auto it = headers.find(name);
    if (it == headers.end()) return false;
    for (const auto& v : it->second) {
      std::string_view rest = v;
      while (true) {
        size_t comma = rest.find(',');
        if (iequals(trim(rest.substr(0, comma)), value)) return true;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
    return false;
  }
};

bool parse_request(std::string_view head, Request& r) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return false;
  r.method = std::string(line.substr(0, sp1));
  r.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  std::string_view version = line.substr(sp2 + 1);
  if (!version.starts_with("HTTP/1.") || r.method.empty() || r.target.empty()) return false;
  head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    std::string_view name = line.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos) return false;
    r.headers[lower(name)].emplace_back(trim(line.substr(colon + 1)));
  }
  return true;
}

struct HostPort {
  std::string host, port;
};

// Go's net.SplitHostPort, with the reference's wsGetHostAndPort default port when it is missing.
std::optional<HostPort> host_and_port(bool tls, std::string_view hostport, std::string& err) {
  HostPort hp;
  size_t colon = std::string_view::npos;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) {
      err = fmt::format("address {}: missing ']' in address", hostport);
      return std::nullopt;
    }
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') {
        err = fmt::format("address {}: missing port in address", hostport);
        return std::nullopt;
      }
      colon = close + 1;
      hp.host = std::string(hostport.substr(1, close - 1));
    }
  } else {
    colon = hostport.rfind(':');
    if (colon != std::string_view::npos && hostport.find(':') != colon) {
      err = fmt::format("address {}: too many colons in address", hostport);
      return std::nullopt;
    }
    if (colon != std::string_view::npos) hp.host = std::string(hostport.substr(0, colon));
  }
  if (colon == std::string_view::npos) {
    hp.host = std::string(hostport);
    hp.port = tls ? "443" : "80";
  } else {
    hp.port = std::string(hostport.substr(colon + 1));
  }
  hp.host = lower(hp.host);
  return hp;
}

// Go's url.ParseRequestURI for an origin: scheme "://" host [path]. Returns the scheme and
// the host part, or why it does not parse.
bool parse_origin(std::string_view origin, std::string& scheme, std::string& host, std::string& err) {
  size_t sep = origin.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    err = fmt::format("parse \"{}\": invalid URI for request", origin);
    return false;
  }
  scheme = lower(origin.substr(0, sep));
  std::string_view rest = origin.substr(sep + 3);
  host = std::string(rest.substr(0, rest.find_first_of("/?#")));
  return true;
}

// The reference's checkOrigin: "" when allowed, else why not.
std::string check_origin(const Request& r, const Settings& s) {
  if (!s.same_origin && s.allowed_origins.empty()) return {};
  std::string origin = r.get("origin");
  if (origin.empty()) origin = r.get("sec-websocket-origin");
  // Dedicated clients need not send one (RFC 6455 1.6): accepted.
  if (origin.empty()) return {};
  std::string scheme, host, err;
  if (!parse_origin(origin, scheme, host, err)) return err;
  auto o = host_and_port(scheme == "https", host, err);
  if (!o) return err;
  if (s.same_origin) {
    auto h = host_and_port(s.tls, r.get("host"), err);
    if (!h) return err;
    if (o->host != h->host || o->port != h->port) return "not same origin";
  }
  if (!s.allowed_origins.empty()) {
    auto it = s.allowed_origins.find(o->host);
    if (it == s.allowed_origins.end() || scheme != it->second.scheme || o->port != it->second.port) {
      return "not in the allowed list";
    }
  }
  return {};
}

// permessage-deflate offered in any Sec-WebSocket-Extensions value.
bool offers_deflate(const Request& r) {
  auto it = r.headers.find("sec-websocket-extensions");
  if (it == r.headers.end()) return false;
  for (const auto& list : it->second) {
    std::string_view rest = list;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view ext = rest.substr(0, comma);
      while (true) {
        size_t semi = ext.find(';');
        if (iequals(trim(ext.substr(0, semi)), "permessage-deflate")) return true;
        if (semi == std::string_view::npos) break;
        ext.remove_prefix(semi + 1);
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

Upgrade refuse(int status, std::string reason) {
  Upgrade u;
  u.state = Upgrade::State::kRefused;
  u.response = http_error(status);
  u.reason = std::move(reason);
  return u;
}

}  // namespace

std::string http_error(int status) {
  std::string body = std::string(status_text(status)) + "\n";
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\n"
      "X-Content-Type-Options: nosniff\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      status, status_text(status), body.size(), body);
}

Settings make_settings(const WebsocketOptions& o, int64_t max_message, std::vector<std::string>& errors) {
  Settings s;
  s.tls = o.tls.enabled;
  s.compression = o.compression;
  s.same_origin = o.same_origin;
  s.handshake_timeout = o.handshake_timeout;
  if (max_message > 0) s.max_message = static_cast<size_t>(max_message);
  for (const auto& ao : o.allowed_origins) {
    std::string scheme, host, err;
    std::optional<HostPort> hp;
    if (parse_origin(ao, scheme, host, err)) hp = host_and_port(scheme == "https", host, err);
    if (!hp) {
      errors.push_back(fmt::format("error parsing allowed origin: {}", err));
      continue;
    }
    s.allowed_origins[hp->host] = Settings::AllowedOrigin{scheme, hp->port};
  }
  return s;
}

Upgrade UpgradeRequest::feed(std::string_view data, const Settings& settings) {
  buf_.append(data);
  size_t end = buf_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (buf_.size() > kMaxRequestHeader) return refuse(431, "request header too large");
    return {};
  }
  if (end > kMaxRequestHeader) return refuse(431, "request header too large");
  Request r;
  if (!parse_request(std::string_view(buf_).substr(0, end + 2), r)) return refuse(400, "malformed HTTP request");
  // RFC 6455 4.2.1, in the reference's order and words.
  if (r.method != "GET") return refuse(405, "request method must be GET");
  if (r.get("host").empty()) return refuse(400, "'Host' missing in request");
  if (!r.contains("upgrade", "websocket")) return refuse(400, "invalid value for header 'Upgrade'");
  if (!r.contains("connection", "Upgrade")) return refuse(400, "invalid value for header 'Connection'");
  std::string key = r.get("sec-websocket-key");
  if (key.empty()) return refuse(400, "key missing");
  if (!r.contains("sec-websocket-version", "13")) return refuse(400, "invalid version");
  if (std::string why = check_origin(r, settings); !why.empty()) {
    return refuse(403, fmt::format("origin not allowed: {}", why));
  }
  if (buf_.size() > end + 4) return refuse(400, "client sent data before handshake is complete");
  Upgrade u;
  u.state = Upgrade::State::kAccepted;
  u.compress = settings.compression && offers_deflate(r);
  u.no_masking = r.get("nats-no-masking") == "true";
  std::string ua = r.get("user-agent");
  if (ua.starts_with("Mozilla/")) {
    u.browser = true;
    // Safari (whose agent has "Version/" and "Safari/"; Chrome's has only the latter) cannot
    // take fragmented compressed messages.
    u.no_compressed_fragments =
        u.compress && ua.find("Version/") != std::string::npos && ua.find("Safari/") != std::string::npos;
  }
  u.response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  u.response += accept_key(key);
  u.response += "\r\n";
  if (u.compress) {
    u.response += "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n";
  }
  if (u.no_masking) u.response += "Nats-No-Masking: true\r\n";
  u.response += "\r\n";
  std::string().swap(buf_);
  return u;
}

}  // namespace pylon::server::websocket
