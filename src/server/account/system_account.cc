#include "server/account/system_account.h"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <fmt/format.h>

#include <array>
#include <future>
#include <random>
#include <thread>

#include "proto/go_json.h"
#include "server/account/account.h"
#include "server/client/client_conn.h"
#include "server/core/check.h"
#include "server/core/event_loop.h"
#include "server/monitor/endpoints.h"
#include "server/monitor/format.h"
#include "server/route/cluster.h"
#include "server/router.h"
#include "server/server.h"

namespace pylon::server {

namespace asio = boost::asio;
namespace json = boost::json;
namespace gojson = proto::gojson;

namespace {

constexpr const char* kConnectEventType = "io.nats.server.advisory.v1.client_connect";
constexpr const char* kDisconnectEventType = "io.nats.server.advisory.v1.client_disconnect";
constexpr const char* kAccountConnsEventType = "io.nats.server.advisory.v1.account_connections";

// Set on the system loop while it publishes: our own subscriptions never take what we send
// (the reference's system client has echo off). Without it a request whose reply subject is
// one of the request subjects would be answered by us, to us, for ever.
thread_local bool t_publishing = false;

struct RequestName {
  SysRequest what;
  const char* token;
};
// $SYS.REQ.SERVER.PING.<what> and $SYS.REQ.SERVER.<id>.<what>.
constexpr std::array<RequestName, 10> kRequests{{{SysRequest::kStatsz, "STATSZ"},
                                                 {SysRequest::kVarz, "VARZ"},
                                                 {SysRequest::kConnz, "CONNZ"},
                                                 {SysRequest::kSubsz, "SUBSZ"},
                                                 {SysRequest::kRoutez, "ROUTEZ"},
                                                 {SysRequest::kHealthz, "HEALTHZ"},
                                                 {SysRequest::kAccountz, "ACCOUNTZ"},
                                                 {SysRequest::kJsz, "JSZ"},
                                                 {SysRequest::kGatewayz, "GATEWAYZ"},
                                                 {SysRequest::kLeafz, "LEAFZ"}}};
// $SYS.REQ.ACCOUNT.<acc>.<what> (the reference's monAccSrvc).
constexpr std::array<RequestName, 7> kAccountRequests{{{SysRequest::kConnz, "CONNZ"},
                                                        {SysRequest::kSubsz, "SUBSZ"},
                                                        {SysRequest::kInfo, "INFO"},
                                                        {SysRequest::kAccountStatz, "STATZ"},
                                                        {SysRequest::kConns, "CONNS"},
                                                        {SysRequest::kJsz, "JSZ"},
                                                        {SysRequest::kLeafz, "LEAFZ"}}};

// What an internal subscription of the system account does with what it matched.
enum class Role { kRequest, kAccountRequest, kRemoteStatsz, kRemoteShutdown };

// An internal subscription: hands what it matched to the system account.
class SystemSubscriber final : public InternalSubscriber {
 public:
  SystemSubscriber(std::weak_ptr<SystemAccount> sys, SysRequest what, Role role)
      : sys_(std::move(sys)), what_(what), role_(role) {}
  bool deliver(Server&, EventLoop&, const Origin&, const Message& msg, bool /*from_route*/) override {
    if (t_publishing) return false;
    auto sys = sys_.lock();  // weak: the system account owns this subscription
    if (!sys) return false;
    if (role_ == Role::kRemoteStatsz || role_ == Role::kRemoteShutdown) {
      sys->remote_event(role_ == Role::kRemoteShutdown, msg.subject, msg.payload, msg.header_len);
      return true;
    }
    std::string_view account;
    const bool account_scoped_ = role_ == Role::kAccountRequest;
    if (account_scoped_) {
      // $SYS.REQ.ACCOUNT.<acc>.<what>: our subscription's `*` is the fourth token.
      std::string_view rest = msg.subject.substr(std::string_view("$SYS.REQ.ACCOUNT.").size());
      account = rest.substr(0, rest.find('.'));
    }
    sys->request(what_, account, msg.reply, msg.payload, msg.header_len);
    return true;
  }

