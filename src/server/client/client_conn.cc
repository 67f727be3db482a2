#include "server/client/client_conn.h"

#include <boost/asio/post.hpp>

#include "proto/subject.h"
#include "proto/writer.h"
#include "server/account/imports_check.h"
#include "server/account/stream_import.h"
#include "server/account/system_account.h"
#include "server/client/auth.h"
#include "server/client/connect_json.h"
#include "server/client/nkeys.h"
#include "server/route/cluster.h"
#include "server/errors.h"
#include "server/core/event_loop.h"
#include "server/client/permissions.h"
#include "server/match_cache.h"
#include "server/router.h"
#include "server/server.h"
#include "server/tls/tls_context.h"
#include "server/websocket/session.h"

namespace pylon::server {

namespace asio = boost::asio;

namespace {
proto::ParserLimits limits_of(const Options& o) {
  proto::ParserLimits l;
  l.max_control_line = o.max_control_line;
  l.max_payload = o.max_payload;
  return l;
}

// A payload for the trace log, quoted, as the reference's traceMsg: whole, unless
// max_traced_msg_len is set and exceeded; then the first `max` characters of the quoted text
// and "...".
std::string trace_payload(std::string_view p, int max) {
  if (max <= 0 || p.size() <= static_cast<size_t>(max)) return fmt::format("{:?}", p);
  std::string quoted = fmt::format("{:?}", p.substr(0, static_cast<size_t>(max)));
  return "\"" + quoted.substr(1, static_cast<size_t>(max)) + "...\"";
}
}  // namespace

ClientConn::ClientConn(Server& server, EventLoop& loop, asio::ip::tcp::socket socket, uint64_t cid,
                       std::shared_ptr<const websocket::Settings> websocket,
                       const asio::ip::tcp::endpoint* accepted_peer)
    : Connection(server, loop, std::move(socket), Kind::kClient, cid, accepted_peer),
      parser_(proto::Role::kServerOfClient, limits_of(server.options())),
      account_(server.accounts().global_ref()) {
  if (websocket) attach_websocket(std::move(websocket));
}

ClientConn::~ClientConn() { delete replies_.load(std::memory_order_acquire); }

size_t ClientConn::num_subs() const {
  std::lock_guard lk(subs_mu_);
  return subs_.size();
}

void ClientConn::on_start() {
  if (is_websocket()) {
    // The client protocol starts once the upgrade is done (on_websocket_upgraded); wss://
    // does its TLS handshake first, as the reference's TLS listener under its HTTP server.
    if (auto tls = server().websocket_tls()) start_tls(std::move(tls), TlsRole::kAccepted);
    return;
  }
  begin_protocol();
}

void ClientConn::on_websocket_upgraded() { begin_protocol(); }

bool ClientConn::auth_required() const {
  const Options& o = server().options();
  return o.auth_required() || (is_websocket() && o.websocket.auth_override());
}

void ClientConn::begin_protocol() {
  auto& srv = server();
  srv.log().debugf("{} - Client connection created", log_prefix());
  // TLS is decided once per connection, here: the plaintext path pays this one branch.
  // A WebSocket client did its TLS (wss) under the WebSocket layer, never here.
  std::shared_ptr<const tls::Context> tls = srv.options().tls.enabled && !is_websocket() ? srv.client_tls() : nullptr;
  tls_first_ = tls && tls->options().handshake_first;
  // INFO goes first, even to a connection we are about to refuse (as the reference does);
  // with handshake_first, after the handshake.
  // As the reference: a nonce only when nkey users are configured, one per connection.
  if (!srv.options().nkeys.empty()) rare_mut().nonce = make_nonce();
  {
    std::string info = srv.client_info_json(cid(), remote_ip(), rare().nonce, is_websocket());
    // What the client is told, as later INFOs compare it: without the nonce, which no later
    // INFO carries (as the reference's). Set before register_client makes this connection
    // reachable from other threads.
    info_told_hash_ = std::hash<std::string_view>{}(
        rare().nonce.empty() ? info : srv.client_info_json(cid(), remote_ip(), {}, is_websocket()));
    if (tls_first_) {
      rare_mut().accept_info = std::move(info);
    } else {
      queue_self("INFO " + info + "\r\n");
    }
  }
  switch (srv.register_client(std::static_pointer_cast<ClientConn>(shared_from_this()))) {
    case Server::Registration::kAdded:
      break;
    case Server::Registration::kShuttingDown:
      close(CloseReason::kServerShutdown, false);
      return;
    case Server::Registration::kFull:
      srv.log().peer_error("{} - {}", log_prefix(), err::kMaxConnections);
      send_err_and_close(err::kMaxConnections, CloseReason::kMaxConnectionsExceeded);
      return;
  }
  if (tls) {
    // As 2.9: the handshake right after INFO; the auth timer starts once it is done, so the
    // handshake's own timeout bounds it (the reference's issue #432).
    start_tls(std::move(tls), TlsRole::kAccepted);
    return;
  }
  start_timers();
}

void ClientConn::on_tls_established() {
  auto& srv = server();
  srv.log().debugf("{} - TLS handshake complete", log_prefix());
  srv.log().debugf("{} - TLS version {}, cipher suite {}", log_prefix(), tls_version(), tls_cipher_suite());
  // verify_and_map of the block this client's TLS came from (the reference's tlsMap override).
  const bool map = is_websocket() ? srv.options().websocket.tls.map : srv.options().tls.map;
  if (map) rare_mut().cert_identity = tls::peer_identity(tls_session());
  if (is_websocket()) return;  // wss: the upgrade request comes next; the protocol after it
  if (tls_first_) {
    queue_self("INFO " + rare().accept_info + "\r\n");
    rare_mut().accept_info = {};
  }
  start_timers();
}

void ClientConn::start_timers() {
  auto& srv = server();
  if (auth_required()) {
    // A websocket block's authorization timeout overrides the top level's.
    Duration timeout = srv.options().auth_timeout;
    if (is_websocket() && srv.options().websocket.auth_timeout > Duration::zero()) {
      timeout = srv.options().websocket.auth_timeout;
    }
    auth_timer_ = std::make_unique<LoopTimer>(loop().ctx(), timeout);
    auth_timer_->async_wait([self = shared_from_this(), this](const boost::system::error_code& ec) {
      if (ec || closing() || connect_received_) return;
      server().log().peer_error("{} - {}", log_prefix(), "Authentication Timeout");
      send_err_and_close(err::kAuthTimeout, CloseReason::kAuthenticationTimeout);
    });
  }
  schedule_ping();
}

bool ClientConn::on_read(std::string_view data) {
  auto r = parser_.parse(data, *this);
  if (batch_activity_) {  // monitoring: last activity, once per read batch (as the reference)
    batch_activity_ = false;
    auto now = std::chrono::system_clock::now().time_since_epoch();
    activity_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count(), std::memory_order_relaxed);
  }
  if (r.error != proto::ParseError::kNone) {
    // Before CONNECT, the reference's parser refuses any operation that does not begin as
    // CONNECT does, before it is known to be unknown ("GARBAGE" is an authorization
    // violation there), unless no_auth_user takes the client.
    if (r.error == proto::ParseError::kUnknownOp && !unknown_op_began_as_connect(r) && !check_connected()) {
      return false;
    }
    // The PINGs before the bad operation are answered before its -ERR, in the order the
    // reference writes them (it answers each PING as it reads it).
    send_owed_pongs();
    auto& log = server().log();
    CloseReason reason = CloseReason::kProtocolViolation;
    if (r.error == proto::ParseError::kMaxPayload) reason = CloseReason::kMaxPayloadExceeded;
    if (r.error == proto::ParseError::kMaxControlLine) reason = CloseReason::kMaxControlLineExceeded;
    // "maximum payload exceeded: 1025 vs 1024", "processPub Parse Error: \"a b\"", ...
    log.peer_error("{} - {}", log_prefix(), proto::error_log_text(r, "Client"));
    // As the reference: malformed arguments close without an -ERR; the rest say why.
    if (proto::sends_err(r.error)) {
      send_err_and_close(proto::error_text(r.error), reason);
    } else {
      close(reason, true);
    }
    return false;
  }
  if (pongs_owed_ > 0 && !closing()) {
    pong_lag_bytes_ += data.size();
    answer_pings();
  }
  return !r.stopped && !closing();
}

