// Options of a client connection (pylon::Connection): one plain struct; every default
// is a named constant below, and matches the official Go client (nats.go) unless noted.
//
// Callbacks run on the connection's callback thread (or callback strand, on the caller's
// io_context; see connection.h, "Threading"), never inside the I/O, one at a time and in
// the order the events happened.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pylon/error.h"

namespace pylon {

class Connection;
class Subscription;

namespace client_defaults {
using namespace std::chrono_literals;
inline constexpr const char* kUrl = "nats://127.0.0.1:4222";
inline constexpr int kMaxReconnects = 60;                     // per server
inline constexpr std::chrono::milliseconds kReconnectWait = 2s;
inline constexpr std::chrono::milliseconds kReconnectJitter = 100ms;
inline constexpr std::chrono::milliseconds kConnectTimeout = 2s;
inline constexpr std::chrono::milliseconds kPingInterval = 2min;
inline constexpr int kMaxPingsOut = 2;
inline constexpr int64_t kReconnectBufferSize = 8 * 1024 * 1024;
inline constexpr std::chrono::milliseconds kDrainTimeout = 30s;
inline constexpr std::chrono::milliseconds kFlushTimeout = 10s;
inline constexpr int64_t kSubPendingMsgsLimit = 512 * 1024;
inline constexpr int64_t kSubPendingBytesLimit = 64 * 1024 * 1024;
inline constexpr const char* kInboxPrefix = "_INBOX";
}  // namespace client_defaults

// TLS (see docs/client.md, "TLS"). A connection uses TLS with a server when the server's
// INFO says tls_required (the upgrade after INFO that nats-server 2.9 and the official
// clients do), and with every server when `required` holds: set it, or give a tls://
// URL, a CA or a client certificate (as nats.go's Secure). The server's certificate is
// verified against the CAs and the host of the URL being dialled (each server of the
// pool against its own host; the SNI is that host when it is a name).
// A PEM option takes a file (`*_file`) or the PEM text itself (`*_pem`); a bad one makes
// the Connection constructor throw Error::kInvalidArgument with OpenSSL's reason.
struct TlsOptions {
  bool required = false;
  // CAs that sign the servers' certificates. Neither: the system's trust store.
  std::string ca_file, ca_pem;
  // The client's certificate (chain) and key, for servers that verify clients
  // (mutual TLS). Give both or neither.
  std::string cert_file, cert_pem;
  std::string key_file, key_pem;
  // INSECURE, for tests only: accept any server certificate (no chain, expiry or host
  // name check). The traffic is still encrypted, but anyone in the middle can read it.
  bool insecure_skip_verify = false;
  // The TLS handshake before the server's INFO, instead of after it (nats-server 2.10+
  // `handshake_first`; a 2.9 server sends INFO in plain text and the handshake fails).
  bool handshake_first = false;

  // Whether any option above asks for TLS with every server.
  bool any() const {
    return required || handshake_first || !ca_file.empty() || !ca_pem.empty() || !cert_file.empty() ||
           !cert_pem.empty() || !key_file.empty() || !key_pem.empty();
  }
};

struct ClientOptions {
  // ---- Where to connect ------------------------------------------------------------
  // Server URLs: "nats://[user:password@|token@]host[:port]" ("nats://" and the port
  // 4222 may be left out; "tls://" asks for TLS with every server of the pool), or
  // "ws://" / "wss://" for a server's WebSocket port (docs/client.md, "WebSocket").
  // Empty: client_defaults::kUrl. Servers learnt from the cluster (INFO connect_urls)
  // join this pool while connected.
  std::vector<std::string> servers;
  // Try the servers in the order given (initial connect and reconnect). By default
  // the pool is shuffled once, so many clients spread over a cluster.
  bool no_randomize = false;

