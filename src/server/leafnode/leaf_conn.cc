#include "server/leafnode/leaf_conn.h"

#include <boost/json.hpp>

#include <random>

#include "proto/subject.h"
#include "proto/writer.h"
#include "server/account/account.h"
#include "server/client/auth.h"
#include "server/core/event_loop.h"
#include "server/errors.h"
#include "server/leafnode/credentials.h"
#include "server/leafnode/leafnodes.h"
#include "server/match_cache.h"
#include "server/route/cluster.h"
#include "server/router.h"
#include "server/server.h"
#include "server/tls/cert_identity.h"
#include "server/tls/tls_context.h"

namespace pylon::server {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
// The reference's DEFAULT_LEAFNODE_INFO_WAIT: a hub's INFO must come this soon after the dial.
constexpr auto kInfoWait = std::chrono::seconds(1);
// The reference's connectProcessTimeout: the hub confirms our CONNECT (INFO with connect_info)
// within this, or the connection is stale.
constexpr auto kConnectProcessTimeout = std::chrono::seconds(2);
constexpr auto kFirstPingInterval = std::chrono::seconds(1);

proto::ParserLimits leaf_limits() {
  proto::ParserLimits l;
  l.max_control_line = 1 << 20;  // the reference checks control lines of clients only
  l.max_payload = -1;
  return l;
}

std::string interest_key(std::string_view subject, std::string_view queue) {
  std::string k(subject);
  if (!queue.empty()) {
    k += ' ';
    k += queue;
  }
  return k;
}

// A JSON field as a string ("" when absent or not a string).
std::string str_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}
bool bool_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_bool() && it->value().as_bool();
}
}  // namespace

LeafConn::LeafConn(Server& server, EventLoop& loop, asio::ip::tcp::socket socket, uint64_t lid,
                   std::shared_ptr<LeafRemote> remote, std::optional<Url> url,
                   const asio::ip::tcp::endpoint* accepted_peer)
    : Connection(server, loop, std::move(socket), Kind::kLeaf, lid, accepted_peer),
      parser_(proto::Role::kServerOfLeaf, leaf_limits()),
      remote_(std::move(remote)),
      url_(std::move(url)),
      auth_timer_(loop.ctx()),
      ping_timer_(loop.ctx()) {}

LeafConn::~LeafConn() = default;

void LeafConn::queue_self(std::string_view bytes) {
  if (enqueue(bytes)) loop().touch(this);
}

void LeafConn::send_err_and_close(std::string_view text, CloseReason reason) {
  std::string line;
  proto::append_err(line, text);
  queue_self(line);
  close(reason, true);
}

void LeafConn::on_start() {
  auto& srv = server();
  if (solicited()) {
    // The remote's account was checked at load time; a reload cannot remove it (leafnodes
    // do not reload), so the lookup finds it.
    const std::string& name = remote_->options.account.empty() ? std::string(kGlobalAccount) : remote_->options.account;
    account_ = srv.accounts().find(name);
    srv.log().info("{} - Leafnode connection created for account: {}", log_prefix(), name);
    if (!account_) {
      srv.log().error("Unable to lookup account {} for solicited leafnode connection", name);
      close(CloseReason::kProtocolViolation, false);
      return;
    }
    // We wait for the hub's INFO, but not for long (the reference's read deadline).
    auth_timer_.expires_after(kInfoWait);
    auth_timer_.async_wait([self = shared_from_this(), this](const boost::system::error_code& ec) {
      if (ec || closing() || info_received_) return;
      server().log().error("{} - Leafnode Error: no INFO from {} within {}s", log_prefix(),
                           url_ ? url_->str() : std::string("the hub"), kInfoWait.count());
      close(CloseReason::kReadError, false);
    });
    return;
  }
  srv.log().info("{} - Leafnode connection created", log_prefix());
  accept_tls_ = srv.leafnodes().accept_tls();
  std::string info;
  proto::append_info(info, srv.leafnodes().info_json(cid(), accept_tls_.get()));
  queue_self(info);
  if (accept_tls_) {
    // As createLeafNode: the INFO goes out in plaintext, then the leaf starts the handshake;
    // the wait for its CONNECT begins once TLS is up.
    tls_ = true;
    start_tls(accept_tls_, TlsRole::kAccepted);
    return;
  }
  arm_auth_timer();
}