bool ClientConn::on_err(std::string_view text) {
  // A client has no business sending -ERR; the reference logs it and closes.
  server().log().peer_error("{} - Client Error '{}'", log_prefix(), text);
  close(CloseReason::kParseError, true);
  return false;
}

void ClientConn::on_closing() {
  auth_timer_.reset();  // cancels its wait
  loop().ping_deadlines().cancel(*this);
}

void ClientConn::on_closed(CloseReason reason) {
  // Also here: a close that went straight to finish_close may have skipped on_closing.
  loop().ping_deadlines().cancel(*this);
  // A WebSocket connection refused at its upgrade never became a client (as the reference,
  // which makes none): nothing to undo, nothing for /connz, no event.
  if (is_websocket() && !websocket_session()->upgraded()) return;
  {
    monitor::ConnSnapshot closed = monitor::closed_snapshot(*this, reason);
    // A client that connected made a CONNECT event; its DISCONNECT pairs with it.
    if (bound_) {
      account_->client_released();
      account_->add_closed_client(Account::Totals{in_msgs.load(std::memory_order_relaxed),
                                                  in_bytes.load(std::memory_order_relaxed),
                                                  out_msgs.load(std::memory_order_relaxed),
                                                  out_bytes.load(std::memory_order_relaxed)});
      if (reason == CloseReason::kSlowConsumerPendingBytes || reason == CloseReason::kSlowConsumerWriteDeadline) {
        account_->count_slow_consumer();
      }
    }
    if (const auto& sys = server().system_account(); sys && bound_ && !account_->is_global()) {
      // As the reference's removeClient then accountDisconnectEvent: the account's
      // account_connections (counted without us), then our DISCONNECT, which pairs with the
      // CONNECT a connected client made.
      sys->account_connections_changed(account_);
      if (connect_received_) sys->client_disconnected(closed);
    }
    server().closed_clients().add(std::move(closed));  // monitoring: /connz?state=closed
  }
  // Drop every subscription from the index; holders of older match results see `closed`.
  SubTable subs;
  ShadowMap shadows;
  {
    std::lock_guard lk(subs_mu_);
    subs.swap(subs_);
    if (shadows_) shadows.swap(*shadows_);
  }
  for (auto& sub : subs) {
    sub->closed.store(true, std::memory_order_relaxed);
    account_->index().remove(sub);
    server().local_sub_removed(*account_, *sub);
  }
  for (auto& [main, list] : shadows) {
    for (auto& sh : list) {
      sh.sub->closed.store(true, std::memory_order_relaxed);
      sh.account->index().remove(sh.sub);
      server().local_sub_removed(*sh.account, *sh.sub);
    }
  }
  // Our cached results may name our own subscriptions (a cycle through Subscription::owner),
  // and hold other connections' until they would be swept: they go now.
  if (match_cache_) match_cache_->clear();
  // `subs` goes here: that breaks the cycle connection -> table -> subscription -> connection.
  // Match results still in flight on other loops keep their subscriptions, and through them
  // this connection, until they are done (Subscription::owner).
  server().remove_client(cid());
  server().log().debugf("{} - Client connection closed: {}", log_prefix(), to_string(reason));
}

