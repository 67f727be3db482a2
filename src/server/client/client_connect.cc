// A client's CONNECT: its credentials checked (users, tokens, nkeys, certificates), its account
// and permissions, the answer in the reference's words; and what a reload or a lowered
// max_connections does to a client already in. The protocol after CONNECT is client_conn.cc.
#include <algorithm>
#include <boost/asio/post.hpp>

#include "proto/subject.h"
#include "server/account/system_account.h"
#include "server/client/auth.h"
#include "server/client/client_conn.h"
#include "server/client/connect_json.h"
#include "server/client/nkeys.h"
#include "server/client/permissions.h"
#include "server/core/event_loop.h"
#include "server/errors.h"
#include "server/route/cluster.h"
#include "server/server.h"
#include "server/tls/tls_context.h"
#include "server/websocket/session.h"

namespace pylon::server {

namespace asio = boost::asio;

void ClientConn::auth_violation() {
  // The reference's authViolation: the nkey, else the user, that failed.
  const Options& o = server().options();
  if (!o.nkeys.empty()) {
    server().log().peer_error("{} - authentication error - Nkey \"{}\"", log_prefix(), rare().conn_nkey);
  } else if (!o.users.empty()) {
    server().log().peer_error("{} - authentication error - User \"{}\"", log_prefix(), rare().conn_user);
  } else {
    server().log().peer_error("{} - authentication error", log_prefix());
  }
  send_err_and_close(err::kAuthorization, CloseReason::kAuthenticationViolation);
}

bool ClientConn::authenticate(std::string_view user, std::string_view pass, std::string_view token,
                              std::string_view nkey, std::string_view sig, std::string& account) {
  const Options& o = server().options();
  perms_ = nullptr;
  if (rare_) rare_->nkey_user.clear();
  account.clear();
  if (!auth_required()) return true;
  // A websocket block with its own authorization (the reference's authOverride) replaces the
  // top level's user, password, token and no_auth_user for WebSocket clients; the users and
  // nkeys lists stay the same.
  const bool ws_override = is_websocket() && o.websocket.auth_override();
  const std::string& o_token = ws_override ? o.websocket.token : o.token;
  const std::string& o_user = ws_override ? o.websocket.user : o.user;
  const std::string& o_password = ws_override ? o.websocket.password : o.password;
  const std::string& o_no_auth_user = ws_override ? o.websocket.no_auth_user : o.no_auth_user;
  if (!o_token.empty()) return !token.empty() && check_password(o_token, token);
  // As the reference: a CONNECT with an nkey is judged by the nkey users alone.
  if (!o.nkeys.empty() && !nkey.empty()) {
    const NkeyUser* u = find_nkey_user(o, nkey);
    if (u == nullptr) return false;
    if (auto why = check_nonce_signature(nkey, sig, rare().nonce)) {
      server().log().debugf("{} - {}", log_prefix(), *why);
      return false;
    }
    rare_mut().nkey_user = u->nkey;
    user_.clear();
    account = u->account;
    if (!u->permissions.empty()) perms_ = &u->permissions;
    return true;
  }
  if (!o.users.empty() && (is_websocket() ? o.websocket.tls.map : o.tls.map)) {
    // verify_and_map: the certificate names the user; CONNECT's credentials do not count.
    const User* u = user_from_certificate(o);
    if (u == nullptr) return false;
    if (!user.empty() && user != u->user) {
      server().log().warn("User \"{}\" found in connect proto, but user required from cert", user);
    }
    user_ = u->user;
    account = u->account;
    if (!u->permissions.empty()) perms_ = &u->permissions;
    return true;
  }
  if (!o.users.empty()) {
    // no_auth_user: a client that presents no credentials at all is that user (the
    // reference's processClientOrLeafAuthentication).
    bool as_no_auth_user = !o_no_auth_user.empty() && user.empty() && pass.empty() && token.empty();
    std::string_view name = as_no_auth_user ? std::string_view(o_no_auth_user) : user;
    for (const auto& u : o.users) {
      if (u.user == name) {
        if (!as_no_auth_user && !check_password(u.password, pass)) return false;
        user_ = u.user;
        account = u.account;
        if (!u.permissions.empty()) perms_ = &u.permissions;
        return true;
      }
    }
    return false;
  }
  if (o_user.empty()) return false;  // only nkey users, and no nkey given
  // Compare both parts even when the user is wrong, so timing tells nothing.
  bool user_ok = user == o_user;
  bool pass_ok = check_password(o_password, pass);
  return user_ok && pass_ok;
}

std::string ClientConn::auth_user() const {
  if (!rare().nkey_user.empty()) return fmt::format("Nkey \"{}\"", rare().nkey_user);
  return fmt::format("User \"{}\"", user_);
}

const User* ClientConn::user_from_certificate(const Options& o) {
  auto& log = server().log();
  if (!rare().cert_identity) {
    log.debugf("{} - User required in cert, no peer certificates found", log_prefix());
    return nullptr;
  }
  std::vector<std::string_view> names;
  names.reserve(o.users.size());
  for (const auto& u : o.users) names.push_back(u.user);
  auto name = tls::mapped_user(*rare().cert_identity, names,
                               [&](const std::string& line) { log.debugf("{} - {}", log_prefix(), line); });
  if (!name) return nullptr;
  for (const auto& u : o.users) {
    if (u.user == *name) return &u;
  }
  return nullptr;
}

bool ClientConn::on_connect(std::string_view text) {
  server().log().tracef("{} - <<- [CONNECT {}]", log_prefix(), text);
  ClientConnect opts;
  // As the reference's json.Unmarshal into the client's options: a later CONNECT changes what
  // it names and keeps the rest ("CONNECT {}" after a CONNECT with verbose false and a user's
  // credentials leaves the client quiet, and authenticated as that user).
  opts.protocol = protocol_.load();
  if (connect_received_) {
    opts.verbose = verbose_;
    opts.pedantic = pedantic_;
    opts.echo = echo_;
    opts.headers = headers_;
    opts.no_responders = no_responders_;
    opts.name = name_;
    opts.lang = lang_;
    opts.version = version_;
    if (rare_) {
      opts.user = rare_->conn_user;
      opts.pass = rare_->conn_pass;
      opts.auth_token = rare_->conn_token;
      opts.nkey = rare_->conn_nkey;
      opts.sig = rare_->conn_sig;
    }
  }
  if (auto e = decode_client_connect(text, opts)) {
    // As the reference's readLoop on a CONNECT json.Unmarshal refuses: Go's error text in
    // the log, no -ERR, the connection closed as a protocol violation.
    server().log().peer_error("{} - {}", log_prefix(), *e);
    close(CloseReason::kProtocolViolation, true);  // what was queued before goes out
    return false;
  }
  // From now on this client's log lines carry its tag, as the reference's (set before the
  // auth check, so an authentication error names the client too): "v<version>:<lang>:<name>",
  // each part only when given.
  {
    std::string tag;
    for (auto [part, prefix] : {std::pair<std::string_view, std::string_view>{opts.version, "v"},
                                {opts.lang, ""}, {opts.name, ""}}) {
      if (part.empty()) continue;
      tag += fmt::format("{}{}{}", tag.empty() ? "" : ":", prefix, part);
    }
    set_log_tag(tag);
  }
  // What the client presented, kept to check it again after a reload (and named in the log
  // line when it fails).
  if (rare_ || !opts.user.empty() || !opts.pass.empty() || !opts.auth_token.empty() || !opts.nkey.empty() ||
      !opts.sig.empty()) {
    Rare& r = rare_mut();
    r.conn_user = std::move(opts.user);
    r.conn_pass = std::move(opts.pass);
    r.conn_token = std::move(opts.auth_token);
    r.conn_nkey = std::move(opts.nkey);
    r.conn_sig = std::move(opts.sig);
  }
  // Auth first: nothing else of an unauthenticated CONNECT matters.
  std::string account_name;
  const Rare& presented = rare();
  if (!authenticate(presented.conn_user, presented.conn_pass, presented.conn_token, presented.conn_nkey,
                    presented.conn_sig, account_name)) {
    auth_violation();
    return false;
  }
  if (!join_account(account_name)) {
    auth_violation();
    return false;
  }
  // Absent fields keep the reference's defaults (ClientConnect's): verbose and pedantic on, echo on.
  verbose_ = opts.verbose;
  pedantic_ = opts.pedantic;
  echo_ = opts.echo;
  headers_ = opts.headers;
  no_responders_ = opts.no_responders;
  name_ = std::move(opts.name);
  lang_ = std::move(opts.lang);
  version_ = std::move(opts.version);
  if (opts.protocol < 0 || opts.protocol > 1) {
    send_err_and_close(err::kBadClientProtocol, CloseReason::kBadClientProtocolVersion);
    return false;
  }
  protocol_ = static_cast<int>(opts.protocol);
  if (no_responders_ && !headers_) {
    send_err_and_close(err::kNoRespondersRequiresHeaders, CloseReason::kProtocolViolation);
    return false;
  }
  // Its account's account_connections first, then (not for $G, as the reference's
  // accountConnectEvent) the CONNECT event: the reference's order. A client that no_auth_user
  // admitted before its CONNECT (admit_as_no_auth_user) got the first then, and gets the
  // CONNECT event at its first CONNECT, as in the reference.
  mark_connected();
  if (!connect_event_sent_) {
    connect_event_sent_ = true;
    if (const auto& sys = server().system_account(); sys && !account_->is_global()) sys->client_connected(*this);
  }
  if (verbose_) send_ok();
  return true;
}

bool ClientConn::join_account(const std::string& account_name) {
  if (!account_name.empty() && account_name != account_->name()) {
    // Bound once: a repeated CONNECT cannot carry the client (and its subscriptions) elsewhere.
    auto acc = server().accounts().find(account_name);
    if (!acc || connect_received_) return false;
    account_ = std::move(acc);
  }
  if (!bound_) {
    bound_ = true;
    account_->client_bound();
  }
  return true;
}

void ClientConn::mark_connected() {
  if (connect_received_) return;
  connect_received_ = true;
  auth_timer_.reset();  // cancels its wait
  // Monitoring: estimate the RTT from accept to CONNECT until a PONG measures it (as the reference).
  auto now = std::chrono::system_clock::now();
  rtt_ns_.store(std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::nanoseconds>(now - started_at()).count()),
                std::memory_order_relaxed);
  activity_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count(),
                     std::memory_order_relaxed);
  if (const auto& sys = server().system_account()) sys->account_connections_changed(account_);
}

