// The monitoring query's number decoders against Go's strconv (the reference decodes
// ?limit=, ?offset= with strconv.Atoi and ?cid= with ParseUint). The expected texts are what
// go1.19 printed for the same strings. query_fuzz found the first two cases.
#include "server/monitor/query.h"

#include <gtest/gtest.h>

#include <string>

namespace pylon::server::monitor {
namespace {

std::string int_error(const std::string& v) {
  std::string err;
  Query q("/connz?limit=" + v);
  auto got = q.get_int("limit", &err);
  return got ? std::to_string(*got) : err;
}
std::string uint_error(const std::string& v) {
  std::string err;
  Query q("/connz?cid=" + v);
  auto got = q.get_uint("cid", &err);
  return got ? std::to_string(*got) : err;
}

TEST(MonitorQuery, AnOverflowIsOutOfRangeEvenWhenABadByteFollowsAsInGo) {
  EXPECT_EQ(int_error("99999999999999999999x"),
            "Error decoding int for 'limit': strconv.Atoi: parsing \"99999999999999999999x\": value out of range");
  EXPECT_EQ(uint_error("99999999999999999999x"),
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"99999999999999999999x\": value out of range");
}

TEST(MonitorQuery, OneSignAtMost) {
  EXPECT_EQ(int_error("%2B-5"), "Error decoding int for 'limit': strconv.Atoi: parsing \"+-5\": invalid syntax");
  EXPECT_EQ(int_error("-%2B5"), "Error decoding int for 'limit': strconv.Atoi: parsing \"-+5\": invalid syntax");
  EXPECT_EQ(int_error("%2B5"), "5");
  EXPECT_EQ(uint_error("%2B5"), "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"+5\": invalid syntax");
}

TEST(MonitorQuery, TheInt64AndUint64Limits) {
  EXPECT_EQ(int_error("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(int_error("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(int_error("9223372036854775808"),
            "Error decoding int for 'limit': strconv.Atoi: parsing \"9223372036854775808\": value out of range");
  EXPECT_EQ(uint_error("18446744073709551615"), "18446744073709551615");
  EXPECT_EQ(uint_error("18446744073709551616"),
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"18446744073709551616\": value out of range");
  EXPECT_EQ(int_error("1x"), "Error decoding int for 'limit': strconv.Atoi: parsing \"1x\": invalid syntax");
  EXPECT_EQ(int_error("018"), "18");
}

}  // namespace
}  // namespace pylon::server::monitor
