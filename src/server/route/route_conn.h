// A route: a connection to another server of the cluster, speaking nats-server 2.9's
// route protocol (INFO/CONNECT handshake, RS+/RS- interest, RMSG/HMSG, PING/PONG).
//
// Lifecycle: accepted (we send INFO and expect CONNECT first) or solicited (we send CONNECT
// then INFO) -> the peer's INFO registers it with the Cluster (or it is closed as a duplicate
// route) -> interest is exchanged -> messages flow -> on close its remote interest leaves the
// index and, if we dialled an explicit route, the Cluster redials it.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>

#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "proto/parser.h"
#include "server/route/cluster.h"
#include "server/route/interest_table.h"
#include "server/core/connection.h"
#include "server/sub_index.h"
#include "server/config/url.h"

namespace pylon::server {

class MatchCache;  // match_cache.h

class RouteConn final : public Connection, private proto::ParserHandler {
 public:
  // `solicit_url` is set when we dialled the peer; `explicit_route` when it is configured;
  // `no_gossip` when we dial because of gossip that said no_gossip: our INFO says it too, so
  // the peer does not gossip us again (Cluster::register_route).
  RouteConn(Server& server, EventLoop& loop, boost::asio::ip::tcp::socket socket, uint64_t rid,
            std::optional<Url> solicit_url, bool explicit_route, bool no_gossip = false,
            const boost::asio::ip::tcp::endpoint* accepted_peer = nullptr);
  ~RouteConn() override;

  bool solicited() const noexcept { return solicit_url_.has_value(); }
  bool explicit_route() const noexcept { return explicit_route_; }
  const std::optional<Url>& solicit_url() const noexcept { return solicit_url_; }
  // Valid once the peer's INFO arrived (loop thread wrote it before registering).
  const RouteInfo& remote() const noexcept { return remote_; }
  bool registered() const noexcept { return registered_.load(std::memory_order_acquire); }

  // Sends a message of `account` to this peer with the queue groups chosen for it. Any thread.
  bool send_message(std::string_view account, std::string_view subject, std::string_view reply, int64_t header_len, std::string_view payload,
                    std::span<const std::string_view> queues);

  // The peer's interest, for monitoring ("account subject" or "account subject queue"), and its size.
  std::vector<std::string> remote_interest() const;
  size_t remote_interest_count() const;

  // Monitoring (any thread). The round-trip time of our last answered PING (0 until the
  // first PONG, about a second after the route comes up); when the peer last sent us
  // messages or interest (RMSG, RS+, RS-), as the reference's route "last_activity"
  // (PING/PONG and INFO do not count). Starts as the connection's start time.
  std::chrono::nanoseconds rtt() const noexcept {
    return std::chrono::nanoseconds(rtt_ns_.load(std::memory_order_relaxed));
  }
  std::chrono::system_clock::time_point last_activity_at() const noexcept {
    int64_t ns = activity_ns_.load(std::memory_order_relaxed);
    return ns == 0 ? started_at() : std::chrono::system_clock::time_point(std::chrono::nanoseconds(ns));
  }

 private:
  // Connection
  void on_start() override;
  void on_tls_established() override;
  // After TLS (if any): "Route connection created", CONNECT when we dialled, INFO, timers.
  void begin_route();
  bool on_read(std::string_view data) override;
  void on_closing() override;
  void on_closed(CloseReason reason) override;

  // proto::ParserHandler
  bool on_connect(std::string_view json) override;
  bool on_info(std::string_view json) override;
  bool on_ping() override;
  bool on_pong() override;
  bool on_ok() override { return true; }
  bool on_err(std::string_view text) override;
  bool on_rs_sub(std::string_view account, std::string_view subject, std::string_view queue, int32_t weight) override;
  bool on_rs_unsub(std::string_view account, std::string_view subject, std::string_view queue) override;
  bool on_rmsg(const proto::MsgArgs& args, std::string_view payload) override;
  bool on_ls_sub(std::string_view origin, std::string_view account, std::string_view subject, std::string_view queue,
                 int32_t weight) override {
    return on_rs_sub(account, subject, queue, weight);
  }
  bool on_ls_unsub(std::string_view origin, std::string_view account, std::string_view subject,
                   std::string_view queue) override {
    return on_rs_unsub(account, subject, queue);
  }
  bool on_lmsg(std::string_view origin, const proto::MsgArgs& args, std::string_view payload) override {
    return on_rmsg(args, payload);
  }