 private:
  std::weak_ptr<SystemAccount> sys_;
  SysRequest what_;
  Role role_;
};

json::object data_stats(uint64_t msgs, uint64_t bytes) {
  json::object o;
  o["msgs"] = msgs;
  o["bytes"] = bytes;
  return o;
}


}  // namespace

SystemAccount::SystemAccount(Server& server, std::shared_ptr<Account> account)
    : server_(server), account_(std::move(account)) {
  id_rng_ = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}() | 1;
}

EventLoop& SystemAccount::system_loop() const { return server_.loop(0); }

void SystemAccount::start() {
  const std::string& id = server_.id();
  auto subscribe = [&](std::string subject, SysRequest what, Role role = Role::kRequest) {
    auto sub = std::make_shared<Subscription>(subject, "", subject);
    sub->remote = true;  // not a client's (see Subscription::internal)
    sub->set_internal(std::make_shared<SystemSubscriber>(weak_from_this(), what, role));
    account_->index().insert(sub);
    server_.local_sub_added(*account_, *sub);
    subs_.push_back(std::move(sub));
  };
  // Kept for the reference's older tools; .PING.STATSZ is the same request.
  subscribe("$SYS.REQ.SERVER.PING", SysRequest::kStatsz);
  for (const auto& r : kRequests) {
    subscribe(fmt::format("$SYS.REQ.SERVER.PING.{}", r.token), r.what);
    subscribe(fmt::format("$SYS.REQ.SERVER.{}.{}", id, r.token), r.what);
  }
  for (const auto& r : kAccountRequests) {
    subscribe(fmt::format("$SYS.REQ.ACCOUNT.*.{}", r.token), r.what, Role::kAccountRequest);
  }
  // Only STATZ has an account PING of its own (the reference's accPingReqSubj); the accounts'
  // $SYS.REQ.ACCOUNT.PING.CONNZ is their import of $SYS.REQ.ACCOUNT.<acc>.CONNZ.
  subscribe("$SYS.REQ.ACCOUNT.PING.STATZ", SysRequest::kAccountStatz);
  // The other servers, heard as the reference's initEventTracking listens to them.
  subscribe("$SYS.SERVER.*.STATSZ", SysRequest::kStatsz, Role::kRemoteStatsz);
  subscribe("$SYS.SERVER.*.SHUTDOWN", SysRequest::kStatsz, Role::kRemoteShutdown);
  running_ = true;
  asio::post(system_loop().ctx(), [self = shared_from_this()] {
    self->statsz_timer_ = std::make_unique<asio::steady_timer>(self->system_loop().ctx());
    self->arm_statsz_timer();
    self->orphan_timer_ = std::make_unique<asio::steady_timer>(self->system_loop().ctx());
    self->arm_orphan_timer();
  });
}

void SystemAccount::stop() {
  if (!running_.exchange(false)) return;
  std::promise<void> done;
  asio::post(system_loop().ctx(), [this, &done] {
    // As the reference's sendShutdownEvent: the last message, its body the ServerInfo alone,
    // sent before any connection closes, so peers drop our state at once (not after
    // kOrphanMax) and system-account clients learn why we go.
    std::string payload = monitor::compact(server_info());
    std::string subject = fmt::format("$SYS.SERVER.{}.SHUTDOWN", server_.id());
    t_publishing = true;
    route_message(server_, *account_, system_loop(), Origin{nullptr, false}, Message{subject, {}, -1, payload});
    t_publishing = false;
    system_loop().flush_touched();
    if (statsz_timer_) statsz_timer_->cancel();
    if (orphan_timer_) orphan_timer_->cancel();
    for (auto& [name, hb] : conns_heartbeats_) hb.timer->cancel();
    conns_heartbeats_.clear();
    for (auto& sub : subs_) {
      sub->closed.store(true, std::memory_order_relaxed);
      account_->index().remove(sub);
      server_.local_sub_removed(*account_, *sub);
    }
    subs_.clear();
    done.set_value();
  });
  done.get_future().wait();
  // The connections close without a flush after this (Server::shutdown): wait for the event to
  // leave, bounded, as the reference's flushClients(time.Second) for its last message.
  // Only the system account's clients and the routes can have been given it.
  auto drained = [this] {
    for (const auto& c : server_.clients()) {
      if (!c->connected() || &c->account() != account_.get()) continue;
      if (c->pending_bytes() > 0 && !c->closing()) return false;
    }
    for (const auto& r : server_.cluster().routes(/*with_interest=*/false)) {
      if (r.pending_size > 0) return false;
    }
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + kShutdownFlush;
  while (!drained() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void SystemAccount::arm_orphan_timer() {
  orphan_timer_->expires_after(RemoteServers::kOrphanCheck);
  orphan_timer_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || !self->running_.load()) return;
    for (const auto& id : self->remote_.sweep(std::chrono::steady_clock::now())) {
      self->server_.log().debugf("Detected orphan remote server: \"{}\"", id);
    }
    self->arm_orphan_timer();
  });
}

