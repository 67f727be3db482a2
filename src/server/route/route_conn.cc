#include "server/route/route_conn.h"

#include <boost/json.hpp>

#include <cstdlib>
#include <random>

#include "proto/writer.h"
#include "server/client/auth.h"
#include "server/errors.h"
#include "server/core/event_loop.h"
#include "server/match_cache.h"
#include "server/router.h"
#include "server/leafnode/leafnodes.h"
#include "server/server.h"
#include "server/tls/tls_context.h"

namespace pylon::server {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
// The reference's firstPingInterval: a route's first PING (and so its first RTT) comes after
// at most this long, whatever the ping interval.
constexpr auto kFirstPingInterval = std::chrono::seconds(1);

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

proto::ParserLimits route_limits() {
  proto::ParserLimits l;
  l.max_control_line = 1 << 20;  // the reference checks control lines of clients only
  l.max_payload = -1;            // and routes carry any payload (mpay -1)
  return l;
}

// A peer's advertised "http://host:port" as we can reach it: a peer listening on every
// interface (0.0.0.0, ::) is reached at the address its route came from. Anything that is not
// an http(s) URL with a port is dropped, so /routez never shows a link we could not follow.
std::string monitor_url_seen_from_here(std::string_view advertised, const std::string& route_ip) {
  std::string_view scheme;
  for (std::string_view s : {"http://", "https://"}) {
    if (advertised.starts_with(s)) scheme = s;
  }
  auto colon = advertised.rfind(':');
  if (scheme.empty() || colon == std::string_view::npos || colon < scheme.size()) return {};
  std::string_view host = advertised.substr(scheme.size(), colon - scheme.size());
  std::string_view port = advertised.substr(colon + 1);
  if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) return {};
  std::string h(host);
  if (h.empty() || h == "0.0.0.0" || h == "[::]") {
    h = route_ip.find(':') != std::string::npos ? "[" + route_ip + "]" : route_ip;
  }
  return fmt::format("{}{}:{}", scheme, h, port);
}

// The sid of a route's remote subscription, which is also its key in the route's table.
void interest_key(std::string& k, std::string_view account, std::string_view subject, std::string_view queue) {
  k.assign(account);
  k += ' ';
  k += subject;
  if (!queue.empty()) {
    k += ' ';
    k += queue;
  }
}

size_t hash_of(std::string_view sid) noexcept { return std::hash<std::string_view>{}(sid); }
}  // namespace

RouteConn::RouteConn(Server& server, EventLoop& loop, asio::ip::tcp::socket socket, uint64_t rid,
                     std::optional<Url> solicit_url, bool explicit_route, bool no_gossip,
                     const asio::ip::tcp::endpoint* accepted_peer)
    : Connection(server, loop, std::move(socket), Kind::kRoute, rid, accepted_peer),
      parser_(proto::Role::kServerOfRoute, route_limits()),
      solicit_url_(std::move(solicit_url)),
      explicit_route_(explicit_route),
      no_gossip_(no_gossip),
      auth_timer_(loop.ctx()),
      ping_timer_(loop.ctx()) {}

RouteConn::~RouteConn() = default;

void RouteConn::queue_self(std::string_view bytes) {
  if (enqueue(bytes)) loop().touch(this);
}

void RouteConn::send_err_and_close(std::string_view text, CloseReason reason) {
  std::string line;
  proto::append_err(line, text);
  queue_self(line);
  close(reason, true);
}

void RouteConn::on_start() {
  // Route TLS as 2.9: the handshake comes first, before INFO and CONNECT, with the dialler as
  // the TLS client (its SNI and the name it checks: Cluster::route_tls_name) and the acceptor
  // as the TLS server; both sides present certificates and verify the other's.
  if (auto ctx = server().cluster().route_tls()) {
    tls_ = true;
    std::string name = solicited() ? server().cluster().route_tls_name(*solicit_url_) : std::string();
    start_tls(std::move(ctx), solicited() ? TlsRole::kDialled : TlsRole::kAccepted, std::move(name));
    return;
  }
  begin_route();
}

