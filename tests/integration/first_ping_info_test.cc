// A client that was accepted before a route registered, and sends CONNECT only afterwards,
// was skipped by the cluster's async INFO (it goes to connected clients only). The
// reference server repairs this in client.processPing: on the client's first PING after
// CONNECT (protocol >= 1), if the INFO changed since the one sent at accept, it sends the
// current INFO, right after that PONG: a client's connect() sends CONNECT + PING and takes
// anything but PONG as the first answer for a protocol error (libnats hangs up), so an INFO
// before the PONG would break the very clients it is meant for. Raw sockets, so the order
// of the lines is what is checked, the same for Pylon and nats-server.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "harness.h"

namespace pylon::it {
namespace {

namespace json = boost::json;

std::string cluster_config(int cluster_port, int route_to) {
  std::string c = "cluster {\n  name: first-ping\n  listen: 127.0.0.1:" + std::to_string(cluster_port) + "\n";
  if (route_to > 0) c += "  routes = [nats-route://127.0.0.1:" + std::to_string(route_to) + "]\n";
  return c + "}\n";
}

std::vector<std::string> connect_urls(const std::string& info_json) {
  std::vector<std::string> out;
  json::value v = json::parse(info_json);
  if (auto* a = v.as_object().if_contains("connect_urls"); a && a->is_array()) {
    for (auto& u : a->as_array()) out.emplace_back(u.as_string());
  }
  return out;
}

bool has_port(const std::vector<std::string>& urls, int port) {
  const std::string suffix = ":" + std::to_string(port);
  for (auto& u : urls) {
    if (u.size() >= suffix.size() && u.compare(u.size() - suffix.size(), suffix.size(), suffix) == 0) return true;
  }
  return false;
}

// True once a client newly accepted by `a` is told `b`'s URL in its INFO (the route is up).
bool new_clients_are_told_of(const ServerProcess& a, const ServerProcess& b) {
  return wait_for(
      [&] {
        RawClient probe;
        if (!probe.connect(a.port())) return false;
        auto info = probe.read_info();
        return info && has_port(connect_urls(*info), b.port());
      },
      15s);
}

// Reads lines until `n` PONGs were seen; returns every line (PONGs included).
std::vector<std::string> lines_through_pongs(RawClient& c, int n) {
  std::vector<std::string> lines;
  int pongs = 0;
  while (pongs < n) {
    auto line = c.read_line(5s);
    if (!line) {
      ADD_FAILURE() << "connection closed or stuck after " << lines.size() << " lines";
      break;
    }
    if (*line == "PONG") ++pongs;
    lines.push_back(*line);
  }
  return lines;
}

TEST(FirstPingInfo, AClientThatMissedTheAsyncInfoGetsItOnItsFirstPing) {
  const int cluster_a = pick_free_port();
  ServerProcess a(with_config(cluster_config(cluster_a, 0)));
  ASSERT_TRUE(a.start());

  // Accepted while A is alone: its INFO lists A at most (nats-server lists nothing
  // without routes, Pylon its own URL).
  RawClient late;
  ASSERT_TRUE(late.connect(a.port()));
  auto accept_info = late.read_info();
  ASSERT_TRUE(accept_info);
  ASSERT_LE(connect_urls(*accept_info).size(), 1u) << *accept_info;

  // B routes to A. Wait until the route is registered on A: a new client of A is then
  // told about B in its INFO at accept.
  const int cluster_b = pick_free_port();
  ServerProcess b(with_config(cluster_config(cluster_b, cluster_a)));
  ASSERT_TRUE(b.start());
  ASSERT_TRUE(new_clients_are_told_of(a, b))
      << "the route B -> A did not come up";
  ASSERT_FALSE(has_port(connect_urls(*accept_info), b.port()));

  // The async INFO went out while `late` had not sent CONNECT: it was not sent to it.
  // Now CONNECT (protocol 1) and the first PING, then a second PING as a fence.
  ASSERT_TRUE(late.send(R"(CONNECT {"verbose":false,"pedantic":false,"protocol":1})"
                        "\r\nPING\r\n"));
  auto first = lines_through_pongs(late, 1);
  ASSERT_TRUE(late.send("PING\r\n"));
  auto after = lines_through_pongs(late, 1);

  auto is_info_with_b = [&](const std::string& line) {
    return line.rfind("INFO ", 0) == 0 && has_port(connect_urls(line.substr(5)), b.port());
  };
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.front(), "PONG") << "the first answer to CONNECT+PING is the PONG, as clients expect";
  int infos = 0;
  for (auto& l : first) {
    if (is_info_with_b(l)) ++infos;
  }
  for (auto& l : after) {
    if (is_info_with_b(l)) ++infos;
  }
  EXPECT_EQ(infos, 1) << "exactly one INFO listing B (port " << b.port() << ") must follow the first PING";