void SystemAccount::arm_statsz_timer() {
  statsz_timer_->expires_after(statsz_every_);
  statsz_timer_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || !self->running_.load()) return;
    // As the reference's heartbeatStatsz: the interval doubles from 250 ms up to 30 s.
    self->statsz_every_ = std::min(self->statsz_every_ * 2, kStatszInterval);
    self->arm_statsz_timer();
    self->send(fmt::format("$SYS.SERVER.{}.STATSZ", self->server_.id()), {}, self->statsz_message());
  });
}

json::object SystemAccount::server_info() {
  const Options& o = server_.options();
  json::object si;
  si["name"] = server_.name();
  si["host"] = o.host;
  si["id"] = server_.id();
  if (server_.cluster().enabled()) {
    if (auto name = server_.cluster().cluster_name(); !name.empty()) si["cluster"] = name;
  }
  si["ver"] = kNatsCompatVersion;
  si["seq"] = ++seq_;
  si["jetstream"] = false;
  si["time"] = monitor::rfc3339(std::chrono::system_clock::now());
  return si;
}

std::string SystemAccount::next_event_id() {
  // 22 characters of base62, as long as the reference's NUIDs; unique enough for an event id.
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out(22, '0');
  for (auto& c : out) {
    id_rng_ ^= id_rng_ << 13;
    id_rng_ ^= id_rng_ >> 7;
    id_rng_ ^= id_rng_ << 17;
    c = kAlphabet[id_rng_ % 62];
  }
  return out;
}

json::object SystemAccount::statsz_message() const {
  json::object m;  // the reference's ServerStatsMsg
  m["server"] = nullptr;
  m["statsz"] = statsz();
  return m;
}

json::object SystemAccount::statsz() const {
  monitor::ServerCounters c = monitor::gather_counters(server_);
  monitor::ProcessUsage usage = server_.usage_sampler().sample();
  json::object s;
  s["start"] = monitor::rfc3339(server_.start_time());
  s["mem"] = usage.rss_bytes;
  s["cores"] = std::max(1u, std::thread::hardware_concurrency());
  s["cpu"] = usage.cpu_percent;
  s["connections"] = c.connections;
  s["total_connections"] = c.total_connections;
  int64_t active = 0;
  for (const auto& a : server_.accounts().all()) active += a->num_clients() > 0 ? 1 : 0;
  s["active_accounts"] = active;
  s["subscriptions"] = c.subscriptions;
  s["sent"] = data_stats(c.out_msgs, c.out_bytes);
  s["received"] = data_stats(c.in_msgs, c.in_bytes);
  s["slow_consumers"] = c.slow_consumers;
  auto routes = server_.cluster().routes(/*with_interest=*/false);
  if (!routes.empty()) {
    json::array list;
    for (const auto& r : routes) {
      json::object rs;
      rs["rid"] = r.rid;
      if (!r.remote_name.empty()) rs["name"] = r.remote_name;
      rs["sent"] = data_stats(r.out_msgs, r.out_bytes);
      rs["received"] = data_stats(r.in_msgs, r.in_bytes);
      rs["pending"] = r.pending_size;
      list.emplace_back(std::move(rs));
    }
    s["routes"] = std::move(list);
  }
  // As the reference: this server and the ones heard from (RemoteServers), not the routes.
  s["active_servers"] = 1 + remote_.size();
  return s;
}