  // ---- Reconnecting ----------------------------------------------------------------
  bool allow_reconnect = true;
  // Reconnect attempts per server before it leaves the pool; -1: forever. When the
  // pool is empty the connection closes (closed callback; last_error() says why).
  int max_reconnects = client_defaults::kMaxReconnects;
  // Pause after each full pass over the pool, plus a random jitter in [0, jitter).
  std::chrono::milliseconds reconnect_wait = client_defaults::kReconnectWait;
  std::chrono::milliseconds reconnect_jitter = client_defaults::kReconnectJitter;
  // Bytes of publishes kept while disconnected and sent after reconnecting. A publish
  // that would go over it fails with Error::kReconnectBufferExceeded. -1: no
  // buffering (every publish while disconnected fails).
  int64_t reconnect_buffer_size = client_defaults::kReconnectBufferSize;
  // When the first connect() finds no server: false (default) -> connect() throws;
  // true -> connect() returns and the connection keeps trying as if reconnecting.
  bool retry_on_failed_connect = false;

  // ---- Connection --------------------------------------------------------------------
  // TCP connect + INFO + TLS handshake + CONNECT/PING + PONG must finish within this
  // (the TLS handshake has no timeout of its own: it shares this deadline).
  std::chrono::milliseconds connect_timeout = client_defaults::kConnectTimeout;
  // Client PINGs; after max_pings_out unanswered ones the connection is stale and is
  // dropped (then reconnects).
  std::chrono::milliseconds ping_interval = client_defaults::kPingInterval;
  int max_pings_out = client_defaults::kMaxPingsOut;

  TlsOptions tls;
  // ws:// and wss:// servers: offer permessage-deflate (nats.go's Compression option). Used
  // with a server that agrees (its `websocket { compression: true }`); with one that does
  // not, the connection is uncompressed.
  bool websocket_compression = false;

  // ---- CONNECT fields ----------------------------------------------------------------
  std::string name;          // shown in the server's monitoring (connz)
  bool verbose = false;      // the server acknowledges each operation with +OK
  bool pedantic = false;     // the server (and this client) check subjects strictly
  bool echo = true;          // receive our own publishes on our own subscriptions
  bool no_responders = true; // requests to a subject nobody serves fail at once (kNoResponders)
  // Credentials for servers whose URL has none. A URL's own credentials win.
  std::string user, password, token;
  // An nkey user: its seed ("SU..."), or a file holding it (a plain seed file, or a decorated
  // .nk/.creds file, as nats.go's NkeyOptionFromSeed reads). The client signs the nonce of each
  // server's INFO with it and sends the public key, as the official clients do. The file is
  // read, and the seed checked, when the Connection is made (Error::kInvalidArgument if bad).
  std::string nkey_seed;
  std::string nkey_seed_file;

  // ---- Subscriptions, requests, drain -------------------------------------------------
  // Per subscription: messages/bytes received but not yet handled. Over either, new
  // messages are dropped and the async-error callback gets Error::kSlowConsumer.
  // -1: no limit.
  int64_t sub_pending_msgs_limit = client_defaults::kSubPendingMsgsLimit;
  int64_t sub_pending_bytes_limit = client_defaults::kSubPendingBytesLimit;
  std::string inbox_prefix = client_defaults::kInboxPrefix;
  std::chrono::milliseconds drain_timeout = client_defaults::kDrainTimeout;

  // ---- Callbacks (on the callback thread; see the top of this file) -------------------
  // The connection was lost (or closed while connected); `why` is the cause.
  std::function<void(Connection&, const ErrorInfo& why)> on_disconnected;
  // Connected again (connected_url() tells where); subscriptions are replayed and the
  // reconnect buffer has been sent.
  std::function<void(Connection&)> on_reconnected;
  // Closed for good (close(), drain, or reconnects ran out); last_error() says why.
  std::function<void(Connection&)> on_closed;
  // New servers were learnt from the cluster (discovered_servers() lists them).
  std::function<void(Connection&)> on_discovered_servers;
  // Something went wrong without closing the connection: a slow consumer, a
  // permissions violation, an unexpected -ERR. `sub` is the subscription concerned,
  // or null.
  std::function<void(Connection&, const Subscription* sub, const ErrorInfo& error)> on_async_error;
  // The server entered lame-duck mode (it is about to shut down; reconnect elsewhere soon).
  std::function<void(Connection&)> on_lame_duck;
};

}  // namespace pylon