  // Later PINGs do not repeat it.
  ASSERT_TRUE(late.send("PING\r\n"));
  for (auto& l : lines_through_pongs(late, 1)) EXPECT_EQ(l.rfind("INFO", 0), std::string::npos) << l;
}

// A client that sent CONNECT but no PING yet is not sent the async INFO (the reference's
// sendAsyncInfoToClients takes only clients whose first PONG went out): its first PING
// brings the change, once. Before, Pylon sent both: the same INFO twice.
TEST(FirstPingInfo, AClientThatHasNotPingedYetIsToldOnceAfterItsFirstPong) {
  const int cluster_a = pick_free_port();
  ServerProcess a(with_config(cluster_config(cluster_a, 0)));
  ASSERT_TRUE(a.start());
  RawClient c;
  ASSERT_TRUE(c.connect(a.port()));
  ASSERT_TRUE(c.read_info());
  // verbose: the +OK says A has processed the CONNECT before B's route registers.
  ASSERT_TRUE(c.send(R"(CONNECT {"verbose":true,"pedantic":false,"protocol":1})"
                     "\r\n"));
  auto ok = c.read_line(5s);
  ASSERT_TRUE(ok);
  ASSERT_EQ(*ok, "+OK");
  const int cluster_b = pick_free_port();
  ServerProcess b(with_config(cluster_config(cluster_b, cluster_a)));
  ASSERT_TRUE(b.start());
  ASSERT_TRUE(new_clients_are_told_of(a, b)) << "the route B -> A did not come up";

  ASSERT_TRUE(c.send("PING\r\n"));
  auto first = lines_through_pongs(c, 1);
  ASSERT_TRUE(c.send("PING\r\n"));
  auto after = lines_through_pongs(c, 1);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.front(), "PONG") << "no INFO before the first PONG";
  int infos = 0;
  for (const auto* part : {&first, &after}) {
    for (auto& l : *part) {
      if (l.rfind("INFO ", 0) == 0 && has_port(connect_urls(l.substr(5)), b.port())) ++infos;
    }
  }
  EXPECT_EQ(infos, 1) << "exactly one INFO listing B (port " << b.port() << ")";
}

TEST(FirstPingInfo, NothingChangedMeansNoExtraInfo) {
  const int cluster_a = pick_free_port();
  ServerProcess a(with_config(cluster_config(cluster_a, 0)));
  ASSERT_TRUE(a.start());
  RawClient c = raw_connect(a.port());
  ASSERT_TRUE(c.send(R"(CONNECT {"verbose":false,"pedantic":false,"protocol":1})"
                     "\r\nPING\r\nPING\r\n"));
  for (auto& l : lines_through_pongs(c, 2)) EXPECT_EQ(l, "PONG");
}

TEST(FirstPingInfo, Protocol0ClientsGetNoAsyncInfo) {
  const int cluster_a = pick_free_port();
  ServerProcess a(with_config(cluster_config(cluster_a, 0)));
  ASSERT_TRUE(a.start());
  RawClient c = raw_connect(a.port());
  const int cluster_b = pick_free_port();
  ServerProcess b(with_config(cluster_config(cluster_b, cluster_a)));
  ASSERT_TRUE(b.start());
  ASSERT_TRUE(new_clients_are_told_of(a, b));
  ASSERT_TRUE(c.send(R"(CONNECT {"verbose":false,"pedantic":false,"protocol":0})"
                     "\r\nPING\r\nPING\r\n"));
  for (auto& l : lines_through_pongs(c, 2)) EXPECT_EQ(l, "PONG");
}

}  // namespace
}  // namespace pylon::it