void ClientConn::queue_self(std::string_view bytes) {
  if (enqueue(bytes)) loop().touch(this);
}

// -ERR and +OK answer what came after any PING still owed its PONG (answer_pings holds PONGs
// back only while nothing else is written): the PONGs go first, in the reference's order.
void ClientConn::send_err(std::string_view text) {
  send_owed_pongs();
  server().log().tracef("{} - ->> [-ERR '{}']", log_prefix(), text);
  std::string line;
  proto::append_err(line, text);
  queue_self(line);
}

void ClientConn::send_err_and_close(std::string_view text, CloseReason reason) {
  send_err(text);
  close(reason, /*flush=*/true);
}

void ClientConn::send_ok() {
  send_owed_pongs();
  server().log().tracef("{} - ->> [OK]", log_prefix());
  queue_self("+OK\r\n");
}

bool ClientConn::check_connected() {
  if (connect_received_ || !auth_required() || admit_as_no_auth_user()) return true;
  auth_violation();
  return false;
}

bool ClientConn::on_ping() {
  server().log().tracef("{} - <<- [PING]", log_prefix());
  if (!check_connected()) return false;
  if (pongs_owed_++ == 0) pong_lag_bytes_ = 0;
  return true;  // answered at the end of this read (answer_pings)
}

// The PONGs wait for the input already behind their PINGs. A client that gave up on us
// (we were stopped or stalled, its PINGs went unanswered) has closed its socket; its
// kernel still holds what it published before giving up and hands it over as we read.
// Our first write to that socket draws a reset, and the reset throws away all of it that
// is not read yet: seconds of messages (docs/reliability-process-faults.md). So while more
// input is waiting, we read it first; the PONGs go out when the input is drained, or once
// kMaxPongLag bytes were read after the first PING, whichever is sooner.
//
// The bound is in bytes, not time, because what it must cover is a size: our receive
// buffer plus the peer's send buffer (Linux autotunes them to at most 6 MiB and 4 MiB by
// default), however slowly this build or this machine reads them. A client that keeps
// pipelining PUBs faster than we read still gets its PONG, after at most kMaxPongLag of
// its own input, never out of order with other PONGs. (An earlier 100 ms bound lost the
// tail of a stopped server's backlog on a TSan build, which reads that slowly.)
void ClientConn::answer_pings() {
  constexpr size_t kMaxPongLag = 16u << 20;
  boost::system::error_code ec;
  size_t waiting = socket().available(ec);
  if (!ec && waiting > 0 && pong_lag_bytes_ < kMaxPongLag) return;
  send_owed_pongs();
}

