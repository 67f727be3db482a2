// What the system-account tests share: the config (accounts SYS and A, $G users), JSON
// helpers, a cluster started on free ports, and a requester that gathers one reply per node.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster_harness.h"

namespace pylon::it::cluster::sysit {

constexpr Kind P = Kind::kPylon;
constexpr Kind N = Kind::kNats;

constexpr const char* kConfig = R"(
accounts {
  SYS: { users: [ {user: sys, password: psys} ] }
  A: { users: [ {user: a, password: pa} ] }
  B: { users: [ {user: b, password: pb} ] }
}
authorization { users: [ {user: g, password: pg} ] }
system_account: SYS
)";

// How long an event or an answer may take to arrive: a wide multiple of what it takes (a few
// milliseconds), for loaded machines.
constexpr auto kArrival = 10s;
// After the replies expected, how long without another one means no more are coming.
constexpr auto kQuiet = 500ms;
// STATSZ: the reference's cadence starts at 250 ms and doubles (500 ms, 1 s, 2 s, ...) up to
// 30 s, so two consecutive ones are at least the second interval (500 ms) apart, less some
// slack, and two arrive within a few seconds of the start.
constexpr auto kStatszMinGap = 400ms;
constexpr auto kStatszTwoArrive = 15s;

inline std::string url_as(const Node& n, const std::string& user) {
  return "nats://" + user + ":p" + user + "@127.0.0.1:" + std::to_string(n.client_port());
}

inline json::object parse(const std::string& text) {
  try {
    auto v = json::parse(text);
    if (v.is_object()) return v.as_object();
  } catch (const std::exception&) {
  }
  ADD_FAILURE() << "not a JSON object: " << text;
  return {};
}

inline const json::object& obj(const json::object& o, const char* key) {
  static const json::object kEmpty;
  auto* v = o.if_contains(key);
  if (!v || !v->is_object()) {
    ADD_FAILURE() << "no object \"" << key << "\" in " << json::serialize(o);
    return kEmpty;
  }
  return v->as_object();
}
inline std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string("<missing " + std::string(key) + ">");
}
inline int64_t num(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_number()) return -1;
  return v->to_number<int64_t>();
}
inline bool is_utc_time(const std::string& s) { return s.size() >= 20 && s[4] == '-' && s[10] == 'T' && s.back() == 'Z'; }
// "2026-12-05T16:41:32.125712223Z" (Go's RFC 3339 in UTC) -> nanoseconds since the epoch.
inline int64_t utc_ns(const std::string& s) {
  std::tm tm{};
  if (!is_utc_time(s) || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) {
    ADD_FAILURE() << "not a UTC time: " << s;
    return 0;
  }
  int64_t ns = static_cast<int64_t>(timegm(&tm)) * 1'000'000'000;
  if (s[19] == '.') {
    std::string frac = s.substr(20, s.size() - 21);
    frac.resize(9, '0');
    ns += std::stoll(frac);
  }
  return ns;
}

struct Cluster {
  std::vector<std::unique_ptr<Node>> nodes;
  NodeList list;
  std::vector<std::string> ids;
  std::set<std::string> id_set() const { return {ids.begin(), ids.end()}; }
};

// `extra`: config lines after kConfig, on every node.
inline ::testing::AssertionResult start(const std::vector<Kind>& kinds, Cluster& c, const std::string& extra = "") {
  auto configs = kinds.size() == 1 ? std::vector<NodeConfig>{single_config(kinds[0], "sys0", "sys-it")}
                                   : mesh_configs(kinds, "sys-it");
  for (auto& cfg : configs) {
    cfg.config = std::string(kConfig) + extra;
    c.nodes.push_back(std::make_unique<Node>(std::move(cfg)));
    if (!c.nodes.back()->start()) return ::testing::AssertionFailure() << "node did not start";
    c.list.push_back(c.nodes.back().get());
  }
  std::string why;
  if (kinds.size() > 1 && !wait_mesh(c.list, 20s, &why)) return ::testing::AssertionFailure() << why;
  for (auto* n : c.list) c.ids.push_back(n->server_id());
  return ::testing::AssertionSuccess();
}

// Requests in the system account and gathers the replies: one wildcard inbox whose interest
// crosses the routes once, and a reply subject of its own per request.
class Requester {
 public:
  explicit Requester(Client& c) : c_(c), prefix_("_INBOX.sysit." + std::to_string(next_++)) {
    sub_ = AsyncSub::make(c, prefix_ + ".>", col_);
    c.flush();
  }
  // Until every server in `ids` has answered `subject` (our inbox's interest reached it, and
  // its request interest reached us).
  bool warm_up(const std::string& subject, const std::set<std::string>& ids) {
    std::set<std::string> seen;
    auto deadline = Clock::now() + kArrival;
    while (Clock::now() < deadline) {
      for (const auto& r : request(subject, "", ids.size(), 200ms, 1s)) seen.insert(str(obj(r, "server"), "id"));
      if (seen == ids) return true;
    }
    return false;
  }
  // One request: waits for `want` replies, then until no more come (kQuiet).
  std::vector<json::object> request(const std::string& subject, const std::string& body, size_t want,
                                    milliseconds quiet = kQuiet, milliseconds arrival = kArrival) {
    std::vector<json::object> out;
    for (const auto& m : request_raw(subject, body, want, quiet, arrival)) out.push_back(parse(m.data));
    return out;
  }
  // The same, the replies as they came (a "no responders" status has no body).
  std::vector<Received> request_raw(const std::string& subject, const std::string& body, size_t want,
                                    milliseconds quiet = kQuiet, milliseconds arrival = kArrival) {
    std::string reply = prefix_ + "." + std::to_string(n_++);
    EXPECT_EQ(publish(c_, subject, body, reply), NATS_OK);
    c_.flush();
    auto mine = [&](const std::vector<Received>& ms) {
      size_t k = 0;
      for (const auto& m : ms) k += m.subject == reply;
      return k;
    };
    col_->wait([&](const std::vector<Received>& ms) { return mine(ms) >= want; }, arrival);
    col_->wait_quiet(quiet, kArrival);
    std::vector<Received> out;
    for (const auto& m : col_->messages()) {
      if (m.subject == reply) out.push_back(m);
    }
    return out;
  }

 private:
  static inline std::atomic<int> next_{0};
  Client& c_;
  std::string prefix_;
  int n_ = 0;
  std::shared_ptr<Collector> col_ = std::make_shared<Collector>();
  std::unique_ptr<AsyncSub> sub_;
};

inline std::set<std::string> answering_ids(const std::vector<json::object>& replies) {
  std::set<std::string> ids;
  for (const auto& r : replies) ids.insert(str(obj(r, "server"), "id"));
  return ids;
}

}  // namespace pylon::it::cluster::sysit
