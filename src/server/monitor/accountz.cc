// /accountz and /accstatz, as the reference's Accountz and AccountStatz: the accounts this
// server knows, one account's exports, imports and index statistics, and per-account
// connection and message counts.
#include <boost/json.hpp>

#include <algorithm>

#include "server/account/account.h"
#include "server/account/imports_check.h"
#include "server/client/client_conn.h"
#include "server/monitor/endpoints.h"
#include "server/monitor/format.h"
#include "server/leafnode/leafnodes.h"
#include "server/server.h"

namespace pylon::server::monitor {

namespace json = boost::json;

namespace {

const char* response_type_name(AccountExport::ResponseType t) {
  switch (t) {
    case AccountExport::ResponseType::kStream: return "Streamed";  // ServiceRespType.String()
    case AccountExport::ResponseType::kChunked: return "Chunked";
    default: return "Singleton";
  }
}

const AccountConfig* config_of(const Options& o, const std::string& name) {
  for (const auto& a : o.accounts) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

// Counts of one account, its closed clients' totals plus its open clients' counters (the
// clients' own, so no message pays for an account-wide counter).
struct AccountCounts {
  int64_t conns = 0;
  Account::Totals m;
};

// `only`: that account's clients alone (else every account's).
std::map<const Account*, AccountCounts> count_by_account(Server& server, const Account* only = nullptr) {
  std::map<const Account*, AccountCounts> out;
  for (const auto& c : server.clients()) {
    // A closing client's counts are its account's closed totals already, or about to be.
    if (!c->connected() || c->closing()) continue;
    if (only && &c->account() != only) continue;
    AccountCounts& n = out[&c->account()];
    ++n.conns;
    n.m.in_msgs += c->in_msgs.load(std::memory_order_relaxed);
    n.m.in_bytes += c->in_bytes.load(std::memory_order_relaxed);
    n.m.out_msgs += c->out_msgs.load(std::memory_order_relaxed);
    n.m.out_bytes += c->out_bytes.load(std::memory_order_relaxed);
  }
  return out;
}

json::object account_stat(const Account& a, const AccountCounts& n, size_t leafs) {
  Account::Totals closed = a.closed_client_totals();
  json::object s;
  s["acc"] = a.name();
  s["conns"] = n.conns;
  s["leafnodes"] = leafs;
  s["total_conns"] = n.conns + leafs;
  json::object sent, received;
  sent["msgs"] = n.m.out_msgs + closed.out_msgs;
  sent["bytes"] = n.m.out_bytes + closed.out_bytes;
  received["msgs"] = n.m.in_msgs + closed.in_msgs;
  received["bytes"] = n.m.in_bytes + closed.in_bytes;
  s["sent"] = std::move(sent);
  s["received"] = std::move(received);
  s["slow_consumers"] = a.slow_consumers();
  return s;
}

}  // namespace

json::object build_accountz(Server& server, SysTime now, const std::string& account, std::string* err) {
  json::object o;
  o["server_id"] = server.id();
  o["now"] = rfc3339(now);
  if (auto sys = server.options().effective_system_account(); !sys.empty()) o["system_account"] = sys;
  auto accounts = server.accounts().all();
  if (account.empty()) {
    json::array names;
    for (const auto& a : accounts) names.emplace_back(a->name());
    o["accounts"] = std::move(names);
    return o;
  }
  auto acc = server.accounts().find(account);
  if (!acc) {
    *err = "Account " + account + " does not exist";
    return {};
  }
  json::object d;
  d["account_name"] = acc->name();
  if (acc->name() == server.options().effective_system_account()) d["is_system"] = true;
  d["expired"] = false;
  d["complete"] = true;
  d["jetstream_enabled"] = false;
  d["leafnode_connections"] = server.leafnodes().num_leafs(acc->name());
  d["client_connections"] = acc->num_clients();
  d["subscriptions"] = acc->index().count();
  json::array exports, imports;
  if (const AccountConfig* cfg = config_of(server.options(), acc->name())) {
    for (const auto& ex : cfg->exports) {
      json::object e;
      e["subject"] = ex.subject;
      bool service = ex.kind == AccountExport::Kind::kService;
      e["type"] = service ? "service" : "stream";
      if (service) e["response_type"] = response_type_name(ex.response);
      json::array approved;
      for (const auto& n : ex.accounts) approved.emplace_back(n);
      e["approved_accounts"] = std::move(approved);
      exports.emplace_back(std::move(e));
    }
    for (const auto& im : cfg->imports) {
      json::object i;
      bool service = im.kind == AccountExport::Kind::kService;
      i["subject"] = im.subject;
      i["account"] = im.account;
      i["type"] = service ? "service" : "stream";
      if (service) {
        i["to"] = im.to.empty() ? im.subject : im.to;
      } else {
        i["local_subject"] = stream_import_subject(im);
      }
      i["invalid"] = false;
      i["share"] = false;
      i["tracking"] = false;
      imports.emplace_back(std::move(i));
    }
  }
  // The system account's services and every other account's imports of them (account.h).
  const std::string system = server.options().effective_system_account();
  if (!system.empty() && acc->name() == system) {
    for (const char* subject : kSystemExports) {
      json::object e;
      e["subject"] = subject;
      e["type"] = "service";
      e["response_type"] = "Streamed";
      exports.emplace_back(std::move(e));
    }
  } else if (!system.empty()) {
    for (const auto& si : kSystemImports) {
      bool own = false;
      for (const auto& i : imports) {
        const auto* to = i.as_object().if_contains("to");
        own = own || (to && to->as_string() == si.subject);
      }
      if (own) continue;
      json::object i;
      i["subject"] = si.subject;
      i["account"] = system;
      i["to"] = "$SYS.REQ.ACCOUNT." + acc->name() + "." + si.request;
      i["type"] = "service";
      i["invalid"] = false;
      i["share"] = false;
      i["tracking"] = false;
      imports.emplace_back(std::move(i));
    }
  }
  if (!exports.empty()) d["exports"] = std::move(exports);
  if (!imports.empty()) d["imports"] = std::move(imports);
  const SubIndex& index = acc->index();
  json::object st;
  st["num_subscriptions"] = index.count();
  st["num_cache"] = index.cache_size();
  st["num_inserts"] = index.inserts();
  st["num_removes"] = index.removes();
  st["num_matches"] = index.matches();
  st["cache_hit_rate"] = index.matches() > 0
                             ? static_cast<double>(index.cache_hits()) / static_cast<double>(index.matches())
                             : 0.0;
  auto fan = index.cache_fanout();
  st["max_fanout"] = fan.max;
  st["avg_fanout"] = fan.entries > 0 ? static_cast<double>(fan.total) / static_cast<double>(fan.entries) : 0.0;
  d["sublist_stats"] = std::move(st);
  o["account_detail"] = std::move(d);
  return o;
}

json::object build_accstatz(Server& server, SysTime now, bool include_unused,
                            const std::vector<std::string>& accounts) {
  json::object o;
  o["server_id"] = server.id();
  o["now"] = rfc3339(now);
  auto live = count_by_account(server);
  std::vector<std::shared_ptr<Account>> listed;
  if (accounts.empty()) {
    listed = server.accounts().all();
  } else {
    // In the order asked, unknown names left out (the reference's AccountStatz).
    for (const auto& name : accounts) {
      if (auto a = server.accounts().find(name)) listed.push_back(std::move(a));
    }
  }
  json::array list;
  for (const auto& a : listed) {
    AccountCounts n = live[a.get()];
    if (n.conns == 0 && !include_unused) continue;
    list.emplace_back(account_stat(*a, n, server.leafnodes().num_leafs(a->name())));
  }
  o["account_statz"] = std::move(list);
  return o;
}

json::object build_account_stat(Server& server, const Account& account) {
  auto live = count_by_account(server, &account);
  return account_stat(account, live[&account], server.leafnodes().num_leafs(account.name()));
}

}  // namespace pylon::server::monitor