void LeafConn::arm_auth_timer() {
  // Leafs always send CONNECT, which binds them to an account. The default wait, as the
  // reference's getDefaultAuthTimeout: the TLS timeout and a second more with TLS.
  const auto& o = server().options();
  Duration timeout = o.leafnodes.auth_timeout;
  if (timeout <= Duration::zero()) timeout = tls_ ? o.leafnodes.tls.timeout + std::chrono::seconds(1) : o.auth_timeout;
  auth_timer_.expires_after(timeout);
  auth_timer_.async_wait([self = shared_from_this(), this](const boost::system::error_code& ec) {
    if (ec || closing() || connect_received_) return;
    server().log().peer_error("{} - Authentication Timeout", log_prefix());
    send_err_and_close(err::kAuthTimeout, CloseReason::kAuthenticationTimeout);
  });
}

bool LeafConn::on_read(std::string_view data) {
  auto r = parser_.parse(data, *this);
  if (r.error != proto::ParseError::kNone) {
    server().log().peer_error("{} - {}", log_prefix(), proto::error_log_text(r, "Leafnode"));
    if (proto::sends_err(r.error)) {
      send_err_and_close(proto::error_text(r.error), CloseReason::kProtocolViolation);
    } else {
      close(CloseReason::kProtocolViolation, true);
    }
    return false;
  }
  return !r.stopped && !closing();
}

void LeafConn::on_tls_established() {
  auto& log = server().log();
  if (SSL* ssl = tls_session()) {
    log.debugf("{} - TLS handshake complete", log_prefix());
    log.debugf("{} - TLS version {}, cipher suite {}", log_prefix(), tls::version_name(ssl), tls::cipher_suite_name(ssl));
  }
  if (solicited()) {
    resume_connect();
    return;
  }
  // verify_and_map: who the certificate names, for authorize() (the session is ours only now).
  if (accept_tls_ && accept_tls_->options().map) cert_identity_ = tls::peer_identity(tls_session());
  arm_auth_timer();
}

void LeafConn::on_closing() {
  auth_timer_.cancel();
  ping_timer_.cancel();
}

void LeafConn::on_closed(CloseReason reason) {
  std::unordered_map<std::string, SubPtr> subs;
  {
    std::lock_guard lk(subs_mu_);
    subs.swap(subs_);
  }
  // As a route's: dropping the table breaks the cycle connection -> subscription -> connection.
  for (auto& [k, sub] : subs) {
    account_->index().remove(sub);
    announce(*sub, sub->weight.load(std::memory_order_relaxed), 0);
  }
  if (match_cache_) match_cache_->clear();
  server().log().info("{} - Leafnode connection closed: {} account: {}", log_prefix(), to_string(reason),
                      account_ ? account_->name() : std::string());
  server().leafnodes().leaf_closed(*this);
}

void LeafConn::announce(const Subscription& sub, int32_t old_weight, int32_t weight) {
  auto& srv = server();
  srv.leafnodes().interest(*account_, sub, weight);
  // A leaf's interest is, to the rest of our cluster, our own (the reference's
  // updateRouteSubscriptionMap for a non-spoke leaf). What our hub told us is not: the hub's
  // cluster has it already.
  if (!solicited()) srv.cluster().interest_changed(*account_, sub.subject(), sub.queue(), weight - old_weight);
}

