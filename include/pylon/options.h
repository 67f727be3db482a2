// Server options: one plain struct, filled from flags, then the config file, then
// checked in one place (pylon::server::validate). Every default is a named constant.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace pylon {

using Duration = std::chrono::nanoseconds;

namespace defaults {
inline constexpr const char* kHost = "0.0.0.0";
inline constexpr int kPort = 4222;
inline constexpr int kHttpPort = 8222;                       // when -m is given without a value... see flags
inline constexpr int64_t kMaxControlLine = 4096;             // MAX_CONTROL_LINE_SIZE
inline constexpr int64_t kMaxPayload = 1024 * 1024;          // MAX_PAYLOAD_SIZE
inline constexpr int64_t kMaxPayloadMax = 8 * 1024 * 1024;   // MAX_PAYLOAD_MAX_SIZE (warned above)
inline constexpr int64_t kMaxPending = 64 * 1024 * 1024;     // MAX_PENDING_SIZE
inline constexpr int kMaxConnections = 64 * 1024;            // DEFAULT_MAX_CONNECTIONS
inline constexpr int kMaxSubscriptions = 0;                  // 0: unlimited
inline constexpr auto kAuthTimeout = std::chrono::seconds(2);
// A solicited leaf connection's wait between dial attempts (the reference's
// DEFAULT_LEAF_NODE_RECONNECT), and after a loop was detected (leafNodeReconnectDelayAfterLoopDetected).
inline constexpr auto kLeafReconnect = std::chrono::seconds(1);
inline constexpr auto kLeafReconnectAfterLoop = std::chrono::seconds(30);
inline constexpr auto kPingInterval = std::chrono::minutes(2);
inline constexpr int kPingMaxOut = 2;
inline constexpr auto kWriteDeadline = std::chrono::seconds(10);  // DEFAULT_FLUSH_DEADLINE
inline constexpr auto kLameDuckDuration = std::chrono::minutes(2);
inline constexpr auto kLameDuckGracePeriod = std::chrono::seconds(10);
inline constexpr auto kRouteConnectRetryWait = std::chrono::seconds(1);
inline constexpr auto kTlsTimeout = std::chrono::seconds(2);          // TLS_TIMEOUT
}  // namespace defaults

// Subject permissions of a user: a subject is allowed when `allow` is empty or one of its
// patterns covers it, and no `deny` pattern does (wildcards as in subscriptions).
struct SubjectPermission {
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  bool empty() const { return allow.empty() && deny.empty(); }
};

// `allow_responses`: the user may publish to the reply subject of a request it received,
// `max_msgs` times within `expires` (negative max_msgs: any number), as the reference's ResponsePermission.
struct ResponsePermission {
  int max_msgs = 1;       // DEFAULT_ALLOW_RESPONSE_MAX_MSGS
  Duration expires = std::chrono::minutes(2);  // DEFAULT_ALLOW_RESPONSE_EXPIRATION; <= 0: none
};

struct Permissions {
  SubjectPermission publish;
  SubjectPermission subscribe;
  // allow_responses was given: with no publish allow list, publishing is limited to replies.
  bool has_response = false;
  ResponsePermission response;
  bool empty() const { return publish.empty() && subscribe.empty() && !has_response; }
};

// The account every user outside `accounts {}` belongs to (the reference's globalAccountName).
inline constexpr const char* kGlobalAccount = "$G";
// The system account when `system_account` names none (the reference's DEFAULT_SYSTEM_ACCOUNT):
// created implicitly unless `no_system_account` is set.
inline constexpr const char* kDefaultSystemAccount = "$SYS";

// One user entry of `authorization { users = [...] }` or of an account's `users`: the same
// struct either way, so authentication has one list to search (Options::users).
struct User {
  std::string user;
  std::string password;  // plain or bcrypt ($2a$/$2b$)
  Permissions permissions;
  std::string account;   // the account it is bound to; empty: $G
};

// An account's export (`exports: [{stream: "x.>"}, {service: "q", accounts: [B]}]`).
struct AccountExport {
  enum class Kind { kStream, kService };
  enum class ResponseType { kSingleton, kStream, kChunked };  // services only
  Kind kind = Kind::kStream;
  std::string subject;
  std::vector<std::string> accounts;   // private export: only these may import; empty: public
  ResponseType response = ResponseType::kSingleton;
  Duration response_threshold{0};      // 0: the reference's default (2 minutes)
  friend bool operator==(const AccountExport&, const AccountExport&) = default;
};

