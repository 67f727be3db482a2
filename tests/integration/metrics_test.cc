// /metrics (the Prometheus text exposition) and the route facts it shares with /routez (rtt,
// last_activity), against real Pylon nodes with libnats traffic. The exposition is checked by
// Prometheus' own `promtool check metrics` and read back by a small parser of the text format,
// so every number can be compared with /varz and /routez taken at the same quiet moment.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cluster_harness.h"
#include "harness.h"
#include "nats_c.h"

namespace pylon::it {
namespace {

namespace json = boost::json;
using cluster::Client;
using cluster::ClientOptions;
using cluster::Collector;
using cluster::Kind;
using cluster::Node;
using cluster::NodeConfig;

constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// ------------------------------------------------------------------ HTTP

json::object get_json(int port, const std::string& target) {
  auto a = http_get(port, target);
  if (!a || a->status != 200) {
    ADD_FAILURE() << "GET " << target << " on " << port << " failed";
    return {};
  }
  try {
    auto v = json::parse(a->body);
    if (v.is_object()) return v.as_object();
  } catch (const std::exception& e) {
    ADD_FAILURE() << target << ": not JSON (" << e.what() << ")";
  }
  return {};
}

double jnum(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_number()) {
    ADD_FAILURE() << "no number " << key << " in " << json::serialize(o);
    return -1;
  }
  return v->to_number<double>();
}

std::string jstr(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) {
    ADD_FAILURE() << "no string " << key << " in " << json::serialize(o);
    return {};
  }
  return std::string(v->get_string());
}

// ------------------------------------------------------------------ the text format

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// A parsed exposition (text format 0.0.4, counters and gauges).
struct Exposition {
  std::map<std::string, std::string> types;  // family -> "counter" / "gauge" / ...
  std::map<std::string, std::string> help;   // family -> unescaped HELP text
  std::vector<Sample> samples;

  // The value of the one sample `name` whose labels include `match`; fails the test when
  // there is none or more than one.
  double value(const std::string& name, const Labels& match = {}) const {
    std::optional<double> found;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool ok = true;
      for (const auto& [k, v] : match) {
        auto it = s.labels.find(k);
        ok = ok && it != s.labels.end() && it->second == v;
      }
      if (!ok) continue;
      if (found) ADD_FAILURE() << "more than one " << name << " sample matches";
      found = s.value;
    }
    if (!found) {
      ADD_FAILURE() << "no " << name << " sample matches";
      return -1;
    }
    return *found;
  }
  std::vector<const Sample*> all(const std::string& name) const {
    std::vector<const Sample*> out;
    for (const auto& s : samples)
      if (s.name == name) out.push_back(&s);
    return out;
  }
};

bool name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

// Parses `text`; on a malformed line returns nullopt with the reason in *err.
std::optional<Exposition> parse_exposition(const std::string& text, std::string* err) {
  Exposition e;
  size_t pos = 0;
  int lineno = 0;
  auto fail = [&](const std::string& why, const std::string& line) {
    *err = "line " + std::to_string(lineno) + ": " + why + ": " + line;
    return std::nullopt;
  };
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) {
      *err = "the exposition does not end with a newline";
      return std::nullopt;
    }
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++lineno;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::string kind = line.substr(0, 7);
      if (kind != "# HELP " && kind != "# TYPE ") continue;  // a comment
      auto sp = line.find(' ', 7);
      if (sp == std::string::npos) return fail("no text after the metric name", line);
      std::string name = line.substr(7, sp - 7), rest = line.substr(sp + 1);
      if (kind == "# TYPE ") {
        if (e.types.count(name)) return fail("a second TYPE", line);
        e.types[name] = rest;
      } else {
        std::string h;
        for (size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\' && i + 1 < rest.size()) {
            ++i;
            h += rest[i] == 'n' ? '\n' : rest[i];
          } else {
            h += rest[i];
          }
        }
        if (e.help.count(name)) return fail("a second HELP", line);
        e.help[name] = h;
      }
      continue;
    }
    Sample s;
    size_t i = 0;
    while (i < line.size() && name_char(line[i], i == 0)) ++i;
    if (i == 0) return fail("no metric name", line);
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t k = i;
        while (i < line.size() && name_char(line[i], i == k)) ++i;
        std::string key = line.substr(k, i - k);
        if (key.empty() || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"')
          return fail("bad label", line);
        i += 2;
        std::string v;
        for (; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\') {
            if (++i >= line.size()) return fail("dangling escape", line);
            if (line[i] == 'n') v += '\n';
            else if (line[i] == '\\' || line[i] == '"') v += line[i];
            else return fail("unknown escape", line);
          } else {
            v += line[i];
          }
        }
        if (i >= line.size()) return fail("unterminated label value", line);
        ++i;  // closing quote
        if (s.labels.count(key)) return fail("repeated label " + key, line);
        s.labels[key] = v;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return fail("unterminated label set", line);
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') return fail("no value", line);
    std::string value = line.substr(i + 1);
    if (value.find(' ') != std::string::npos) return fail("unexpected timestamp or text after the value", line);
    char* end = nullptr;
    s.value = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0') return fail("bad value", line);
    e.samples.push_back(std::move(s));
  }
  return e;
}

