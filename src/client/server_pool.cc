#include "client/server_pool.h"

#include <algorithm>
#include <charconv>

namespace pylon::client {

namespace {

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int h = hex(s[i + 1]), l = hex(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out += static_cast<char>(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '/')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string ServerUrl::host_port() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string ServerUrl::str() const {
  if (websocket) return (tls ? "wss://" : "ws://") + host_port();
  return (tls ? "tls://" : "nats://") + host_port();
}

ServerUrl parse_server_url(std::string_view text) {
  std::string_view s = trim(text);
  const std::string original(s);
  if (s.empty()) throw Exception(Error::kInvalidUrl, "empty URL");
  ServerUrl u;
  if (auto p = s.find("://"); p != std::string_view::npos) {
    std::string_view scheme = s.substr(0, p);
    if (scheme != "nats" && scheme != "tls" && scheme != "ws" && scheme != "wss") {
      throw Exception(Error::kInvalidUrl, "unsupported scheme in '" + original + "'");
    }
    u.tls = scheme == "tls" || scheme == "wss";
    u.websocket = scheme == "ws" || scheme == "wss";
    s.remove_prefix(p + 3);
  }
  if (u.websocket) u.port = u.tls ? kDefaultWssPort : kDefaultWsPort;
  if (auto at = s.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = s.substr(0, at);
    s.remove_prefix(at + 1);
    if (auto colon = cred.find(':'); colon != std::string_view::npos) {
      u.user = percent_decode(cred.substr(0, colon));
      u.password = percent_decode(cred.substr(colon + 1));
      u.has_password = true;
    } else {
      u.user = percent_decode(cred);
    }
  }
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) throw Exception(Error::kInvalidUrl, "unclosed '[' in '" + original + "'");
    u.host = std::string(s.substr(1, close - 1));
    s.remove_prefix(close + 1);
    if (!s.empty()) {
      if (s.front() != ':') throw Exception(Error::kInvalidUrl, original);
      port = s.substr(1);
    }
  } else {
    auto colon = s.rfind(':');
    if (colon != std::string_view::npos) {
      port = s.substr(colon + 1);
      s = s.substr(0, colon);
    }
    u.host = std::string(s);
  }
  if (u.host.empty()) throw Exception(Error::kInvalidUrl, "no host in '" + original + "'");
  if (u.host.find_first_of("/?# ") != std::string::npos) throw Exception(Error::kInvalidUrl, original);
  if (!port.empty()) {
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p <= 0 || p > 65535) {
      throw Exception(Error::kInvalidUrl, "bad port in '" + original + "'");
    }
    u.port = p;
  }
  return u;
}

std::vector<std::string> split_urls(std::string_view urls) {
  std::vector<std::string> out;
  while (!urls.empty()) {
    auto comma = urls.find(',');
    std::string_view one = trim(urls.substr(0, comma));
    if (!one.empty()) out.emplace_back(one);
    if (comma == std::string_view::npos) break;
    urls.remove_prefix(comma + 1);
  }
  return out;
}

ServerPool::ServerPool() : rng_(std::random_device{}()) {}

void ServerPool::add(ServerUrl url, bool implicit) {
  std::string key = url.host_port();
  for (const auto& e : entries_) {
    if (e->url.host_port() == key) return;
  }
  seen_.insert(key);
  auto e = std::make_shared<Entry>();
  e->url = std::move(url);
  e->implicit = implicit;
  entries_.push_back(std::move(e));
}

void ServerPool::shuffle(size_t offset) {
  if (entries_.size() <= offset + 1) return;
  std::shuffle(entries_.begin() + static_cast<std::ptrdiff_t>(offset), entries_.end(), rng_);
}

ServerPool::EntryPtr ServerPool::select_next(int max_reconnects) {
  auto it = std::find(entries_.begin(), entries_.end(), current_);
  if (it != entries_.end()) {
    EntryPtr cur = *it;
    entries_.erase(it);
    if (max_reconnects < 0 || cur->reconnects < max_reconnects) entries_.push_back(std::move(cur));
  }
  current_ = entries_.empty() ? nullptr : entries_.front();
  return current_;
}

bool ServerPool::apply_connect_urls(const std::vector<std::string>& urls, bool randomize) {
  if (urls.empty()) return false;
  std::set<std::string> listed(urls.begin(), urls.end());
  // Drop implicit servers the cluster no longer lists (keep the current one).
  std::erase_if(entries_, [&](const EntryPtr& e) {
    return e->implicit && e != current_ && !listed.count(e->url.host_port());
  });
  for (const auto& e : entries_) listed.erase(e->url.host_port());
  bool has_new = false;
  for (const auto& hp : listed) {
    ServerUrl u;
    try {
      u = parse_server_url(hp);
    } catch (const Exception&) {
      continue;  // a URL we cannot use is not worth failing the INFO for
    }
    // A learnt URL has no credentials: use those of the server that told us about it
    // (the Go client does the same), so a cluster with authorization still works.
    if (u.user.empty() && current_) {
      u.user = current_->url.user;
      u.password = current_->url.password;
      u.has_password = current_->url.has_password;
    }
    if (current_) {
      u.tls = current_->url.tls;
      u.websocket = current_->url.websocket;
    }
    if (!seen_.count(u.host_port())) has_new = true;
    add(std::move(u), true);
  }
  if (has_new && randomize) shuffle(1);
  return has_new;
}

std::vector<std::string> ServerPool::urls(bool implicit_only) const {
  std::vector<std::string> out;
  for (const auto& e : entries_) {
    if (!implicit_only || e->implicit) out.push_back(e->url.str());
  }
  return out;
}

}  // namespace pylon::client