// An account's import (`imports: [{stream: {account: A, subject: "x.>"}, prefix: "p"}]`).
struct AccountImport {
  AccountExport::Kind kind = AccountExport::Kind::kStream;
  std::string account;   // the exporting account
  std::string subject;   // the exported subject (or a subset of it)
  std::string to;        // local subject (service: what clients publish; stream: where it lands)
  std::string prefix;    // streams only: prepended to the exporter's subject
  friend bool operator==(const AccountImport&, const AccountImport&) = default;
};

// One entry of `accounts { NAME: { users, exports, imports } }`. Its users are in Options::users.
struct AccountConfig {
  std::string name;
  std::vector<AccountExport> exports;
  std::vector<AccountImport> imports;
  friend bool operator==(const AccountConfig&, const AccountConfig&) = default;
};

// One nkey user of `authorization { users = [{nkey: U...}] }` (the reference's NkeyUser): the
// client proves it holds the key by signing the nonce of its INFO (src/server/client/nkeys.h).
struct NkeyUser {
  std::string nkey;  // a public user nkey, "U" + 55 characters
  Permissions permissions;
  std::string account;  // the account it is bound to; empty: $G
};

// A `tls { ... }` block (top level: clients; `cluster { tls {} }`: routes), as the reference's
// TLSConfigOpts. Plain data; src/server/tls/ builds the OpenSSL context from it and owns the
// parsing (parse_tls_block) and every check of it.
struct TlsConfig {
  bool enabled = false;            // a tls block, or --tls/--tlsverify, was given
  std::string cert_file, key_file, ca_file;
  bool verify = false;             // require and verify the peer's certificate (against ca_file)
  bool map = false;                // verify_and_map: the client certificate names the user
  bool insecure = false;           // routes and leaf remotes: do not verify the certificate of the server we dial
  bool handshake_first = false;    // TLS before INFO (2.10's handshake_first)
  Duration timeout = defaults::kTlsTimeout;   // the handshake's
  std::vector<std::string> cipher_suites;     // Go names as written; empty: the reference's defaults
  std::vector<std::string> curve_preferences; // Go names as written; empty: the reference's defaults
  std::vector<std::string> pinned_certs;      // lower-case hex SHA-256 of the peer's SubjectPublicKeyInfo
  friend bool operator==(const TlsConfig&, const TlsConfig&) = default;
};

struct ClusterOptions {
  std::string name;                 // cluster name; empty: dynamic
  std::string host;                 // route listener host
  int port = 0;                     // route listener port; 0: no route listener
  std::string advertise;
  bool no_advertise = false;
  int connect_retries = 0;
  std::vector<std::string> routes;  // nats-route://[user:pass@]host:port
  std::string user, password, token;
  Duration auth_timeout = defaults::kAuthTimeout;
  TlsConfig tls;                   // cluster { tls {} }: route TLS
};

// `websocket { ... }` (the reference's WebsocketOpts): WebSocket clients, browsers among them,
// speaking the client protocol inside WebSocket messages on a listener of their own.
struct WebsocketOptions {
  std::string host;                 // empty with a port: defaults::kHost (the reference's baseline)
  int port = 0;                     // 0: no WebSocket listener; -1: a random free port
  std::string advertise;            // host[:port] told to clients instead of the listener's
  TlsConfig tls;                    // wss://; required unless no_tls
  bool no_tls = false;              // plain ws:// (the reference warns: not for production)
  bool same_origin = false;         // Origin must name the host:port the request was sent to
  std::vector<std::string> allowed_origins;  // "scheme://host[:port]"; empty: any origin
  bool compression = false;         // permessage-deflate, when the client offers it
  Duration handshake_timeout{0};    // reading the upgrade request (and TLS); 0: no limit
  // An authorization override for WebSocket clients (any of user, token, no_auth_user set):
  std::string user, password, token, no_auth_user;
  Duration auth_timeout{0};         // 0: the top-level auth_timeout
  std::string jwt_cookie;           // refused: needs JWT operator mode, which Pylon lacks
  bool auth_override() const { return !user.empty() || !token.empty() || !no_auth_user.empty(); }
  bool enabled() const { return port != 0; }
  friend bool operator==(const WebsocketOptions&, const WebsocketOptions&) = default;
};

// One entry of `leafnodes { authorization { users = [...] } }`: a leaf that presents this
// user is bound to `account` ($G when empty).
struct LeafUser {
  std::string user, password, account;
  friend bool operator==(const LeafUser&, const LeafUser&) = default;
};