void SystemAccount::send(const std::string& subject, const std::string& reply, json::object body) {
  PYLON_DCHECK(system_loop().in_loop());
  if (!running_.load()) return;
  if (auto* si = body.if_contains("server")) *si = server_info();
  std::string payload = monitor::compact(body);
  EventLoop& loop = system_loop();
  t_publishing = true;
  route_message(server_, *account_, loop, Origin{nullptr, false}, Message{subject, reply, -1, payload});
  t_publishing = false;
  loop.flush_touched();
}

void SystemAccount::post_send(std::string subject, json::object body) {
  if (!running_.load()) return;
  asio::post(system_loop().ctx(), [self = shared_from_this(), subject = std::move(subject), body = std::move(body)]() mutable {
    if (auto* id = body.if_contains("id")) *id = self->next_event_id();
    self->send(subject, {}, std::move(body));
  });
}

namespace {
// ClientInfo, in the reference's field order; `closed` adds rtt and stop.
json::object client_info(const monitor::ConnSnapshot& c, bool closed) {
  json::object ci;
  ci["start"] = monitor::rfc3339(c.start);
  ci["host"] = c.ip;
  ci["id"] = c.cid;
  ci["acc"] = c.account;
  if (!c.user.empty()) ci["user"] = c.user;
  if (!c.name.empty()) ci["name"] = c.name;
  if (!c.lang.empty()) ci["lang"] = c.lang;
  if (!c.version.empty()) ci["ver"] = c.version;
  if (closed) {
    if (c.rtt.count() != 0) ci["rtt"] = c.rtt.count();  // Go's time.Duration: nanoseconds
    if (c.stop) ci["stop"] = monitor::rfc3339(*c.stop);
  }
  ci["kind"] = "Client";
  ci["client_type"] = "nats";
  return ci;
}

// The reference's JSInfo when JetStream is off (its Jsz with s.js nil).
json::object jsz_disabled(const std::string& id, std::chrono::system_clock::time_point now) {
  json::object j;
  j["server_id"] = id;
  j["now"] = monitor::rfc3339(now);
  j["disabled"] = true;
  json::object cfg;
  cfg["max_memory"] = 0;
  cfg["max_storage"] = 0;
  j["config"] = std::move(cfg);
  for (const char* k : {"memory", "storage", "reserved_memory", "reserved_storage", "accounts", "ha_assets"}) j[k] = 0;
  json::object api;
  api["total"] = 0;
  api["errors"] = 0;
  j["api"] = std::move(api);
  for (const char* k : {"streams", "consumers", "messages", "bytes"}) j[k] = 0;
  return j;
}

json::object typed_event(const char* type, std::chrono::system_clock::time_point when) {
  json::object e;
  e["type"] = type;
  e["id"] = "";  // the system loop fills it (post_send)
  e["timestamp"] = monitor::rfc3339(when);
  e["server"] = nullptr;  // the system loop fills it (send)
  return e;
}
}  // namespace

void SystemAccount::client_connected(const ClientConn& c) {
  if (!running_.load()) return;
  monitor::ConnSnapshot s = monitor::snapshot(c, /*with_subs=*/false);
  json::object e = typed_event(kConnectEventType, std::chrono::system_clock::now());
  e["client"] = client_info(s, false);
  post_send(fmt::format("$SYS.ACCOUNT.{}.CONNECT", s.account), std::move(e));
}

void SystemAccount::client_disconnected(const monitor::ConnSnapshot& s) {
  if (!running_.load()) return;
  json::object e = typed_event(kDisconnectEventType, s.stop.value_or(std::chrono::system_clock::now()));
  e["client"] = client_info(s, true);
  // As the reference: what the client sent us, and what it received from us.
  e["sent"] = data_stats(s.in_msgs, s.in_bytes);
  e["received"] = data_stats(s.out_msgs, s.out_bytes);
  e["reason"] = s.reason;
  post_send(fmt::format("$SYS.ACCOUNT.{}.DISCONNECT", s.account), std::move(e));
}

