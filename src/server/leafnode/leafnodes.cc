#include "server/leafnode/leafnodes.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <future>
#include <random>

#include "proto/writer.h"
#include "server/accept_peer.h"
#include "server/account/account.h"
#include "server/core/listen_address.h"
#include "server/leafnode/leaf_conn.h"
#include "server/route/cluster.h"
#include "server/server.h"
#include "server/tls/tls_context.h"

namespace pylon::server {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;

namespace {
// The reference dials a leafnode with the route dial timeout (DEFAULT_ROUTE_DIAL).
constexpr auto kDialTimeout = std::chrono::seconds(1);
// leafnode.go's leafnodeTLSInsecureWarning.
constexpr std::string_view kLeafTlsInsecureWarning =
    "TLS certificate chain and hostname of solicited leafnodes will not be verified. DO NOT USE IN PRODUCTION!";

bool is_ip(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// The reference's saveTLSHostname: the first host name (not an IP address) among the URLs.
void save_tls_name(LeafRemote& remote, const Url& u) {
  if (remote.tls_name.empty() && !is_ip(u.host)) remote.tls_name = u.host;
}

std::string interest_key(const Subscription& sub) {
  std::string key(sub.subject());
  if (!sub.queue().empty()) {
    key += ' ';
    key += sub.queue();
  }
  return key;
}

// Whether `leaf` is told about `sub` (the header's rules, the reference's updateSmap).
bool tells(const LeafConn& leaf, const Subscription& sub) {
  if (sub.owner.get() == &leaf) return false;  // never its own
  if (!leaf.solicited()) return true;          // our leaf: everything we know
  if (sub.internal() || !sub.remote) return true;  // ours, or a local client's
  if (sub.leaf) return !static_cast<const LeafConn*>(sub.owner.get())->solicited();  // a leaf of ours
  return false;  // a route's: our hub's cluster does not need us for that
}

// Applies `sub`'s new weight to what `leaf` was told; appends the LS+/LS- it takes to `out`.
// Leafnodes::mu_ held.
void update(LeafConn& leaf, const Subscription& sub, int32_t weight, std::string& out) {
  LeafInterest& in = leaf.interest;
  int32_t old = 0;
  if (auto it = in.of.find(&sub); it != in.of.end()) old = it->second;
  if (weight == old) return;  // e.g. a change already in the snapshot register_leaf took
  if (weight > 0) {
    in.of[&sub] = weight;
  } else {
    in.of.erase(&sub);
  }
  std::string key = interest_key(sub);
  auto [it, fresh] = in.counts.try_emplace(key, 0);
  const int32_t before = it->second;
  const int32_t now = before + weight - old;
  if (now <= 0) {
    in.counts.erase(it);
    if (before > 0) proto::append_ls_unsub(out, sub.subject(), sub.queue());
  } else {
    it->second = now;
    if (!sub.queue().empty()) {
      proto::append_ls_sub(out, sub.subject(), sub.queue(), now);
    } else if (before <= 0) {
      proto::append_ls_sub(out, sub.subject(), {}, 0);
    }
  }
}

std::string random_token(size_t n) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  for (size_t i = 0; i < n; ++i) out += kAlphabet[rng() % 62];
  return out;
}
}  // namespace

Leafnodes::Leafnodes(Server& server) : server_(server) {
  const LeafNodeOptions& l = server_.options().leafnodes;
  enabled_ = l.enabled();
  LeafTlsContexts tls = make_tls(server_.options());  // a bad certificate stops the start
  accept_tls_ = std::move(tls.accept);
  std::mt19937 rng{std::random_device{}()};
  for (size_t i = 0; i < l.remotes.size(); ++i) {
    const RemoteLeafOptions& r = l.remotes[i];
    auto remote = std::make_shared<LeafRemote>();
    remote->options = r;
    remote->index = remotes_.size();
    remote->config_index = i;
    for (const auto& u : r.urls) {
      try {
        remote->urls.push_back(parse_url(u));
      } catch (const std::exception& e) {
        server_.log().error("Error parsing leafnode url {}: {}", u, e.what());
      }
    }
    if (!r.no_randomize) std::shuffle(remote->urls.begin(), remote->urls.end(), rng);
    remote->configured = remote->urls;
    remote->tls = tls.remotes[i];
    for (const auto& u : remote->urls) save_tls_name(*remote, u);
    if (!remote->urls.empty()) remotes_.push_back(std::move(remote));
  }
}

Leafnodes::~Leafnodes() = default;

void Leafnodes::start() {
  if (!enabled_) return;
  {
    std::lock_guard lk(mu_);
    running_ = true;
  }
  const LeafNodeOptions& l = server_.options().leafnodes;
  auto& log = server_.log();
  bool insecure = l.tls.enabled && l.tls.insecure;
  for (const auto& r : l.remotes) insecure = insecure || (r.tls.enabled && r.tls.insecure);
  if (insecure) log.warn("{}", kLeafTlsInsecureWarning);
  if (l.port != 0) {
    auto& ctx = server_.loop(0).ctx();
    boost::system::error_code ec;
    std::string host = l.host.empty() ? defaults::kHost : l.host;
    int want = l.port < 0 ? 0 : l.port;
    auto addr = listen_address(ctx, host, ec);
    acceptor_ = std::make_unique<tcp::acceptor>(ctx);
    tcp::endpoint ep(addr, static_cast<unsigned short>(want));
    if (!ec) acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      acceptor_.reset();
      throw std::runtime_error(
          fmt::format("Error listening on leafnode port: {} - listen tcp {}:{}: {}", l.port, host, want, ec.message()));
    }
    port_ = acceptor_->local_endpoint().port();
    log.info("Listening for leafnode connections on {}:{}", host, port_);
    if (!l.advertise.empty()) log.info("Advertise address for leafnode is set to {}", l.advertise);
    asio::post(ctx, [this] { do_accept(); });
  }
}