void ClientConn::send_owed_pongs() {
  for (; pongs_owed_ > 0; --pongs_owed_) {
    server().log().tracef("{} - ->> [PONG]", log_prefix());
    queue_self("PONG\r\n");
    // After the PONG, as the reference: clients (libnats among them) take anything but PONG
    // as the answer to their connect's CONNECT+PING for a protocol error and hang up.
    if (!first_pong_sent_ && connect_received_) send_info_if_changed();
  }
}

// The reference's client.processPing: a client whose first PING has not been answered yet
// is skipped by the async INFO (a route registering between our accept-time INFO and that
// PING: see takes_async_info). Most clients flush (PING) right after CONNECT, so on that
// first PING we send what the INFO says now (connect_urls, max_payload after a reload, lame
// duck) if it differs from what the client was told at accept. Once per connection, never
// on the message path.
//
// From here on the async INFO reaches this client too (takes_async_info). The flag is set
// before the INFO is read, so a change that lands meanwhile is in `now`, or sent by the
// async INFO, or both; queue_info_unless_told makes "both" one INFO, never two, and never
// none.
void ClientConn::send_info_if_changed() {
  first_pong_sent_.store(true);
  if (protocol_.load() < 1) return;  // protocol 0 clients do not understand async INFO
  std::string now = server().client_info_json(cid(), remote_ip(), {}, is_websocket());
  if (queue_info_unless_told(now)) {
    server().log().tracef("{} - ->> [INFO] (changed since accept)", log_prefix());
    loop().touch(this);
  }
}

bool ClientConn::queue_info_unless_told(std::string_view json) {
  const uint64_t hash = std::hash<std::string_view>{}(json);
  bool told = false;
  // No size hint: most often the INFO was told already, and a reservation would leave an idle
  // client holding a buffer the size of an INFO.
  const bool queued = enqueue_with(0, [&](std::string& out) {
    if (hash == info_told_hash_) return;
    info_told_hash_ = hash;
    told = true;
    out += "INFO ";
    out += json;
    out += "\r\n";
  });
  return queued && told;
}

bool ClientConn::on_pong() {
  server().log().tracef("{} - <<- [PONG]", log_prefix());
  if (!check_connected()) return false;
  pings_out_ = 0;
  if (ping_sent_ != std::chrono::steady_clock::time_point{}) {  // monitoring: RTT of our PING
    auto rtt = std::chrono::steady_clock::now() - ping_sent_;
    rtt_ns_.store(std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::nanoseconds>(rtt).count()),
                  std::memory_order_relaxed);
    ping_sent_ = {};
  }
  return true;
}

