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

// Set on the system loop while it publishes: our own subscriptions never take what we send
// (the reference's system client has echo off). Without it a request whose reply subject is
// one of the request subjects would be answered by us, to us, for ever.
thread_local bool t_publishing = false;

struct RequestName {
  SysRequest what;
  const char* token;
};
constexpr std::array<RequestName, 7> kRequests{{{SysRequest::kStatsz, "STATSZ"},
                                                 {SysRequest::kVarz, "VARZ"},
                                                 {SysRequest::kConnz, "CONNZ"},
                                                 {SysRequest::kSubsz, "SUBSZ"},
                                                 {SysRequest::kRoutez, "ROUTEZ"},
                                                 {SysRequest::kHealthz, "HEALTHZ"},
                                                 {SysRequest::kAccountz, "ACCOUNTZ"}}};

// A request subscription: hands what it matched to the system account.
class SystemSubscriber final : public InternalSubscriber {
 public:
  SystemSubscriber(std::weak_ptr<SystemAccount> sys, SysRequest what, bool account_scoped)
      : sys_(std::move(sys)), what_(what), account_scoped_(account_scoped) {}
  bool deliver(Server&, EventLoop&, const Origin&, const Message& msg, bool /*from_route*/) override {
    if (t_publishing) return false;
    auto sys = sys_.lock();  // weak: the system account owns this subscription
    if (!sys) return false;
    std::string_view account;
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
  bool account_scoped_;
};

json::object data_stats(uint64_t msgs, uint64_t bytes) {
  json::object o;
  o["msgs"] = msgs;
  o["bytes"] = bytes;
  return o;
}

// The request bodies, as the reference's *EventOptions structs: the endpoint's options and
// EventFilterOptions, decoded with Go's rules and error texts.
constexpr gojson::Field kFilterFields[] = {
    {"server_name", gojson::Type::kString}, {"cluster", gojson::Type::kString}, {"host", gojson::Type::kString},
    {"tags", gojson::Type::kStringSlice},   {"domain", gojson::Type::kString},
};
constexpr size_t kNumFilterFields = std::size(kFilterFields);

struct EventFilter {
  std::string name, cluster, host, domain;
  std::vector<std::string> tags;
  void set(size_t i, const gojson::Value& v) {
    switch (i) {
      case 0: name = v.s; break;
      case 1: cluster = v.s; break;
      case 2: host = v.s; break;
      case 3: tags = v.list; break;
      case 4: domain = v.s; break;
      default: break;
    }
  }
};

struct RequestOptions {
  EventFilter filter;
  monitor::ConnzOptions connz;
  monitor::SubszOptions subsz;
  int routez_subs = 0;
  std::string account;
};

template <size_t N>
constexpr std::array<gojson::Field, kNumFilterFields + N> with_filter(const gojson::Field (&own)[N]) {
  std::array<gojson::Field, kNumFilterFields + N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = own[i];
  for (size_t i = 0; i < kNumFilterFields; ++i) out[N + i] = kFilterFields[i];
  return out;
}

constexpr gojson::Field kConnzOwn[] = {
    {"sort", gojson::Type::kString},       {"auth", gojson::Type::kBool},
    {"subscriptions", gojson::Type::kBool}, {"subscriptions_detail", gojson::Type::kBool},
    {"offset", gojson::Type::kInt},         {"limit", gojson::Type::kInt},
    {"cid", gojson::Type::kUint64},         {"state", gojson::Type::kInt},
    {"acc", gojson::Type::kString},
    // Decoded for Go's type checks, not applied: /connz has no such filters yet.
    {"user", gojson::Type::kString},        {"filter_subject", gojson::Type::kString},
    {"mqtt_client", gojson::Type::kString},
};
constexpr gojson::Field kSubszOwn[] = {
    {"offset", gojson::Type::kInt},        {"limit", gojson::Type::kInt}, {"subscriptions", gojson::Type::kBool},
    {"account", gojson::Type::kString},    {"test", gojson::Type::kString},
};
constexpr gojson::Field kRoutezOwn[] = {
    {"subscriptions", gojson::Type::kBool}, {"subscriptions_detail", gojson::Type::kBool}};
constexpr gojson::Field kHealthzOwn[] = {
    {"js-enabled-only", gojson::Type::kBool}, {"js-server-only", gojson::Type::kBool}};
constexpr gojson::Field kAccountzOwn[] = {{"account", gojson::Type::kString}};

constexpr auto kConnzFields = with_filter(kConnzOwn);
constexpr auto kSubszFields = with_filter(kSubszOwn);
constexpr auto kRoutezFields = with_filter(kRoutezOwn);
constexpr auto kHealthzFields = with_filter(kHealthzOwn);
constexpr auto kAccountzFields = with_filter(kAccountzOwn);

// Decodes `body` into `o`; Go's error text when json.Unmarshal would fail.
std::optional<std::string> decode(SysRequest what, std::string_view body, RequestOptions& o) {
  bool detail = false, subs = false;
  auto filter_at = [&](size_t own, size_t i, const gojson::Value& v) {
    if (i >= own) o.filter.set(i - own, v);
  };
  std::optional<std::string> err;
  switch (what) {
    case SysRequest::kStatsz:
    case SysRequest::kVarz: {
      gojson::StructType t{what == SysRequest::kStatsz ? "StatszEventOptions" : "VarzEventOptions",
                           what == SysRequest::kStatsz ? "server.StatszEventOptions" : "server.VarzEventOptions",
                           kFilterFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) { o.filter.set(i, v); });
      break;
    }
    case SysRequest::kConnz: {
      gojson::StructType t{"ConnzEventOptions", "server.ConnzEventOptions", kConnzFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) {
        monitor::ConnzOptions& c = o.connz;
        switch (i) {
          case 0: c.sort = v.s; break;
          case 1: c.auth = v.b; break;
          case 2: subs = v.b; break;
          case 3: detail = v.b; break;
          case 4: c.offset = v.i; break;
          case 5: c.limit = v.i; break;
          case 6: c.cid = v.u; break;
          // The reference's ConnState: 0 open, 1 closed, 2 all (any other value lists none).
          case 7: c.state = v.i == 1 ? monitor::ConnState::kClosed
                            : v.i == 2 ? monitor::ConnState::kAll : monitor::ConnState::kOpen; break;
          case 8: c.account = v.s; break;
          default: filter_at(std::size(kConnzOwn), i, v);
        }
      });
      o.connz.subs = detail ? 2 : subs ? 1 : 0;
      break;
    }
    case SysRequest::kSubsz: {
      gojson::StructType t{"SubszEventOptions", "server.SubszEventOptions", kSubszFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) {
        monitor::SubszOptions& s = o.subsz;
        switch (i) {
          case 0: s.offset = v.i; break;
          case 1: s.limit = v.i; break;
          case 2: s.subs = v.b; break;
          case 3: s.account = v.s; break;
          case 4: s.test = v.s; break;
          default: filter_at(std::size(kSubszOwn), i, v);
        }
      });
      break;
    }
    case SysRequest::kRoutez: {
      gojson::StructType t{"RoutezEventOptions", "server.RoutezEventOptions", kRoutezFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) {
        if (i == 0) subs = v.b;
        else if (i == 1) detail = v.b;
        else filter_at(std::size(kRoutezOwn), i, v);
      });
      o.routez_subs = detail ? 2 : subs ? 1 : 0;
      break;
    }
    case SysRequest::kHealthz: {
      gojson::StructType t{"HealthzEventOptions", "server.HealthzEventOptions", kHealthzFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) { filter_at(std::size(kHealthzOwn), i, v); });
      break;
    }
    case SysRequest::kAccountz: {
      gojson::StructType t{"AccountzEventOptions", "server.AccountzEventOptions", kAccountzFields};
      err = gojson::unmarshal(body, t, [&](size_t i, const gojson::Value& v) {
        if (i == 0) o.account = v.s;
        else filter_at(std::size(kAccountzOwn), i, v);
      });
      break;
    }
  }
  return err;
}

}  // namespace

