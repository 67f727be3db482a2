// The Prometheus text-format writer behind /metrics: escapes, number forms, family layout.
#include "server/monitor/metrics.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace pylon::server::monitor {
namespace {

TEST(MetricsExposition, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(escape_label_value(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(escape_label_value("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(escape_label_value("tab\tstays"), "tab\tstays");
}

TEST(MetricsExposition, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(escape_help(R"(a "quoted" \ path)"), R"(a "quoted" \\ path)");
  EXPECT_EQ(escape_help("first\nsecond"), R"(first\nsecond)");
}

TEST(MetricsExposition, FamilyThenSamplesWithLabelsInOrder) {
  Exposition e;
  e.family("pylon_route_in_messages_total", Exposition::Type::kCounter, "Messages received on the route.");
  e.sample({{"remote_id", "NABC"}, {"remote_name", "n\"2"}}, uint64_t{42});
  e.sample({{"remote_id", "NDEF"}, {"remote_name", "n3"}}, uint64_t{0});
  e.family("pylon_routes", Exposition::Type::kGauge, "Routes.");
  e.sample(uint64_t{2});
  EXPECT_EQ(e.text(),
            "# HELP pylon_route_in_messages_total Messages received on the route.\n"
            "# TYPE pylon_route_in_messages_total counter\n"
            "pylon_route_in_messages_total{remote_id=\"NABC\",remote_name=\"n\\\"2\"} 42\n"
            "pylon_route_in_messages_total{remote_id=\"NDEF\",remote_name=\"n3\"} 0\n"
            "# HELP pylon_routes Routes.\n"
            "# TYPE pylon_routes gauge\n"
            "pylon_routes 2\n");
}

TEST(MetricsExposition, IntegersStayExactAndDoublesReadBack) {
  Exposition e;
  e.family("x_total", Exposition::Type::kCounter, "x");
  e.sample(std::numeric_limits<uint64_t>::max());  // past 2^53: a double would round it
  e.family("y_seconds", Exposition::Type::kGauge, "y");
  e.sample(0.000125);
  e.sample(1796152294.04313);
  e.sample(2.0);
  e.sample(std::numeric_limits<double>::infinity());
  e.sample(-std::numeric_limits<double>::infinity());
  e.sample(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(e.text(),
            "# HELP x_total x\n# TYPE x_total counter\n"
            "x_total 18446744073709551615\n"
            "# HELP y_seconds y\n# TYPE y_seconds gauge\n"
            "y_seconds 0.000125\n"
            "y_seconds 1796152294.04313\n"
            "y_seconds 2\n"
            "y_seconds +Inf\n"
            "y_seconds -Inf\n"
            "y_seconds NaN\n");
}

}  // namespace
}  // namespace pylon::server::monitor
