// A leaf connection: nats-server 2.9's leafnode protocol, both ways.
//
// Accepted (a leaf connected to our leafnode listener; we are its hub): we send INFO, it sends
// CONNECT, we authenticate it and bind it to an account, answer with an INFO carrying
// connect_info, and exchange interest (LS+/LS-) and messages (LMSG, HMSG with headers).
// Dialled (we connect to a remote hub; we are its leaf, the reference's "spoke"): the hub sends
// INFO, we send CONNECT (credentials from the URL, or a credentials file's JWT and signed nonce)
// and register once the hub confirms with its connect_info INFO. Either way the connection is
// bound to one account: no LS+ or LMSG names it.
//
// TLS, as 2.9: the hub's INFO goes out in plaintext, then the leaf, as the TLS client, upgrades
// (when the hub's INFO says tls_required or the remote has a tls block) before its CONNECT. So
// an accepted leaf starts TLS from on_start once its INFO is queued, and a dialled one stops
// reading at the hub's INFO, handshakes, and sends CONNECT from on_tls_established.
//
// Lifecycle: created (accepted or dialled) -> handshake -> registered with the Leafnodes (its
// interest sent) -> messages flow -> on close its subscriptions leave the index (their interest
// is withdrawn from routes and other leafs) and a dialled connection is dialled again.
//
// Lifetime (docs/architecture.md): as a route. Other loops reach it through its subscriptions
// (Subscription::owner, strong) in match results, and through the Leafnodes registry
// (strong, from registration to on_closed); a delivery checks registered() and closing().
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "proto/parser.h"
#include "server/config/url.h"
#include "server/core/connection.h"
#include "server/sub_index.h"
#include "server/tls/cert_identity.h"

namespace pylon::server {

class Account;
class MatchCache;
struct LeafRemote;
namespace tls {
class Context;
}

// What one leaf connection has been told (LS+ sent), as the reference's smap. Guarded by
// Leafnodes::mu_, which every interest change takes.
struct LeafInterest {
  bool ready = false;                                   // registered: changes are sent from now on
  std::unordered_map<std::string, int32_t> counts;      // "subject[ queue]" -> count (queue: weight)
  std::unordered_map<const Subscription*, int32_t> of;  // what each subscription adds to counts
};

class LeafConn final : public Connection, private proto::ParserHandler {
 public:
  // `remote` is set when we dialled (`url` the URL dialled), null when we accepted.
  LeafConn(Server& server, EventLoop& loop, boost::asio::ip::tcp::socket socket, uint64_t lid,
           std::shared_ptr<LeafRemote> remote, std::optional<Url> url,
           const boost::asio::ip::tcp::endpoint* accepted_peer = nullptr);
  ~LeafConn() override;

  // We dialled this connection: we are the leaf, the peer is our hub (the reference's spoke).
  bool solicited() const noexcept { return remote_ != nullptr; }
  const std::shared_ptr<LeafRemote>& remote() const noexcept { return remote_; }
  bool registered() const noexcept { return registered_.load(std::memory_order_acquire); }
  // The account this connection is bound to: set before registration, then immutable.
  const std::shared_ptr<Account>& account() const noexcept { return account_; }
  // The peer's server name (its INFO or CONNECT), set before registration.
  const std::string& remote_name() const noexcept { return remote_name_; }
  // Accepted over TLS: the context it handshook with (what its INFOs say); set in on_start.
  const std::shared_ptr<const tls::Context>& accept_tls() const noexcept { return accept_tls_; }

  // Sends a message to the peer with the queue groups chosen for it. Any thread.
  bool send_message(std::string_view subject, std::string_view reply, int64_t header_len, std::string_view payload,
                    std::span<const std::string_view> queues);

  // The peer's interest ("subject" or "subject queue") and its size, for monitoring.
  std::vector<std::string> remote_interest() const;
  size_t remote_interest_count() const;
  std::chrono::nanoseconds rtt() const noexcept { return std::chrono::nanoseconds(rtt_ns_.load(std::memory_order_relaxed)); }

  // Guarded by Leafnodes::mu_ (see LeafInterest).
  LeafInterest interest;
  // Set when a loop was detected on a dialled connection: the next dial waits this long.
  std::chrono::nanoseconds redial_delay{0};  // loop thread until on_closed

 private:
  // Connection
  void on_start() override;
  bool on_read(std::string_view data) override;
  void on_closing() override;
  void on_closed(CloseReason reason) override;
  void on_tls_established() override;

  // proto::ParserHandler
  bool on_connect(std::string_view json) override;
  bool on_info(std::string_view json) override;
  bool on_ping() override;
  bool on_pong() override;
  bool on_err(std::string_view text) override;
  bool on_ls_sub(std::string_view origin, std::string_view account, std::string_view subject, std::string_view queue,
                 int32_t weight) override;
  bool on_ls_unsub(std::string_view origin, std::string_view account, std::string_view subject,
                   std::string_view queue) override;
  bool on_lmsg(std::string_view origin, const proto::MsgArgs& args, std::string_view payload) override;

  // Authenticates an accepted leaf's CONNECT as the reference's isLeafNodeAuthorized; sets
  // account_ on success.
  bool authorize(const std::string& user, const std::string& pass, const std::string& token);
  // Accepted: the wait for the leaf's CONNECT (after TLS, when there is TLS).
  void arm_auth_timer();
  // Dialled, after the hub's first INFO (and TLS): CONNECT, then registration now or on the
  // hub's connect_info INFO.
  void resume_connect();
  // False (the error logged) when the credentials file cannot be read or signed with.
  bool send_connect();
  // Binds to the account and registers with the Leafnodes (interest goes out).
  void finish_connect();
  void send_err_and_close(std::string_view text, CloseReason reason);
  // The reference's handleLeafNodeLoop: a loop was detected (by us: `send_err`, or the peer
  // told us); a dialled connection waits 30 s before dialling again.
  void loop_detected(bool send_err);
  void queue_self(std::string_view bytes);
  void schedule_ping(bool first = false);
  // The cluster and the other leafs learn that our peer's interest in `sub` is now `weight`.
  void announce(const Subscription& sub, int32_t old_weight, int32_t weight);

  proto::Parser parser_;
  std::shared_ptr<LeafRemote> remote_;
  std::optional<Url> url_;
  boost::asio::steady_timer auth_timer_;
  boost::asio::steady_timer ping_timer_;
  int pings_out_ = 0;
  std::chrono::steady_clock::time_point ping_sent_{};

  // Loop thread, before registration.
  bool connect_received_ = false;  // accepted: CONNECT seen
  bool info_received_ = false;     // dialled: the hub's first INFO seen
  bool peer_headers_ = false;
  bool tls_ = false;               // this connection runs over TLS
  bool hub_info_on_connect_ = false, hub_connect_info_ = false;  // dialled: the hub's first INFO
  std::string nonce_;              // dialled: the hub's first INFO's, signed with our credentials
  std::shared_ptr<const tls::Context> accept_tls_;
  std::optional<tls::CertIdentity> cert_identity_;  // accepted with verify_and_map: who the certificate names
  std::string remote_name_, remote_id_, remote_cluster_;
  std::shared_ptr<Account> account_;
  std::string lds_;  // our loop detection subject in account_
  std::atomic<bool> registered_{false};

  std::shared_ptr<MatchCache> match_cache_;  // loop thread; as a route's

  mutable std::mutex subs_mu_;
  std::unordered_map<std::string, SubPtr> subs_;  // the peer's LS+: "subject[ queue]" -> subscription

  std::atomic<int64_t> rtt_ns_{0};
};

}  // namespace pylon::server