bool LeafConn::authorize(const std::string& user, const std::string& pass, const std::string& token) {
  const Options& o = server().options();
  const LeafNodeOptions& l = o.leafnodes;
  std::string account;
  if (!l.user.empty()) {
    // Both parts are compared even when the user is wrong, so timing tells nothing.
    bool user_ok = user == l.user;
    bool pass_ok = check_password(l.password, pass);
    if (!user_ok || !pass_ok) return false;
    account = l.account;
  } else if (!l.users.empty()) {
    const LeafUser* found = nullptr;
    if (cert_identity_) {
      // verify_and_map: the certificate names the user, as the reference's isLeafNodeAuthorized
      // (the password, when the entry has one, still has to match).
      std::vector<std::string_view> names;
      for (const auto& u : l.users) names.push_back(u.user);
      auto& log = server().log();
      auto name = tls::mapped_user(*cert_identity_, names,
                                   [&](const std::string& line) { log.debugf("{} - {}", log_prefix(), line); });
      for (const auto& u : l.users) {
        if (name && u.user == *name) found = &u;
      }
      if (found != nullptr && !user.empty() && user != found->user) {
        log.warn("User \"{}\" found in connect proto, but user required from cert", user);
      }
    } else {
      for (const auto& u : l.users) {
        if (u.user == user) found = &u;
      }
    }
    if (found == nullptr || !check_password(found->password, pass)) return false;
    account = found->account;
  } else if (!o.token.empty()) {
    // No leafnode authorization: the clients' (the reference's isClientAuthorized).
    if (!check_password(o.token, !token.empty() ? token : pass)) return false;
  } else if (!o.users.empty()) {
    // A leaf that presents nothing is the no_auth_user, as a client would be.
    const bool as_no_auth_user = !o.no_auth_user.empty() && user.empty() && pass.empty() && token.empty();
    std::string_view name = as_no_auth_user ? std::string_view(o.no_auth_user) : std::string_view(user);
    const User* found = nullptr;
    for (const auto& u : o.users) {
      if (u.user == name) found = &u;
    }
    if (found == nullptr || (!as_no_auth_user && !check_password(found->password, pass))) return false;
    account = found->account;
  } else if (!o.user.empty()) {
    bool user_ok = user == o.user;
    bool pass_ok = check_password(o.password, pass);
    if (!user_ok || !pass_ok) return false;
  }
  account_ = account.empty() ? server().accounts().global_ref() : server().accounts().find(account);
  return account_ != nullptr;
}

bool LeafConn::on_connect(std::string_view text) {
  auto& srv = server();
  auto& log = srv.log();
  log.tracef("{} - <<- [CONNECT {}]", log_prefix(), text);
  if (solicited() || connect_received_) return true;  // as the reference: only the first counts
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) {
    log.peer_error("{} - invalid CONNECT: {}", log_prefix(), ec ? ec.message() : "not a JSON object");
    close(CloseReason::kProtocolViolation, true);
    return false;
  }
  const json::object& o = v.as_object();
  if (!str_field(o, "lang").empty()) {
    // A client on the leafnode port.
    log.peer_error("{} - attempted to connect to leaf node port", log_prefix());
    send_err_and_close("attempted to connect to leaf node port", CloseReason::kWrongPort);
    return false;
  }
  std::string cluster = str_field(o, "cluster");
  if (srv.cluster().enabled() && !cluster.empty() && cluster == srv.cluster().cluster_name()) {
    log.peer_error("{} - remote leafnode has same cluster name", log_prefix());
    send_err_and_close("remote leafnode has same cluster name", CloseReason::kClusterNamesIdentical);
    return false;
  }
  if (std::string gw = str_field(o, "gateway"); !gw.empty()) {
    std::string t = fmt::format("Rejecting connection from gateway \"{}\" on the leafnode port", gw);
    log.peer_error("{} - {}", log_prefix(), t);
    send_err_and_close(t, CloseReason::kWrongPort);
    return false;
  }
  std::string user = str_field(o, "user");
  if (!authorize(user, str_field(o, "pass"), str_field(o, "auth_token"))) {
    // The reference's authViolation: its log line, then -ERR 'Authorization Violation'.
    bool users = !srv.options().leafnodes.users.empty() || !srv.options().users.empty();
    if (users) {
      log.peer_error("{} - authentication error - User \"{}\"", log_prefix(), user);
    } else {
      log.peer_error("{} - authentication error", log_prefix());
    }
    send_err_and_close(err::kAuthorization, CloseReason::kAuthenticationViolation);
    return false;
  }
  connect_received_ = true;
  auth_timer_.cancel();
  remote_name_ = str_field(o, "name");
  remote_id_ = str_field(o, "server_id");
  remote_cluster_ = std::move(cluster);
  peer_headers_ = bool_field(o, "headers");
  if (bool_field(o, "is_hub")) {
    // The peer wants us as its leaf: Pylon does not take that role on an accepted connection.
    log.peer_error("{} - a remote declared as hub is not supported by Pylon", log_prefix());
    close(CloseReason::kProtocolViolation, false);
    return false;
  }
  // As the reference's sendPermsAndAccountInfo: the soliciting side finishes its connect on
  // this INFO (connect_info), so it goes out before any LS+.
  std::string info;
  proto::append_info(info, srv.leafnodes().info_json(cid(), accept_tls_.get(), account_->name()));
  queue_self(info);
  finish_connect();
  return !closing();
}

