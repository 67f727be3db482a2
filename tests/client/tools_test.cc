// `pylon pub`, `pylon sub`, `pylon req`, `pylon reply` as a user runs them, against Pylon
// and nats-server.
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>

#include "test_support.h"

#ifndef PYLON_TOOL_BIN
#define PYLON_TOOL_BIN "pylon"
#endif

namespace pylon::test {
namespace {

class ToolsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
    server_ = make_server(GetParam());
    server_->start();
  }
  std::unique_ptr<Process> tool(std::vector<std::string> args, const std::string& name) {
    args.insert(args.begin(), PYLON_TOOL_BIN);
    return std::make_unique<Process>(std::move(args), name);
  }
  // Runs a tool to its end; returns {exit status, output}.
  std::pair<int, std::string> run(std::vector<std::string> args) {
    auto p = tool(std::move(args), "run");
    int rc = p->wait(30s);
    return {rc, p->output()};
  }
  std::unique_ptr<TestServer> server_;
};

TEST_P(ToolsTest, PubReachesSub) {
  auto sub = tool({"sub", "-s", server_->url(), "greet.*", "--count", "3", "--raw"}, "sub");
  ASSERT_TRUE(sub->wait_output("Listening on \"greet.*\""));
  auto [rc, out] = run({"pub", "-s", server_->url(), "greet.joe", "hello {{count}}", "--count", "3"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Published 3 messages"), std::string::npos) << out;
  EXPECT_EQ(sub->wait(10s), 0) << sub->output();
  std::string got = sub->output();
  EXPECT_NE(got.find("hello 1\nhello 2\nhello 3\n"), std::string::npos) << got;
}

TEST_P(ToolsTest, SubShowsSubjectReplyAndHeaders) {
  auto sub = tool({"sub", "-s", server_->url(), "h", "--count", "1", "--headers"}, "sub");
  ASSERT_TRUE(sub->wait_output("Listening"));
  auto [rc, out] = run({"pub", "-s", server_->url(), "h", "body", "--reply", "r.1", "-H", "Trace:7"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Published 4 bytes to \"h\""), std::string::npos) << out;
  EXPECT_EQ(sub->wait(10s), 0);
  std::string got = sub->output();
  EXPECT_NE(got.find("[#1] Received on \"h\" with reply \"r.1\"\nTrace: 7\nbody\n"), std::string::npos) << got;
}

TEST_P(ToolsTest, ReqGetsReplyFromReply) {
  auto rep = tool({"reply", "-s", server_->url(), "svc.echo", "--echo", "--count", "2"}, "reply");
  ASSERT_TRUE(rep->wait_output("Answering requests on \"svc.echo\""));
  auto [rc, out] = run({"req", "-s", server_->url(), "svc.echo", "ping", "--raw"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "ping\n");
  auto [rc2, out2] = run({"req", "-s", server_->url(), "svc.echo", "again"});
  EXPECT_EQ(rc2, 0) << out2;
  EXPECT_NE(out2.find("Received reply in"), std::string::npos) << out2;
  EXPECT_EQ(rep->wait(10s), 0) << rep->output();
  EXPECT_NE(rep->output().find("[#2] Received on \"svc.echo\": again"), std::string::npos) << rep->output();
}

TEST_P(ToolsTest, ReplyAnswersWithTheGivenResponseInAQueueGroup) {
  auto rep = tool({"reply", "-s", server_->url(), "svc.fixed", "answer {{count}}", "--queue", "q"}, "reply");
  ASSERT_TRUE(rep->wait_output("Answering"));
  auto [rc, out] = run({"req", "-s", server_->url(), "svc.fixed", "x", "--count", "3", "--raw"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("answer 1\nanswer 2\nanswer 3\n"), std::string::npos) << out;
  rep->signal(SIGINT);
  EXPECT_EQ(rep->wait(10s), 0) << "Ctrl-C ends it cleanly";
}

TEST_P(ToolsTest, FailuresAreReportedWithExitCodes) {
  auto [rc, out] = run({"req", "-s", server_->url(), "nobody.here", "x"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("no responders available for request: nobody.here"), std::string::npos) << out;
  const std::string dead = "nats://127.0.0.1:" + std::to_string(free_port());
  auto [rc2, out2] = run({"pub", "-s", dead, "x", "y"});
  EXPECT_EQ(rc2, 1);
  EXPECT_NE(out2.find("no servers available"), std::string::npos) << out2;
  auto [rc3, out3] = run({"pub", "-s", server_->url()});
  EXPECT_EQ(rc3, 2) << "bad usage";
}

TEST_P(ToolsTest, ServerListsFallThroughToALiveServer) {
  const std::string dead = "nats://127.0.0.1:" + std::to_string(free_port());
  auto [rc, out] = run({"pub", "-s", dead + "," + server_->url(), "--no-randomize", "x", "y"});
  EXPECT_EQ(rc, 0) << out;
  auto [rc2, out2] = run({"pub", "-s", dead, "-s", server_->url(), "x", "y"});
  EXPECT_EQ(rc2, 0) << out2;
}

TEST_P(ToolsTest, SubQueueGroupSharesTheMessages) {
  auto w1 = tool({"sub", "-s", server_->url(), "jobs", "--queue", "workers", "--raw"}, "w1");
  auto w2 = tool({"sub", "-s", server_->url(), "jobs", "--queue", "workers", "--raw"}, "w2");
  ASSERT_TRUE(w1->wait_output("in queue group \"workers\""));
  ASSERT_TRUE(w2->wait_output("in queue group \"workers\""));
  auto [rc, out] = run({"pub", "-s", server_->url(), "jobs", "job {{count}}", "--count", "20"});
  EXPECT_EQ(rc, 0) << out;
  ASSERT_TRUE(wait_for([&] { return w1->count("job ") + w2->count("job ") >= 20; })) << w1->output() << w2->output();
  for (int i = 1; i <= 20; ++i) {
    const std::string line = "job " + std::to_string(i) + "\n";
    EXPECT_EQ(w1->count(line) + w2->count(line), 1u) << line << "goes to exactly one worker";
  }
  w1->signal(SIGINT);
  w2->signal(SIGINT);
  EXPECT_EQ(w1->wait(10s), 0);
  EXPECT_EQ(w2->wait(10s), 0);
}

TEST_P(ToolsTest, LongRunsShowARateAndProgressLine) {
  // 30 messages 50 ms apart: a run of ~1.5 s, past the 1 s after which the line shows.
  auto sub = tool({"sub", "-s", server_->url(), "rate", "--count", "30", "-q"}, "sub");
  ASSERT_TRUE(sub->wait_output("Listening"));
  auto [rc, out] = run({"pub", "-s", server_->url(), "rate", "x", "--count", "30", "--interval", "50"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("published 30/30 msgs, "), std::string::npos) << out;
  EXPECT_NE(out.find(" msgs/s, "), std::string::npos) << out;
  EXPECT_EQ(sub->wait(10s), 0) << sub->output();
  EXPECT_NE(sub->output().find("received 30/30 msgs, "), std::string::npos) << sub->output();
}

TEST_P(ToolsTest, BenchRunsOnTheLibraryAndReports) {
  auto [rc, out] = run({"bench", "bench.t", "-s", server_->url(), "--pub", "2", "--sub", "2", "--msgs", "20000",
                        "--size", "64", "--no-progress"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Starting pylon bench [server=127.0.0.1:" + std::to_string(server_->port())), std::string::npos)
      << out;
  EXPECT_NE(out.find("Overall: "), std::string::npos) << out;
  EXPECT_NE(out.find("(20,000 msgs in "), std::string::npos) << out;
  EXPECT_NE(out.find(" Pub stats: "), std::string::npos) << out;
  EXPECT_NE(out.find(" Sub stats: "), std::string::npos) << out;
  EXPECT_NE(out.find("  [2] "), std::string::npos) << "per-client lines with several clients: " << out;
  EXPECT_EQ(out.find("INCOMPLETE"), std::string::npos) << out;

  auto [rc2, json_out] = run({"bench", "bench.j", "-s", server_->url(), "--pub", "1", "--sub", "1", "--msgs", "5000",
                              "--json", "--no-progress"});
  ASSERT_EQ(rc2, 0) << json_out;
  auto brace = json_out.find("{\"overall\":");
  ASSERT_NE(brace, std::string::npos) << json_out;
  EXPECT_NE(json_out.find("\"complete\":true", brace), std::string::npos) << json_out;
  EXPECT_NE(json_out.find("\"msgs\":5000", brace), std::string::npos) << json_out;
  // Every subscriber got every message: the sub side counts 5000 for its one client.
  EXPECT_NE(json_out.find("\"sub\":{\"msgs\":5000"), std::string::npos) << json_out;
}

// A number in the JSON report ("key":123.4), or -1 when the key is missing.
double json_number(const std::string& json, const std::string& key) {
  auto p = json.find("\"" + key + "\":");
  if (p == std::string::npos) return -1;
  return std::atof(json.c_str() + p + key.size() + 3);
}

TEST_P(ToolsTest, BenchQueueGroupGetsEachMessageOnceAcrossItsMembers) {
  auto [rc, out] = run({"bench", "bench.q", "-s", server_->url(), "--pub", "1", "--sub", "4", "--queue", "workers",
                        "--msgs", "20000", "--size", "16", "--json", "--no-progress"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("queue=workers]"), std::string::npos) << out;
  auto sub = out.find("\"sub\":{");
  ASSERT_NE(sub, std::string::npos) << out;
  // The group's members together got 20,000 messages, not 4 x 20,000: each message once.
  EXPECT_EQ(json_number(out.substr(sub + 7), "msgs"), 20000) << out;
  EXPECT_NE(out.find("\"complete\":true"), std::string::npos) << out;
  EXPECT_EQ(out.find("\"complete\":false"), std::string::npos) << "every member ends complete: " << out;
}

// Publisher on node A, subscriber on node B, while the route between them is down: A has
// just restarted and B redials it only after its reconnect delay. The run starts publishing
// once the subscriber's interest has crossed the route (the probe), so every message
// arrives; without that wait they would all find no interest on A and be dropped, and the
// run would end incomplete at --timeout.
TEST_P(ToolsTest, BenchAcrossTwoNodesWaitsForTheSubscribersInterest) {
  ServerSetup a_setup;
  a_setup.cluster = true;
  auto a = make_server(GetParam(), a_setup);
  a->start();
  ServerSetup b_setup;
  b_setup.cluster = true;
  b_setup.routes = {a->cluster_port()};
  auto b = make_server(GetParam(), b_setup);
  b->start();
  a->stop();
  a->start(a->port());  // the same client and route ports; only B dials the route
  auto [rc, out] = run({"bench", "bench.x", "-s", a->url(), "--sub-server", b->url(), "--pub", "1", "--sub", "1",
                        "--msgs", "20000", "--size", "16", "--json", "--no-progress", "--timeout", "20"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("sub-server=127.0.0.1:" + std::to_string(b->port())), std::string::npos) << out;
  auto sub = out.find("\"sub\":{");
  ASSERT_NE(sub, std::string::npos) << out;
  EXPECT_EQ(json_number(out.substr(sub + 7), "msgs"), 20000) << out;
}

TEST_P(ToolsTest, BenchReqReportsRoundTripPercentiles) {
  auto [rc, out] = run({"bench", "bench.svc", "-s", server_->url(), "--req", "3", "--msgs", "300", "--size", "16",
                        "--json", "--no-progress"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("requesters=3, repliers=1]"), std::string::npos) << out;
  EXPECT_NE(out.find("\"complete\":true"), std::string::npos) << out;
  EXPECT_EQ(json_number(out, "msgs"), 300) << out;
  double p50 = json_number(out, "p50"), p99 = json_number(out, "p99"), p999 = json_number(out, "p999"),
         max = json_number(out, "max");
  EXPECT_GT(p50, 0) << out;
  EXPECT_LE(p50, p99) << out;
  EXPECT_LE(p99, p999) << out;
  EXPECT_LE(p999, max) << out;

  auto [rc2, text] = run({"bench", "bench.svc", "-s", server_->url(), "--req", "1", "--msgs", "50", "--no-progress"});
  ASSERT_EQ(rc2, 0) << text;
  EXPECT_NE(text.find("Requests: 50 in "), std::string::npos) << text;
  EXPECT_NE(text.find(" Round trip (us): p50 "), std::string::npos) << text;
}

TEST_P(ToolsTest, BenchTimesOutWithProgressAndExitsIncomplete) {
  // Subscribers only, no publisher anywhere: the run ends at --timeout, after the
  // progress line had time to show (once a run passes 1 s).
  auto [rc, out] = run({"bench", "nobody.publishes", "-s", server_->url(), "--pub", "0", "--sub", "1", "--msgs",
                        "10", "--timeout", "1.6"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("received 0/10"), std::string::npos) << "the progress line: " << out;
  EXPECT_NE(out.find("pylon bench: INCOMPLETE (timed out after 1.6 s)"), std::string::npos) << out;
  EXPECT_NE(out.find("subscriber 1: received 0/10 msgs: timed out"), std::string::npos) << out;
}

TEST_P(ToolsTest, BenchRefusesBadInputClearly) {
  auto [rc, out] = run({"bench", "wild.*", "-s", server_->url(), "--msgs", "10"});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("invalid subject 'wild.*' (publishers need a literal subject"), std::string::npos) << out;
  const std::string dead = "nats://127.0.0.1:" + std::to_string(free_port());
  auto [rc2, out2] = run({"bench", "x", "-s", dead, "--msgs", "10"});
  EXPECT_EQ(rc2, 2) << out2;
  EXPECT_NE(out2.find("pylon bench: publisher 1: no servers available"), std::string::npos) << out2;
  auto [rc3, out3] = run({"bench", "x", "-s", server_->url(), "--size", "2000000", "--msgs", "10"});
  EXPECT_EQ(rc3, 2) << out3;
  EXPECT_NE(out3.find("exceeds the server's max_payload"), std::string::npos) << out3;
}

INSTANTIATE_TEST_SUITE_P(Servers, ToolsTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

TEST(ToolsAuth, UserPasswordAndToken) {
  ServerSetup s;
  s.user = "bob";
  s.password = "pw";
  auto server = make_pylon(s);
  server->start();
  auto run = [](std::vector<std::string> args) {
    args.insert(args.begin(), PYLON_TOOL_BIN);
    Process p(args, "auth");
    return p.wait(30s);
  };
  EXPECT_EQ(run({"pub", "-s", server->url(), "--user", "bob", "--password", "pw", "x", "y"}), 0);
  EXPECT_EQ(run({"pub", "-s", server->url(), "--user", "bob", "--password", "nope", "x", "y"}), 1);
  ServerSetup t;
  t.token = "tok";
  auto tserver = make_pylon(t);
  tserver->start();
  EXPECT_EQ(run({"pub", "-s", tserver->url(), "--token", "tok", "x", "y"}), 0);
  EXPECT_EQ(run({"pub", "-s", "nats://tok@127.0.0.1:" + std::to_string(tserver->port()), "x", "y"}), 0);
}

}  // namespace
}  // namespace pylon::test