bool ClientConn::on_pub(const proto::MsgArgs& a, std::string_view payload) {
  auto& srv = server();
  if (srv.log().trace()) {
    if (a.header_len >= 0) {
      srv.log().tracef("{} - <<- [HPUB {} {}{}{} {}]", log_prefix(), a.subject, a.reply, a.reply.empty() ? "" : " ",
                       a.header_len, a.total_len);
    } else {
      srv.log().tracef("{} - <<- [PUB {} {}{}{}]", log_prefix(), a.subject, a.reply, a.reply.empty() ? "" : " ",
                       a.total_len);
    }
    srv.log().tracef("{} - <<- MSG_PAYLOAD: [{}]", log_prefix(),
                     trace_payload(payload, srv.options().max_traced_msg_len));
  }
  if (!check_connected()) return false;
  if (const Permissions* p = perms_.load();
      p && !can_publish(*p, a.subject) && !(p->has_response && take_reply_permit(a.subject, *p))) {
    srv.log().peer_error("{} - Publish Violation - {}, Subject \"{}\"", log_prefix(), auth_user(), a.subject);
    send_err(fmt::format("Permissions Violation for Publish to \"{}\"", a.subject));
    return true;
  }
  if (a.header_len >= 0 && !headers_) {
    // HPUB from a client that did not announce headers support.
    // The reference closes silently.
    srv.log().peer_error("{} - message headers not supported", log_prefix());
    close(CloseReason::kProtocolViolation, true);
    return false;
  }
  // Written only by this connection's loop: no locked increment needed.
  LoopCounters::bump(in_msgs, 1);
  LoopCounters::bump(in_bytes, payload.size());
  // The server's totals are per loop, and this is our loop: no thread-local lookup (count_in).
  LoopCounters::bump(loop().counters().in_msgs, 1);
  LoopCounters::bump(loop().counters().in_bytes, payload.size());
  batch_activity_ = true;

  // A subject that is not a valid literal one ("foo.*", "a..b") draws a pedantic client's
  // -ERR, and is still published, as the reference's processPub only warns: its tokens are
  // matched as they are, so a '*' or '>' in it is a token that only wildcard subscriptions
  // match ("foo.*" reaches foo.*, foo.> and *.*, not foo.bar), and a subject with an empty
  // token matches nothing (SubIndex::match).
  if (pedantic_ && !proto::valid_publish_subject(a.subject, true)) send_err(err::kInvalidPublishSubject);
  if (!match_cache_) match_cache_ = std::make_shared<MatchCache>(loop());
  const MatchResult* result = match_cache_->find(*account_, a.subject);
  if (result == nullptr) result = &match_cache_->store(*account_, a.subject);
  // What we queue for ourselves from here on (+OK, our own echo) may cut us as a slow
  // consumer, and on_closed clears the cache: the pin keeps `result` until we are done.
  MatchCache::Pin pin(*match_cache_);
  if (verbose_) send_ok();

  Message msg{a.subject, a.reply, a.header_len, payload};
  bool delivered = route_message(srv, *account_, *result, loop(), Origin{this, echo_}, msg);
  if (!delivered && no_responders_ && !a.reply.empty()) send_no_responders(a.reply);
  return true;
}

void ClientConn::send_no_responders(std::string_view reply) {
  // The 503 status goes to this client's own subscription that would receive the reply.
  SubPtr target;
  {
    std::lock_guard lk(subs_mu_);
    for (auto& sub : subs_) {
      if (sub->queue().empty() && proto::subject_matches(sub->subject(), reply)) {
        target = sub;
        break;
      }
    }
  }
  if (!target) return;
  static constexpr std::string_view kStatus = "NATS/1.0 503\r\n\r\n";
  if (deliver(*target, reply, {}, static_cast<int64_t>(kStatus.size()), kStatus)) loop().touch(this);
}

bool ClientConn::deliver(Subscription& sub, std::string_view subject, std::string_view reply, int64_t header_len,
                         std::string_view payload) {
  proto::ClientMsg msg(subject, reply, header_len, payload);
  if (!deliver(sub, msg)) return false;
  server().count_out(payload.size());
  return true;
}

bool ClientConn::deliver(Subscription& sub, proto::ClientMsg& msg) {
  // The publisher's message as every subscriber gets it (formatted once), unless this one
  // sees it otherwise: under an import's subject, or without the headers it cannot take.
  if (sub.shadow() || (msg.header_len() >= 0 && !headers_)) [[unlikely]] return deliver_converted(sub, msg);
  return deliver_as(sub, msg, msg.payload().size());
}

bool ClientConn::deliver_converted(Subscription& sub, const proto::ClientMsg& msg) {
  std::string_view subject = msg.subject();
  // A stream import's shadow: the message is the exporter's; this client sees it under the
  // subject its account imports it as, if its own subscription still matches that.
  std::string mapped;
  if (sub.shadow()) {
    mapped = map_subject(*sub.shadow(), subject);
    if (!proto::subject_matches(sub.shadow()->client_subject, mapped)) return false;
    subject = mapped;
  }
  int64_t header_len = msg.header_len();
  std::string_view payload = msg.payload();
  if (header_len >= 0 && !headers_) {
    // The receiver cannot take headers: the body goes as a plain MSG.
    payload = payload.substr(static_cast<size_t>(header_len));
    header_len = -1;
  }
  proto::ClientMsg own(subject, msg.reply(), header_len, payload);
  return deliver_as(sub, own, msg.payload().size());
}