void Leafnodes::dial_remotes() {
  for (const auto& r : remotes_) dial(r);
}

void Leafnodes::stop() {
  {
    // Under mu_, as every arming of a timer in timers_ (whichever loop dials later), so the
    // two never touch one timer at once (TSan found a cancel here racing an async_wait).
    std::lock_guard lk(mu_);
    running_ = false;
    for (auto& t : timers_) t->cancel();
    timers_.clear();
  }
  if (acceptor_) {
    std::promise<void> closed;
    asio::post(server_.loop(0).ctx(), [this, &closed] {
      boost::system::error_code ec;
      acceptor_->close(ec);
      closed.set_value();
    });
    closed.get_future().wait();
  }
}

void Leafnodes::do_accept() {
  EventLoop& loop = server_.next_loop();
  async_accept_with_peer(*acceptor_, loop.ctx(), [this, &loop](const boost::system::error_code& ec, tcp::socket sock,
                                                                const tcp::endpoint& peer) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      auto sleep = accept_backoff_.next_sleep();
      server_.log().error("Temporary Leafnode Accept Error({}), sleeping {}ms", ec.message(), sleep.count());
      auto t = std::make_shared<asio::steady_timer>(server_.loop(0).ctx(), sleep);
      std::lock_guard lk(mu_);  // armed under mu_, as stop() cancels (stop)
      if (!running_) return;
      timers_.push_back(t);
      t->async_wait([this, t](const boost::system::error_code& tec) {
        {
          std::lock_guard lk(mu_);
          std::erase(timers_, t);
          if (tec || !running_) return;
        }
        if (acceptor_ && acceptor_->is_open()) do_accept();
      });
      return;
    }
    accept_backoff_.reset();
    {
      std::lock_guard lk(mu_);
      if (!running_) return;
    }
    auto c = std::make_shared<LeafConn>(server_, loop, std::move(sock), server_.next_cid(), nullptr, std::nullopt,
                                        &peer);
    server_.track_connection(c);
    c->start();
    do_accept();
  });
}

