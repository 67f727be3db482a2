// Leaf nodes: the leafnode listener (leafs connect to us: we are their hub), the remotes we
// dial (we are their leaf), the registry of leaf connections, and the interest each leaf
// connection is told. Wire format and behaviour: nats-server 2.9's leafnode.go, so Pylon and
// nats-server leafs and hubs work with each other.
//
// Interest, as the reference's smap (initLeafNodeSmapAndSendSubs, updateLeafNodes, updateSmap):
//  - a leaf connection we accepted (we are the hub) is told every subscription of its account:
//    local clients', the routes' (the rest of our cluster), other leafs', and our internal ones;
//  - a leaf connection we dialled (we are the leaf; the reference's "spoke") is told only what
//    lives here: local clients' and internal subscriptions, and those of leafs that connected
//    to us; never what the hub itself told us, nor our routes';
//  - never a connection's own subscriptions;
//  - each connection is also told its account's loop detection subject ($LDS.<random>): a leaf
//    that hears its own back is in a loop (LeafConn::on_ls_sub).
// A plain subject is announced (LS+) when its count goes 0 -> 1 and withdrawn (LS-) at 0; a
// queue group is announced with its total weight at every change, as the reference does.
//
// Locking: `mu_` guards the registry and every connection's announced interest (LeafConn's
// LeafInterest). Interest changes arrive from any loop (a SUB, an RS+, an LS+); each takes `mu_`
// and enqueues LS+/LS- into the connections it concerns (their outbound lock only), so every
// connection sees the changes in the order they were made. No connection is closed under `mu_`.
// Lock order: a client's `subs_mu_` -> `Leafnodes::mu_` -> a connection's outbound lock; the
// account index's lock is taken under `mu_` only to snapshot it (index lock -> nothing).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pylon/options.h"
#include "server/accept_backoff.h"
#include "server/config/url.h"
#include "server/sub_index.h"

namespace pylon::server {

class Account;
class LeafConn;
class Server;
namespace tls {
class Context;
}

// One configured remote (`leafnodes { remotes = [...] }`): where to dial, and the state the
// dials share. Held by the Leafnodes for the server's life and by its connection (strongly).
struct LeafRemote {
  RemoteLeafOptions options;
  std::vector<Url> configured;  // parsed from options.urls, shuffled unless no_randomize
  std::vector<Url> urls;        // guarded by Leafnodes::mu_: what the hub told us, then `configured`
  size_t index = 0;         // position in Leafnodes::remotes_ (for monitoring)
  size_t config_index = 0;  // position in LeafNodeOptions::remotes
  // Guarded by Leafnodes::mu_.
  size_t next_url = 0;                   // the URL the next dial tries
  std::chrono::nanoseconds delay{0};     // wait before the next dial (a loop detected: 30 s)
  int failed_dials = 0;                  // since the last connection that came up
  // TLS toward the hub (guarded by Leafnodes::mu_). `tls` is made from the remote's tls block
  // (or, without one, a default that trusts the system's CAs) and swapped by a reload;
  // `tls_required` is set for good once a hub's INFO said tls_required (the reference's
  // remote.TLS), so later dials upgrade too; `tls_name` is the first host name among the URLs,
  // checked instead of an IP address a URL gives (the reference's tlsName).
  std::shared_ptr<const tls::Context> tls;
  bool tls_required = false;
  std::string tls_name;
};

// How one dial to a hub upgrades to TLS: the context, and the name its certificate must carry.
struct RemoteTls {
  std::shared_ptr<const tls::Context> ctx;
  std::string server_name;
};

// The TLS contexts of the leafnode blocks, made from Options (a bad certificate throws, in the
// reference's words): the listener's (null: plaintext) and each remote's, in config order.
struct LeafTlsContexts {
  std::shared_ptr<const tls::Context> accept;
  std::vector<std::shared_ptr<const tls::Context>> remotes;
};

// A leaf connection, as /leafz shows it.
struct LeafSnapshot {
  uint64_t lid = 0;
  std::string name, account, ip;
  int port = 0;
  bool is_spoke = false;  // we dialled it (we are the leaf)
  std::chrono::nanoseconds rtt{0};
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  size_t num_subs = 0;
  std::vector<std::string> subs;  // its interest: "subject" or "subject queue"
};

class Leafnodes {
 public:
  explicit Leafnodes(Server& server);
  ~Leafnodes();