bool ClientConn::deliver_as(Subscription& sub, proto::ClientMsg& msg, uint64_t counted_size) {
  const std::string_view subject = msg.subject();
  const std::string_view reply = msg.reply();
  // A wildcard subscription that a deny pattern covers only in part is filtered here.
  if (const Permissions* p = perms_.load(std::memory_order_acquire);
      p && !p->subscribe.deny.empty() && subscribe_denied(*p, subject)) {
    return false;
  }
  int64_t max = sub.max_msgs.load(std::memory_order_relaxed);
  if (max > 0 && sub.delivered.load(std::memory_order_relaxed) >= max) return false;  // the exact check is below
  // Noted before the message can reach the client, so its response never beats the permit.
  if (const Permissions* p = perms_.load(std::memory_order_acquire); p && p->has_response && !reply.empty()) {
    note_reply(reply, *p);
  }

  // Auto-unsubscribe: count this delivery; past the limit the subscription is done. Every
  // delivery to `sub` comes here, to its owner, and counts under our outbound lock, so the
  // count is exact with a plain increment (no locked instruction).
  int64_t n = 0;
  const std::string_view sid = sub.sid();  // decoded once (SubNames)
  const bool ok = enqueue_message(msg.size(sid), counted_size, [&](std::string& out) {
    n = sub.delivered.load(std::memory_order_relaxed) + 1;
    sub.delivered.store(n, std::memory_order_relaxed);
    if (max > 0 && n > max) return false;
    msg.append(out, sid);
    return true;
  });
  if (ok && server().log().trace()) [[unlikely]] {
    server().log().tracef("{} - ->> [{} {} {} {}{}{}]", log_prefix(), msg.header_len() >= 0 ? "HMSG" : "MSG", subject,
                          sid, reply, reply.empty() ? "" : " ", counted_size);
  }
  if (max > 0 && n == max) {
    auto self = std::static_pointer_cast<ClientConn>(shared_from_this());
    // Find the SubPtr for this subscription and remove it (any thread).
    SubPtr victim;
    {
      std::lock_guard lk(subs_mu_);
      auto it = subs_.find(sid);
      if (it != subs_.end() && it->get() == &sub) victim = *it;
    }
    if (victim) expire_subscription(victim);
  }
  return ok;
}

void ClientConn::revalidate() {
  asio::post(loop().ctx(), [self = std::static_pointer_cast<ClientConn>(shared_from_this())] {
    if (self->closing()) return;
    self->parser_.set_limits(limits_of(self->server().options()));
    if (!self->connect_received_) return;  // the auth timer or CONNECT will decide
    std::string account;
    const Rare& presented = self->rare();
    if (!self->authenticate(presented.conn_user, presented.conn_pass, presented.conn_token, presented.conn_nkey,
                            presented.conn_sig, account)) {
      self->auth_violation();
      self->loop().flush_touched();
    } else if (self->server().accounts().find(account.empty() ? std::string_view(kGlobalAccount)
                                                              : std::string_view(account)) != self->account_) {
      // As the reference's clientHasMovedToDifferentAccount: the user now belongs to another
      // account; its subscriptions are in the old one, so the client goes and reconnects.
      // The same holds for an account a reload removed or made anew.
      self->server().log().info("{} - User \"{}\" moved to account \"{}\": closing", self->log_prefix(), self->user_,
                                account.empty() ? kGlobalAccount : account);
      self->close(CloseReason::kClientClosed, true);
      self->loop().flush_touched();
    } else {
      if (const Permissions* p = self->perms_.load()) self->drop_subscriptions_not_allowed(*p);
      self->refresh_shadows();
    }
  });
}

void ClientConn::expire_subscription(const SubPtr& sub) {
  {
    std::lock_guard lk(subs_mu_);
    auto it = subs_.find(sub);
    if (it == subs_.end() || *it != sub) return;
    subs_.erase(it);
  }
  sub->closed.store(true, std::memory_order_relaxed);
  account_->index().remove(sub);
  server().local_sub_removed(*account_, *sub);
  drop_shadows(sub.get());
}

// Shadows are made and registered under subs_mu_ (lock order: subs_mu_ -> index, and
// subs_mu_ -> Cluster::mu_), so a subscription removed on another loop meanwhile
// (auto-unsubscribe) either finds its shadows to drop or had none made.
void ClientConn::add_shadows(const SubPtr& sub) {
  auto imports = account_->stream_imports();
  if (!imports) return;
  std::lock_guard lk(subs_mu_);
  auto it = subs_.find(sub);
  if (it == subs_.end() || *it != sub) return;
  std::vector<Shadow> made;
  for (const auto& im : *imports) {
    if (!subjects_collide(sub->subject(), im.to)) continue;
    auto from = im.from.lock();
    if (!from) continue;
    auto s = std::make_shared<Subscription>(im.source, sub->queue(), sub->sid());
    s->owner = shared_from_this();
    s->set_shadow(std::make_shared<const SubjectMapping>(
        SubjectMapping{im.source, im.to, im.prefix, std::string(sub->subject())}));
    from->index().insert(s);
    server().local_sub_added(*from, *s);
    made.push_back(Shadow{std::move(s), std::move(from)});
  }
  if (made.empty()) return;
  if (!shadows_) shadows_ = std::make_unique<ShadowMap>();
  shadows_->emplace(sub.get(), std::move(made));
}