bool LeafConn::on_info(std::string_view text) {
  auto& srv = server();
  auto& log = srv.log();
  log.tracef("{} - <<- [INFO {}]", log_prefix(), text);
  if (!solicited()) return true;  // a leaf has nothing to tell its hub in INFO
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) {
    log.peer_error("{} - invalid INFO: {}", log_prefix(), ec ? ec.message() : "not a JSON object");
    close(CloseReason::kProtocolViolation, true);
    return false;
  }
  const json::object& o = v.as_object();
  // Every INFO (the first and the async ones) may tell the hub cluster's leafnode URLs.
  if (auto it = o.find("leafnode_urls"); it != o.end() && it->value().is_array() && !it->value().as_array().empty()) {
    std::vector<std::string> urls;
    for (const auto& u : it->value().as_array()) {
      if (u.is_string()) urls.emplace_back(u.as_string());
    }
    srv.leafnodes().learn_urls(*remote_, urls);
  }
  if (!info_received_) {
    info_received_ = true;
    auth_timer_.cancel();
    // Only a leafnode port's INFO has a client id and leafnode_urls (the reference's table in
    // processLeafnodeInfo): anything else is a wrong port.
    auto cid_it = o.find("client_id");
    auto urls_it = o.find("leafnode_urls");
    bool has_cid = cid_it != o.end() && cid_it->value().is_number() && cid_it->value().to_number<double>() != 0;
    bool has_urls = urls_it != o.end() && urls_it->value().is_array();
    if (!has_cid || !has_urls) {
      log.error("{} - attempted to connect to wrong port", log_prefix());
      close(CloseReason::kWrongPort, false);
      return false;
    }
    remote_id_ = str_field(o, "server_id");
    remote_name_ = str_field(o, "server_name");
    if (remote_name_.empty()) remote_name_ = remote_id_;
    remote_cluster_ = str_field(o, "cluster");
    peer_headers_ = bool_field(o, "headers");
    nonce_ = str_field(o, "nonce");
    hub_info_on_connect_ = bool_field(o, "info_on_connect");
    hub_connect_info_ = bool_field(o, "connect_info");
    // The reference's leafNodeResumeConnectProcess: TLS now, when the hub requires it or our
    // remote has a tls block. Reading stops here (nothing but the handshake may follow the
    // INFO) and goes on over TLS; on_tls_established sends the CONNECT.
    if (auto t = srv.leafnodes().remote_tls(*remote_, *url_, bool_field(o, "tls_required"))) {
      tls_ = true;
      start_tls(std::move(t->ctx), TlsRole::kDialled, std::move(t->server_name));
      return false;
    }
    resume_connect();
    return !closing();
  }
  if (bool_field(o, "connect_info") && !registered()) {
    auth_timer_.cancel();
    finish_connect();
    return !closing();
  }
  return true;
}

void LeafConn::resume_connect() {
  if (!send_connect()) {
    close(CloseReason::kWriteError, false);  // as the reference's leafNodeResumeConnectProcess
    return;
  }
  // The hub confirms the CONNECT with an INFO carrying connect_info; a hub that does not say
  // info_on_connect never will, and is taken at its word now.
  if (!hub_info_on_connect_ || hub_connect_info_) {
    finish_connect();
    return;
  }
  auth_timer_.expires_after(kConnectProcessTimeout);
  auth_timer_.async_wait([self = shared_from_this(), this](const boost::system::error_code& ec2) {
    if (ec2 || closing() || registered()) return;
    server().log().debugf("{} - Stale Leaf Node Connection - Closing", log_prefix());
    send_err_and_close("Stale Leaf Node Connection - Closing", CloseReason::kStaleConnection);
  });
}

bool LeafConn::send_connect() {
  auto& srv = server();
  json::object o;
  o["version"] = kNatsCompatVersion;
  const std::string& creds = remote_->options.credentials;
  if (!creds.empty()) {
    // As sendLeafConnect: a credentials file wins over the URL's user and password. It is read
    // at each dial, so a renewed file is used without a restart.
    srv.log().debugf("{} - Authenticating with credentials file \"{}\"", log_prefix(), creds);
    try {
      LeafCredentials c = read_leaf_credentials(creds);
      o["jwt"] = c.jwt;
      o["sig"] = nkeys::base64url_encode(c.key.sign(nonce_));
    } catch (const std::exception& e) {
      srv.log().error("{} - {}", log_prefix(), e.what());
      return false;
    }
  } else {
    const Url& u = *url_;
    if (!u.user.empty()) o["user"] = u.user;
    if (!u.password.empty()) o["pass"] = u.password;
  }
  o["tls_required"] = tls_;
  o["server_id"] = srv.id();
  o["name"] = srv.name();
  if (srv.cluster().enabled()) o["cluster"] = srv.cluster().cluster_name();
  o["headers"] = true;
  std::string line;
  proto::append_connect(line, json::serialize(o));
  queue_self(line);
  srv.log().debugf("{} - Remote leafnode connect msg sent", log_prefix());
  return true;
}

