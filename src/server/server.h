// The server: listeners, event loops, the registry of connections, the subscription index,
// server-wide statistics. Embeddable (pylon::Server in include/pylon/server.h wraps it).
//
// Threading: start()/shutdown() from any one controlling thread. The client registry is
// sharded with its own locks (client/client_registry.h); the other connections' registry is
// guarded by `mu_`; the index has its own lock (sub_index.h); statistics are atomics.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pylon/options.h"
#include "server/client/client_registry.h"
#include "server/accept_backoff.h"
#include "server/account/account.h"
#include "server/core/event_loop.h"
#include "server/core/log.h"
#include "server/monitor/conn_info.h"
#include "server/monitor/process_stats.h"
#include "server/sub_index.h"

namespace pylon::server {

class ClientConn;
class Cluster;
class Leafnodes;
class Connection;
class SystemAccount;
namespace monitor {
class Monitor;
}
namespace tls {
class Context;
}
namespace websocket {
struct Settings;
}

// Server-wide counters, as /varz reports them. Message counts live per event loop
// (LoopCounters) and are summed here on demand, so the hot path takes no shared cache line.
struct ServerStats {
  std::atomic<uint64_t> slow_consumers{0};
  std::atomic<uint64_t> total_connections{0};
};

struct MessageTotals {
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
};

// The version of the NATS server protocol and feature set we implement. Clients gate
// features on INFO's "version" (e.g. headers, no-responders), so we report the reference
// release we are compatible with; our own version travels in INFO's "pylon" field.
inline constexpr const char* kNatsCompatVersion = "2.9.10";
inline constexpr const char* kPylonVersion = PYLON_VERSION;

class Server {
 public:
  explicit Server(Options opts, std::shared_ptr<Logger> log = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners and starts the loops. Throws std::runtime_error (e.g. port in use).
  void start();
  // Closes listeners and every connection, stops the loops. Idempotent; blocks until done.
  void shutdown();
  // Applies a reloaded configuration (SIGHUP). Returns "" on success, else why it was
  // refused; the running configuration is then kept.
  std::string reload(Options next);
  // Lame duck mode: stop accepting clients, tell clients and routes, close the clients
  // spread over lame_duck_duration (after lame_duck_grace_period), then shut down.
  void enter_lame_duck();
  // Blocks until shutdown() has completed (from another thread or a signal).
  void wait();
  bool running() const noexcept { return running_.load(); }

  // The options in force. A reload installs a new generation; older ones stay alive (reloads
  // are rare), so a reference taken by a connection stays valid.
  const Options& options() const noexcept { return *current_.load(std::memory_order_acquire); }
  Logger& log() noexcept { return *log_; }
  // Accounts, each with its own subscription index ($G always; see account/account.h).
  Accounts& accounts() noexcept { return accounts_; }
  ServerStats& stats() noexcept { return stats_; }
  const std::string& id() const noexcept { return id_; }
  const std::string& name() const noexcept { return name_; }
  int port() const noexcept { return port_; }
  std::string client_url() const;
  std::chrono::system_clock::time_point start_time() const noexcept { return start_time_; }

  // The INFO JSON a client gets, with its own client_id and client_ip: on connect, on its
  // first PING when something changed since, and as the async INFO.
  // `nonce`: the connection's nkey challenge (only in its first INFO), or empty.
  // `websocket`: for a WebSocket client, as the reference tells one: auth_required with the
  // websocket block's own authorization, tls_required for wss, and the cluster's WebSocket
  // URLs as connect_urls (never the TCP ones).
  std::string client_info_json(uint64_t cid, const std::string& client_ip, std::string_view nonce = {},
                               bool websocket = false) const;
  // This server's own client URLs ("host:port", as the reference advertises them), and its
  // WebSocket ones (websocket.advertise, else the listener's; empty without a listener).
  std::vector<std::string> own_client_urls() const;
  // "host:port" of a listener as the reference's getConnectURLs: the advertised address, else
  // the host, else (0.0.0.0, ::) every global unicast address of this host.
  std::vector<std::string> listener_urls(const std::string& advertise, const std::string& listen_host, int port) const;
  std::vector<std::string> own_websocket_urls() const;
  // Sends the current INFO (with connect_urls) to every client that speaks protocol 1,
  // each with its own client_id and client_ip as the reference's sendAsyncInfoToClients:
  // clients replace their INFO with it, and libnats then answers GetClientID from it.
  void send_async_info_to_clients();
  bool lame_duck() const noexcept { return lame_duck_.load(); }

  // Client TLS: the context a new client handshakes with; null when TLS is off. A reload
  // swaps it (new certificates for new connections); a connection keeps the one it started
  // with. Any thread.
  std::shared_ptr<const tls::Context> client_tls() const;
  // WebSocket (`websocket {}`): the wss context (null for ws://), and the bound port (0 when
  // there is no websocket listener). Set in start(), constant after. Any thread.
  std::shared_ptr<const tls::Context> websocket_tls() const { return websocket_tls_; }
  int websocket_port() const noexcept { return websocket_port_; }

  Cluster& cluster() noexcept { return *cluster_; }
  Leafnodes& leafnodes() noexcept { return *leafnodes_; }
  // Local interest (a client's or an internal subscription) came or went in `account`: the
  // routes (Cluster) and the leaf connections (Leafnodes) are told. Any thread.
  void local_sub_added(const Account& account, const Subscription& sub);
  void local_sub_removed(const Account& account, const Subscription& sub);
  EventLoop& loop(size_t i) noexcept { return *loops_[i]; }
  size_t num_loops() const noexcept { return loops_.size(); }
  EventLoop& next_loop();
  uint64_t next_cid() noexcept { return next_cid_.fetch_add(1, std::memory_order_relaxed) + 1; }
  // Connections that are not clients (routes) are tracked here so shutdown can close them.
  void track_connection(const std::shared_ptr<Connection>& c);
  void untrack_connection(uint64_t cid);

  // Registry. register_client() refuses when max_connections is reached, and once shutdown()
  // began (a client accepted meanwhile is closed without a word, as the reference's
  // createClient does; it is not told 'maximum connections exceeded').
  enum class Registration { kAdded, kFull, kShuttingDown };
  Registration register_client(const std::shared_ptr<ClientConn>& c);
  void remove_client(uint64_t cid);
  void notify_if_idle();  // wakes shutdown()'s wait once no connection is left
  size_t num_clients() const;  // no lock: an atomic count
  std::vector<std::shared_ptr<ClientConn>> clients() const;

  // Sum of every loop's message counters.
  MessageTotals message_totals() const;
  // Counts on the calling loop (any loop thread; others fall back to loop 0 atomically).
  void count_in(uint64_t bytes) noexcept;
  void count_out(uint64_t bytes) noexcept;

  void count_slow_consumer() noexcept { stats_.slow_consumers.fetch_add(1, std::memory_order_relaxed); }

  // Monitoring: recently closed client connections (/connz?state=closed), and the HTTP
  // monitor's bound port (0 when monitoring is off).
  monitor::ClosedConns& closed_clients() noexcept { return closed_clients_; }
  int http_port() const noexcept;
  // The HTTP monitor (null when monitoring is off). Set by start() before the first client is
  // accepted and kept until the server is destroyed, so any loop may read it.
  monitor::Monitor* monitor() noexcept { return monitor_.get(); }
  // CPU and memory as /varz and STATSZ report them (one sampler, so both see one interval).
  monitor::UsageSampler& usage_sampler() noexcept { return usage_sampler_; }
  // The system account's events and requests (account/system_account.h); null without a
  // system account. Set by start() before the first client is accepted, immutable afterwards.
  const std::shared_ptr<SystemAccount>& system_account() const noexcept { return system_; }

 private:
  // At start: "Plaintext passwords detected, use nkeys or bcrypt", as the reference warns.
  void warn_of_plaintext_passwords() const;
  void do_accept();
  // WebSocket listener: binds it (throws std::runtime_error in the reference's words) and
  // accepts onto the loops as do_accept does.
  void start_websocket();
  void do_websocket_accept();
  // Both listeners' accept loop: each connection onto the next loop, errors backed off.
  void accept_on(boost::asio::ip::tcp::acceptor& acceptor, AcceptBackoff& backoff, bool websocket);

  // The client INFO JSON cut where the per-client fields go (client_id, client_ip: after
  // max_payload, before connect_urls, the reference's field order). Built once per async
  // INFO; each client then costs one append into its outbound buffer, no JSON object.
  struct ClientInfoParts {
    std::string head;  // "{...,"max_payload":N"
    std::string tail;  // ","connect_urls":[...],...}"
    void append_for(std::string& out, uint64_t cid, std::string_view client_ip, std::string_view nonce = {}) const;
  };
  ClientInfoParts client_info_parts(bool websocket = false) const;

  // Builds the client TLS context of `o` (null when TLS is off). Throws std::runtime_error.
  static std::shared_ptr<const tls::Context> make_client_tls(const Options& o);

  mutable std::mutex tls_mu_;
  std::shared_ptr<const tls::Context> client_tls_;  // guarded by tls_mu_

  std::deque<Options> generations_;  // stable addresses; guarded by mu_ for push_back
  std::atomic<const Options*> current_{nullptr};
  std::shared_ptr<Logger> log_;
  std::string id_;
  std::string name_;
  Accounts accounts_;
  ServerStats stats_;
  LoopCounters foreign_;  // counts made outside loop threads (rare)
  std::chrono::system_clock::time_point start_time_;

  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::atomic<size_t> next_loop_{0};
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  AcceptBackoff accept_backoff_;  // only in accept_on's handler, for acceptor_
  std::unique_ptr<boost::asio::ip::tcp::acceptor> websocket_acceptor_;
  AcceptBackoff websocket_backoff_;  // only in accept_on's handler, for websocket_acceptor_
  std::shared_ptr<const websocket::Settings> websocket_settings_;
  std::shared_ptr<const tls::Context> websocket_tls_;
  int websocket_port_ = 0;
  int port_ = 0;
  std::atomic<uint64_t> next_cid_{0};

  mutable std::mutex mu_;
  // Open clients, sharded with locks of their own (client/client_registry.h), not under mu_:
  // accepts and closes on every loop would otherwise meet on mu_.
  ClientRegistry<ClientConn> clients_;
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> others_;  // routes
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Leafnodes> leafnodes_;
  monitor::ClosedConns closed_clients_;
  std::unique_ptr<monitor::Monitor> monitor_;  // HTTP monitoring; set in start() when http_port != 0
  monitor::UsageSampler usage_sampler_;
  std::shared_ptr<SystemAccount> system_;  // set in start(); see system_account()
  std::atomic<bool> lame_duck_{false};
  std::condition_variable cv_;
  std::atomic<bool> running_{false};
  bool shutdown_done_ = false;
  bool shutting_down_ = false;
  // Lame duck's timed client closes (enter_lame_duck). It touches the Server until it ends,
  // so the destructor joins it; shutdown() does not, since this thread itself calls it.
  std::thread lame_duck_thread_;
};

}  // namespace pylon::server
