// The pool of servers a connection may use: the ones given in the options (explicit)
// and the ones learnt from the cluster through INFO connect_urls (implicit).
//
// Semantics follow the official Go client (nats.go):
//  - the pool is shuffled once at the start unless no_randomize;
//  - selecting the next server moves the current one to the end of the pool, or drops
//    it when it has used up its reconnect attempts;
//  - an INFO's connect_urls add the servers not seen before (implicit) and remove the
//    implicit ones no longer listed (except the current one); new ones trigger the
//    discovered-servers callback. A learnt URL without credentials borrows those of
//    the current server's URL.
// Not thread-safe: the connection guards it with its lock.
#pragma once

#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pylon/error.h"

namespace pylon::client {

inline constexpr int kDefaultPort = 4222;

struct ServerUrl {
  std::string host;  // without brackets for IPv6
  int port = kDefaultPort;
  std::string user;
  std::string password;
  bool has_password = false;  // "user:pass@" (else a lone "x@" is a token)
  bool tls = false;           // "tls://" or "wss://": TLS with this server, verified against `host`
  bool websocket = false;     // "ws://" or "wss://": the NATS protocol inside WebSocket frames

  // "host:port" ("[v6]:port"): the key servers are compared by.
  std::string host_port() const;
  // "nats://host:port", "tls://", "ws://" or "wss://" (never the credentials).
  std::string str() const;
};

// WebSocket's default ports, as nats.go: a ws:// or wss:// URL without a port means these.
inline constexpr int kDefaultWsPort = 80;
inline constexpr int kDefaultWssPort = 443;

// Parses "nats://[user[:password]@]host[:port]" ("nats://" and ":4222" optional),
// "tls://...", "ws://..." or "wss://..." (no path: the upgrade asks for "/"). Throws
// Exception(kInvalidUrl).
ServerUrl parse_server_url(std::string_view url);

// Splits a comma-separated list of URLs (as the Go client accepts in one string).
std::vector<std::string> split_urls(std::string_view urls);

class ServerPool {
 public:
  struct Entry {
    ServerUrl url;
    bool implicit = false;    // learnt from INFO connect_urls
    int reconnects = 0;       // attempts since the last successful connect
    bool did_connect = false;
    ErrorInfo last_error;
  };
  using EntryPtr = std::shared_ptr<Entry>;

  ServerPool();

  // Adds a server given in the options (implicit=false) or learnt (true). Duplicates
  // (same host:port) are ignored.
  void add(ServerUrl url, bool implicit);
  // Shuffles entries [offset, end).
  void shuffle(size_t offset = 0);

  bool empty() const noexcept { return entries_.empty(); }
  size_t size() const noexcept { return entries_.size(); }
  const std::vector<EntryPtr>& entries() const noexcept { return entries_; }

  EntryPtr current() const noexcept { return current_; }
  // Makes the first entry current (initial connect walks the pool with select_at()).
  void set_current(EntryPtr e) noexcept { current_ = std::move(e); }

  // nats.go's selectNextServer: moves the current server to the end of the pool (or
  // drops it once its reconnects reach max_reconnects >= 0) and makes the first entry
  // current. Returns null when the pool is empty.
  EntryPtr select_next(int max_reconnects);

  // Applies an INFO's connect_urls ("host:port" each). Returns true when a server never
  // seen before was added. An empty list changes nothing. A learnt server takes the
  // current one's scheme (TLS stays TLS, WebSocket stays WebSocket: a server tells a
  // WebSocket client its cluster's WebSocket URLs) and credentials.
  bool apply_connect_urls(const std::vector<std::string>& urls, bool randomize);

  // URLs ("nats://host:port", "ws://host:port", ...) of every entry, or only the implicit ones.
  std::vector<std::string> urls(bool implicit_only) const;

 private:
  std::vector<EntryPtr> entries_;
  EntryPtr current_;
  std::set<std::string> seen_;  // host:port of every server ever in the pool
  std::mt19937 rng_;
};

}  // namespace pylon::client