// Prometheus' own parser and linter: exit code and everything it printed.
ShellResult promtool_check(const std::string& exposition, const TempDir& dir) {
  std::string file = dir.write("metrics.txt", exposition);
  std::string cmd = std::string(kPromtool) + " check metrics < '" + file + "' 2>&1";
  return run_shell(cmd);
}

// The metric names in the first column of docs/monitoring.md's /metrics table.
std::set<std::string> documented_families() {
  std::string doc = read_file(std::string(PYLON_SOURCE_DIR) + "/docs/monitoring.md");
  auto start = doc.find("### `/metrics`");
  EXPECT_NE(start, std::string::npos) << "no /metrics section in docs/monitoring.md";
  std::set<std::string> out;
  if (start == std::string::npos) return out;
  auto end = doc.find("\n## ", start);
  std::istringstream in(doc.substr(start, end == std::string::npos ? std::string::npos : end - start));
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("| `")) continue;
    std::string first = line.substr(1, line.find('|', 1) - 1);
    for (size_t a = first.find('`'); a != std::string::npos; a = first.find('`', a)) {
      size_t b = first.find('`', a + 1);
      if (b == std::string::npos) break;
      out.insert(first.substr(a + 1, b - a - 1));
      a = b + 1;
    }
  }
  return out;
}

// ------------------------------------------------------------------ fetching

Exposition get_metrics(int http_port) {
  auto a = http_get(http_port, "/metrics");
  if (!a) {
    ADD_FAILURE() << "GET /metrics on " << http_port << " failed";
    return {};
  }
  EXPECT_EQ(a->status, 200) << a->body;
  EXPECT_EQ(a->content_type, kContentType);
  std::string err;
  auto e = parse_exposition(a->body, &err);
  if (!e) {
    ADD_FAILURE() << "unparsable exposition: " << err << "\n" << a->body;
    return {};
  }
  return *e;
}

// RFC 3339 with optional fraction, UTC ("2026-12-01T19:00:00.123Z") -> ns since the epoch.
int64_t rfc3339_ns(const std::string& s) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &consumed) != 6) {
    ADD_FAILURE() << "not RFC 3339: " << s;
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t ns = static_cast<int64_t>(::timegm(&tm)) * 1'000'000'000;
  if (static_cast<size_t>(consumed) < s.size() && s[static_cast<size_t>(consumed)] == '.') {
    int64_t scale = 100'000'000;
    for (size_t i = static_cast<size_t>(consumed) + 1; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]));
         ++i, scale /= 10)
      ns += (s[i] - '0') * scale;
  }
  return ns;
}

// The /routez entry of the route to `remote_id`.
std::optional<json::object> route_to(const json::object& routez, const std::string& remote_id) {
  auto* routes = routez.if_contains("routes");
  if (!routes || !routes->is_array()) return std::nullopt;
  for (const auto& r : routes->get_array()) {
    if (r.is_object() && r.as_object().contains("remote_id") && r.as_object().at("remote_id") == remote_id.c_str())
      return r.as_object();
  }
  return std::nullopt;
}

// ------------------------------------------------------------------ fixture

