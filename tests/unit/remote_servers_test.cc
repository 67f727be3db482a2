// RemoteServers: the system account's record of the servers it hears from (events.go's
// s.sys.servers): counted from the first STATSZ, in seq order, dropped at a SHUTDOWN or
// after kOrphanMax of silence.
#include <gtest/gtest.h>

#include "server/account/remote_servers.h"

namespace pylon::server {
namespace {

using Update = RemoteServers::Update;

TEST(RemoteServers, AServerIsNewOnceThenUpdatedInSeqOrder) {
  RemoteServers r;
  auto t = RemoteServers::Clock::now();
  EXPECT_EQ(r.heard("S1", 5, t), Update::kNew);
  EXPECT_EQ(r.heard("S1", 6, t), Update::kUpdated);
  EXPECT_EQ(r.heard("S1", 6, t), Update::kOutOfOrder) << "a seq seen already";
  EXPECT_EQ(r.heard("S1", 2, t), Update::kOutOfOrder);
  EXPECT_EQ(r.heard("S2", 1, t), Update::kNew);
  EXPECT_EQ(r.size(), 2u);
}

TEST(RemoteServers, AShutdownDropsItsServerAtOnce) {
  RemoteServers r;
  auto t = RemoteServers::Clock::now();
  r.heard("S1", 1, t);
  r.heard("S2", 1, t);
  EXPECT_TRUE(r.shutdown("S1"));
  EXPECT_FALSE(r.tracks("S1"));
  EXPECT_FALSE(r.shutdown("S1")) << "not tracked any more";
  EXPECT_FALSE(r.shutdown("S9"));
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.heard("S1", 1, t), Update::kNew) << "back after a restart, its seq from the start";
}

TEST(RemoteServers, ASilentServerIsAnOrphanAfterOrphanMax) {
  RemoteServers r;
  auto t = RemoteServers::Clock::now();
  r.heard("quiet", 1, t);
  r.heard("chatty", 1, t);
  r.heard("chatty", 2, t + RemoteServers::kOrphanMax);
  EXPECT_TRUE(r.sweep(t + RemoteServers::kOrphanMax).empty()) << "not past the limit yet";
  auto gone = r.sweep(t + RemoteServers::kOrphanMax + std::chrono::seconds(1));
  EXPECT_EQ(gone, std::vector<std::string>{"quiet"});
  EXPECT_TRUE(r.tracks("chatty"));
}

}  // namespace
}  // namespace pylon::server