void RouteConn::on_tls_established() {
  auto& log = server().log();
  log.debugf("{} - TLS handshake complete", log_prefix());
  if (SSL* ssl = tls_session()) {
    log.debugf("{} - TLS version {}, cipher suite {}", log_prefix(), tls::version_name(ssl),
               tls::cipher_suite_name(ssl));
  }
  begin_route();
}

void RouteConn::begin_route() {
  auto& srv = server();
  srv.log().info("{} - Route connection created", log_prefix());
  if (solicited()) send_connect();
  std::string info;
  proto::append_info(info, srv.cluster().route_info_json(no_gossip_));
  queue_self(info);
  const auto& c = srv.options().cluster;
  if (!solicited() && (!c.user.empty() || !c.token.empty())) {
    auth_timer_.expires_after(c.auth_timeout);
    auth_timer_.async_wait([self = shared_from_this(), this](const boost::system::error_code& ec) {
      if (ec || closing() || connect_received_) return;
      server().log().peer_error("{} - Route authentication timeout", log_prefix());
      send_err_and_close(err::kAuthTimeout, CloseReason::kAuthenticationTimeout);
    });
  }
  schedule_ping(/*first=*/true);
}

void RouteConn::send_connect() {
  auto& srv = server();
  std::string user = solicit_url_->user, pass = solicit_url_->password;
  if (user.empty()) {
    user = srv.cluster().route_user();
    pass = srv.cluster().route_password();
  }
  json::object o;
  o["echo"] = true;
  o["verbose"] = false;
  o["pedantic"] = false;
  if (!user.empty()) o["user"] = user;
  if (!pass.empty()) o["pass"] = pass;
  o["tls_required"] = tls_;
  o["headers"] = true;
  o["name"] = srv.id();
  o["cluster"] = srv.cluster().cluster_name();
  o["cluster_dynamic"] = srv.cluster().name_dynamic();
  o["lnoc"] = true;
  std::string line;
  proto::append_connect(line, json::serialize(o));
  srv.log().debugf("{} - Route connect msg sent", log_prefix());
  queue_self(line);
}

bool RouteConn::on_read(std::string_view data) {
  auto r = parser_.parse(data, *this);
  // What this read changed is in the index before the loop turns to anything else.
  apply_pending();
  // The batch's account stays for the next read's run of it, unless its last entry went.
  if (pending_account_ && (last_held_ == nullptr || last_held_->account != pending_account_) &&
      !interest_accounts_.contains(pending_account_.get())) {
    pending_account_.reset();
  }
  if (batch_activity_) {
    // Once per read batch, not per message: one clock read however many RMSGs it carried.
    batch_activity_ = false;
    activity_ns_.store(now_ns(), std::memory_order_relaxed);
  }
  if (r.error != proto::ParseError::kNone) {
    server().log().peer_error("{} - {}", log_prefix(), proto::error_log_text(r, "Router"));
    if (proto::sends_err(r.error)) {
      send_err_and_close(proto::error_text(r.error), CloseReason::kProtocolViolation);
    } else {
      close(CloseReason::kProtocolViolation, true);
    }
    return false;
  }
  return !r.stopped && !closing();
}

void RouteConn::on_closing() {
  auth_timer_.cancel();
  ping_timer_.cancel();
}

void RouteConn::on_closed(CloseReason reason) {
  // A close in the middle of a read (on_closed runs inside close() when nothing is to be
  // flushed): the read's RS- must still take their subscriptions out of the index, since
  // the table below no longer names them.
  apply_pending();
  InterestTable subs;
  {
    std::lock_guard lk(subs_mu_);
    subs.swap(subs_);
  }
  // Dropping `subs` breaks the cycle connection -> table -> subscription -> connection; match
  // results in flight on other loops keep this route alive until they are done.
  // Out of the index in batches too: a node leaving takes its whole interest with it.
  subs.for_each([&](const RemoteInterest& ri) {
    if (ri.account != pending_account_.get()) {
      apply_pending();
      pending_account_ = held_account(ri.account);
    }
    pending_.push_back(SubIndex::Change{ri.sub, true});
    if (pending_.size() >= kMaxPending) apply_pending();
  });
  apply_pending();
  pending_account_.reset();
  last_held_ = nullptr;
  interest_accounts_.clear();
  last_account_.reset();
  // Cached results may name our own remote interest (a cycle through Subscription::owner).
  if (match_cache_) match_cache_->clear();
  auto& log = server().log();
  // The reference's words (2.9: "Router connection closed: <reason>"), which operators grep
  // for; a route that told us its peer gets the " - Remote: <name>" of later versions.
  if (remote_.name.empty()) {
    log.info("{} - Router connection closed: {}", log_prefix(), to_string(reason));
  } else {
    log.info("{} - Router connection closed: {} - Remote: {}", log_prefix(), to_string(reason), remote_.name);
  }
  server().cluster().route_closed(*this);
}