void SystemAccount::account_connections_changed(std::shared_ptr<Account> account) {
  if (!running_.load() || !account) return;
  // The count as this change left it (the reference takes it in the change's own call): by the
  // time the system loop gets to it, the client may be gone again.
  int64_t conns = account->num_clients();
  asio::post(system_loop().ctx(), [self = shared_from_this(), account = std::move(account), conns] {
    const std::string& name = account->name();
    self->send_account_conns(account,
                             {fmt::format("$SYS.SERVER.ACCOUNT.{}.CONNS", name),
                              fmt::format("$SYS.ACCOUNT.{}.SERVER.CONNS", name)},
                             conns);
  });
}

bool SystemAccount::has_interest(const std::string& subject) const {
  auto r = account_->index().match(subject);
  return r && (!r->plain.empty() || !r->queues.empty());
}

void SystemAccount::send_account_conns(const std::shared_ptr<Account>& account,
                                       const std::vector<std::string>& subjects, int64_t conns) {
  if (!running_.load()) return;
  const std::string& name = account->name();
  if (conns < 0) conns = account->num_clients();
  // The heartbeat, as the reference's a.ctmr: every kAccountConnsInterval after the last event
  // while the account has clients, none once it has none.
  if (conns == 0) {
    if (auto it = conns_heartbeats_.find(name); it != conns_heartbeats_.end()) {
      it->second.timer->cancel();
      conns_heartbeats_.erase(it);
    }
  } else {
    auto& hb = conns_heartbeats_[name];
    if (!hb.timer) hb.timer = std::make_unique<asio::steady_timer>(system_loop().ctx());
    hb.account = account;
    hb.timer->expires_after(kAccountConnsInterval);
    hb.timer->async_wait([self = shared_from_this(), name](const boost::system::error_code& ec) {
      if (ec || !self->running_.load()) return;
      auto it = self->conns_heartbeats_.find(name);
      if (it == self->conns_heartbeats_.end()) return;
      auto acc = it->second.account.lock();
      if (!acc) {
        self->conns_heartbeats_.erase(it);
        return;
      }
      self->send_account_conns(acc, {fmt::format("$SYS.SERVER.ACCOUNT.{}.CONNS", name),
                                     fmt::format("$SYS.ACCOUNT.{}.SERVER.CONNS", name)});
    });
  }
  // The counts sum the account's open clients' counters (no message pays for an account-wide
  // one): skip that walk when nobody, here or over a route, would receive the event.
  bool wanted = false;
  for (const auto& subject : subjects) wanted = wanted || has_interest(subject);
  if (!wanted) return;
  // The reference's AccountNumConns: a TypedEvent, the server, then AccountStat's fields.
  json::object e = typed_event(kAccountConnsEventType, std::chrono::system_clock::now());
  e["id"] = next_event_id();
  for (auto& [k, v] : monitor::build_account_stat(server_, *account)) e[k] = v;
  e["conns"] = conns;  // no leaf nodes: total_conns is conns
  e["total_conns"] = conns;
  // One event, each subject its own message (and seq), as the reference's sendq pushes.
  for (const auto& subject : subjects) send(subject, {}, e);
}