class Metrics : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_IF_REFERENCE("/metrics and Pylon's route RTT are Pylon's own"); }

  // Two nodes routed to each other; `names` exercise label escaping.
  void start_pair(const std::vector<std::string>& names = {"m1", "m2"},
                  const std::vector<Kind>& kinds = {Kind::kPylon, Kind::kPylon}, const std::string& config = "") {
    auto cfgs = cluster::mesh_configs(kinds);
    for (size_t i = 0; i < cfgs.size(); ++i) {
      cfgs[i].name = names[i];
      cfgs[i].config = config;
      nodes_.push_back(std::make_unique<Node>(cfgs[i]));
    }
    for (auto& n : nodes_) ASSERT_TRUE(n->start());
    std::string why;
    ASSERT_TRUE(cluster::wait_mesh({nodes_[0].get(), nodes_[1].get()}, 20s, &why)) << why;
  }
  Node& node(size_t i) { return *nodes_[i]; }
  std::unique_ptr<Client> pinned(size_t i) {
    ClientOptions o;
    o.allow_reconnect = false;
    o.name = "metrics-" + std::to_string(i);
    return Client::connect({node(i).client_url()}, o);
  }

  void TearDown() override {
    std::vector<Node*> all;
    for (auto& n : nodes_) all.push_back(n.get());
    if (!all.empty()) cluster::stop_all(all);
  }

  std::vector<std::unique_ptr<Node>> nodes_;
  TempDir tmp_;
};

// Traffic from a publisher on node 0 to a subscriber on node 1: `n` messages on `subject`,
// all delivered and both clients flushed, so every counter on both nodes has settled.
void send_and_settle(Client& pub, Client& sub_client, Collector& col, const std::string& subject, int n,
                     size_t* delivered) {
  for (int i = 0; i < n; ++i) {
    std::string body = "payload-" + std::to_string(i) + std::string(static_cast<size_t>(i % 7) * 10, 'x');
    ASSERT_EQ(cluster::publish(pub, subject, body), NATS_OK);
  }
  ASSERT_TRUE(pub.flush());
  *delivered += static_cast<size_t>(n);
  ASSERT_TRUE(col.wait_count(*delivered, 10s)) << "delivered " << col.count() << " of " << *delivered;
  ASSERT_TRUE(sub_client.flush());
}

// ------------------------------------------------------------------ tests

