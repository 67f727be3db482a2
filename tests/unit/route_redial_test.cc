// The route redial backoff (route_redial_wait): the integration test
// RouteRedial.AnExplicitRouteThatCannotBeReachedIsRedialledWithBackoff watches the first two
// steps live; the third would take a minute of refused dials, so its table is checked here.
#include <gtest/gtest.h>

#include "server/route/cluster.h"

namespace pylon::server {
namespace {

using std::chrono::milliseconds;

TEST(RouteRedialWait, OneSecondThenTwoThenFive) {
  for (int failed = 1; failed <= 9; ++failed) EXPECT_EQ(route_redial_wait(failed), milliseconds(1000)) << failed;
  for (int failed = 10; failed <= 29; ++failed) EXPECT_EQ(route_redial_wait(failed), milliseconds(2000)) << failed;
  for (int failed : {30, 31, 100, 100000}) EXPECT_EQ(route_redial_wait(failed), milliseconds(5000)) << failed;
}

}  // namespace
}  // namespace pylon::server