bool ClientConn::admit_as_no_auth_user() {
  const Options& o = server().options();
  const bool ws_override = is_websocket() && o.websocket.auth_override();
  const std::string& name = ws_override ? o.websocket.no_auth_user : o.no_auth_user;
  if (name.empty()) return false;
  // The reference looks the name up in its users (those of the authorization block and of
  // the accounts), as a CONNECT without credentials would be.
  auto it = std::find_if(o.users.begin(), o.users.end(), [&](const User& u) { return u.user == name; });
  if (it == o.users.end() || !join_account(it->account)) return false;
  user_ = it->user;
  perms_ = it->permissions.empty() ? nullptr : &it->permissions;
  mark_connected();
  return true;
}

void ClientConn::drop_subscriptions_not_allowed(const Permissions& p) {
  std::vector<SubPtr> removed;
  {
    std::lock_guard lk(subs_mu_);
    for (const auto& sub : subs_) {
      if (!can_subscribe(p, sub->subject())) removed.push_back(sub);
    }
  }
  for (const auto& sub : removed) {
    expire_subscription(sub);
    send_err(fmt::format("Permissions Violation for Subscription to \"{}\" (sid \"{}\")", sub->subject(), sub->sid()));
    server().log().info("Removed sub \"{}\" (sid \"{}\") for {} - not authorized", sub->subject(), sub->sid(),
                        auth_user());
  }
  if (!removed.empty()) loop().flush_touched();
}

void ClientConn::max_connections_exceeded() {
  asio::post(loop().ctx(), [self = std::static_pointer_cast<ClientConn>(shared_from_this())] {
    if (self->closing()) return;
    self->server().log().peer_error("{} - {}", self->log_prefix(), err::kMaxConnections);
    self->send_err_and_close(err::kMaxConnections, CloseReason::kMaxConnectionsExceeded);
    self->loop().flush_touched();
  });
}

}  // namespace pylon::server
