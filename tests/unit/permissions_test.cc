#include <gtest/gtest.h>

#include "server/client/permissions.h"

using pylon::Permissions;
using pylon::server::can_publish;
using pylon::server::can_subscribe;
using pylon::server::pattern_covers;
using pylon::server::subscribe_denied;

TEST(PatternCovers, WildcardsCoverWhatTheyMatch) {
  EXPECT_TRUE(pattern_covers("foo.bar", "foo.bar"));
  EXPECT_FALSE(pattern_covers("foo.bar", "foo.baz"));
  EXPECT_TRUE(pattern_covers("foo.*", "foo.bar"));
  EXPECT_TRUE(pattern_covers("foo.*", "foo.*"));
  EXPECT_FALSE(pattern_covers("foo.*", "foo.>"));
  EXPECT_FALSE(pattern_covers("foo.*", "foo.bar.baz"));
  EXPECT_TRUE(pattern_covers("foo.>", "foo.bar.baz"));
  EXPECT_TRUE(pattern_covers("foo.>", "foo.*.baz"));
  EXPECT_TRUE(pattern_covers("foo.>", "foo.>"));
  EXPECT_FALSE(pattern_covers("foo.>", "foo"));
  EXPECT_TRUE(pattern_covers(">", "anything.at.all"));
  EXPECT_FALSE(pattern_covers("foo.bar", "foo.*"));
}

TEST(Permissions, AllowListRestrictsAndDenyListWins) {
  Permissions p;
  p.publish.allow = {"orders.>", "status"};
  p.publish.deny = {"orders.secret"};
  EXPECT_TRUE(can_publish(p, "orders.new"));
  EXPECT_TRUE(can_publish(p, "status"));
  EXPECT_FALSE(can_publish(p, "orders.secret"));
  EXPECT_FALSE(can_publish(p, "billing"));
}

TEST(Permissions, EmptyListsAllowEverything) {
  Permissions p;
  EXPECT_TRUE(can_publish(p, "a.b"));
  EXPECT_TRUE(can_subscribe(p, ">"));
}

TEST(Permissions, SubscribeNeedsAnAllowThatCoversTheWholePattern) {
  Permissions p;
  p.subscribe.allow = {"public.*"};
  EXPECT_TRUE(can_subscribe(p, "public.news"));
  EXPECT_TRUE(can_subscribe(p, "public.*"));
  EXPECT_FALSE(can_subscribe(p, "public.>"));
  EXPECT_FALSE(can_subscribe(p, ">"));
}

TEST(Permissions, PartlyDeniedWildcardSubscriptionsAreFilteredOnDelivery) {
  Permissions p;
  p.subscribe.deny = {"metrics.secret"};
  EXPECT_TRUE(can_subscribe(p, "metrics.*")) << "the wildcard is not wholly denied";
  EXPECT_TRUE(subscribe_denied(p, "metrics.secret"));
  EXPECT_FALSE(subscribe_denied(p, "metrics.cpu"));
}