bool RouteConn::bad_json(const std::string& error) {
  server().log().peer_error("{} - {}", log_prefix(), error);
  close(CloseReason::kProtocolViolation, true);  // what was queued before goes out
  return false;
}

bool RouteConn::on_connect(std::string_view text) {
  auto& srv = server();
  srv.log().tracef("{} - <<- [CONNECT {}]", log_prefix(), text);
  RouteConnect o;
  if (auto e = decode_route_connect(text, o)) return bad_json(*e);
  if (!o.lang.empty()) {
    // A client on the route port.
    srv.log().peer_error("{} - attempted to connect to route port", log_prefix());
    send_err_and_close("attempted to connect to route port", CloseReason::kProtocolViolation);
    return false;
  }
  const auto& c = srv.options().cluster;
  bool auth_ok = true;
  if (!c.token.empty()) {
    std::string_view tok = !o.auth_token.empty() ? o.auth_token : !o.pass.empty() ? o.pass : o.user;
    auth_ok = !tok.empty() && check_password(c.token, tok);
  } else if (!c.user.empty()) {
    bool user_ok = o.user == c.user;
    bool pass_ok = check_password(c.password, o.pass);
    auth_ok = user_ok && pass_ok;
  }
  if (!auth_ok) {
    srv.log().peer_error("{} - Route authentication error", log_prefix());
    send_err_and_close(err::kAuthorization, CloseReason::kAuthenticationViolation);
    return false;
  }
  if (!srv.cluster().check_cluster_name(*this, o.cluster, o.dynamic)) {
    std::string text2 = fmt::format("Rejecting connection, cluster name \"{}\" does not match \"{}\"",
                                    o.cluster, srv.cluster().cluster_name());
    srv.log().peer_error("{} - {}", log_prefix(), text2);
    send_err_and_close(text2, CloseReason::kClusterNameConflict);
    return false;
  }
  connect_received_ = true;
  auth_timer_.cancel();
  connect_name_ = std::move(o.name);
  peer_headers_ = o.headers;
  return true;
}

bool RouteConn::on_info(std::string_view text) {
  auto& srv = server();
  srv.log().tracef("{} - <<- [INFO {}]", log_prefix(), text);
  // As the reference's processInfo: the JSON is read before anything looks at it.
  RouteInfo info;
  if (auto e = decode_route_info(text, info)) return bad_json(*e);
  if (!solicited() && !connect_received_) {
    srv.log().peer_error("{} - Route sent INFO before CONNECT", log_prefix());
    send_err_and_close(err::kAuthorization, CloseReason::kAuthenticationViolation);
    return false;
  }
  info.monitor_url = monitor_url_seen_from_here(info.monitor_url, remote_ip());
  if (info.id.empty()) {
    send_err_and_close(err::kUnknownProtocol, CloseReason::kProtocolViolation);
    return false;
  }
  auto& cluster = srv.cluster();

  if (info_received_) {
    if (info.id != remote_.id) {
      // Gossip: the peer tells us about another member of the cluster.
      cluster.gossip_received(*this, info);
    } else {
      remote_.ldm = info.ldm;
      cluster.update_remote_urls(remote_.id, info.connect_urls, info.ws_connect_urls, info.ldm);
      cluster.update_remote_leaf_urls(remote_.id, info.leafnode_urls, info.ldm);
    }
    return true;
  }

  if (info.id == srv.id()) {
    srv.log().debugf("{} - Detected route to self, ignoring", log_prefix());
    remote_ = info;
    close(CloseReason::kDuplicateRoute, false);
    return false;
  }
  if (!info.cluster.empty() && !cluster.check_cluster_name(*this, info.cluster, info.dynamic)) {
    srv.log().peer_error("{} - Rejecting route, cluster name \"{}\" does not match \"{}\"", log_prefix(), info.cluster,
                    cluster.cluster_name());
    close(CloseReason::kClusterNameConflict, false);
    return false;
  }
  info_received_ = true;
  peer_headers_ = info.headers;
  // Gossip needs the peer's route URL; build it from the TCP address when not advertised.
  if (info.ip.empty()) {
    std::string host = remote_ip();
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    info.ip = fmt::format("nats-route://{}:{}/", host, info.port);
  }
  remote_ = info;
  auto self = std::static_pointer_cast<RouteConn>(shared_from_this());
  if (!cluster.register_route(self, info)) {
    srv.log().debugf("{} - Detected duplicate remote route \"{}\"", log_prefix(), info.id);
    close(CloseReason::kDuplicateRoute, true);
    return false;
  }
  registered_.store(true, std::memory_order_release);
  return true;
}

