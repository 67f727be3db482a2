// Stream exports and imports: an account's exported stream reaches the accounts that import
// it, under the subject each import maps it to (a prefix, or `to`), and nowhere else; an
// import is one-way. Runs against the reference server too (PYLON_TEST_SERVER=nats-server).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace pylon::it {
namespace {

constexpr const char* kImportsConfig = R"(
accounts {
  A: {
    users: [ {user: a, password: pa} ]
    exports: [ {stream: "news.>"} ]
  }
  B: {
    users: [ {user: b, password: pb} ]
    imports: [ {stream: {account: A, subject: "news.>"}, prefix: "a"} ]
  }
  C: {
    users: [ {user: c, password: pc} ]
    imports: [ {stream: {account: A, subject: "news.sports"}, to: "sports"} ]
  }
}
)";

RawClient login(int port, const std::string& user) {
  RawClient c = raw_connect(port);
  std::string got;
  EXPECT_TRUE(c.handshake(R"({"verbose":false,"pedantic":false,"user":")" + user + R"(","pass":"p)" + user + "\"}",
                          &got))
      << got;
  return c;
}

// The MSG lines a client has received by the time its PING is answered.
std::vector<std::string> msgs_before_pong(RawClient& c) {
  std::vector<std::string> lines, msgs;
  EXPECT_TRUE(c.ping_pong(5s, &lines));
  for (auto& l : lines) {
    if (l.rfind("MSG ", 0) == 0) msgs.push_back(l);
  }
  return msgs;
}

TEST(StreamImports, AnExportedStreamReachesImportersUnderTheirMappedSubjects) {
  ServerProcess srv(with_config(kImportsConfig));
  ASSERT_TRUE(srv.start());
  RawClient a = login(srv.port(), "a");
  RawClient b = login(srv.port(), "b");
  RawClient c = login(srv.port(), "c");
  // B listens on the prefixed subjects and, to prove nothing arrives unmapped, on the
  // exporter's own; C on its `to` subject.
  ASSERT_TRUE(b.send("SUB a.news.> 1\r\nSUB news.> 2\r\n"));
  ASSERT_TRUE(c.send("SUB sports 1\r\nSUB news.> 2\r\n"));
  ASSERT_TRUE(a.send("SUB news.> 1\r\n"));
  ASSERT_TRUE(b.ping_pong() && c.ping_pong() && a.ping_pong());

  ASSERT_TRUE(a.send("PUB news.weather 4\r\nrain\r\nPUB news.sports 4\r\ngoal\r\n"));
  ASSERT_TRUE(a.ping_pong());

  EXPECT_EQ(msgs_before_pong(b), (std::vector<std::string>{"MSG a.news.weather 1 4", "MSG a.news.sports 1 4"}));
  EXPECT_EQ(msgs_before_pong(c), (std::vector<std::string>{"MSG sports 1 4"}));
}

TEST(StreamImports, AnImportIsOneWay) {
  ServerProcess srv(with_config(kImportsConfig));
  ASSERT_TRUE(srv.start());
  RawClient a = login(srv.port(), "a");
  RawClient b = login(srv.port(), "b");
  ASSERT_TRUE(a.send("SUB > 1\r\n"));
  ASSERT_TRUE(a.ping_pong());
  ASSERT_TRUE(b.send("PUB a.news.x 1\r\nx\r\nPUB news.x 1\r\ny\r\n"));
  ASSERT_TRUE(b.ping_pong());
  EXPECT_TRUE(msgs_before_pong(a).empty()) << "the importer's messages never reach the exporter";
}

TEST(StreamImports, AnUnsubscribedImporterGetsNoMore) {
  ServerProcess srv(with_config(kImportsConfig));
  ASSERT_TRUE(srv.start());
  RawClient a = login(srv.port(), "a");
  RawClient b = login(srv.port(), "b");
  ASSERT_TRUE(b.send("SUB a.news.> 1\r\n"));
  ASSERT_TRUE(b.ping_pong());
  ASSERT_TRUE(a.send("PUB news.x 1\r\nx\r\n"));
  ASSERT_TRUE(a.ping_pong());
  EXPECT_EQ(msgs_before_pong(b), (std::vector<std::string>{"MSG a.news.x 1 1"}));
  ASSERT_TRUE(b.send("UNSUB 1\r\n"));
  ASSERT_TRUE(b.ping_pong());
  ASSERT_TRUE(a.send("PUB news.x 1\r\nx\r\n"));
  ASSERT_TRUE(a.ping_pong());
  EXPECT_TRUE(msgs_before_pong(b).empty());
}

constexpr const char* kServicesConfig = R"(
accounts {
  A: {
    users: [ {user: a, password: pa} ]
    exports: [
      {service: "help"}, {service: "feed", response_type: stream}, {service: "vip", accounts: [B]}
      {service: "slow", response_type: stream, response_threshold: "200ms"}
    ]
  }
  B: {
    users: [ {user: b, password: pb} ]
    imports: [
      {service: {account: A, subject: "help"}, to: "a.help"}
      {service: {account: A, subject: "feed"}}
      {service: {account: A, subject: "vip"}}
      {service: {account: A, subject: "slow"}}
    ]
  }
}
)";

// The request line a responder got: "MSG <subject> <sid> <reply> <size>"; returns the reply.
std::string reply_of(const std::string& msg_line) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t sp; (sp = msg_line.find(' ', start)) != std::string::npos; start = sp + 1) {
    parts.push_back(msg_line.substr(start, sp - start));
  }
  parts.push_back(msg_line.substr(start));
  return parts.size() == 5 ? parts[3] : "";
}