TEST_F(Metrics, ClusterExpositionPassesPromtoolAndAgreesWithVarzAndRoutez) {
  ASSERT_TRUE(::access(kPromtool, X_OK) == 0) << kPromtool << " missing (Debian package prometheus)";
  // Server names with a quote and a backslash: their label values must be escaped.
  // No system account: its periodic events (STATSZ) cross the route too, and one landing
  // between two scrapes would break the exact counts below.
  ASSERT_NO_FATAL_FAILURE(
      start_pair({"m1\"quoted\"", "m2\\slash"}, {Kind::kPylon, Kind::kPylon}, "no_system_account: true\n"));
  auto pub = pinned(0), sub_client = pinned(1);
  ASSERT_TRUE(pub && sub_client);
  auto col = std::make_shared<Collector>();
  auto sub = cluster::AsyncSub::make(*sub_client, "metrics.traffic", col);
  ASSERT_TRUE(sub);
  ASSERT_TRUE(cluster::await_interest(*pub, "metrics.traffic", *col, "m"));
  size_t delivered = 0;
  ASSERT_NO_FATAL_FAILURE(send_and_settle(*pub, *sub_client, *col, "metrics.traffic", 50, &delivered));

  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE("node " + node(i).name());
    int http = node(i).http_port();
    auto raw = http_get(http, "/metrics");
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->status, 200);
    EXPECT_EQ(raw->content_type, kContentType);

    // Prometheus' parser and linter find nothing to say.
    ShellResult check = promtool_check(raw->body, tmp_);
    EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << raw->body;
    EXPECT_EQ(check.output, "") << raw->body;

    std::string err;
    auto e = parse_exposition(raw->body, &err);
    ASSERT_TRUE(e) << err << "\n" << raw->body;
    // Every sample belongs to a family with HELP and TYPE; counters end in _total.
    for (const auto& s : e->samples) {
      ASSERT_TRUE(e->types.count(s.name)) << "no TYPE for " << s.name;
      ASSERT_TRUE(e->help.count(s.name)) << "no HELP for " << s.name;
      if (e->types.at(s.name) == "counter") {
        EXPECT_TRUE(s.name.ends_with("_total")) << s.name;
      }
    }
    // The families are exactly those docs/monitoring.md lists, and in a cluster with traffic
    // every one of them has samples.
    std::set<std::string> families;
    for (const auto& [name, type] : e->types) families.insert(name);
    EXPECT_EQ(families, documented_families());
    for (const auto& f : families) EXPECT_FALSE(e->all(f).empty()) << "no samples of " << f;

    // The same moment through /metrics and /varz: nothing moves between them (no traffic),
    // which the two /varz around the scrape prove.
    json::object before = get_json(http, "/varz");
    Exposition m = get_metrics(http);
    json::object after = get_json(http, "/varz");
    json::object routez = get_json(http, "/routez");
    for (const char* k : {"in_msgs", "out_msgs", "in_bytes", "out_bytes", "connections", "subscriptions"})
      ASSERT_EQ(jnum(before, k), jnum(after, k)) << k << " moved while the cluster was idle";

    auto info = m.all("pylon_server_info");
    ASSERT_EQ(info.size(), 1u);
    EXPECT_EQ(info[0]->labels.at("server_id"), jstr(after, "server_id"));
    EXPECT_EQ(info[0]->labels.at("server_name"), node(i).name());  // escaped and read back
    EXPECT_EQ(info[0]->labels.at("version"), jstr(after, "version"));
    EXPECT_EQ(info[0]->labels.at("cluster"), "pylon-it");
    EXPECT_EQ(info[0]->value, 1);

    EXPECT_EQ(m.value("pylon_in_messages_total"), jnum(after, "in_msgs"));
    EXPECT_EQ(m.value("pylon_out_messages_total"), jnum(after, "out_msgs"));
    EXPECT_EQ(m.value("pylon_in_bytes_total"), jnum(after, "in_bytes"));
    EXPECT_EQ(m.value("pylon_out_bytes_total"), jnum(after, "out_bytes"));
    EXPECT_EQ(m.value("pylon_client_connections"), jnum(after, "connections"));
    EXPECT_EQ(m.value("pylon_client_connections"), 1);
    EXPECT_EQ(m.value("pylon_client_connections_accepted_total"), jnum(after, "total_connections"));
    EXPECT_EQ(m.value("pylon_max_client_connections"), jnum(after, "max_connections"));
    EXPECT_EQ(m.value("pylon_subscriptions"), jnum(after, "subscriptions"));
    EXPECT_EQ(m.value("pylon_slow_consumers_total"), jnum(after, "slow_consumers"));
    EXPECT_EQ(m.value("pylon_routes"), jnum(after, "routes"));
    EXPECT_EQ(m.value("pylon_routes"), 1);
    // The scrape counts itself; /varz (after it) saw the same count for /metrics.
    auto& req = after.at("http_req_stats").as_object();
    const Labels metrics_path{{"path", "/metrics"}};
    EXPECT_EQ(m.value("pylon_http_requests_total", metrics_path), req.at("/metrics").to_number<double>());
    EXPECT_GE(m.value("pylon_server_uptime_seconds"), 0);
    EXPECT_GT(m.value("process_resident_memory_bytes"), 0);
    EXPECT_GT(m.value("process_open_fds"), 0);
    EXPECT_GE(m.value("process_max_fds"), m.value("process_open_fds"));
    EXPECT_GT(m.value("process_start_time_seconds"), 1.6e9);
    EXPECT_NEAR(m.value("process_start_time_seconds"), m.value("pylon_server_start_time_seconds"), 5);

    // Per route: the same numbers as /routez, labelled with the peer.
    const auto& routes = routez.at("routes").as_array();
    ASSERT_EQ(routes.size(), 1u);
    const auto& r = routes[0].as_object();
    Labels peer{{"remote_id", jstr(r, "remote_id")}, {"remote_name", node(1 - i).name()}};
    EXPECT_EQ(m.value("pylon_route_in_messages_total", peer), jnum(r, "in_msgs"));
    EXPECT_EQ(m.value("pylon_route_out_messages_total", peer), jnum(r, "out_msgs"));
    EXPECT_EQ(m.value("pylon_route_in_bytes_total", peer), jnum(r, "in_bytes"));
    EXPECT_EQ(m.value("pylon_route_out_bytes_total", peer), jnum(r, "out_bytes"));
    EXPECT_EQ(m.value("pylon_route_pending_bytes", peer), jnum(r, "pending_size"));
    EXPECT_EQ(m.value("pylon_route_subscriptions", peer), jnum(r, "subscriptions"));
    const Labels route{{"rid", std::to_string(static_cast<int64_t>(jnum(r, "rid")))},
                       {"remote_id", jstr(r, "remote_id")}};
    EXPECT_EQ(m.value("pylon_route_info", route), 1);
    EXPECT_NEAR(m.value("pylon_route_start_time_seconds", peer), rfc3339_ns(jstr(r, "start")) / 1e9, 1e-3);
    EXPECT_NEAR(m.value("pylon_route_last_activity_timestamp_seconds", peer),
                rfc3339_ns(jstr(r, "last_activity")) / 1e9, 1e-3);
    // The traffic went node 0 -> node 1.
    EXPECT_GE(m.value(i == 0 ? "pylon_route_out_messages_total" : "pylon_route_in_messages_total", peer), 50);
  }

  // More traffic: the counters rise by exactly what was sent.
  std::string id1 = node(1).server_id(), id0 = node(0).server_id();
  Exposition m0 = get_metrics(node(0).http_port()), m1 = get_metrics(node(1).http_port());
  ASSERT_NO_FATAL_FAILURE(send_and_settle(*pub, *sub_client, *col, "metrics.traffic", 10, &delivered));
  Exposition n0 = get_metrics(node(0).http_port()), n1 = get_metrics(node(1).http_port());
  EXPECT_EQ(n0.value("pylon_in_messages_total") - m0.value("pylon_in_messages_total"), 10);
  const Labels to1{{"remote_id", id1}}, to0{{"remote_id", id0}}, metrics_path{{"path", "/metrics"}};
  EXPECT_EQ(n0.value("pylon_route_out_messages_total", to1) - m0.value("pylon_route_out_messages_total", to1), 10);
  EXPECT_GT(n0.value("pylon_route_out_bytes_total", to1), m0.value("pylon_route_out_bytes_total", to1));
  EXPECT_EQ(n1.value("pylon_route_in_messages_total", to0) - m1.value("pylon_route_in_messages_total", to0), 10);
  EXPECT_EQ(n1.value("pylon_out_messages_total") - m1.value("pylon_out_messages_total"), 10);
  EXPECT_EQ(n0.value("pylon_http_requests_total", metrics_path) - m0.value("pylon_http_requests_total", metrics_path),
            1);
}