bool RouteConn::on_ping() {
  server().log().tracef("{} - <<- [PING]", log_prefix());
  queue_self(proto::kPongOp);
  return true;
}

bool RouteConn::on_pong() {
  server().log().tracef("{} - <<- [PONG]", log_prefix());
  pings_out_ = 0;
  if (ping_sent_ != std::chrono::steady_clock::time_point{}) {  // monitoring: RTT of our PING
    auto rtt = std::chrono::steady_clock::now() - ping_sent_;
    rtt_ns_.store(std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::nanoseconds>(rtt).count()),
                  std::memory_order_relaxed);
    ping_sent_ = {};
  }
  return true;
}

bool RouteConn::on_err(std::string_view text) {
  server().log().peer_error("{} - Route error from {}: '{}'", log_prefix(), remote_.name.empty() ? "peer" : remote_.name,
                       text);
  return true;
}

bool RouteConn::on_rs_sub(std::string_view account, std::string_view subject, std::string_view queue,
                          int32_t weight) {
  auto& srv = server();
  if (srv.log().trace()) {
    srv.log().tracef("{} - <<- [RS+ {} {}{}{}{}]", log_prefix(), account, subject, queue.empty() ? "" : " ", queue,
                     queue.empty() ? "" : fmt::format(" {}", weight));
  }
  batch_activity_ = true;
  // Closing: on_closed may have emptied the table already, so nothing may enter it now.
  if (!registered() || closing()) return true;
  interest_key(key_buf_, account, subject, queue);
  const size_t hash = hash_of(key_buf_);
  SubPtr sub;
  Account* acc = nullptr;
  {
    // A joining node takes a whole cluster's interest through here (a million RS+ in a row;
    // issue 14 §4, docs/performance.md): the key is built in a reused buffer and hashed once,
    // and the lock (uncontended: monitoring is the only other taker) is taken once to look
    // and once more to insert, around the allocations of a new subscription.
    std::lock_guard lk(subs_mu_);
    if (RemoteInterest* ri = subs_.find(key_buf_, hash)) {
      // A repeated RS+ for a queue updates its weight.
      ri->sub->weight.store(weight > 0 ? weight : 1, std::memory_order_relaxed);
      sub = ri->sub;
      acc = ri->account;
    }
  }
  if (sub) {
    if (!sub->queue().empty()) {
      apply_pending();  // the leafs hear of the subscription before its new weight
      srv.leafnodes().interest(*acc, *sub, sub->weight.load(std::memory_order_relaxed));
    }
    return true;
  }
  const std::shared_ptr<Account>* ref = account_ref(account);
  if (ref == nullptr) {
    // As the reference with accounts from the config (a static resolver): logged, ignored.
    srv.log().peer_error("{} - Unknown account \"{}\" for remote subject \"{}\"", log_prefix(), account, subject);
    return true;
  }
  sub = std::make_shared<Subscription>(subject, queue, key_buf_);
  sub->owner = shared_from_this();
  sub->remote = true;
  sub->weight.store(queue.empty() ? 1 : (weight > 0 ? weight : 1), std::memory_order_relaxed);
  hold_account(*ref);
  {
    std::lock_guard lk(subs_mu_);
    subs_.insert_new(hash, RemoteInterest{sub, ref->get()});
  }
  if (pending_account_ != *ref) {
    apply_pending();
    pending_account_ = *ref;
  }
  pending_.push_back(SubIndex::Change{std::move(sub), false});
  if (pending_.size() >= kMaxPending) apply_pending();
  return true;
}