void Leafnodes::dial(const std::shared_ptr<LeafRemote>& remote) {
  Url url;
  {
    std::lock_guard lk(mu_);
    if (!running_) return;
    url = remote->urls[remote->next_url % remote->urls.size()];
    remote->next_url = (remote->next_url + 1) % remote->urls.size();
  }
  EventLoop& loop = server_.next_loop();
  auto sock = std::make_shared<tcp::socket>(loop.ctx());
  auto resolver = std::make_shared<tcp::resolver>(loop.ctx());
  auto deadline = std::make_shared<asio::steady_timer>(loop.ctx(), kDialTimeout);
  server_.log().debugf("Trying to connect as leafnode to remote server on \"{}:{}\"", url.host, url.port);
  auto on_fail = [this, remote, url](const std::string& why) {
    int n;
    {
      std::lock_guard lk(mu_);
      n = ++remote->failed_dials;
    }
    // The reference's shouldReportConnectErr: the first failure, then now and then.
    if (n == 1 || n % 3600 == 0) {
      server_.log().error("Error trying to connect as leafnode to remote server \"{}:{}\" (attempt {}): {}", url.host,
                          url.port, n, why);
    } else {
      server_.log().debugf("Error trying to connect as leafnode to remote server \"{}:{}\" (attempt {}): {}", url.host,
                           url.port, n, why);
    }
    dial_later(remote, server_.options().leafnodes.reconnect);
  };
  deadline->async_wait([sock](const boost::system::error_code& ec) {
    if (!ec) {
      boost::system::error_code ignore;
      sock->close(ignore);
    }
  });
  resolver->async_resolve(
      url.host, std::to_string(url.port),
      [this, sock, resolver, deadline, url, remote, &loop, on_fail](const boost::system::error_code& ec,
                                                                    tcp::resolver::results_type results) {
        if (ec) {
          deadline->cancel();
          on_fail(ec.message());
          return;
        }
        asio::async_connect(*sock, results,
                            [this, sock, deadline, url, remote, &loop, on_fail](const boost::system::error_code& ec2,
                                                                                const tcp::endpoint&) {
                              deadline->cancel();
                              if (ec2) {
                                on_fail(ec2 == asio::error::operation_aborted ? "i/o timeout" : ec2.message());
                                return;
                              }
                              {
                                std::lock_guard lk(mu_);
                                if (!running_) return;
                                remote->failed_dials = 0;
                              }
                              auto c = std::make_shared<LeafConn>(server_, loop, std::move(*sock), server_.next_cid(),
                                                                  remote, url);
                              server_.track_connection(c);
                              c->start();
                            });
      });
}

void Leafnodes::dial_later(const std::shared_ptr<LeafRemote>& remote, std::chrono::nanoseconds delay) {
  auto t = std::make_shared<asio::steady_timer>(server_.loop(0).ctx(), delay);
  std::lock_guard lk(mu_);  // armed under mu_, as stop() cancels (stop)
  if (!running_) return;
  timers_.push_back(t);
  t->async_wait([this, t, remote](const boost::system::error_code& ec) {
    {
      std::lock_guard lk(mu_);
      std::erase(timers_, t);
      if (ec || !running_) return;
    }
    dial(remote);
  });
}

std::vector<std::string> Leafnodes::own_urls() const {
  if (port_ == 0 || server_.options().leafnodes.no_advertise) return {};
  const LeafNodeOptions& l = server_.options().leafnodes;
  return server_.listener_urls(l.advertise, l.host.empty() ? defaults::kHost : l.host, port_);
}

