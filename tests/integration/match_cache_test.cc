// The per-connection cache of match results (src/server/match_cache.h) must not keep closed
// connections in memory: a publisher that went idle after delivering to subscribers, and a
// client whose cache names its own subscription, let go of them once they close. Observed
// through /metrics' pylon_connections_in_memory (Connection objects alive in the process).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "harness.h"

namespace pylon::it {
namespace {

// The server promises to let go within one sweep interval (1 s) of a subscriber's removal; a
// wide multiple of that, so a loaded machine does not fail the test.
constexpr auto kSweepInterval = 1s;
constexpr int kSlack = 20;

std::optional<double> metric(int http_port, const std::string& name) {
  auto r = http_get(http_port, "/metrics", 10s);
  if (!r || r->status != 200) return std::nullopt;
  const std::string needle = "\n" + name + " ";
  size_t at = r->body.find(needle);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(r->body.substr(at + needle.size()));
}

// True once the connection objects in memory are exactly the open client connections.
bool only_open_connections_in_memory(int http_port, std::string* last) {
  auto in_memory = metric(http_port, "pylon_connections_in_memory");
  auto open = metric(http_port, "pylon_client_connections");
  *last = "in memory " + (in_memory ? std::to_string(*in_memory) : "?") + ", open " +
          (open ? std::to_string(*open) : "?");
  return in_memory && open && *in_memory == *open;
}

class MatchCacheLifetime : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_IF_REFERENCE("pylon_connections_in_memory is Pylon's");
    http_port_ = pick_free_port();
    server_ = std::make_unique<ServerProcess>(with_args({"--event_loops", "2", "-m", std::to_string(http_port_)}));
    ASSERT_TRUE(server_->start());
  }
  int http_port_ = 0;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(MatchCacheLifetime, AnIdlePublisherDoesNotKeepClosedSubscribers) {
  std::vector<RawClient> subscribers;
  for (int i = 0; i < 4; ++i) {
    RawClient s = raw_connect(server_->port());
    ASSERT_TRUE(s.handshake());
    ASSERT_TRUE(s.send("SUB idle 1\r\n"));
    ASSERT_TRUE(s.ping_pong());
    subscribers.push_back(std::move(s));
  }
  RawClient publisher = raw_connect(server_->port());
  ASSERT_TRUE(publisher.handshake());
  ASSERT_TRUE(publisher.send("PUB idle 2\r\nhi\r\n"));
  ASSERT_TRUE(publisher.ping_pong());
  for (auto& s : subscribers) ASSERT_TRUE(s.read_until("MSG idle 1 2\r\nhi\r\n"));
  // The publisher's cache now names every subscriber; they go, and it publishes no more.
  for (auto& s : subscribers) s.close();
  std::string last;
  EXPECT_TRUE(wait_for([&] { return only_open_connections_in_memory(http_port_, &last); }, kSlack * kSweepInterval,
                       50ms))
      << "closed subscribers still in memory after " << kSlack << " sweep intervals: " << last;
  // The publisher's connection was not harmed: it publishes to a new subscriber.
  RawClient again = raw_connect(server_->port());
  ASSERT_TRUE(again.handshake());
  ASSERT_TRUE(again.send("SUB idle 1\r\n"));
  ASSERT_TRUE(again.ping_pong());
  ASSERT_TRUE(publisher.send("PUB idle 2\r\nhi\r\n"));
  EXPECT_TRUE(again.read_until("MSG idle 1 2\r\nhi\r\n"));
}

TEST_F(MatchCacheLifetime, AClientWhoseCacheNamesItsOwnSubscriptionIsFreedOnClose) {
  RawClient self = raw_connect(server_->port());
  ASSERT_TRUE(self.handshake());
  ASSERT_TRUE(self.send("SUB self 1\r\nPUB self 2\r\nhi\r\n"));
  ASSERT_TRUE(self.read_until("MSG self 1 2\r\nhi\r\n"));
  RawClient other = raw_connect(server_->port());  // stays open: the count is not simply 0
  ASSERT_TRUE(other.handshake());
  self.close();
  std::string last;
  EXPECT_TRUE(wait_for([&] { return only_open_connections_in_memory(http_port_, &last); }, kSlack * kSweepInterval,
                       50ms))
      << "a client that delivered to itself stayed in memory after closing: " << last;
}

}  // namespace
}  // namespace pylon::it