TEST_F(Metrics, SlowConsumerCounterRisesWhenOneIsCut) {
  int http = pick_free_port();
  ServerProcess server(with_config("max_payload: 65536\nmax_pending: 262144\nwrite_deadline: \"500ms\"\n",
                                   {"-m", std::to_string(http)}));
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(wait_for([&] { return http_get(http, "/healthz").has_value(); }, 10s));
  EXPECT_EQ(get_metrics(http).value("pylon_slow_consumers_total"), 0);
  // Without a cluster the route families are there, empty.
  {
    Exposition e = get_metrics(http);
    EXPECT_EQ(e.value("pylon_routes"), 0);
    EXPECT_TRUE(e.all("pylon_route_in_messages_total").empty());
    EXPECT_EQ(e.types.at("pylon_route_in_messages_total"), "counter");
    EXPECT_EQ(e.all("pylon_server_info").at(0)->labels.at("cluster"), "");
  }

  // The slow consumer: a tiny receive buffer, subscribes, then never reads again.
  RawClient slow;
  ASSERT_TRUE(slow.connect(server.port(), 5s, 4096));
  ASSERT_TRUE(slow.read_info());
  ASSERT_TRUE(slow.handshake(R"({"verbose":false,"pedantic":false})"));
  ASSERT_TRUE(slow.send("SUB flood 1\r\n"));
  ASSERT_TRUE(slow.ping_pong());
  auto pub = nats_connect(server.url());
  ASSERT_TRUE(pub);
  const std::string pad(1024, 'z');
  auto deadline = Clock::now() + 60s;
  double cut = 0;
  for (int sent = 0; cut == 0 && sent < 256 * 1024 && Clock::now() < deadline;) {
    for (int i = 0; i < 100; ++i, ++sent) {
      ASSERT_EQ(natsConnection_PublishString(pub.get(), "flood", pad.c_str()), NATS_OK);
    }
    ASSERT_TRUE(flush(pub.get()));
    cut = get_metrics(http).value("pylon_slow_consumers_total");
  }
  EXPECT_EQ(cut, 1) << "the slow consumer was not counted";
  EXPECT_EQ(cut, jnum(get_json(http, "/varz"), "slow_consumers"));
  EXPECT_TRUE(slow.expect_closed(20s)) << "slow consumer still connected";
}

