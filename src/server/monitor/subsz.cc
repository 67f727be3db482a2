// /subsz (the subscription index's statistics and, on request, its client subscriptions) and
// /routez (the cluster's routes).
#include <boost/json.hpp>

#include <algorithm>
#include <unordered_map>

#include "proto/subject.h"
#include "server/client/client_conn.h"
#include "server/route/cluster.h"
#include "server/config/duration.h"
#include "server/monitor/endpoints.h"
#include "server/monitor/format.h"
#include "server/server.h"

namespace pylon::server::monitor {

namespace json = boost::json;

bool parse_subsz(const Query& q, SubszOptions* o, std::string* err) {
  auto subs = q.get_bool("subs", err);
  if (!subs) return false;
  auto offset = q.get_int("offset", err);
  if (!offset) return false;
  auto limit = q.get_int("limit", err);
  if (!limit) return false;
  o->subs = *subs;
  o->offset = *offset;
  o->limit = *limit;
  o->test = q.get("test");
  o->account = q.get("acc");
  return check_subsz(o, err);
}

bool check_subsz(SubszOptions* o, std::string* err) {
  o->offset = std::max<int64_t>(o->offset, 0);
  if (o->limit <= 0) o->limit = kDefaultListSize;
  if (!o->test.empty() && !proto::valid_publish_subject(o->test, /*pedantic=*/true)) {
    *err = "invalid test subject, must be valid publish subject: " + o->test;
    return false;
  }
  return true;
}

json::object build_subsz(Server& server, SysTime now, const SubszOptions& opts, bool stats_alone_without_list) {
  // Every account's index, summed (the reference's Subsz sums its accounts' sublists too).
  auto accounts = server.accounts().all();
  if (!opts.account.empty()) {
    std::erase_if(accounts, [&](const auto& a) { return a->name() != opts.account; });
  }
  size_t count = 0, cache = 0;
  uint64_t inserts = 0, removes = 0, matches = 0, hits = 0;
  SubIndex::CacheFanout fan;
  for (const auto& a : accounts) {
    const SubIndex& index = a->index();
    count += index.count();
    cache += index.cache_size();
    inserts += index.inserts();
    removes += index.removes();
    matches += index.matches();
    hits += index.cache_hits();
    auto f = index.cache_fanout();
    fan.entries += f.entries;
    fan.total += f.total;
    fan.max = std::max(fan.max, f.max);
  }
  json::object o;
  o["num_subscriptions"] = count;
  o["num_cache"] = cache;
  o["num_inserts"] = inserts;
  o["num_removes"] = removes;
  o["num_matches"] = matches;
  o["cache_hit_rate"] = matches > 0 ? static_cast<double>(hits) / static_cast<double>(matches) : 0.0;
  o["max_fanout"] = fan.max;
  o["avg_fanout"] = fan.total > 0 ? static_cast<double>(fan.total) / static_cast<double>(fan.entries) : 0.0;

  json::array list;
  if (opts.subs) {
    // Client subscriptions only (a route's interest is not listed, as in the reference), of
    // clients still registered (a closed client's subscriptions may outlive it in a match result).
    std::unordered_map<const Connection*, uint64_t> cids;
    auto clients = server.clients();
    for (const auto& c : clients) cids.emplace(static_cast<const Connection*>(c.get()), c->cid());
    std::vector<SubDetail> details;
    for (const auto& acc : accounts) {
      for (const auto& sub : acc->index().all()) {
        auto it = cids.find(sub->owner.get());
        if (it == cids.end()) continue;
        if (!opts.test.empty() && !proto::subject_matches(sub->subject(), opts.test)) continue;
        SubDetail d;
        d.account = acc->name();
        d.subject = sub->subject();
        d.queue = sub->queue();
        d.sid = sub->sid();
        d.msgs = sub->delivered.load(std::memory_order_relaxed);
        d.max = sub->max_msgs.load(std::memory_order_relaxed);
        d.cid = it->second;
        details.push_back(std::move(d));
      }
    }
    std::sort(details.begin(), details.end(), [](const SubDetail& a, const SubDetail& b) {
      return a.cid != b.cid ? a.cid < b.cid : a.sid < b.sid;
    });
    size_t minoff = std::min<size_t>(static_cast<size_t>(opts.offset), details.size());
    size_t maxoff = minoff + std::min<size_t>(static_cast<size_t>(opts.limit), details.size() - minoff);
    for (size_t i = minoff; i < maxoff; ++i) list.emplace_back(to_json(details[i], /*with_account=*/true));
  }
  // As the reference's HandleSubsz: without a (non-empty) list the answer is the index
  // statistics alone. "total" is the number of entries returned.
  if (list.empty() && stats_alone_without_list) return o;
  json::object full;
  full["server_id"] = server.id();
  full["now"] = rfc3339(now);
  for (auto& kv : o) full[kv.key()] = std::move(kv.value());
  full["total"] = list.size();
  full["offset"] = opts.offset;
  full["limit"] = opts.limit;
  if (!list.empty()) full["subscriptions_list"] = std::move(list);
  return full;
}

json::object build_routez(Server& server, SysTime now, int subs) {
  json::object o;
  o["server_id"] = server.id();
  o["now"] = rfc3339(now);
  auto routes = server.cluster().routes(/*with_interest=*/subs != 0);
  o["num_routes"] = routes.size();
  // Pylon extras (issue 14 §4, nats-server issue #5483): route connections opened and closed
  // since the start, and how many of the closed were duplicates of a registered route.
  RouteChurn churn = server.cluster().churn();
  o["route_connections_opened"] = churn.opened;
  o["route_connections_closed"] = churn.closed;
  o["duplicate_routes_closed"] = churn.duplicates;
  json::array list;
  for (const auto& r : routes) {
    json::object ri;
    ri["rid"] = r.rid;
    ri["remote_id"] = r.remote_id;
    ri["did_solicit"] = r.did_solicit;
    ri["is_configured"] = r.is_configured;
    ri["ip"] = r.ip;
    ri["port"] = r.port;
    ri["start"] = rfc3339(r.start);
    ri["last_activity"] = rfc3339(r.last_activity);
    ri["rtt"] = format_duration(r.rtt);
    ri["uptime"] = uptime(now - r.start);
    ri["idle"] = uptime(now - r.last_activity);
    ri["pending_size"] = r.pending_size;
    ri["in_msgs"] = r.in_msgs;
    ri["out_msgs"] = r.out_msgs;
    ri["in_bytes"] = r.in_bytes;
    ri["out_bytes"] = r.out_bytes;
    ri["subscriptions"] = r.num_subs;
    // A Pylon extra, for /dashboard: the peer's monitoring URL, when it advertised one.
    if (!r.monitor_url.empty()) ri["monitor_url"] = r.monitor_url;
    if (!r.subs.empty() && subs != 0) {
      // Entries are "account subject" or "account subject queue".
      json::array a;
      for (const auto& s : r.subs) {
        auto sp = s.find(' ');
        std::string rest = s.substr(sp + 1);
        auto sp2 = rest.find(' ');
        std::string subject = rest.substr(0, sp2);
        if (subs == 1) {
          a.emplace_back(subject);
        } else {
          SubDetail d;
          d.subject = subject;
          if (sp2 != std::string::npos) d.queue = rest.substr(sp2 + 1);
          d.sid = s;
          d.cid = r.rid;
          a.emplace_back(to_json(d, /*with_account=*/false));
        }
      }
      ri[subs == 1 ? "subscriptions_list" : "subscriptions_list_detail"] = std::move(a);
    }
    list.emplace_back(std::move(ri));
  }
  o["routes"] = std::move(list);
  return o;
}

}  // namespace pylon::server::monitor
