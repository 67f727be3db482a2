// pylon top's pure parts: the server's timestamps, rates between two polls, nats-top's
// number style, and the table layout at a given width. The live view is tested in
// tests/integration/top_test.cc.
#include <gtest/gtest.h>

#include <algorithm>

#include <set>
#include <string>

#include "top_stats.h"
#include "top_view.h"

namespace pylon::tools::top {
namespace {

TEST(TopTime, ParsesTheMonitoringTimestamps) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0.0);
  auto t = parse_rfc3339("2024-05-01T10:02:03.10432Z");
  ASSERT_TRUE(t);
  EXPECT_NEAR(*t, 1714557723.10432, 1e-6);
  // The same instant written with an offset (the reference can report local time).
  auto local = parse_rfc3339("2024-05-01T12:02:03.10432+02:00");
  ASSERT_TRUE(local);
  EXPECT_NEAR(*local, *t, 1e-6);
  EXPECT_NEAR(*parse_rfc3339("2024-05-01T05:02:03-05:00"), 1714557723.0, 1e-6);
}

TEST(TopTime, RefusesWhatIsNotATimestamp) {
  for (const char* bad : {"", "now", "2024-05-01", "2024-05-01T10:02:03", "2024-05-01T10:02:03.5", "2024-05-01 10:02:03Z",
                          "2024-05-01T10:02:03Zjunk", "2024-05-01T10:02:03+0200", "20x4-05-01T10:02:03Z"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

TEST(TopRates, ArePerSecondDifferences) {
  Counters a{10, 100, 1000, 10000};
  Counters b{30, 100, 1500, 20000};
  Rates r = rates_between(a, b, 2.0);
  ASSERT_TRUE(r.known);
  EXPECT_DOUBLE_EQ(r.msgs_to, 10);
  EXPECT_DOUBLE_EQ(r.msgs_from, 0);
  EXPECT_DOUBLE_EQ(r.bytes_to, 250);
  EXPECT_DOUBLE_EQ(r.bytes_from, 5000);
  EXPECT_DOUBLE_EQ(r.msgs(), 10);
  EXPECT_DOUBLE_EQ(r.bytes(), 5250);
}

TEST(TopRates, AreUnknownWithoutElapsedTimeOrWhenCountersRestart) {
  Counters a{10, 10, 10, 10};
  EXPECT_FALSE(rates_between(a, a, 0).known);
  EXPECT_FALSE(rates_between(a, a, -1).known);
  EXPECT_FALSE(rates_between(a, Counters{5, 10, 10, 10}, 1).known);  // a restarted server counts from 0
  EXPECT_TRUE(rates_between(a, a, 1).known);                        // idle is a rate of 0, not unknown
}

TEST(TopNumbers, FollowNatsTopsStyle) {
  EXPECT_EQ(psize(false, 0), "0");
  EXPECT_EQ(psize(false, 1023), "1023");
  EXPECT_EQ(psize(false, 1024), "1.0K");
  EXPECT_EQ(psize(false, 1536), "1.5K");
  EXPECT_EQ(psize(false, 5 * 1024 * 1024), "5.0M");
  EXPECT_EQ(psize(false, 3LL << 30), "3.0G");
  EXPECT_EQ(psize(true, 5 * 1024 * 1024), "5242880");
  EXPECT_EQ(prate(false, false, 12), "-");
  EXPECT_EQ(prate(false, true, 12.25), "12.2");
  EXPECT_EQ(prate(false, true, 2048), "2.0K");
  EXPECT_EQ(prate(true, true, 2048), "2048.0");
}

TEST(TopSortKeys, HaveUniqueNamesAndTheDefaultIsARate) {
  std::set<std::string_view> names;
  for (const auto& k : sort_keys()) EXPECT_TRUE(names.insert(k.name).second) << k.name;
  const SortKey* def = find_sort_key(kDefaultSort);
  ASSERT_NE(def, nullptr);
  EXPECT_TRUE(def->server_param.empty()) << "the default must be ranked by rate, client-side";
  EXPECT_EQ(find_sort_key("nope"), nullptr);
  // Every server-side key is one /connz accepts.
  for (const char* k : {"cid", "start", "subs", "pending", "msgs_to", "msgs_from", "bytes_to", "bytes_from", "last",
                        "idle", "uptime"}) {
    const SortKey* key = find_sort_key(k);
    ASSERT_NE(key, nullptr) << k;
    EXPECT_EQ(key->server_param, k);
  }
}

Snapshot sample(bool names, bool subs) {
  Snapshot s;
  s.server.is_pylon = true;
  s.server.version = "2.9.10";
  s.server.pylon_version = "0.1.0";
  s.server.uptime = "1m2s";
  s.query.subs = subs;
  s.polls = 2;
  for (int i = 1; i <= 2; ++i) {
    ConnInfo c;
    c.cid = static_cast<uint64_t>(i);
    if (names) c.name = i == 1 ? "orders-publisher" : "audit";
    c.ip = "127.0.0.1";
    c.port = 50000 + i;
    c.lang = "go";
    c.version = "1.31.0";
    c.uptime = "5s";
    c.idle = "0s";
    c.last_activity = "2024-05-01T10:02:03.10432Z";
    c.totals = Counters{100 * i, 200 * i, 1000 * i, 2000 * i};
    c.rates = Rates{true, 10.0 * i, 20.0 * i, 100.0 * i, 200.0 * i};
    if (subs) c.subjects = {"orders.>", "audit." + std::to_string(i)};
    s.conns.push_back(c);
  }
  s.conns_total = 2;
  return s;
}

std::vector<std::string> texts(const std::vector<Line>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l.text);
  return out;
}

// The column headings and the rows after them.
std::vector<std::string> table(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  bool in = false;
  for (const auto& l : lines) {
    if (l.rfind("  CID ", 0) == 0) in = true;
    if (in) out.push_back(l);
  }
  return out;
}

// Ranking by a rate reads /connz page by page in cid order. A connection that closes
// between two pages shifts the rest down by one; reading each page from where the last one
// ended skipped the connection that moved across the page boundary.
TEST(TopPoller, AConnectionClosingBetweenPagesShiftsNoOtherOneOut) {
  std::vector<int> cids;
  for (int cid = 1; cid <= 2500; ++cid) cids.push_back(cid);
  int pages = 0;
  Poller poller([&](const std::string& target) -> std::string {
    if (target == "/varz") return R"({"server_id":"S","now":"2026-12-01T00:00:00Z","start":"2026-12-01T00:00:00Z"})";
    auto num = [&](const std::string& key) {
      auto at = target.find(key + "=");
      return at == std::string::npos ? -1 : std::stoi(target.substr(at + key.size() + 1));
    };
    EXPECT_EQ(target.rfind("/connz?sort=cid&", 0), 0u) << target;
    const int limit = num("limit"), offset = num("offset");
    std::string body = R"({"now":"2026-12-01T00:00:00Z","total":)" + std::to_string(cids.size()) + R"(,"connections":[)";
    for (int i = offset; i < offset + limit && i < static_cast<int>(cids.size()); ++i) {
      if (i > offset) body += ",";
      body += R"({"cid":)" + std::to_string(cids[static_cast<size_t>(i)]) + "}";
    }
    body += "]}";
    if (++pages == 1) cids.erase(cids.begin() + 9);  // cid 10 closes after the first page
    return body;
  });
  Query q;
  q.limit = 5000;
  ASSERT_TRUE(find_sort_key(q.sort)->server_param.empty()) << "the default sort must be a rate, paged by cid";
  Snapshot snap = poller.poll(q);
  std::set<uint64_t> got;
  for (const auto& c : snap.conns) EXPECT_TRUE(got.insert(c.cid).second) << "cid " << c.cid << " listed twice";
  for (int cid = 1; cid <= 2500; ++cid) {
    if (cid != 10) {
      EXPECT_TRUE(got.count(static_cast<uint64_t>(cid))) << "cid " << cid << " is missing";
    }
  }
  EXPECT_GE(pages, 3);
}

// --acc asks both servers for that account's connections only (acc=, the value escaped),
// and for auth=1, which makes them name each connection's account; the view shows it.
TEST(TopPoller, FiltersByAccountAndReadsEachConnectionsAccount) {
  std::vector<std::string> asked;
  Poller poller([&](const std::string& target) -> std::string {
    asked.push_back(target);
    if (target == "/varz") return R"({"server_id":"S","now":"2026-12-01T00:00:00Z","start":"2026-12-01T00:00:00Z"})";
    return R"({"now":"2026-12-01T00:00:00Z","total":1,"connections":[{"cid":7,"account":"$SYS"}]})";
  });
  Query q;
  q.sort = "cid";
  q.account = "$SYS";
  Snapshot snap = poller.poll(q);
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_NE(asked[1].find("&acc=%24SYS"), std::string::npos) << asked[1];
  EXPECT_NE(asked[1].find("&auth=1"), std::string::npos) << asked[1];
  ASSERT_EQ(snap.conns.size(), 1u);
  EXPECT_EQ(snap.conns[0].account, "$SYS");

  auto lines = texts(render(snap, ViewOptions{}));
  EXPECT_NE(std::find(lines.begin(), lines.end(), "  Account: $SYS (1 open connections)"), lines.end());
  auto t = table(lines);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_NE(t[0].find("ACCOUNT"), std::string::npos) << t[0];
  EXPECT_NE(t[1].find("$SYS"), std::string::npos) << t[1];
}

TEST(TopLayout, LeavesAccountOutWhenEveryConnectionIsInTheGlobalAccount) {
  auto t = table(texts(render(sample(true, false), ViewOptions{})));
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t[0].find("ACCOUNT"), std::string::npos) << t[0];
}

TEST(TopLayout, ShowsEveryColumnWithoutAWidthLimit) {
  auto lines = texts(render(sample(true, false), ViewOptions{}));
  EXPECT_EQ(lines[0], "Pylon server version 2.9.10 (pylon 0.1.0) (uptime: 1m2s)");
  auto t = table(lines);
  ASSERT_EQ(t.size(), 3u);
  for (const char* col : {"CID", "NAME", "HOST", "SUBS", "PENDING", "MSGS_TO", "MSGS_TO/s", "MSGS_FROM", "MSGS_FROM/s",
                          "BYTES_TO", "BYTES_TO/s", "BYTES_FROM", "BYTES_FROM/s", "LANG", "VERSION", "UPTIME", "IDLE",
                          "LAST_ACTIVITY"})
    EXPECT_NE(t[0].find(col), std::string::npos) << col;
  EXPECT_NE(t[1].find("orders-publisher"), std::string::npos);
  EXPECT_NE(t[1].find("127.0.0.1:50001"), std::string::npos);
  EXPECT_NE(t[2].find("40.0"), std::string::npos) << t[2];  // msgs_from rate of cid 2
  EXPECT_EQ(t[0].find("SUBSCRIPTIONS"), std::string::npos);
}

TEST(TopLayout, LeavesNameOutWhenNoConnectionHasOne) {
  auto t = table(texts(render(sample(false, false), ViewOptions{})));
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t[0].find("NAME"), std::string::npos) << t[0];
}