TEST(ServiceImports, ARequestIsAnsweredAcrossAccountsThroughAMappedReply) {
  ServerProcess srv(with_config(kServicesConfig));
  ASSERT_TRUE(srv.start());
  RawClient a = login(srv.port(), "a");
  RawClient b = login(srv.port(), "b");
  ASSERT_TRUE(a.send("SUB help 1\r\n"));
  ASSERT_TRUE(a.ping_pong());
  ASSERT_TRUE(b.send("SUB inbox.1 9\r\nPUB a.help inbox.1 3\r\nreq\r\n"));
  ASSERT_TRUE(b.ping_pong());

  auto req = msgs_before_pong(a);
  ASSERT_EQ(req.size(), 1u) << "the service in A gets B's request on its own subject";
  std::string reply = reply_of(req[0]);
  EXPECT_EQ(req[0].rfind("MSG help 1 ", 0), 0u) << req[0];
  // The reference's reply mapping: B's inbox stays hidden behind a reply subject of A's.
  EXPECT_EQ(reply.rfind("_R_.", 0), 0u) << req[0];

  ASSERT_TRUE(a.send("PUB " + reply + " 3\r\nans\r\n"));
  ASSERT_TRUE(a.ping_pong());
  EXPECT_EQ(msgs_before_pong(b), (std::vector<std::string>{"MSG inbox.1 9 3"}));
  // A singleton service: one response per request.
  ASSERT_TRUE(a.send("PUB " + reply + " 3\r\nans\r\n"));
  ASSERT_TRUE(a.ping_pong());
  EXPECT_TRUE(msgs_before_pong(b).empty()) << "a second response to a singleton request was delivered";
}

TEST(ServiceImports, AStreamServiceMayAnswerManyTimes) {
  ServerProcess srv(with_config(kServicesConfig));
  ASSERT_TRUE(srv.start());
  RawClient a = login(srv.port(), "a");
  RawClient b = login(srv.port(), "b");
  ASSERT_TRUE(a.send("SUB feed 1\r\n"));
  ASSERT_TRUE(a.ping_pong());
  ASSERT_TRUE(b.send("SUB inbox.2 9\r\nPUB feed inbox.2 3\r\nreq\r\n"));
  ASSERT_TRUE(b.ping_pong());
  auto req = msgs_before_pong(a);
  ASSERT_EQ(req.size(), 1u);
  std::string reply = reply_of(req[0]);
  ASSERT_TRUE(a.send("PUB " + reply + " 1\r\n1\r\nPUB " + reply + " 1\r\n2\r\nPUB " + reply + " 1\r\n3\r\n"));
  ASSERT_TRUE(a.ping_pong());
  EXPECT_EQ(msgs_before_pong(b), (std::vector<std::string>(3, "MSG inbox.2 9 1")));
}

// response_threshold: a stream service's mapped reply stays open while responses keep coming
// and closes once none came for the threshold. The wait is the point here (no condition to
// poll): it is a multiple of the threshold, so the mapping has certainly expired.
TEST(ServiceImports, AStreamServicesReplyClosesAfterTheResponseThreshold) {
  constexpr auto kThreshold = 200ms;          // "slow" in kServicesConfig
  constexpr auto kWellPastThreshold = kThreshold * 4;
  ServerProcess srv(with_config(kServicesConfig));
  ASSERT_TRUE(srv.start());
  RawClient a = login(srv.port(), "a");
  RawClient b = login(srv.port(), "b");
  ASSERT_TRUE(a.send("SUB slow 1\r\n"));
  ASSERT_TRUE(a.ping_pong());
  ASSERT_TRUE(b.send("SUB inbox.4 9\r\nPUB slow inbox.4 3\r\nreq\r\n"));
  ASSERT_TRUE(b.ping_pong());
  auto req = msgs_before_pong(a);
  ASSERT_EQ(req.size(), 1u);
  std::string reply = reply_of(req[0]);
  ASSERT_TRUE(a.send("PUB " + reply + " 1\r\n1\r\n"));
  ASSERT_TRUE(a.ping_pong());
  EXPECT_EQ(msgs_before_pong(b), (std::vector<std::string>{"MSG inbox.4 9 1"})) << "within the threshold";
  std::this_thread::sleep_for(kWellPastThreshold);
  ASSERT_TRUE(a.send("PUB " + reply + " 1\r\n2\r\n"));
  ASSERT_TRUE(a.ping_pong());
  EXPECT_TRUE(msgs_before_pong(b).empty()) << "a response long after the threshold still went through";
}

// As the reference: the import itself takes the request, so a requester that asked for no
// responders status hears none, even with no service behind the import; the request is simply
// not answered.
TEST(ServiceImports, AnImportTakesRequestsEvenWithNobodyServingThem) {
  ServerProcess srv(with_config(kServicesConfig));
  ASSERT_TRUE(srv.start());
  RawClient b = raw_connect(srv.port());
  std::string got;
  ASSERT_TRUE(b.handshake(
      R"({"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"user":"b","pass":"pb"})", &got))
      << got;
  ASSERT_TRUE(b.send("SUB inbox.3 9\r\nPUB vip inbox.3 3\r\nreq\r\nPUB nothing.here inbox.3 3\r\nreq\r\n"));
  std::vector<std::string> lines;
  ASSERT_TRUE(b.ping_pong(5s, &lines));
  // Only the request to a subject nobody has gets the 503, and only one.
  std::vector<std::string> msgs;
  for (auto& l : lines) {
    if (l.rfind("HMSG ", 0) == 0 || l.rfind("MSG ", 0) == 0) msgs.push_back(l);
  }
  ASSERT_EQ(msgs.size(), 1u) << "one 503 status, for the request without an import";
  EXPECT_EQ(msgs[0].rfind("HMSG inbox.3 9 ", 0), 0u) << msgs[0];
}

}  // namespace
}  // namespace pylon::it