void SystemAccount::remote_event(bool shutdown, std::string_view subject, std::string_view payload,
                                 int64_t header_len) {
  if (!running_.load()) return;
  std::string_view body = header_len > 0 ? payload.substr(static_cast<size_t>(header_len)) : payload;
  asio::post(system_loop().ctx(), [self = shared_from_this(), shutdown, subject = std::string(subject),
                                   body = std::string(body)] {
    if (!self->running_.load()) return;
    Logger& log = self->server_.log();
    json::value v;
    boost::system::error_code ec;
    if (!body.empty()) v = json::parse(body, ec);
    if (shutdown) {
      // The reference's remoteServerShutdown: $SYS.SERVER.<id>.SHUTDOWN, a ServerInfo body.
      if (body.empty()) return log.peer_error("Remote server sent invalid (empty) shutdown message to \"{}\"", subject);
      if (ec || !v.is_object()) return log.debugf("Received bad server info for remote server shutdown");
      std::string_view rest = std::string_view(subject).substr(std::string_view("$SYS.SERVER.").size());
      self->remote_.shutdown(rest.substr(0, rest.find('.')));
      return;
    }
    // The reference's remoteServerUpdate: a STATSZ, {"server":{"id":..,"seq":..},...}.
    if (body.empty()) return log.debugf("Received empty server info for remote server update");
    const json::object* si = nullptr;
    if (!ec && v.is_object()) {
      if (auto* p = v.as_object().if_contains("server"); p && p->is_object()) si = &p->as_object();
    }
    const json::value* id = si ? si->if_contains("id") : nullptr;
    const json::value* seq = si ? si->if_contains("seq") : nullptr;
    if (!id || !id->is_string() || !seq || !(seq->is_uint64() || seq->is_int64())) {
      return log.debugf("Received bad server info for remote server update");
    }
    if (id->as_string() == self->server_.id()) return;
    uint64_t n = seq->is_uint64() ? seq->as_uint64() : static_cast<uint64_t>(std::max<int64_t>(0, seq->as_int64()));
    switch (self->remote_.heard(id->as_string(), n, std::chrono::steady_clock::now())) {
      case RemoteServers::Update::kNew:
        // As the reference's processNewServer: announce ourselves to the newcomer at once.
        self->send(fmt::format("$SYS.SERVER.{}.STATSZ", self->server_.id()), {}, self->statsz_message());
        break;
      case RemoteServers::Update::kOutOfOrder:
        log.peer_error("Received out of order remote server update from: \"{}\"", std::string_view(id->as_string()));
        break;
      case RemoteServers::Update::kUpdated:
        break;
    }
  });
}

void SystemAccount::answer_conns(const std::string& account, const std::string& reply, const std::string& body) {
  // The reference's connsRequest: not a zReq (no filters, no error answers; bad bodies are
  // logged by its system client), answered only by a server where the account has clients.
  std::string named = account;
  if (!body.empty()) {
    static constexpr gojson::Field kFields[] = {{"acc", gojson::Type::kString}};
    gojson::StructType t{"accNumConnsReq", "server.accNumConnsReq", kFields};
    if (auto err = gojson::unmarshal(body, t, [&](size_t, const gojson::Value& v) { named = v.s; })) {
      return server_.log().peer_error("SYSTEM - Error unmarshalling account connections request message: {}", *err);
    }
  }
  if (named != account) return server_.log().peer_error("SYSTEM - Error unmarshalled account does not match subject");
  auto acc = server_.accounts().find(account);
  if (!acc || acc->num_clients() == 0 || reply.empty()) return;
  send_account_conns(acc, {reply});
}

void SystemAccount::request(SysRequest what, std::string_view account, std::string_view reply, std::string_view payload,
                            int64_t header_len) {
  if (!running_.load()) return;
  std::string_view body = header_len > 0 ? payload.substr(static_cast<size_t>(header_len)) : payload;
  asio::post(system_loop().ctx(), [self = shared_from_this(), what, account = std::string(account),
                                   reply = std::string(reply), body = std::string(body)]() mutable {
    self->answer(what, account, std::move(reply), std::move(body));
  });
}

void SystemAccount::answer_data(const std::string& reply, json::object data) {
  json::object r;
  r["server"] = nullptr;
  r["data"] = std::move(data);
  send(reply, {}, std::move(r));
}

void SystemAccount::answer_error(const std::string& reply, int code, const std::string& description, bool with_null_data) {
  json::object r;
  r["server"] = nullptr;
  // The reference's ServerAPIResponse: a failed endpoint leaves a typed nil in `data`, which
  // Go writes as null; a body that did not decode leaves it out.
  if (with_null_data) r["data"] = nullptr;
  json::object e;
  e["code"] = code;
  e["description"] = description;
  r["error"] = std::move(e);
  send(reply, {}, std::move(r));
}