TEST(TopLayout, DropsTheLeastUsefulColumnsToFitAndKeepsTheRates) {
  ViewOptions o;
  o.width = 80;
  auto lines = texts(render(sample(true, false), o));
  for (const auto& l : lines) EXPECT_LE(l.size(), 80u) << l;
  auto t = table(lines);
  ASSERT_EQ(t.size(), 3u);
  for (const char* col : {"CID", "NAME", "MSGS_TO/s", "MSGS_FROM/s"}) EXPECT_NE(t[0].find(col), std::string::npos) << col;
  EXPECT_EQ(t[0].find("LAST_ACTIVITY"), std::string::npos) << t[0];
  // Columns line up: each rate sits under its heading's right edge.
  size_t end = t[0].find("MSGS_FROM/s") + std::string("MSGS_FROM/s").size();
  EXPECT_EQ(t[2].substr(end - 4, 4), "40.0") << t[0] << "\n" << t[2];
}

TEST(TopLayout, ShowsSubscriptionsWhenAskedWithinTheWidth) {
  ViewOptions o;
  o.width = 120;
  auto lines = texts(render(sample(true, true), o));
  auto t = table(lines);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_NE(t[0].find("SUBSCRIPTIONS"), std::string::npos) << t[0];
  EXPECT_NE(t[2].find("orders.>, audit.2"), std::string::npos) << t[2];
  for (const auto& l : lines) EXPECT_LE(l.size(), 120u) << l;
}

TEST(TopLayout, SaysWhenRatesAreNotInYetAndShowsAnError) {
  Snapshot s = sample(true, false);
  s.polls = 1;
  for (auto& c : s.conns) c.rates = Rates{};
  ViewOptions o;
  o.error = "error: Get \"http://127.0.0.1:8222/varz\": connection refused";
  auto lines = render(s, o);
  bool error_line = false, hint = false;
  for (const auto& l : lines) {
    if (l.style == Style::kError && l.text == o.error) error_line = true;
    if (l.text.find("rates after the next refresh") != std::string::npos) hint = true;
  }
  EXPECT_TRUE(error_line);
  EXPECT_TRUE(hint);
  auto t = table(texts(lines));
  ASSERT_EQ(t.size(), 3u);
  EXPECT_NE(t[1].find(" - "), std::string::npos) << t[1];
}

}  // namespace
}  // namespace pylon::tools::top