bool RouteConn::on_rs_unsub(std::string_view account, std::string_view subject, std::string_view queue) {
  auto& srv = server();
  srv.log().tracef("{} - <<- [RS- {} {}{}{}]", log_prefix(), account, subject, queue.empty() ? "" : " ", queue);
  batch_activity_ = true;
  interest_key(key_buf_, account, subject, queue);
  RemoteInterest ri;
  {
    std::lock_guard lk(subs_mu_);
    if (!subs_.extract(key_buf_, hash_of(key_buf_), ri)) return true;
  }
  if (pending_account_.get() != ri.account) {
    apply_pending();
    pending_account_ = held_account(ri.account);
  }
  // The batch holds the account now (pending_account_) until the removal is in its index.
  release_account(ri.account);
  pending_.push_back(SubIndex::Change{std::move(ri.sub), true});
  if (pending_.size() >= kMaxPending) apply_pending();
  return true;
}

void RouteConn::hold_account(const std::shared_ptr<Account>& acc) {
  // The common case, a run of one account's RS+: one pointer compared per entry.
  if (last_held_ == nullptr || last_held_->account != acc) {
    last_held_ = &interest_accounts_.try_emplace(acc.get(), HeldAccount{acc, 0}).first->second;
  }
  ++last_held_->entries;
}

void RouteConn::release_account(const Account* acc) {
  auto it = interest_accounts_.find(acc);
  if (it == interest_accounts_.end()) std::abort();  // see held_account
  if (--it->second.entries > 0) return;
  if (last_held_ == &it->second) last_held_ = nullptr;
  interest_accounts_.erase(it);
}

const std::shared_ptr<Account>& RouteConn::held_account(Account* acc) const {
  auto it = interest_accounts_.find(acc);
  // Always found: every entry's account was held when the entry went in, and stays held
  // while the entry is in subs_.
  if (it == interest_accounts_.end()) std::abort();
  return it->second.account;
}

void RouteConn::apply_pending() {
  if (pending_.empty()) return;
  Account& acc = *pending_account_;
  acc.index().apply(pending_);
  // The leafs we are hub of are told the rest of the cluster's interest too, after the index
  // has it (as a single insert() or remove() did), in the order it came.
  auto& leafnodes = server().leafnodes();
  for (const SubIndex::Change& c : pending_) {
    const Subscription& sub = *c.sub;
    leafnodes.interest(acc, sub, c.remove ? 0 : sub.queue().empty() ? 1 : sub.weight.load(std::memory_order_relaxed));
  }
  // The account stays held by pending_account_, so a run of one account's RS+ compares one
  // pointer per entry; the table's entries hold it for their own subscriptions.
  pending_.clear();
}

bool RouteConn::on_rmsg(const proto::MsgArgs& a, std::string_view payload) {
  auto& srv = server();
  if (srv.log().trace()) {
    srv.log().tracef("{} - <<- [RMSG {} {}{}{}{}{} {}]", log_prefix(), a.account, a.subject,
                     a.reply.empty() ? "" : " ", a.reply, a.queues.empty() ? "" : " ", a.queues, payload.size());
  }
  batch_activity_ = true;
  // Written only by this connection's loop: no locked increment needed.
  LoopCounters::bump(in_msgs, 1);
  LoopCounters::bump(in_bytes, payload.size());
  srv.count_in(payload.size());
  // This read's RS+ before it: the message sees their interest. A test inline, since every
  // RMSG passes here and a batch is pending only while interest arrives.
  if (!pending_.empty()) apply_pending();
  Account* acc = account_for(a.account);
  if (acc == nullptr) {
    srv.log().debugf("{} - Unknown account \"{}\" for routed message on subject: \"{}\"", log_prefix(), a.account,
                     a.subject);
    return true;
  }
  Message msg{a.subject, a.reply, a.header_len, payload};
  if (!match_cache_) match_cache_ = std::make_shared<MatchCache>(loop());
  const MatchResult& result = match_cache_->lookup(*acc, a.subject);
  MatchCache::Pin pin(*match_cache_);  // on_closed during the delivery clears only after it
  route_inbound_message(srv, *acc, result, loop(), this, msg, a.queues);
  return true;
}

