// write_deadline on its own (max_pending left at its 64 MB default): a subscriber that stops
// reading is cut as a slow consumer once one write to it has waited write_deadline, with the
// reference's log text (client.go flushOutbound: "Slow Consumer Detected: WriteDeadline of <d>
// exceeded with ..."), and nobody else notices.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdio>
#include <string>
#include <thread>

#include "harness.h"

namespace pylon::it {
namespace {

constexpr double kWriteDeadlineS = 1.0;
// Upper bound: the deadline may stretch this many times on a loaded 2-core machine.
constexpr double kSlack = 10.0;

TEST(WriteDeadline, AStalledSubscriberIsCutAsASlowConsumerAndOthersCarryOn) {
  int http = pick_free_port();
  ServerProcess srv(with_config("write_deadline: \"1s\"\nhttp: 127.0.0.1:" + std::to_string(http) + "\n"));
  ASSERT_TRUE(srv.start());
  const char* quiet = R"({"verbose":false,"pedantic":false})";
  RawClient stalled, healthy, pub;
  ASSERT_TRUE(stalled.connect(srv.port(), 5s, /*rcvbuf=*/4096));
  ASSERT_TRUE(stalled.read_info());
  ASSERT_TRUE(stalled.handshake(quiet));
  ASSERT_TRUE(stalled.send("SUB wd.feed 1\r\n"));
  ASSERT_TRUE(stalled.ping_pong());
  healthy = raw_connect(srv.port());
  ASSERT_TRUE(healthy.handshake(quiet));
  ASSERT_TRUE(healthy.send("SUB wd.after 1\r\n"));
  ASSERT_TRUE(healthy.ping_pong());
  pub = raw_connect(srv.port());
  ASSERT_TRUE(pub.handshake(quiet));

  // Publish at a bounded pace (at most ~10 MB/s), so what piles up for the stalled subscriber
  // within the deadline stays far below max_pending: only the write deadline can cut it.
  std::string batch;
  for (int i = 0; i < 100; ++i) batch += "PUB wd.feed 1024\r\n" + std::string(1024, 'w') + "\r\n";
  auto t0 = Clock::now();
  // The reference's full words: "... exceeded with <chunks> chunks of <bytes> total bytes."
  const std::string cut_line = "Slow Consumer Detected: WriteDeadline of 1s exceeded with ";
  const std::string cut_tail = " chunks of ";
  bool cut = wait_for([&] {
    EXPECT_TRUE(pub.send(batch));
    std::this_thread::sleep_for(10ms);
    return srv.log().find(cut_line) != std::string::npos;
  }, std::chrono::duration_cast<milliseconds>(std::chrono::duration<double>(kSlack * kWriteDeadlineS + 5)), 0ms);
  double took = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(cut) << "no write-deadline slow consumer logged\n" << srv.log();
  {
    std::string log = srv.log();
    size_t at = log.find(cut_line);
    std::string line = log.substr(at, log.find('\n', at) - at);
    EXPECT_NE(line.find(cut_tail), std::string::npos) << line;
    EXPECT_NE(line.find(" total bytes."), std::string::npos) << line;
  }
  std::printf("[ figure   ] stalled subscriber (write_deadline 1s) cut after %.2f s\n", took);
  EXPECT_GE(took, kWriteDeadlineS);
  EXPECT_EQ(srv.log().find("MaxPending"), std::string::npos) << "cut by the pending limit, not the deadline";
  EXPECT_TRUE(stalled.expect_closed(10s)) << "the stalled subscriber is disconnected";

  auto varz = http_get(http, "/varz");
  ASSERT_TRUE(varz && varz->status == 200);
  EXPECT_EQ(boost::json::parse(varz->body).as_object().at("slow_consumers").to_number<int64_t>(), 1);
  // The publisher and the other subscriber never noticed.
  ASSERT_TRUE(pub.send("PUB wd.after 2\r\nok\r\n"));
  EXPECT_TRUE(pub.ping_pong());
  EXPECT_TRUE(healthy.read_until("MSG wd.after 1 2\r\nok\r\n", 5s));
  EXPECT_TRUE(healthy.ping_pong());
}

}  // namespace
}  // namespace pylon::it
