// A client connection: the NATS client protocol on top of the connection core.
//
// Parses CONNECT/PUB/HPUB/SUB/UNSUB/PING/PONG, enforces auth, limits and the ping
// keepalive, and delivers published messages to matching subscriptions. Delivery into
// another connection only appends to its outbound buffer (Connection::enqueue_with) and
// touches it for the end-of-batch flush: a publisher never waits on a subscriber.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proto/parser.h"
#include "pylon/options.h"
#include "server/account/account.h"
#include "server/core/connection.h"
#include "server/core/deadline_list.h"
#include "server/sub_index.h"
#include "server/tls/cert_identity.h"

namespace pylon::proto {
class ClientMsg;
}

namespace pylon::server {

class MatchCache;  // match_cache.h

class ClientConn final : public Connection, private proto::ParserHandler, private DeadlineList::Entry {
 public:
  // `websocket`: accepted on the websocket listener (the WebSocket layer under the protocol).
  ClientConn(Server& server, EventLoop& loop, boost::asio::ip::tcp::socket socket, uint64_t cid,
             std::shared_ptr<const websocket::Settings> websocket = nullptr,
             const boost::asio::ip::tcp::endpoint* accepted_peer = nullptr);
  ~ClientConn() override;

  // What the client announced in CONNECT (read by other loops when delivering: these
  // are written once on the owning loop before any subscription exists).
  bool headers() const noexcept { return headers_; }
  bool echo() const noexcept { return echo_; }
  const std::string& name() const noexcept { return name_; }
  const std::string& lang() const noexcept { return lang_; }
  const std::string& version() const noexcept { return version_; }
  size_t num_subs() const;
  int protocol() const noexcept { return protocol_; }
  bool connected() const noexcept { return connect_received_; }
  // The account this client is bound to ($G until CONNECT binds it to its user's). Its loop,
  // or any thread that reached this client through one of its subscriptions (the binding
  // happens before the first subscription and never changes after; see account/account.h).
  Account& account() const noexcept { return *account_; }
  // The authorized user's name (empty without authentication). Its loop (monitoring snapshots).
  const std::string& user() const noexcept { return user_; }
  // Any thread: the cluster's async INFO goes to this client. As the reference's
  // sendAsyncInfoToClients: only once its first PING after CONNECT was answered, since that
  // PING sends whatever changed before (send_info_if_changed); and never to protocol 0.
  bool takes_async_info() const noexcept { return first_pong_sent_.load() && protocol_.load() >= 1; }
  // Any thread: queues `INFO <json>` unless that is what this client was last told. The
  // first-PING INFO (send_info_if_changed, on this loop) and the async INFO (another
  // thread, after a cluster change) can both carry one change; the reference rules the
  // double out with its server lock, we with this comparison under the outbound lock. True
  // if queued (the caller arranges the flush).
  bool queue_info_unless_told(std::string_view json);

  // Monitoring (/connz; any thread). A copy of the subscriptions; the round-trip time (estimated
  // at CONNECT, then measured by our PINGs); when the client last published or (un)subscribed.
  std::vector<SubPtr> subscriptions() const {
    std::lock_guard lk(subs_mu_);
    std::vector<SubPtr> out;
    out.reserve(subs_.size());
    for (const auto& sub : subs_) out.push_back(sub);
    return out;
  }
  std::chrono::nanoseconds rtt() const noexcept { return std::chrono::nanoseconds(rtt_ns_.load(std::memory_order_relaxed)); }
  std::chrono::system_clock::time_point last_activity_at() const noexcept {
    int64_t ns = activity_ns_.load(std::memory_order_relaxed);
    return ns == 0 ? started_at() : std::chrono::system_clock::time_point(std::chrono::nanoseconds(ns));
  }

  // Delivers one message to `sub` (owned by this client). Called from any loop.
  // Returns true when the message was queued.
  bool deliver(Subscription& sub, std::string_view subject, std::string_view reply, int64_t header_len,
               std::string_view payload);
  // The same, for a message formatted once for all its subscribers (the router's). Counts
  // this connection's out_msgs/out_bytes, not the server's: the caller adds those to its
  // loop's counters when this returns true.
  bool deliver(Subscription& sub, proto::ClientMsg& msg);

  // After a config reload: checks the credentials again (closing the connection with
  // -ERR 'Authorization Violation' when they no longer pass) and takes the new limits. Any thread.
  void revalidate();
  // After a reload lowered max_connections below the number connected: closes this client
  // with -ERR 'maximum connections exceeded' (the reference's maxConnExceeded). Any thread.
  void max_connections_exceeded();

  // Removes a subscription that reached its auto-unsubscribe limit. Any thread.
  void expire_subscription(const SubPtr& sub);