void ClientConn::refresh_shadows() {
  ShadowMap old;
  std::vector<SubPtr> subs;
  {
    std::lock_guard lk(subs_mu_);
    if ((!shadows_ || shadows_->empty()) && !account_->stream_imports()) return;
    if (shadows_) old.swap(*shadows_);
    for (const auto& sub : subs_) subs.push_back(sub);
  }
  for (auto& [main, list] : old) {
    for (auto& sh : list) {
      sh.sub->closed.store(true, std::memory_order_relaxed);
      sh.account->index().remove(sh.sub);
      server().local_sub_removed(*sh.account, *sh.sub);
    }
  }
  for (const auto& sub : subs) add_shadows(sub);
}

void ClientConn::drop_shadows(const Subscription* sub) {
  std::vector<Shadow> list;
  {
    std::lock_guard lk(subs_mu_);
    if (!shadows_) return;
    auto it = shadows_->find(sub);
    if (it == shadows_->end()) return;
    list = std::move(it->second);
    shadows_->erase(it);
  }
  for (auto& sh : list) {
    sh.sub->closed.store(true, std::memory_order_relaxed);
    sh.account->index().remove(sh.sub);
    server().local_sub_removed(*sh.account, *sh.sub);
  }
}

// The reference's deliverMsg records the reply of every message delivered to a client with
// response permissions; pubAllowedFullCheck then lets it publish there max_msgs times within
// `expires`. Expired permits are swept when the table grows past the reference's
// replyPermLimit, so a client that never answers cannot grow it without bound.
ClientConn::ReplyPermits& ClientConn::replies() {
  ReplyPermits* r = replies_.load(std::memory_order_acquire);
  if (r != nullptr) return *r;
  auto made = std::make_unique<ReplyPermits>();
  if (replies_.compare_exchange_strong(r, made.get(), std::memory_order_acq_rel, std::memory_order_acquire)) {
    return *made.release();
  }
  return *r;  // another thread installed one first
}

void ClientConn::note_reply(std::string_view reply, const Permissions& p) {
  constexpr size_t kReplyPermLimit = 4096;
  auto now = std::chrono::steady_clock::now();
  ReplyPermits& r = replies();
  std::lock_guard lk(r.mu);
  if (r.permits.size() >= kReplyPermLimit) {
    for (auto it = r.permits.begin(); it != r.permits.end();) {
      bool expired = p.response.expires > Duration::zero() && now - it->second.since > p.response.expires;
      it = expired ? r.permits.erase(it) : std::next(it);
    }
  }
  r.permits.insert_or_assign(std::string(reply), ReplyPermit{0, now});
}

bool ClientConn::take_reply_permit(std::string_view subject, const Permissions& p) {
  ReplyPermits* r = replies_.load(std::memory_order_acquire);
  if (r == nullptr) return false;  // no reply was ever noted
  std::lock_guard lk(r->mu);
  auto it = r->permits.find(std::string(subject));
  if (it == r->permits.end()) return false;
  int sent = ++it->second.sent;
  bool spent = p.response.max_msgs > 0 && sent > p.response.max_msgs;
  bool expired = p.response.expires > Duration::zero() &&
                 std::chrono::steady_clock::now() - it->second.since > p.response.expires;
  if (spent || expired) {
    r->permits.erase(it);
    return false;
  }
  return true;
}