void LeafConn::finish_connect() {
  auto& srv = server();
  lds_ = srv.leafnodes().loop_detection_subject(*account_);
  registered_.store(true, std::memory_order_release);
  srv.leafnodes().register_leaf(std::static_pointer_cast<LeafConn>(shared_from_this()));
  schedule_ping(/*first=*/true);
}

void LeafConn::loop_detected(bool send_err) {
  auto delay = std::chrono::duration_cast<std::chrono::seconds>(defaults::kLeafReconnectAfterLoop);
  if (solicited()) redial_delay = delay;
  std::string text = fmt::format("Loop detected for leafnode account=\"{}\". Delaying attempt to reconnect for {}s",
                                 account_ ? account_->name() : std::string(), delay.count());
  if (send_err) {
    std::string line;
    proto::append_err(line, text);
    queue_self(line);
  }
  server().log().error("{} - {}", log_prefix(), text);
  close(CloseReason::kProtocolViolation, true);
}

bool LeafConn::on_ping() {
  server().log().tracef("{} - <<- [PING]", log_prefix());
  queue_self(proto::kPongOp);
  return true;
}

bool LeafConn::on_pong() {
  server().log().tracef("{} - <<- [PONG]", log_prefix());
  pings_out_ = 0;
  if (ping_sent_ != std::chrono::steady_clock::time_point{}) {
    auto rtt = std::chrono::steady_clock::now() - ping_sent_;
    rtt_ns_.store(std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::nanoseconds>(rtt).count()),
                  std::memory_order_relaxed);
    ping_sent_ = {};
  }
  return true;
}

bool LeafConn::on_err(std::string_view text) {
  // The reference's processErr for a leaf: logged; the peer closes the connection.
  server().log().peer_error("{} - Leafnode Error '{}'", log_prefix(), text);
  if (text.find("Loop detected") != std::string_view::npos) {
    loop_detected(false);
    return false;
  }
  if (text.find("remote leafnode has same cluster name") != std::string_view::npos && solicited()) {
    redial_delay = defaults::kLeafReconnectAfterLoop;
    server().log().error("{} - Leafnode connection dropped with same cluster name error. Delaying attempt to "
                         "reconnect for {}s",
                         log_prefix(), std::chrono::duration_cast<std::chrono::seconds>(redial_delay).count());
  }
  return true;
}

bool LeafConn::on_ls_sub(std::string_view, std::string_view, std::string_view subject, std::string_view queue,
                         int32_t weight) {
  auto& srv = server();
  if (srv.log().trace()) {
    srv.log().tracef("{} - <<- [LS+ {}{}{}{}]", log_prefix(), subject, queue.empty() ? "" : " ", queue,
                     queue.empty() ? "" : fmt::format(" {}", weight));
  }
  if (!registered()) return true;
  if (subject == lds_) {  // our own loop detection subject came back: a loop
    loop_detected(true);
    return false;
  }
  if (!proto::valid_subscribe_subject(subject) || (!queue.empty() && !proto::valid_queue_name(queue))) {
    srv.log().peer_error("{} - Could not insert subscription: invalid subject \"{}\"", log_prefix(), subject);
    std::string line;
    proto::append_err(line, "Invalid Subscription");
    queue_self(line);
    return true;
  }
  const int32_t w = queue.empty() ? 1 : std::max<int32_t>(weight, 1);
  std::string key = interest_key(subject, queue);
  SubPtr sub;
  int32_t old = 0;
  {
    std::lock_guard lk(subs_mu_);
    auto it = subs_.find(key);
    if (it != subs_.end()) {
      if (queue.empty()) return true;
      sub = it->second;
      old = sub->weight.exchange(w, std::memory_order_relaxed);  // a repeated LS+ updates the weight
    } else {
      sub = std::make_shared<Subscription>(subject, queue, key);
      sub->owner = shared_from_this();
      sub->remote = true;
      sub->leaf = true;
      sub->weight.store(w, std::memory_order_relaxed);
      subs_.emplace(std::move(key), sub);
    }
  }
  if (old == 0) account_->index().insert(sub);
  if (old != w) announce(*sub, old, w);
  return true;
}