  void send_connect();
  // A CONNECT or INFO the reference's json.Unmarshal refuses: like its readLoop, log Go's
  // error text and close this route as a protocol violation, sending nothing. Returns false.
  bool bad_json(const std::string& error);
  void send_err_and_close(std::string_view text, CloseReason reason);
  void queue_self(std::string_view bytes);
  // The first PING goes out soon after the route is up (so its RTT is known early), the
  // following ones every ping_interval, as the reference's setFirstPingTimer.
  void schedule_ping(bool first = false);

  proto::Parser parser_;
  std::optional<Url> solicit_url_;
  bool tls_ = false;  // loop thread: this route runs over TLS (cluster { tls {} })
  bool explicit_route_;
  bool no_gossip_;
  boost::asio::steady_timer auth_timer_;
  boost::asio::steady_timer ping_timer_;
  int pings_out_ = 0;
  std::chrono::steady_clock::time_point ping_sent_{};  // loop thread: the oldest unanswered PING

  bool connect_received_ = false;  // accepted side: CONNECT seen
  bool info_received_ = false;
  bool peer_headers_ = false;      // both sides support headers
  std::string connect_name_;       // the server id the peer gave in CONNECT
  RouteInfo remote_;
  std::atomic<bool> registered_{false};

  // The account a route message or interest names: $G without a lookup, any other through
  // the registry, the last one kept (loop thread) so a stream of one account's messages or
  // RS+ looks it up once. Null when this server has no such account.
  const std::shared_ptr<Account>* account_ref(std::string_view name);
  Account* account_for(std::string_view name) {
    const auto* acc = account_ref(name);
    return acc != nullptr ? acc->get() : nullptr;
  }
  std::shared_ptr<Account> last_account_;
  uint64_t last_account_generation_ = 0;
  // Loop thread: match results of the messages this route brought, per account
  // (match_cache.h); made at the first RMSG, cleared in on_closed.
  std::shared_ptr<MatchCache> match_cache_;

  // One RS+: the subscription in its account's index, and that account. The table's key is
  // the subscription's own sid, "account subject[ queue]" (immutable), so an entry copies no
  // key; it lives in its slot of an open-addressing table (interest_table.h), 32 bytes with
  // its hash, so a lookup reads consecutive slots and an entry costs no allocation of its own
  // (memory and cache misses at scale: a joining node takes a million of these in a row,
  // issue 14 §4). The account is held by interest_accounts_, so the index the subscription
  // is in outlives it (Lifetimes).
  struct RemoteInterest {
    SubPtr sub;
    Account* account = nullptr;
  };
  struct SidOf {
    std::string_view operator()(const RemoteInterest& ri) const noexcept { return ri.sub->sid(); }
  };
  using InterestTable = FlatSidTable<RemoteInterest, SidOf>;
  mutable std::mutex subs_mu_;
  InterestTable subs_;  // guarded by subs_mu_; by sid, "account subject[ queue]"
  // Loop thread: every account an entry of subs_ names (usually one, $G; thousands in an
  // operator's cluster, so found by address, not by a scan per RS+), with how many entries
  // name it. Held while it has entries: the last RS- of an account lets go of it once the
  // removal's batch holds it (pending_account_), and on_closed takes every entry out of its
  // index before it lets go of the rest. So an account a reload removed goes as soon as no
  // route has interest in it, not when the route closes.
  struct HeldAccount {
    std::shared_ptr<Account> account;
    size_t entries = 0;
  };
  std::unordered_map<const Account*, HeldAccount> interest_accounts_;
  HeldAccount* last_held_ = nullptr;  // the entry hold_account counted last (nodes are stable)
  void hold_account(const std::shared_ptr<Account>& acc);  // one more entry of acc in subs_
  void release_account(const Account* acc);                // one entry fewer
  const std::shared_ptr<Account>& held_account(Account* acc) const;

  // Loop thread: this read's interest changes (RS+/RS-, LS+/LS-) not yet in the index, all
  // of one account, in the order they came. They go in as one batch (SubIndex::apply: one
  // exclusive lock, one generation bump) before anything that must see them: an RMSG of this
  // route, a PONG, a change in another account, the end of the read, the route's close; and
  // at most kMaxPending at a time, which bounds how long the batch holds the index's lock.
  // docs/architecture.md, "Threading", says what other loops see and when.
  static constexpr size_t kMaxPending = 256;
  std::vector<SubIndex::Change> pending_;
  std::shared_ptr<Account> pending_account_;
  void apply_pending();
  std::string key_buf_;  // loop thread: the sid of the RS+/RS- being read, reused

  // Monitoring (see rtt(), last_activity_at()).
  std::atomic<int64_t> rtt_ns_{0};
  std::atomic<int64_t> activity_ns_{0};  // system_clock since epoch; 0: started_at()
  bool batch_activity_ = false;          // loop thread: an RMSG/RS+/RS- in this read
};

}  // namespace pylon::server