  // Binds the leafnode listener (when leafnodes.port != 0; throws std::runtime_error in the
  // reference's words): before the routes start, whose INFO tells our leafnode URLs.
  void start();
  // Dials the remotes (after the routes started: a dialled hub hears our cluster's name).
  void dial_remotes();
  // Closes the listener and the dial timers; connections are closed by the server.
  void stop();

  bool enabled() const noexcept { return enabled_; }
  int port() const noexcept { return port_; }

  // TLS. The contexts `o` asks for; throws std::runtime_error on a bad certificate.
  static LeafTlsContexts make_tls(const Options& o);
  // The context a leaf we accept handshakes with (after our INFO); null: plaintext. Any thread.
  std::shared_ptr<const tls::Context> accept_tls() const;
  // Whether a dial of `remote` at `url` upgrades to TLS, now that the hub's INFO said
  // `hub_requires` (its tls_required), and how: a remote with a tls block always does, and
  // one without does when its hub requires it. nullopt: plaintext. Any thread.
  std::optional<RemoteTls> remote_tls(LeafRemote& remote, const Url& url, bool hub_requires);
  // A reload: new connections handshake with `next` (connected ones keep theirs, as clients
  // and routes do). The remotes' list itself does not reload, so `next` matches it.
  void reload_tls(LeafTlsContexts next);

  // The INFO a leaf that connects to us gets (`cid` its connection id; `connect_info` after its
  // CONNECT, with `remote_account`, as the reference's sendPermsAndAccountInfo). `tls`: the
  // context the connection upgrades with (tls_required, and tls_verify when it verifies).
  std::string info_json(uint64_t cid, const tls::Context* tls, std::string_view account = {}) const;
  // "host:port" leafs can reach us at; empty without a listener (or with no_advertise).
  std::vector<std::string> own_urls() const;
  // Ours, then the other cluster members' (our INFO's leafnode_urls, as the reference's).
  std::vector<std::string> leafnode_urls() const;
  // The cluster's leafnode URLs changed: every leaf connected to us gets an INFO with them, so
  // it can fail over to another member (the reference's sendAsyncLeafNodeInfo). Any thread.
  void send_async_info();
  // A hub told a dialled connection of `remote` its cluster's leafnode URLs: they join the
  // configured ones as places to dial (the reference's updateLeafNodeURLs). Any thread.
  void learn_urls(LeafRemote& remote, const std::vector<std::string>& urls);

  // Registers a leaf connection once it is bound to its account, and sends it the interest
  // it is to be told (see the header comment), its loop detection subject included.
  void register_leaf(const std::shared_ptr<LeafConn>& leaf);
  // A leaf connection closed (registered or not): unregister it; a dialled one is dialled
  // again after the reconnect wait, or after `delay` when set (loop detected).
  void leaf_closed(LeafConn& leaf);

  // `sub` of `account` now counts `weight` (0: it is gone) toward the interest leafs are
  // told. Any thread; called for every subscription change of clients, internal
  // subscribers, routes and leafs, after the index changed.
  void interest(const Account& account, const Subscription& sub, int32_t weight);

  // The loop detection subject of `account` ("$LDS." and a random token), made on first use.
  std::string loop_detection_subject(const Account& account);

  std::vector<LeafSnapshot> leafs(bool with_subs) const;
  size_t num_leafs() const;
  size_t num_leafs(std::string_view account) const;

 private:
  void do_accept();
  void dial(const std::shared_ptr<LeafRemote>& remote);
  void dial_later(const std::shared_ptr<LeafRemote>& remote, std::chrono::nanoseconds delay);

  Server& server_;
  bool enabled_ = false;
  int port_ = 0;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  AcceptBackoff accept_backoff_;  // only in do_accept's handler
  std::vector<std::shared_ptr<LeafRemote>> remotes_;

  mutable std::mutex mu_;
  bool running_ = false;
  std::vector<std::shared_ptr<LeafConn>> leafs_;                 // registered
  std::unordered_map<std::string, std::string> lds_;            // account -> $LDS subject
  std::vector<std::shared_ptr<boost::asio::steady_timer>> timers_;  // dial waits
  std::shared_ptr<const tls::Context> accept_tls_;  // guarded by mu_; null: plaintext listener
};

}  // namespace pylon::server