std::vector<std::string> Leafnodes::leafnode_urls() const {
  std::vector<std::string> out = own_urls();
  if (port_ == 0) return out;
  for (auto& u : server_.cluster().remote_leafnode_urls()) {
    if (std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
  }
  return out;
}

void Leafnodes::send_async_info() {
  if (port_ == 0) return;
  std::vector<std::shared_ptr<LeafConn>> ls;
  {
    std::lock_guard lk(mu_);
    for (auto& l : leafs_) {
      if (!l->solicited()) ls.push_back(l);
    }
  }
  for (auto& l : ls) {
    std::string line;
    proto::append_info(line, info_json(l->cid(), l->accept_tls().get()));
    if (l->enqueue(line)) l->flush_signal();
  }
}

void Leafnodes::learn_urls(LeafRemote& remote, const std::vector<std::string>& urls) {
  std::vector<Url> learned;
  for (const auto& s : urls) {
    try {
      Url u = parse_url("nats-leaf://" + s);
      bool known = false;
      for (const auto& c : remote.configured) known = known || (c.host == u.host && c.port == u.port);
      if (!known) learned.push_back(std::move(u));
    } catch (const std::exception&) {
      server_.log().error("Error parsing url \"{}\"", s);
    }
  }
  // Credentials of the configured URLs go with the learned ones (the reference's saveUserPassword).
  if (!remote.configured.empty()) {
    for (auto& u : learned) {
      u.user = remote.configured.front().user;
      u.password = remote.configured.front().password;
    }
  }
  std::lock_guard lk(mu_);
  for (const auto& u : learned) save_tls_name(remote, u);
  learned.insert(learned.end(), remote.configured.begin(), remote.configured.end());
  remote.urls = std::move(learned);
  remote.next_url %= remote.urls.size();
}

LeafTlsContexts Leafnodes::make_tls(const Options& o) {
  const LeafNodeOptions& l = o.leafnodes;
  LeafTlsContexts out;
  if (l.tls.enabled) out.accept = tls::Context::make(l.tls, tls::ContextKind::kClient);
  for (const auto& r : l.remotes) {
    TlsConfig t = r.tls;
    t.enabled = true;  // without a block: TLS only if the hub requires it, with the defaults
    // As the reference's solicit handshake, the listener block's pinned_certs check the hub
    // (a remote's own are read but not used in 2.9).
    t.pinned_certs = l.tls.pinned_certs;
    out.remotes.push_back(tls::Context::make(t, tls::ContextKind::kLeafRemote));
  }
  return out;
}

std::shared_ptr<const tls::Context> Leafnodes::accept_tls() const {
  std::lock_guard lk(mu_);
  return accept_tls_;
}

std::optional<RemoteTls> Leafnodes::remote_tls(LeafRemote& remote, const Url& url, bool hub_requires) {
  std::lock_guard lk(mu_);
  if (hub_requires) remote.tls_required = true;
  if (!remote.options.tls.enabled && !remote.tls_required) return std::nullopt;
  RemoteTls out{remote.tls, url.host};
  // The reference's doTLSHandshake: the URL's host, unless it is an IP address and a host name
  // was saved (then a certificate for the name, not the address, is what the hub has).
  if (!remote.tls_name.empty() && is_ip(url.host)) out.server_name = remote.tls_name;
  return out;
}

void Leafnodes::reload_tls(LeafTlsContexts next) {
  std::lock_guard lk(mu_);
  accept_tls_ = std::move(next.accept);
  for (auto& r : remotes_) {
    if (r->config_index < next.remotes.size()) r->tls = next.remotes[r->config_index];
  }
}

std::string Leafnodes::info_json(uint64_t cid, const tls::Context* tls, std::string_view account) const {
  // The fields and order of the reference's leafnode Info (startLeafNodeAcceptLoop).
  const Options& o = server_.options();
  json::object j;
  j["server_id"] = server_.id();
  j["server_name"] = server_.name();
  j["version"] = kNatsCompatVersion;
  j["proto"] = 1;
  j["go"] = "c++20";
  const LeafNodeOptions& l = o.leafnodes;
  j["host"] = l.host.empty() ? defaults::kHost : l.host;
  j["port"] = port_;
  j["headers"] = true;
  j["auth_required"] = true;
  if (tls != nullptr) {
    // As startLeafNodeAcceptLoop: the leaf upgrades after this INFO; tls_verify when we ask
    // for its certificate.
    j["tls_required"] = true;
    if (tls->options().verify) j["tls_verify"] = true;
  }
  j["max_payload"] = o.max_payload;
  if (server_.cluster().enabled()) j["cluster"] = server_.cluster().cluster_name();
  json::array urls;
  for (auto& u : leafnode_urls()) urls.emplace_back(u);
  j["leafnode_urls"] = std::move(urls);
  j["client_id"] = cid;
  j["info_on_connect"] = true;
  if (!account.empty()) {
    j["remote_account"] = account;
    j["connect_info"] = true;
  }
  return json::serialize(j);
}

std::string Leafnodes::loop_detection_subject(const Account& account) {
  std::lock_guard lk(mu_);
  auto [it, fresh] = lds_.try_emplace(account.name());
  if (fresh) it->second = "$LDS." + random_token(22);
  return it->second;
}

void Leafnodes::register_leaf(const std::shared_ptr<LeafConn>& leaf) {
  std::vector<std::shared_ptr<LeafConn>> replaced;
  std::string buf;
  {
    std::lock_guard lk(mu_);
    if (!running_) return;
    // As the reference's addLeafNodeConnection: a leaf that connects again (the same server
    // and cluster, to the same account) while we still hold its old connection replaces it:
    // that one is stale.
    if (!leaf->solicited() && !leaf->remote_name().empty()) {
      for (auto& o : leafs_) {
        if (!o->solicited() && o->remote_name() == leaf->remote_name() && o->account() == leaf->account()) {
          replaced.push_back(o);
        }
      }
    }
    leafs_.push_back(leaf);
    LeafInterest& in = leaf->interest;
    in.ready = true;
    // The snapshot and every later change are taken under mu_; a change whose notice comes
    // after the snapshot already saw it is a no-op (update() compares the weights).
    for (const auto& sub : leaf->account()->index().all()) {
      if (!tells(*leaf, *sub)) continue;
      int32_t w = sub->queue().empty() ? 1 : std::max(1, sub->weight.load(std::memory_order_relaxed));
      in.of[sub.get()] = w;
      in.counts[interest_key(*sub)] += w;
    }
    auto lds = lds_.find(leaf->account()->name());
    if (lds != lds_.end()) in.counts[lds->second] += 1;  // the loop detection subject
    for (const auto& [key, n] : in.counts) {
      auto sp = key.find(' ');
      if (sp == std::string::npos) {
        proto::append_ls_sub(buf, key, {}, 0);
      } else {
        proto::append_ls_sub(buf, std::string_view(key).substr(0, sp), std::string_view(key).substr(sp + 1), n);
      }
    }
    if (!buf.empty() && leaf->enqueue(buf)) leaf->flush_signal();
  }
  for (auto& o : replaced) {
    std::string line;
    proto::append_err(line, "Duplicate Remote LeafNode Connection");
    if (o->enqueue(line)) o->flush_signal();
    server_.log().error("{} - Duplicate Remote LeafNode Connection", o->log_prefix());
    o->close(CloseReason::kDuplicateLeafnode, true);
    server_.log().warn("{} - Replacing connection from same server", leaf->log_prefix());
  }
}

void Leafnodes::leaf_closed(LeafConn& leaf) {
  std::shared_ptr<LeafRemote> remote = leaf.remote();
  bool running;
  {
    std::lock_guard lk(mu_);
    running = running_;
    std::erase_if(leafs_, [&](const std::shared_ptr<LeafConn>& l) { return l.get() == &leaf; });
    leaf.interest = LeafInterest{};
  }
  server_.untrack_connection(leaf.cid());
  if (!running || !remote) return;
  // A dialled connection is dialled again: after the reconnect wait (the reference's
  // reConnectToRemoteLeafNode), or the longer one a loop or a cluster name clash asked for.
  auto delay = leaf.redial_delay > std::chrono::nanoseconds::zero() ? leaf.redial_delay
                                                                     : server_.options().leafnodes.reconnect;
  dial_later(remote, delay);
}

void Leafnodes::interest(const Account& account, const Subscription& sub, int32_t weight) {
  if (!enabled_) return;
  std::lock_guard lk(mu_);
  for (auto& leaf : leafs_) {
    if (leaf->account().get() != &account || !leaf->interest.ready || !tells(*leaf, sub)) continue;
    std::string out;
    update(*leaf, sub, weight, out);
    if (!out.empty() && leaf->enqueue(out)) leaf->flush_signal();
  }
}

std::vector<LeafSnapshot> Leafnodes::leafs(bool with_subs) const {
  std::vector<std::shared_ptr<LeafConn>> ls;
  {
    std::lock_guard lk(mu_);
    ls = leafs_;
  }
  std::vector<LeafSnapshot> out;
  for (auto& l : ls) {
    LeafSnapshot s;
    s.lid = l->cid();
    s.name = l->remote_name();
    s.account = l->account()->name();
    s.ip = l->remote_ip();
    s.port = l->remote_port();
    s.is_spoke = l->solicited();
    s.rtt = l->rtt();
    s.in_msgs = l->in_msgs.load();
    s.out_msgs = l->out_msgs.load();
    s.in_bytes = l->in_bytes.load();
    s.out_bytes = l->out_bytes.load();
    if (with_subs) {
      s.subs = l->remote_interest();
      s.num_subs = s.subs.size();
    } else {
      s.num_subs = l->remote_interest_count();
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const LeafSnapshot& a, const LeafSnapshot& b) { return a.lid < b.lid; });
  return out;
}

size_t Leafnodes::num_leafs() const {
  std::lock_guard lk(mu_);
  return leafs_.size();
}

size_t Leafnodes::num_leafs(std::string_view account) const {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (auto& l : leafs_) n += l->account()->name() == account ? 1 : 0;
  return n;
}

}  // namespace pylon::server