// One entry of `leafnodes { remotes = [...] }`: a hub we dial, our account the connection is
// bound to ($G when empty), the URLs (credentials as user:pass in a URL, or a credentials
// file), and TLS toward the hub.
struct RemoteLeafOptions {
  std::vector<std::string> urls;  // nats-leaf://[user:pass@]host:port, tls://... (any scheme but ws/wss)
  std::string account;
  bool no_randomize = false;
  // A .creds file (a user JWT and its nkey seed): the CONNECT carries the JWT and the hub's
  // nonce signed with the seed, as the reference's sendLeafConnect. Read again at each dial.
  std::string credentials;
  // tls { cert_file key_file ca_file insecure timeout }: we are the TLS client. Without it,
  // TLS still happens when the hub's INFO says tls_required (the system's CAs verify it).
  TlsConfig tls;
  friend bool operator==(const RemoteLeafOptions&, const RemoteLeafOptions&) = default;
};

// `leafnodes { ... }` (the reference's LeafNodeOpts): the listener leaf nodes connect to (we
// are their hub), its authorization, and the remotes we connect to (we are their leaf).
struct LeafNodeOptions {
  std::string host;                 // empty with a port: defaults::kHost
  int port = 0;                     // 0: no leafnode listener; -1: a random free port
  std::string advertise;            // host[:port] told to leafs instead of the listener's
  bool no_advertise = false;
  std::string user, password, account;  // authorization { user, password, account }
  std::vector<LeafUser> users;          // authorization { users = [...] }
  Duration auth_timeout{0};             // 0: the top-level auth_timeout
  std::vector<RemoteLeafOptions> remotes;
  Duration reconnect = defaults::kLeafReconnect;
  // tls { ... } of the listener: leafs upgrade after our INFO (tls_required), as in 2.9.
  // Its pinned_certs also check the hubs we dial (the reference's LeafNode.TLSPinnedCerts).
  TlsConfig tls;
  bool enabled() const { return port != 0 || !remotes.empty(); }
  friend bool operator==(const LeafNodeOptions&, const LeafNodeOptions&) = default;
};

struct Options {
  // Where clients connect.
  std::string host = defaults::kHost;
  int port = defaults::kPort;        // -1: random free port (reported by Server::port())
  std::string server_name;           // defaults to the server id
  std::string client_advertise;
  // Monitoring.
  std::string http_host;             // empty: same as host
  int http_port = 0;                 // 0: monitoring off; -1: random
  int https_port = 0;                // HTTPS monitoring with the top-level tls block; 0: off; -1: random
  // Authorization of clients.
  std::string user, password, token;
  std::vector<User> users;
  std::vector<NkeyUser> nkeys;  // the nkey entries of `users`; INFO carries a nonce when there are any
  Duration auth_timeout = defaults::kAuthTimeout;
  // Accounts besides $G (`accounts {}`), and the user a client without credentials becomes.
  std::vector<AccountConfig> accounts;
  std::string no_auth_user;
  // The system account: server events and the $SYS.REQ.SERVER requests live there
  // (src/server/account/system_account.h). Empty: $SYS, unless no_system_account.
  std::string system_account;
  bool no_system_account = false;
  // Client TLS (the top-level tls block and the --tls* flags).
  TlsConfig tls;
  // Limits.
  int max_connections = defaults::kMaxConnections;
  int max_subscriptions = defaults::kMaxSubscriptions;
  int64_t max_control_line = defaults::kMaxControlLine;
  int64_t max_payload = defaults::kMaxPayload;
  int64_t max_pending = defaults::kMaxPending;
  Duration ping_interval = defaults::kPingInterval;
  int ping_max = defaults::kPingMaxOut;
  Duration write_deadline = defaults::kWriteDeadline;
  Duration lame_duck_duration = defaults::kLameDuckDuration;
  Duration lame_duck_grace_period = defaults::kLameDuckGracePeriod;
  // Logging.
  bool debug = false;
  bool trace = false;
  bool logtime = true;
  std::string log_file;              // empty: stderr
  int64_t log_size_limit = 0;
  int max_traced_msg_len = 0;        // 0: unlimited
  std::string pid_file;
  // Cluster (routes come with the cluster issue; accepted and checked now).
  ClusterOptions cluster;
  // WebSocket clients (`websocket {}`).
  WebsocketOptions websocket;
  // Leaf nodes (`leafnodes {}`).
  LeafNodeOptions leafnodes;
  // Pylon's own: event loops (threads) serving connections; 0: one per core.
  int event_loops = 0;
  // Where the config came from (for reload and messages).
  std::string config_file;

  bool auth_required() const { return !user.empty() || !token.empty() || !users.empty() || !nkeys.empty(); }
  // The system account's name in force: `system_account`, else $SYS. Empty only with
  // no_system_account and no account named $SYS (the reference then runs without events).
  std::string effective_system_account() const {
    if (!system_account.empty()) return system_account;
    bool configured = false;
    for (const auto& a : accounts) configured = configured || a.name == kDefaultSystemAccount;
    return no_system_account && !configured ? std::string() : std::string(kDefaultSystemAccount);
  }
};

}  // namespace pylon