bool LeafConn::on_ls_unsub(std::string_view, std::string_view, std::string_view subject, std::string_view queue) {
  auto& srv = server();
  srv.log().tracef("{} - <<- [LS- {}{}{}]", log_prefix(), subject, queue.empty() ? "" : " ", queue);
  SubPtr sub;
  {
    std::lock_guard lk(subs_mu_);
    auto it = subs_.find(interest_key(subject, queue));
    if (it == subs_.end()) return true;
    sub = std::move(it->second);
    subs_.erase(it);
  }
  account_->index().remove(sub);
  announce(*sub, sub->weight.load(std::memory_order_relaxed), 0);
  return true;
}

bool LeafConn::on_lmsg(std::string_view, const proto::MsgArgs& a, std::string_view payload) {
  auto& srv = server();
  if (srv.log().trace()) {
    srv.log().tracef("{} - <<- [LMSG {}{}{}{}{} {}]", log_prefix(), a.subject, a.reply.empty() ? "" : " ", a.reply,
                     a.queues.empty() ? "" : " ", a.queues, payload.size());
  }
  LoopCounters::bump(in_msgs, 1);
  LoopCounters::bump(in_bytes, payload.size());
  srv.count_in(payload.size());
  if (!registered()) return true;
  Message msg{a.subject, a.reply, a.header_len, payload};
  if (!match_cache_) match_cache_ = std::make_shared<MatchCache>(loop());
  const MatchResult& result = match_cache_->lookup(*account_, a.subject);
  MatchCache::Pin pin(*match_cache_);
  route_leaf_message(srv, *account_, result, loop(), this, msg, a.queues);
  return true;
}

bool LeafConn::send_message(std::string_view subject, std::string_view reply, int64_t header_len,
                            std::string_view payload, std::span<const std::string_view> queues) {
  bool ok;
  size_t hint = subject.size() + reply.size() + payload.size() + 48;
  for (auto q : queues) hint += q.size() + 1;
  if (header_len >= 0 && peer_headers_) {
    ok = enqueue_message(hint, payload.size(), [&](std::string& out) {
      proto::append_leaf_hmsg(out, subject, reply, queues, header_len, payload);
      return true;
    });
  } else {
    std::string_view body = header_len >= 0 ? payload.substr(static_cast<size_t>(header_len)) : payload;
    ok = enqueue_message(hint, payload.size(), [&](std::string& out) {
      proto::append_lmsg(out, subject, reply, queues, body);
      return true;
    });
  }
  if (ok) server().count_out(payload.size());
  return ok;
}

std::vector<std::string> LeafConn::remote_interest() const {
  std::lock_guard lk(subs_mu_);
  std::vector<std::string> out;
  out.reserve(subs_.size());
  for (auto& [k, s] : subs_) out.push_back(k);
  return out;
}

size_t LeafConn::remote_interest_count() const {
  std::lock_guard lk(subs_mu_);
  return subs_.size();
}

void LeafConn::schedule_ping(bool first) {
  std::chrono::nanoseconds interval = server().options().ping_interval;
  if (first) interval = std::min<std::chrono::nanoseconds>(interval, kFirstPingInterval);
  ping_timer_.expires_after(interval);
  ping_timer_.async_wait([self = shared_from_this(), this](const boost::system::error_code& ec) {
    if (ec || closing()) return;
    release_idle_buffers();
    if (pings_out_ + 1 > server().options().ping_max) {
      server().log().error("{} - Stale Leafnode Connection - Closing", log_prefix());
      std::string line;
      proto::append_err(line, err::kStaleConnection);
      queue_self(line);
      close(CloseReason::kStaleConnection, true);
      loop().flush_touched();
      return;
    }
    ++pings_out_;
    if (ping_sent_ == std::chrono::steady_clock::time_point{}) ping_sent_ = std::chrono::steady_clock::now();
    queue_self(proto::kPingOp);
    loop().flush_touched();
    schedule_ping();
  });
}

}  // namespace pylon::server