void SystemAccount::answer(SysRequest what, const std::string& account, std::string reply, std::string body) {
  if (!running_.load()) return;
  // As the reference's statszReq: no reply subject asks for the STATSZ broadcast; every other
  // request without one is ignored (zReq).
  if (what == SysRequest::kStatsz && reply.empty()) reply = fmt::format("$SYS.SERVER.{}.STATSZ", server_.id());
  if (what == SysRequest::kConns) return answer_conns(account, reply, body);
  if (reply.empty()) return;
  // $SYS.REQ.ACCOUNT.PING.STATZ matches $SYS.REQ.ACCOUNT.*.STATZ too: the reference's STATZ
  // handler leaves it to the PING subscription.
  if (what == SysRequest::kAccountStatz && account == "PING") return;
  SysRequestOptions o;
  if (!body.empty()) {
    if (auto err = decode_request_options(what, body, o)) return answer_error(reply, 400, *err, false);
    // The reference's filterRequest: a request naming other servers is not ours to answer.
    const SysEventFilter& f = o.filter;
    auto lacks = [](const std::string& have, const std::string& want) {
      return !want.empty() && have.find(want) == std::string::npos;
    };
    if (lacks(server_.name(), f.name) || lacks(server_.options().host, f.host) ||
        lacks(server_.cluster().cluster_name(), f.cluster) || !f.tags.empty() || !f.domain.empty()) {
      return;  // Pylon has no tags and no JetStream domain: any asked for is not ours
    }
  }
  // The account-scoped forms, as the reference's: the subject's account wins over the body's.
  if (!account.empty()) {
    o.connz.account = account;
    o.subsz.account = account;
    o.subsz.subs = true;
    o.accounts = {account};
    o.leafz_account = account;
  }
  auto now = std::chrono::system_clock::now();
  std::string err;
  switch (what) {
    case SysRequest::kStatsz:
      return send(reply, {}, statsz_message());
    case SysRequest::kVarz:
      return answer_data(reply, monitor::current_varz(server_, now));
    case SysRequest::kConnz:
      if (!monitor::check_connz(&o.connz, &err)) return answer_error(reply, 500, err, true);
      monitor::build_connz_async(server_, o.connz, system_loop(),
                                 [self = shared_from_this(), reply](json::object data) {
                                   self->answer_data(reply, std::move(data));
                                 });
      return;
    case SysRequest::kSubsz:
      if (!monitor::check_subsz(&o.subsz, &err)) return answer_error(reply, 500, err, true);
      return answer_data(reply, monitor::build_subsz(server_, now, o.subsz, /*stats_alone_without_list=*/false));
    case SysRequest::kRoutez:
      return answer_data(reply, monitor::build_routez(server_, now, o.routez_subs));
    case SysRequest::kHealthz:
      return answer_data(reply, monitor::build_healthz(server_));
    case SysRequest::kAccountz: {
      json::object a = monitor::build_accountz(server_, now, o.account, &err);
      if (!err.empty()) return answer_error(reply, 500, err, true);
      return answer_data(reply, std::move(a));
    }
    case SysRequest::kInfo: {
      // The reference's accountInfo: /accountz's account_detail alone.
      json::object a = monitor::build_accountz(server_, now, account, &err);
      if (!err.empty()) return answer_error(reply, 500, err, true);
      return answer_data(reply, a.at("account_detail").as_object());
    }
    case SysRequest::kAccountStatz: {
      json::object stz = monitor::build_accstatz(server_, now, o.include_unused, o.accounts);
      // As the reference: a server with nothing to report stays silent, so a PING gathers the
      // servers where the accounts are in use.
      if (stz.at("account_statz").as_array().empty() && !o.include_unused) return;
      return answer_data(reply, std::move(stz));
    }
    case SysRequest::kJsz:
      // JetStream is off (not part of Pylon), and the reference answers as it does then.
      if (!account.empty()) return answer_error(reply, 500, "jetstream not enabled", true);
      return answer_data(reply, jsz_disabled(server_.id(), now));
    case SysRequest::kGatewayz: {
      json::object g;  // gateways are not part of Pylon: the reference's answer without them
      g["server_id"] = server_.id();
      g["now"] = monitor::rfc3339(now);
      g["outbound_gateways"] = json::object();
      g["inbound_gateways"] = json::object();
      return answer_data(reply, std::move(g));
    }
    case SysRequest::kLeafz:
      return answer_data(reply, monitor::build_leafz(server_, now, o.leafz_subs, o.leafz_account));
    case SysRequest::kConns:
      return;  // answered above
  }
}

}  // namespace pylon::server