 private:
  // deliver()'s parts: a message this subscriber sees otherwise (an import's subject,
  // headers it cannot take) is formatted for it alone; then the checks and the append.
  // `counted_size` is the published payload's size (out_bytes).
  bool deliver_converted(Subscription& sub, const proto::ClientMsg& msg);
  bool deliver_as(Subscription& sub, proto::ClientMsg& msg, uint64_t counted_size);

  // Connection
  void on_start() override;
  bool on_read(std::string_view data) override;
  void on_closing() override;
  void on_closed(CloseReason reason) override;
  void on_tls_established() override;
  void on_websocket_upgraded() override;
  // The client protocol's start: INFO, registration, client TLS, timers. From on_start, or
  // once a WebSocket client's upgrade is done.
  void begin_protocol();
  // Whether this client must authenticate: the server's auth, or a websocket block's own.
  bool auth_required() const;
  // Before CONNECT, an operation other than CONNECT: no_auth_user, when it names a configured
  // user, is who the client then is (the reference's parser; telnet demos). False when there
  // is none, and the operation is an authorization violation.
  bool admit_as_no_auth_user();
  // The account `account_name` names (empty: the one the client is in), and the client counted
  // in it; false when it does not exist or would change after the first CONNECT.
  bool join_account(const std::string& account_name);
  // The client is past authentication: its auth timer stopped, its RTT estimated, its
  // account's connection count published. Once.
  void mark_connected();

  // proto::ParserHandler
  bool on_connect(std::string_view json) override;
  bool on_ping() override;
  bool on_pong() override;
  bool on_ok() override { return true; }
  bool on_err(std::string_view text) override;
  bool on_pub(const proto::MsgArgs& args, std::string_view payload) override;
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) override;
  bool on_unsub(std::string_view sid, int64_t max_msgs) override;

  // Sends -ERR '<text>'; when `reason` is set, closes after it is written.
  void send_err(std::string_view text);
  void send_err_and_close(std::string_view text, CloseReason reason);
  void send_ok();
  void queue_self(std::string_view bytes);
  // Answers the PINGs read so far, unless more input is already waiting (then later).
  void answer_pings();
  // Queues the PONGs owed now, whatever input waits.
  void send_owed_pongs();
  // True when an operation other than CONNECT may run; else it is an auth violation.
  bool check_connected();
  void auth_violation();
  // After a reload narrowed this user's permissions: removes each subscription no longer
  // allowed and tells the client (the reference's processSubsOnConfigReload). On the loop.
  void drop_subscriptions_not_allowed(const Permissions& p);
  // Checks credentials; on success sets perms_ (nullptr: no restrictions) and names the
  // user's account in `account` ("" for $G).
  bool authenticate(std::string_view user, std::string_view pass, std::string_view token, std::string_view nkey,
                    std::string_view sig, std::string& account);
  // Who is authenticated, in the reference's words for log lines (getAuthUser):
  // `Nkey "U..."` or `User "name"`.
  std::string auth_user() const;
  // allow_responses: remembers the reply subject of a request delivered to this client (any
  // thread), and spends one permit to publish to it (its loop). See the .cc.
  void note_reply(std::string_view reply, const Permissions& p);
  bool take_reply_permit(std::string_view subject, const Permissions& p);
  // After INFO (and TLS, when the server requires it): the auth timer and the first PING.
  void start_timers();
  // verify_and_map: the configured user the client certificate names (the reference's
  // checkClientTLSCertSubject order), or nullptr.
  const User* user_from_certificate(const Options& o);
  void schedule_ping();
  void on_deadline() override;  // the ping deadline
  void on_ping_timer();
  // First PING after CONNECT: resend INFO if it changed since accept (see the .cc).
  void send_info_if_changed();
  // Stream imports: the shadows of a new subscription in the accounts this client's account
  // imports from, and their removal with it (account/stream_import.h). Any thread.
  void add_shadows(const SubPtr& sub);
  void drop_shadows(const Subscription* sub);
  // After a reload changed its account's stream imports: every shadow made again. Its loop.
  void refresh_shadows();
  void send_no_responders(std::string_view reply);

  proto::Parser parser_;
  // Made only when this client must authenticate, freed at CONNECT (a pending wait is then
  // cancelled: its handler sees the error and touches nothing).
  std::unique_ptr<LoopTimer> auth_timer_;
  // The ping timer is this client's entry in its loop's ping deadlines (DeadlineList::Entry,
  // scheduled by schedule_ping, cancelled when it closes): no timer of its own.
  int pings_out_ = 0;

  // CONNECT state.
  std::atomic<bool> connect_received_{false};
  bool verbose_ = true;   // the reference's defaultOpts, until CONNECT says otherwise
  bool pedantic_ = true;
  bool echo_ = true;
  bool headers_ = false;
  bool no_responders_ = false;
  std::atomic<int> protocol_{0};
  std::string name_, lang_, version_;