const std::shared_ptr<Account>* RouteConn::account_ref(std::string_view name) {
  Accounts& accounts = server().accounts();
  if (name == kGlobalAccount) return &accounts.global_ref();
  uint64_t generation = accounts.generation();
  if (last_account_ && last_account_generation_ == generation && last_account_->name() == name) {
    return &last_account_;
  }
  auto acc = accounts.find(name);
  if (!acc) return nullptr;
  last_account_ = std::move(acc);
  last_account_generation_ = generation;
  return &last_account_;
}

bool RouteConn::send_message(std::string_view account, std::string_view subject, std::string_view reply, int64_t header_len,
                             std::string_view payload, std::span<const std::string_view> queues) {
  bool ok;
  size_t hint = subject.size() + reply.size() + payload.size() + 48;
  for (auto q : queues) hint += q.size() + 1;
  if (header_len >= 0 && peer_headers_) {
    ok = enqueue_message(hint, payload.size(), [&](std::string& out) {
      proto::append_routed_hmsg(out, account, subject, reply, queues, header_len, payload);
      return true;
    });
  } else {
    // Headers are stripped for a peer that did not announce them.
    std::string_view body = header_len >= 0 ? payload.substr(static_cast<size_t>(header_len)) : payload;
    ok = enqueue_message(hint, payload.size(), [&](std::string& out) {
      proto::append_rmsg(out, account, subject, reply, queues, body);
      return true;
    });
  }
  if (ok) server().count_out(payload.size());
  return ok;
}

std::vector<std::string> RouteConn::remote_interest() const {
  std::lock_guard lk(subs_mu_);
  std::vector<std::string> out;
  out.reserve(subs_.size());
  subs_.for_each([&](const RemoteInterest& ri) { out.push_back(std::string(ri.sub->sid())); });
  return out;
}

size_t RouteConn::remote_interest_count() const {
  std::lock_guard lk(subs_mu_);
  return subs_.size();
}

void RouteConn::schedule_ping(bool first) {
  std::chrono::nanoseconds interval = server().options().ping_interval;
  if (first) {
    // Shortened, plus up to 20% jitter so the routes of a restarted node do not ping in step.
    interval = std::min<std::chrono::nanoseconds>(interval, kFirstPingInterval);
    thread_local std::minstd_rand rng{std::random_device{}()};
    int64_t jitter = interval.count() / 5;
    if (jitter > 0) interval += std::chrono::nanoseconds(std::uniform_int_distribution<int64_t>(0, jitter)(rng));
  }
  ping_timer_.expires_after(interval);
  ping_timer_.async_wait([self = shared_from_this(), this](const boost::system::error_code& ec) {
    if (ec || closing()) return;
    release_idle_buffers();
    if (pings_out_ + 1 > server().options().ping_max) {
      server().log().error("{} - Stale Route Connection - Closing", log_prefix());
      // As the reference: -ERR, then close. The flush may wait out the write deadline on a
      // peer that is not reading; meanwhile the router no longer picks a closing route for
      // anything (router.cc, takes_routed), so no queue message is sent into the void
      // (tests/faults: QueueGroupNeverDeliversTwice).
      std::string line;
      proto::append_err(line, err::kStaleConnection);
      queue_self(line);
      close(CloseReason::kStaleConnection, true);
      loop().flush_touched();
      return;
    }
    ++pings_out_;
    // PONGs answer in order: the RTT is measured from the oldest PING still unanswered.
    if (ping_sent_ == std::chrono::steady_clock::time_point{}) ping_sent_ = std::chrono::steady_clock::now();
    queue_self(proto::kPingOp);
    loop().flush_touched();
    schedule_ping();
  });
}

}  // namespace pylon::server