// A storm of bad input must not flood the log (STYLE.md): error lines about peers share a
// budget of 100 a second, and every line left out is counted, in /metrics and in a warning.
TEST_F(Metrics, APeerErrorStormIsRateLimitedAndEveryLineIsAccountedFor) {
  constexpr int kViolations = 1000;
  int http = pick_free_port();
  ServerProcess server(with_config(
      "authorization { users: [ {user: a, password: b, permissions: { publish: { deny: [\"secret\"] } } } ] }\n",
      {"-m", std::to_string(http)}));
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(wait_for([&] { return http_get(http, "/healthz").has_value(); }, 10s));
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  ASSERT_TRUE(c.read_info());
  ASSERT_TRUE(c.handshake(R"({"verbose":false,"pedantic":false,"user":"a","pass":"b"})"));
  // Each denied PUB is logged (or counted) and answered, and the connection stays: 1,000 of
  // them arrive far faster than 100 a second.
  std::string storm;
  for (int i = 0; i < kViolations; ++i) storm += "PUB secret 0\r\n\r\n";
  ASSERT_TRUE(c.send(storm));
  std::vector<std::string> before;
  ASSERT_TRUE(c.ping_pong(60s, &before)) << "the violating client was not answered";
  EXPECT_EQ(std::count_if(before.begin(), before.end(),
                          [](const std::string& l) { return l.starts_with("-ERR 'Permissions Violation"); }),
            kViolations);

  auto count = [&](std::string_view needle) {
    std::string log = server.log();
    int n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  };
  int logged = count("Publish Violation - User \"a\"");
  double suppressed = get_metrics(http).value("pylon_log_peer_lines_suppressed_total");
  EXPECT_GT(suppressed, 0) << "no line of the storm was left out";
  EXPECT_EQ(logged + suppressed, kViolations) << logged << " logged";

  // The count comes out as a warning with the next line once each second of the storm is
  // over (a slow machine spreads the storm over more than one): every suppressed line is
  // reported.
  double reported = 0;
  auto sum_reported = [&] {
    reported = 0;
    std::string log = server.log();
    for (size_t at = log.find("Log rate limit: "); at != std::string::npos; at = log.find("Log rate limit: ", at + 1)) {
      reported += std::stod(log.substr(at + std::strlen("Log rate limit: ")));
    }
    return reported;
  };
  EXPECT_TRUE(wait_for(
      [&] {
        c.send("PUB secret 0\r\n\r\n");
        return sum_reported() >= suppressed;
      },
      10s, 100ms))
      << reported << " reported of " << suppressed << "; " << server.log().substr(0, 2000);
  EXPECT_LE(reported, get_metrics(http).value("pylon_log_peer_lines_suppressed_total"));
}

