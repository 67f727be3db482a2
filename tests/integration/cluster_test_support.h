// What the cluster tests share (cluster_test.cc, cluster_messaging_test.cc): small checks over
// URLs, server lists and subjects, and ClusterBase, which starts a mesh of Pylon and
// nats-server nodes and connects libnats clients to it. cluster_test.cc's header says how.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster_harness.h"
#include "harness.h"

namespace pylon::it::cluster {


inline constexpr Kind P = Kind::kPylon;
inline constexpr Kind N = Kind::kNats;

inline void report(const std::string& text) {
  std::printf("[ CLUSTER  ] %s\n", text.c_str());
  std::fflush(stdout);
}

inline std::string port_suffix(const Node& n) { return ":" + std::to_string(n.client_port()); }

inline bool url_is(const std::string& url, const Node& n) {
  auto s = port_suffix(n);
  return url.size() >= s.size() && url.compare(url.size() - s.size(), s.size(), s) == 0;
}

inline bool lists_node(const std::vector<std::string>& servers, const Node& n) {
  return std::any_of(servers.begin(), servers.end(), [&](const std::string& u) { return url_is(u, n); });
}

inline bool subject_matches(const std::string& pattern, const std::string& subject) {
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string t; std::getline(ss, t, '.');) out.push_back(t);
    return out;
  };
  auto p = split(pattern), s = split(subject);
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return s.size() > i;
    if (i >= s.size()) return false;
    if (p[i] != "*" && p[i] != s[i]) return false;
  }
  return p.size() == s.size();
}

// Waits until `col` holds every payload of `expected` (among messages whose
// payload starts with `prefix`), then checks that each arrived exactly once and
// nothing else with the prefix did.
inline ::testing::AssertionResult exactly_once(const Collector& col, const std::string& prefix,
                                        const std::set<std::string>& expected, milliseconds timeout = 10s) {
  auto have_all = [&](const std::vector<Received>& msgs) {
    std::set<std::string> seen;
    for (auto& m : msgs)
      if (m.data.rfind(prefix, 0) == 0 && expected.count(m.data)) seen.insert(m.data);
    return seen.size() == expected.size();
  };
  bool complete = col.wait(have_all, timeout);
  std::map<std::string, int> counts;
  for (auto& m : col.messages())
    if (m.data.rfind(prefix, 0) == 0) ++counts[m.data];
  std::vector<std::string> missing, dups, extra;
  for (auto& e : expected)
    if (!counts.count(e)) missing.push_back(e);
  for (auto& [d, c] : counts) {
    if (!expected.count(d)) extra.push_back(d);
    if (c > 1) dups.push_back(d + " x" + std::to_string(c));
  }
  if (complete && dups.empty() && extra.empty()) return ::testing::AssertionSuccess();
  auto head = [](const std::vector<std::string>& v) {
    std::vector<std::string> h(v.begin(), v.begin() + std::min<size_t>(v.size(), 8));
    return std::to_string(v.size()) + " [" + join(h, " ") + (v.size() > 8 ? " ..." : "") + "]";
  };
  return ::testing::AssertionFailure() << "prefix '" << prefix << "': expected " << expected.size() << ", missing "
                                       << head(missing) << ", duplicates " << head(dups) << ", unexpected "
                                       << head(extra);
}

inline std::set<std::string> payloads(const std::string& prefix, int n) {
  std::set<std::string> out;
  for (int i = 0; i < n; ++i) out.insert(prefix + std::to_string(i));
  return out;
}

// Retries a request until it succeeds (interest has propagated) or the deadline
// passes.
inline natsStatus request_until_ok(Client& c, const std::string& subject, std::string* reply_data, milliseconds timeout,
                            int* attempts = nullptr) {
  auto deadline = Clock::now() + timeout;
  natsStatus s = NATS_TIMEOUT;
  int n = 0;
  do {
    natsMsg* reply = nullptr;
    ++n;
    s = natsConnection_RequestString(&reply, c.nc(), subject.c_str(), "probe-request", 250);
    if (s == NATS_OK) {
      if (reply_data) reply_data->assign(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
      natsMsg_Destroy(reply);
      break;
    }
    if (s == NATS_NO_RESPONDERS) std::this_thread::sleep_for(10ms);  // answered at once: pace the retries
  } while (Clock::now() < deadline);
  if (attempts) *attempts = n;
  return s;
}

// Retries a request until the publisher's node answers "no responders" (the
// interest is gone).
inline bool request_until_no_responders(Client& c, const std::string& subject, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  do {
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_RequestString(&reply, c.nc(), subject.c_str(), "probe-request", 250);
    if (reply) natsMsg_Destroy(reply);
    if (s == NATS_NO_RESPONDERS) return true;
    std::this_thread::sleep_for(10ms);
  } while (Clock::now() < deadline);
  return false;
}

// ------------------------------------------------------------------ fixture

class ClusterBase : public ::testing::Test {
 protected:
  Node& node(size_t i) { return *nodes_.at(i); }
  Node& add_node(NodeConfig c) {
    nodes_.push_back(std::make_unique<Node>(std::move(c)));
    return *nodes_.back();
  }
  NodeList all() {
    NodeList out;
    for (auto& n : nodes_) out.push_back(n.get());
    return out;
  }
  NodeList some(std::initializer_list<int> idx) {
    NodeList out;
    for (int i : idx) out.push_back(&node(i));
    return out;
  }

  // Starts nodes of the given kinds, each routing to all others, and waits for
  // the full mesh.
  void start_mesh(const std::vector<Kind>& kinds, milliseconds timeout = 20s) {
    for (auto& c : mesh_configs(kinds)) add_node(std::move(c));
    for (auto& n : nodes_) ASSERT_TRUE(n->start());
    std::string why;
    auto t0 = Clock::now();
    ASSERT_TRUE(wait_mesh(all(), timeout, &why)) << "no full mesh within " << timeout.count() << " ms:\n" << why;
    report("mesh of " + std::to_string(kinds.size()) + " complete after " +
           std::to_string(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count()) + " ms");
  }

  std::vector<std::string> urls(const std::vector<int>& order) {
    std::vector<std::string> out;
    for (int i : order) out.push_back(node(i).client_url());
    return out;
  }
  // A client on node i only, without reconnection.
  std::unique_ptr<Client> pinned(int i, const std::string& name = "") {
    ClientOptions o;
    o.allow_reconnect = false;
    o.name = name.empty() ? "pinned-" + std::to_string(i) : name;
    return Client::connect({node(i).client_url()}, o);
  }
  std::unique_ptr<Client> failover(const std::vector<int>& order, ClientOptions o = {}) {
    return Client::connect(urls(order), o);
  }

  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace pylon::it::cluster