  // The authenticated user's permissions (points into the server's options, which live as
  // long as the server); nullptr when the user has none.
  std::atomic<const Permissions*> perms_{nullptr};
  std::string user_;       // for log lines and monitoring
  // Strong: the account outlives this client (Lifetimes). Written on the loop at CONNECT only,
  // before any subscription exists; `bound_` once counted in the account's clients.
  std::shared_ptr<Account> account_;
  bool bound_ = false;
  bool connect_event_sent_ = false;  // the system account's CONNECT event, at the first CONNECT
  // Loop thread: this client's match results in account_ (match_cache.h), made at its first
  // PUB, so a client that only subscribes pays nothing; cleared in on_closed.
  std::shared_ptr<MatchCache> match_cache_;
  // allow_responses: reply subjects this client may publish to, with what is left of each
  // permit. Written by delivering loops, read by this one; empty unless the user has it.
  struct ReplyPermit {
    int sent = 0;
    std::chrono::steady_clock::time_point since;
  };
  struct ReplyPermits {
    std::mutex mu;
    std::unordered_map<std::string, ReplyPermit> permits;  // guarded by mu
  };
  // Made by the first delivery that notes a reply (any thread: the one whose exchange
  // installs it wins), freed with the client; null for every client without allow_responses.
  std::atomic<ReplyPermits*> replies_{nullptr};
  ReplyPermits& replies();

  // Loop thread: what few clients have, behind one pointer (memory at scale,
  // docs/performance.md): a plaintext client that presents no credentials pays 8 bytes.
  struct Rare {
    // What the client presented in CONNECT, kept to check it again after a reload.
    std::string conn_user, conn_pass, conn_token, conn_nkey, conn_sig;
    std::string nonce;        // of this connection's INFO (only with nkey users), set at start
    std::string accept_info;  // handshake_first only: the accept's INFO JSON, sent after the handshake
    std::string nkey_user;    // the nkey user authenticated, for log lines
    std::optional<tls::CertIdentity> cert_identity;  // verify_and_map: who the certificate names
  };
  std::unique_ptr<Rare> rare_;
  const Rare& rare() const noexcept {
    static const Rare kNone;
    return rare_ ? *rare_ : kNone;
  }
  Rare& rare_mut() {
    if (!rare_) rare_ = std::make_unique<Rare>();
    return *rare_;
  }

  // This client's subscriptions by sid. The key is the subscription's own sid (immutable
  // once made), so an entry is one pointer, with no copy of the sid (memory at scale,
  // docs/performance.md); lookups by a string_view build no string.
  struct SidHash {
    using is_transparent = void;
    size_t operator()(std::string_view sid) const noexcept { return std::hash<std::string_view>{}(sid); }
    size_t operator()(const SubPtr& sub) const noexcept { return (*this)(sub->sid()); }
  };
  struct SidEqual {
    using is_transparent = void;
    static std::string_view sid(std::string_view s) noexcept { return s; }
    static std::string_view sid(const SubPtr& sub) noexcept { return sub->sid(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept { return sid(a) == sid(b); }
  };
  using SubTable = std::unordered_set<SubPtr, SidHash, SidEqual>;
  mutable std::mutex subs_mu_;
  SubTable subs_;  // by sid
  // A subscription's shadows, each with the exporting account whose index holds it.
  struct Shadow {
    SubPtr sub;
    std::shared_ptr<Account> account;
  };
  using ShadowMap = std::unordered_map<const Subscription*, std::vector<Shadow>>;
  std::unique_ptr<ShadowMap> shadows_;  // guarded by subs_mu_; made at the first shadow
  // Monitoring (see rtt(), last_activity_at()).
  std::atomic<int64_t> rtt_ns_{0};
  std::atomic<int64_t> activity_ns_{0};                // system_clock since epoch; 0: started_at()
  bool batch_activity_ = false;                        // loop thread: a PUB/SUB/UNSUB in this read
  std::chrono::steady_clock::time_point ping_sent_{};  // loop thread: our outstanding PING
  bool tls_first_ = false;  // handshake_first: INFO goes after the handshake
  // A hash of the INFO JSON this client was last sent or is about to be sent (at accept,
  // then by queue_info_unless_told). Guarded by the outbound lock (enqueue_with).
  uint64_t info_told_hash_ = 0;
  std::atomic<bool> first_pong_sent_{false};  // set on the loop thread; read by takes_async_info()
  // Loop thread: PINGs read but not yet answered, and the input read since the first of
  // them (see answer_pings()).
  int pongs_owed_ = 0;
  size_t pong_lag_bytes_ = 0;
};

}  // namespace pylon::server