SystemAccount::SystemAccount(Server& server, std::shared_ptr<Account> account)
    : server_(server), account_(std::move(account)) {
  id_rng_ = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}() | 1;
}

EventLoop& SystemAccount::system_loop() const { return server_.loop(0); }

void SystemAccount::start() {
  const std::string& id = server_.id();
  auto subscribe = [&](std::string subject, SysRequest what, bool account_scoped = false) {
    auto sub = std::make_shared<Subscription>();
    sub->remote = true;  // not a client's (see Subscription::internal)
    sub->subject = std::move(subject);
    sub->sid = sub->subject;
    sub->internal = std::make_shared<SystemSubscriber>(weak_from_this(), what, account_scoped);
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
  subscribe("$SYS.REQ.ACCOUNT.*.CONNZ", SysRequest::kConnz, true);
  subscribe("$SYS.REQ.ACCOUNT.*.SUBSZ", SysRequest::kSubsz, true);
  running_ = true;
  asio::post(system_loop().ctx(), [self = shared_from_this()] {
    self->statsz_timer_ = std::make_unique<asio::steady_timer>(self->system_loop().ctx());
    self->arm_statsz_timer();
  });
}

void SystemAccount::stop() {
  if (!running_.exchange(false)) return;
  std::promise<void> done;
  asio::post(system_loop().ctx(), [this, &done] {
    if (statsz_timer_) statsz_timer_->cancel();
    for (auto& sub : subs_) {
      sub->closed.store(true, std::memory_order_relaxed);
      account_->index().remove(sub);
      server_.local_sub_removed(*account_, *sub);
    }
    subs_.clear();
    done.set_value();
  });
  done.get_future().wait();
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
  // The reference counts the servers whose STATSZ it hears; in a full mesh that is one per route.
  s["active_servers"] = 1 + routes.size();
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
  if (reply.empty()) return;
  RequestOptions o;
  if (!body.empty()) {
    if (auto err = decode(what, body, o)) return answer_error(reply, 400, *err, false);
    // The reference's filterRequest: a request naming other servers is not ours to answer.
    const EventFilter& f = o.filter;
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
  }
}

}  // namespace pylon::server