bool ClientConn::on_sub(std::string_view subject, std::string_view queue, std::string_view sid) {
  auto& srv = server();
  srv.log().tracef("{} - <<- [SUB {} {}{}{}]", log_prefix(), subject, queue, queue.empty() ? "" : " ", sid);
  if (!check_connected()) return false;
  batch_activity_ = true;
  if (const Permissions* p = perms_.load(); p && !can_subscribe(*p, subject)) {
    if (queue.empty()) {
      srv.log().peer_error("{} - Subscription Violation - {}, Subject \"{}\", SID {}", log_prefix(), auth_user(),
                      subject, sid);
      send_err(fmt::format("Permissions Violation for Subscription to \"{}\"", subject));
    } else {
      srv.log().peer_error("{} - Subscription Violation - {}, Subject \"{}\", Queue: \"{}\", SID {}",
                      log_prefix(), auth_user(), subject, queue, sid);
      send_err(fmt::format("Permissions Violation for Subscription to \"{}\" using queue \"{}\"", subject, queue));
    }
    return true;
  }
  SubPtr sub;
  {
    std::lock_guard lk(subs_mu_);
    // The reference's order (processSubEx): permissions (above), the limit, a repeated sid,
    // and only then the subject, which its sublist's Insert checks. So a repeated sid with a
    // bad subject is ignored, as a repeated sid is.
    int max_subs = srv.options().max_subscriptions;
    if (max_subs > 0 && static_cast<int>(subs_.size()) >= max_subs) {
      srv.log().peer_error("{} - {}", log_prefix(), err::kMaxSubscriptions);
      send_err(err::kMaxSubscriptions);
      return true;
    }
    if (subs_.find(sid) != subs_.end()) {
      // A repeated sid keeps the existing subscription, as the reference does.
      if (verbose_) send_ok();
      return true;
    }
    if (!proto::valid_subscribe_subject(subject, pedantic_) ||
        (!queue.empty() && !proto::valid_queue_name(queue))) {
      // The reference answers with -ERR and logs nothing: a client's own mistake, which its
      // -ERR reports. At debug level here, for whoever is looking.
      srv.log().debugf("{} - Invalid subject: {}", log_prefix(), subject);
      send_err(err::kInvalidSubject);
      return true;
    }
    sub = std::make_shared<Subscription>(subject, queue, sid);
    sub->owner = shared_from_this();
    subs_.insert(sub);
  }
  account_->index().insert(sub);
  srv.local_sub_added(*account_, *sub);
  add_shadows(sub);
  if (verbose_) send_ok();
  return true;
}

bool ClientConn::on_unsub(std::string_view sid, int64_t max_msgs) {
  auto& srv = server();
  if (max_msgs >= 0) {
    srv.log().tracef("{} - <<- [UNSUB {} {}]", log_prefix(), sid, max_msgs);
  } else {
    srv.log().tracef("{} - <<- [UNSUB {}]", log_prefix(), sid);
  }
  if (!check_connected()) return false;
  batch_activity_ = true;
  SubPtr sub;
  {
    std::lock_guard lk(subs_mu_);
    auto it = subs_.find(sid);
    if (it != subs_.end()) {
      sub = *it;
      if (max_msgs > 0 && sub->delivered.load(std::memory_order_relaxed) < max_msgs) {
        // Auto-unsubscribe: keep it until max_msgs have been delivered.
        sub->max_msgs.store(max_msgs, std::memory_order_relaxed);
        sub.reset();
      } else {
        subs_.erase(it);
      }
    }
  }
  if (sub) {
    sub->closed.store(true, std::memory_order_relaxed);
    account_->index().remove(sub);
    srv.local_sub_removed(*account_, *sub);
    drop_shadows(sub.get());
  }
  if (verbose_) send_ok();
  return true;
}

void ClientConn::schedule_ping() {
  loop().ping_deadlines().schedule(*this, std::chrono::steady_clock::now() + server().options().ping_interval);
}

void ClientConn::on_deadline() {
  if (closing()) return;
  // Linked, we were registered (the server held us); on_ping_timer may close us, so hold on.
  auto self = shared_from_this();
  on_ping_timer();
}

void ClientConn::on_ping_timer() {
  release_idle_buffers();
  auto& srv = server();
  auto interval = srv.options().ping_interval;
  // A client that sent us something within the interval is alive: no need to ask.
  if (std::chrono::steady_clock::now() - last_activity() < interval && pings_out_ == 0) {
    schedule_ping();
    return;
  }
  if (pings_out_ + 1 > srv.options().ping_max) {
    srv.log().debugf("{} - Stale Client Connection - Closing", log_prefix());
    send_err_and_close(err::kStaleConnection, CloseReason::kStaleConnection);
    loop().flush_touched();
    return;
  }
  ++pings_out_;
  srv.log().tracef("{} - ->> [PING]", log_prefix());
  ping_sent_ = std::chrono::steady_clock::now();
  queue_self("PING\r\n");
  loop().flush_touched();
  schedule_ping();
}

}  // namespace pylon::server