TEST_F(Metrics, RoutezRttIsMeasuredAndLastActivityAdvancesWithTraffic) {
  // Without a system account: its interest and the servers' STATSZ (every node listens to the
  // others', as the reference's) would cross the route and move last_activity on their own.
  ASSERT_NO_FATAL_FAILURE(start_pair({"m1", "m2"}, {Kind::kPylon, Kind::kPylon}, "no_system_account: true\n"));
  std::string id0 = node(0).server_id(), id1 = node(1).server_id();
  auto route_of = [&](size_t i) -> std::optional<json::object> {
    auto rz = node(i).routez();
    if (!rz) return std::nullopt;
    return route_to(*rz, i == 0 ? id1 : id0);
  };
  auto r0 = route_of(0), r1 = route_of(1);
  ASSERT_TRUE(r0 && r1);
  // No client, no interest: nothing has crossed but the handshake, so last_activity is the start.
  int64_t last0 = rfc3339_ns(jstr(*r0, "last_activity")), last1 = rfc3339_ns(jstr(*r1, "last_activity"));
  EXPECT_EQ(last0, rfc3339_ns(jstr(*r0, "start")));
  EXPECT_EQ(last1, rfc3339_ns(jstr(*r1, "start")));

  // The first PING goes out about a second after the route is up; its PONG gives the RTT.
  for (size_t i = 0; i < 2; ++i) {
    std::string rtt;
    EXPECT_TRUE(wait_for(
        [&] {
          auto r = route_of(i);
          rtt = r ? jstr(*r, "rtt") : "";
          return !rtt.empty() && rtt != "0s";
        },
        10s, 50ms))
        << "node " << i << " rtt still " << rtt;
    const Labels to_peer{{"remote_id", i == 0 ? id1 : id0}};
    EXPECT_GT(get_metrics(node(i).http_port()).value("pylon_route_rtt_seconds", to_peer), 0);
  }
  // PING/PONG is not activity (as the reference): still the start time.
  EXPECT_EQ(rfc3339_ns(jstr(*route_of(0), "last_activity")), last0);
  EXPECT_EQ(rfc3339_ns(jstr(*route_of(1), "last_activity")), last1);

  // Interest (RS+ to node 0) and messages (RMSG to node 1) move it forward.
  auto pub = pinned(0), sub_client = pinned(1);
  ASSERT_TRUE(pub && sub_client);
  auto col = std::make_shared<Collector>();
  auto sub = cluster::AsyncSub::make(*sub_client, "activity", col);
  ASSERT_TRUE(sub);
  ASSERT_TRUE(cluster::await_interest(*pub, "activity", *col, "a"));
  EXPECT_TRUE(wait_for([&] { return rfc3339_ns(jstr(*route_of(0), "last_activity")) > last0; }, 10s, 20ms))
      << "node 0's route did not record the peer's RS+";
  int64_t mid1 = 0;
  EXPECT_TRUE(wait_for(
      [&] {
        mid1 = rfc3339_ns(jstr(*route_of(1), "last_activity"));
        return mid1 > last1;
      },
      10s, 20ms))
      << "node 1's route did not record the RMSGs";
  size_t delivered = 0;
  ASSERT_NO_FATAL_FAILURE(send_and_settle(*pub, *sub_client, *col, "activity", 5, &delivered));
  EXPECT_GT(rfc3339_ns(jstr(*route_of(1), "last_activity")), mid1) << "later messages did not advance it";
}

TEST_F(Metrics, RouteToNatsServerHasRttAndActivity) {
  // Our PING to the reference server is answered as any other: the RTT does not depend on
  // the peer being Pylon; and its RMSGs count as activity.
  ASSERT_NO_FATAL_FAILURE(start_pair({"pylon1", "nats2"}, {Kind::kPylon, Kind::kNats}));
  std::string nats_id = node(1).server_id();
  auto route = [&]() -> std::optional<json::object> {
    auto rz = node(0).routez();
    return rz ? route_to(*rz, nats_id) : std::nullopt;
  };
  ASSERT_TRUE(route());
  int64_t last = rfc3339_ns(jstr(*route(), "last_activity"));
  EXPECT_TRUE(wait_for([&] { return route() && jstr(*route(), "rtt") != "0s"; }, 10s, 50ms))
      << "rtt to nats-server still 0s";
  auto pub = pinned(1), sub_client = pinned(0);
  ASSERT_TRUE(pub && sub_client);
  auto col = std::make_shared<Collector>();
  auto sub = cluster::AsyncSub::make(*sub_client, "from.nats", col);
  ASSERT_TRUE(sub);
  ASSERT_TRUE(cluster::await_interest(*pub, "from.nats", *col, "n"));
  size_t delivered = 0;
  ASSERT_NO_FATAL_FAILURE(send_and_settle(*pub, *sub_client, *col, "from.nats", 5, &delivered));
  EXPECT_GT(rfc3339_ns(jstr(*route(), "last_activity")), last);
  Exposition m = get_metrics(node(0).http_port());
  const Labels peer{{"remote_id", nats_id}, {"remote_name", "nats2"}};
  EXPECT_GT(m.value("pylon_route_rtt_seconds", peer), 0);
  EXPECT_GE(m.value("pylon_route_in_messages_total", peer), 5);
}

}  // namespace
}  // namespace pylon::it
