// The client protocol spoken over raw sockets: INFO, +OK, PING/PONG, exact -ERR texts and
// which of them close the connection, limits, stale connections, slow consumers, and
// isolation from misbehaving clients. Expected texts are the reference server 2.9's
// (server/client.go, server/parser.go, server/errors.go).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "nats_c.h"

namespace pylon::it {
namespace {

namespace json = boost::json;

constexpr const char* kQuiet = R"({"verbose":false,"pedantic":false})";

// Reads until the server closes the connection and checks the last line is `err`.
void expect_error_then_close(RawClient& c, const std::string& err, milliseconds timeout = 5s) {
  auto lines = c.read_all_lines(timeout);
  EXPECT_TRUE(c.peer_closed()) << "server did not close the connection after " << err;
  ASSERT_FALSE(lines.empty()) << "expected " << err << ", got nothing";
  EXPECT_EQ(lines.back(), err);
}

// Sends PING; every line before the PONG is returned (so an -ERR shows up here).
std::vector<std::string> lines_before_pong(RawClient& c) {
  std::vector<std::string> before;
  EXPECT_TRUE(c.ping_pong(5s, &before)) << "no PONG: connection closed or stuck";
  return before;
}

size_t count_occurrences(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

RawClient quiet_client(const ServerProcess& s, std::string_view connect = kQuiet) {
  RawClient c = raw_connect(s.port());
  std::string got;
  EXPECT_TRUE(c.handshake(connect, &got)) << "handshake failed: " << got;
  return c;
}

class RawProto : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.start()); }
  ServerProcess server;
};

// ------------------------------------------------------------------ greeting, basics

TEST_F(RawProto, InfoOnConnectHasExpectedFields) {
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  auto info = c.read_info();
  ASSERT_TRUE(info) << "first line must be INFO";
  json::value v;
  ASSERT_NO_THROW(v = json::parse(*info)) << *info;
  ASSERT_TRUE(v.is_object());
  auto& o = v.as_object();
  for (const char* key : {"server_id", "server_name", "version", "host"}) {
    ASSERT_TRUE(o.contains(key) && o.at(key).is_string()) << key << " missing or not a string: " << *info;
    EXPECT_FALSE(o.at(key).as_string().empty()) << key;
  }
  ASSERT_TRUE(o.contains("proto") && o.at("proto").is_int64()) << *info;
  EXPECT_EQ(o.at("proto").as_int64(), 1);
  ASSERT_TRUE(o.contains("port") && o.at("port").is_int64()) << *info;
  EXPECT_EQ(o.at("port").as_int64(), server.port());
  ASSERT_TRUE(o.contains("headers") && o.at("headers").is_bool()) << *info;
  EXPECT_TRUE(o.at("headers").as_bool());
  ASSERT_TRUE(o.contains("max_payload") && o.at("max_payload").is_int64()) << *info;
  EXPECT_EQ(o.at("max_payload").as_int64(), 1024 * 1024);
  ASSERT_TRUE(o.contains("client_id") && o.at("client_id").is_int64()) << *info;
  EXPECT_GT(o.at("client_id").as_int64(), 0);
  ASSERT_TRUE(o.contains("client_ip") && o.at("client_ip").is_string()) << *info;
  EXPECT_EQ(o.at("client_ip").as_string(), "127.0.0.1");
  if (o.contains("auth_required")) {
    EXPECT_FALSE(o.at("auth_required").as_bool());
  }
  // Version looks like a version.
  std::string version(o.at("version").as_string());
  EXPECT_NE(version.find('.'), std::string::npos) << version;

  // Every connection gets its own client_id.
  RawClient c2;
  ASSERT_TRUE(c2.connect(server.port()));
  auto info2 = c2.read_info();
  ASSERT_TRUE(info2);
  EXPECT_NE(json::parse(*info2).as_object().at("client_id").as_int64(), o.at("client_id").as_int64());
}

TEST(RawProtoOptions, InfoReflectsServerNameAuthAndMaxPayload) {
  ServerProcess server(with_config("max_payload: 4096\n", {"-n", "pylon-it-name", "--user", "u", "--pass", "p"}));
  ASSERT_TRUE(server.start());
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  auto info = c.read_info();
  ASSERT_TRUE(info);
  auto o = json::parse(*info).as_object();
  EXPECT_EQ(o.at("server_name").as_string(), "pylon-it-name");
  ASSERT_TRUE(o.contains("auth_required")) << *info;
  EXPECT_TRUE(o.at("auth_required").as_bool());
  EXPECT_EQ(o.at("max_payload").as_int64(), 4096);
}

TEST_F(RawProto, PingPongBeforeAndAfterConnectAnyCase) {
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.send("PING\r\n"));
  EXPECT_EQ(c.read_line(), "PONG");
  ASSERT_TRUE(c.send("ping\r\n"));
  EXPECT_EQ(c.read_line(), "PONG");
  ASSERT_TRUE(c.send(std::string("CONNECT ") + kQuiet + "\r\nPING\r\n"));
  EXPECT_EQ(c.read_line(), "PONG");
}

TEST_F(RawProto, VerboseAcknowledgesEveryOperation) {
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.send("CONNECT {\"verbose\":true}\r\n"));
  EXPECT_EQ(c.read_line(), "+OK");
  ASSERT_TRUE(c.send("SUB foo 1\r\n"));
  EXPECT_EQ(c.read_line(), "+OK");
  ASSERT_TRUE(c.send("PUB foo 2\r\nhi\r\n"));
  // +OK for the PUB and the MSG it produced, in either order.
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) got.push_back(c.read_line().value_or("<none>"));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"+OK", "MSG foo 1 2", "hi"}));
  ASSERT_TRUE(c.send("UNSUB 1\r\n"));
  EXPECT_EQ(c.read_line(), "+OK");
  ASSERT_TRUE(c.send("PING\r\n"));
  EXPECT_EQ(c.read_line(), "PONG");  // PING is answered with PONG only
}

TEST_F(RawProto, ConnectWithoutVerboseFieldDefaultsToVerbose) {
  // The reference server starts from {verbose:true, pedantic:true, echo:true} and
  // overlays the CONNECT JSON, so a bare CONNECT {} is acknowledged.
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.send("CONNECT {}\r\n"));
  EXPECT_EQ(c.read_line(), "+OK");
}

TEST_F(RawProto, PipelinedOperationsInOneWrite) {
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.send(std::string("CONNECT ") + kQuiet +
                     "\r\nSUB foo 1\r\nSUB bar 2\r\nPUB foo 2\r\nhi\r\nPUB bar reply.x 5\r\nhello\r\n"
                     "PUB foo 3\r\nend\r\nPING\r\n"));
  auto out = c.read_until("PONG\r\n");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "MSG foo 1 2\r\nhi\r\nMSG bar 2 reply.x 5\r\nhello\r\nMSG foo 1 3\r\nend\r\nPONG\r\n");
}

TEST_F(RawProto, OneMessagePerMatchingSubscription) {
  // Two subscriptions of one connection match: two MSGs, in either order.
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("SUB foo 1\r\nSUB f* 2\r\nSUB * 3\r\nPUB foo 2\r\nhi\r\n"));
  std::vector<std::string> lines;
  ASSERT_TRUE(c.ping_pong(5s, &lines));
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"MSG foo 1 2", "MSG foo 3 2", "hi", "hi"}));
}

TEST_F(RawProto, OperationsSplitAtEveryByte) {
  RawClient sub = quiet_client(server);
  ASSERT_TRUE(sub.send("SUB split.* q 7\r\n"));
  ASSERT_TRUE(lines_before_pong(sub).empty());
  RawClient pub = raw_connect(server.port());
  const std::string stream = std::string("CONNECT ") + kQuiet +
                             "\r\nPUB split.a 3\r\nabc\r\nPUB split.b r.1 0\r\n\r\n"
                             "PUB split.c 7\r\nx\r\ny\r\nz\r\nPUB\tsplit.d  4\r\n1234\r\nPING\r\n";
  for (char ch : stream) {
    ASSERT_TRUE(pub.send(std::string(1, ch)));
    std::this_thread::yield();
  }
  EXPECT_EQ(pub.read_line(), "PONG");
  auto out = sub.read_until("1234\r\n");
  ASSERT_TRUE(out) << "got so far: " << sub.buffer();
  EXPECT_EQ(*out,
            "MSG split.a 7 3\r\nabc\r\nMSG split.b 7 r.1 0\r\n\r\n"
            "MSG split.c 7 7\r\nx\r\ny\r\nz\r\nMSG split.d 7 4\r\n1234\r\n");
}

TEST_F(RawProto, HpubIsDeliveredAsHmsg) {
  RawClient c = quiet_client(server, R"({"verbose":false,"pedantic":false,"headers":true})");
  const std::string hdr = "NATS/1.0\r\nX-A: b\r\n\r\n";  // 20 bytes
  const std::string body = "hi";
  ASSERT_TRUE(c.send("SUB h 1\r\nHPUB h r " + std::to_string(hdr.size()) + " " +
                     std::to_string(hdr.size() + body.size()) + "\r\n" + hdr + body + "\r\nPING\r\n"));
  auto out = c.read_until("PONG\r\n");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "HMSG h 1 r 20 22\r\n" + hdr + body + "\r\nPONG\r\n");
}

TEST_F(RawProto, NoRespondersStatusMessage) {
  RawClient c = quiet_client(server, R"({"verbose":false,"pedantic":false,"headers":true,"no_responders":true})");
  ASSERT_TRUE(c.send("SUB _INBOX.x 1\r\nPUB nobody.here _INBOX.x 0\r\n\r\nPING\r\n"));
  auto out = c.read_until("PONG\r\n");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n");
}

TEST_F(RawProto, NoRespondersWithoutHeadersIsRefused) {
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.send("CONNECT {\"verbose\":false,\"no_responders\":true}\r\nPING\r\n"));
  expect_error_then_close(c, "-ERR 'no responders requires headers support'");
}

TEST_F(RawProto, UnsubWithMaxIsEnforcedByServer) {
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("SUB u 1\r\nUNSUB 1 2\r\nPUB u 1\r\na\r\nPUB u 1\r\nb\r\nPUB u 1\r\nc\r\n"
                     "SUB marker 2\r\nPUB marker 3\r\nend\r\nPING\r\n"));
  auto out = c.read_until("PONG\r\n");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "MSG u 1 1\r\na\r\nMSG u 1 1\r\nb\r\nMSG marker 2 3\r\nend\r\nPONG\r\n");
  // The subscription is gone for good.
  ASSERT_TRUE(c.send("PUB u 1\r\nd\r\nPING\r\n"));
  EXPECT_EQ(c.read_until("PONG\r\n"), "PONG\r\n");
}

// ------------------------------------------------------------------ -ERR cases

TEST_F(RawProto, UnknownProtocolOperationClosesConnection) {
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("FOO bar\r\n"));
  expect_error_then_close(c, "-ERR 'Unknown Protocol Operation'");
}

TEST_F(RawProto, BinaryGarbageAsFirstOperation) {
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.send(std::string("\x00\x01\xff\xfe garbage\r\n", 13)));
  expect_error_then_close(c, "-ERR 'Unknown Protocol Operation'");
}

TEST_F(RawProto, PayloadLongerThanAnnouncedIsAProtocolError) {
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("PUB foo 3\r\nhello\r\n"));
  expect_error_then_close(c, "-ERR 'Unknown Protocol Operation'");
}

TEST_F(RawProto, MalformedArgumentsCloseConnection) {
  // The reference closes these without an -ERR text (processPub/processSub parse errors);
  // what matters is that the connection is closed and nothing is delivered.
  for (const char* bad : {"PUB foo\r\n", "PUB foo bar\r\n", "SUB foo\r\n", "SUB a b c d\r\n", "UNSUB\r\n"}) {
    RawClient c = quiet_client(server);
    ASSERT_TRUE(c.send(bad));
    auto lines = c.read_all_lines(5s);
    EXPECT_TRUE(c.peer_closed()) << "not closed after " << bad;
    for (auto& l : lines) EXPECT_EQ(l.rfind("-ERR", 0), 0u) << "unexpected line after " << bad << ": " << l;
  }
  // Logged in the reference's words, its arguments quoted as Go's %q, with no other prefix
  // than the connection's (Pylon logged "Client parser ERROR: processPub ...: 'foo bar'").
  for (const char* line : {R"( - processPub Parse Error: "foo")", R"( - processPub Bad or Missing Size: "foo bar")",
                           R"( - processSub Parse Error: "foo")", R"( - processSub Parse Error: "a b c d")"}) {
    EXPECT_TRUE(server.wait_for_log(line, 5s)) << line << "\n" << server.log();
  }
}

// An unknown operation is logged as the reference's parseError writes it: the state its
// parser.go was in, the byte's index in the read, and Go's %q of up to 32 bytes from there
// (its protoSnippet, which drops a short buffer's last byte). Operators' alerts match these
// lines. Each bad line goes alone on a client that has finished its handshake, so both
// servers read it as one buffer from index 0.
TEST_F(RawProto, UnknownOperationsAreLoggedAsTheReferenceLogsThem) {
  struct Case {
    std::string send;
    std::string logged;  // after "Client parser ERROR, "
  };
  const std::vector<Case> cases = {
      {"FOO bar\r\n", R"(state=0, i=0: proto='"FOO bar\r"...')"},
      {"PUBX foo 1\r\n", R"(state=31, i=3: proto='"X foo 1\r"...')"},         // OP_PUB
      {"SUB\r\n", R"(state=45, i=3: proto='"\r"...')"},                        // OP_SUB
      {"CONNEXT {}\r\n", R"(state=14, i=5: proto='"XT {}\r"...')"},          // OP_CONNE
      {"+OX\r\n", R"(state=2, i=2: proto='"X\r"...')"},                        // OP_PLUS_O
      {"UNSUX 1\r\n", R"(state=62, i=4: proto='"X 1\r"...')"},                 // OP_UNSU
      {"PUB foo 3\r\nhello\r\n", R"(state=41, i=14: proto='"lo\r"...')"},     // MSG_END_R
      {"PUB foo 3\r\nabc\rX\r\n", R"(state=42, i=15: proto='"X\r"...')"},     // MSG_END_N
      {"MSG foo 1 1\r\na\r\n", R"(state=0, i=0: proto='"MSG foo 1 1\r\na\r"...')"},  // not a client's
      // A TLS ClientHello's first bytes: control bytes and a byte of no UTF-8 sequence as \xHH.
      {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x7f\xc3\xa9\x07\r\n", 17),
       R"(state=0, i=0: proto='"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x7fé\a\r"...')"},
  };
  for (const auto& c : cases) {
    RawClient client = quiet_client(server);
    ASSERT_TRUE(client.send(c.send));
    expect_error_then_close(client, "-ERR 'Unknown Protocol Operation'");
  }
  for (const auto& c : cases) {
    const std::string line = " - Client parser ERROR, " + c.logged;
    EXPECT_TRUE(server.wait_for_log(line, 5s)) << line << "\n" << server.log();
  }
}

TEST_F(RawProto, MaximumPayloadViolation) {
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("PUB foo 1048577\r\n"));
  expect_error_then_close(c, "-ERR 'Maximum Payload Violation'");

  RawClient h = quiet_client(server, R"({"verbose":false,"pedantic":false,"headers":true})");
  ASSERT_TRUE(h.send("HPUB foo 12 1048577\r\n"));
  expect_error_then_close(h, "-ERR 'Maximum Payload Violation'");

  // Exactly max_payload is fine.
  RawClient ok = quiet_client(server);
  ASSERT_TRUE(ok.send("SUB foo 1\r\nPUB foo 1048576\r\n" + std::string(1048576, 'p') + "\r\n"));
  auto hdr = ok.read_line(10s);
  EXPECT_EQ(hdr, "MSG foo 1 1048576");
  auto body = ok.read_exact(1048576 + 2, 10s);
  ASSERT_TRUE(body);
  EXPECT_EQ(*body, std::string(1048576, 'p') + "\r\n");
}

TEST(RawProtoOptions, MaximumPayloadViolationConfigured) {
  ServerProcess server(with_config("max_payload: 1024\n"));
  ASSERT_TRUE(server.start());
  RawClient ok = quiet_client(server);
  ASSERT_TRUE(ok.send("PUB foo 1024\r\n" + std::string(1024, 'x') + "\r\n"));
  EXPECT_TRUE(lines_before_pong(ok).empty());
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("PUB foo 1025\r\n"));
  expect_error_then_close(c, "-ERR 'Maximum Payload Violation'");
}

// After CONNECT the reference tags a client's log lines with "v<version>:<lang>:<name>"
// (Go-quoted); operators grep logs by client name. A client that gives none stays untagged.
TEST(RawProtoOptions, LogLinesNameTheClientAfterConnect) {
  ServerProcess server(with_config("max_payload: 1024\n"));
  ASSERT_TRUE(server.start());
  RawClient named = quiet_client(
      server, R"({"verbose":false,"pedantic":false,"lang":"raw","version":"1.2","name":"orders \"svc\""})");
  RawClient plain = quiet_client(server);
  ASSERT_TRUE(named.send("PUB foo 1025\r\n"));
  expect_error_then_close(named, "-ERR 'Maximum Payload Violation'");
  ASSERT_TRUE(plain.send("PUB foo 1026\r\n"));
  expect_error_then_close(plain, "-ERR 'Maximum Payload Violation'");
  const std::string tagged = R"( - "v1.2:raw:orders \"svc\"" - maximum payload exceeded: 1025 vs 1024)";
  const std::string untagged = " - maximum payload exceeded: 1026 vs 1024";
  ASSERT_TRUE(wait_for([&] {
    std::string log = server.log();
    return log.find(tagged) != std::string::npos && log.find(untagged) != std::string::npos;
  }, 5s)) << server.log();
  std::string log = server.log();
  size_t at = log.find(untagged);
  size_t line_start = log.rfind('\n', at) + 1;
  EXPECT_EQ(log.substr(line_start, at - line_start).find('"'), std::string::npos)
      << "a client without version, lang or name has no tag: " << log.substr(line_start, at - line_start);
}

// A client that resets while the server's writes to it wait on a full socket: the write
// fails, which the reference logs as "Error flushing: <why>" (at debug level for a client)
// and closes as a "Write Error"; every other connection goes on.
TEST(RawProtoOptions, AResetWhileWritesArePendingIsAWriteError) {
  ServerProcess server(with_args({"-D"}));
  ASSERT_TRUE(server.start());
  RawClient victim;
  ASSERT_TRUE(victim.connect(server.port(), 5s, 4096));  // a small window fills at once
  ASSERT_TRUE(victim.read_info());
  ASSERT_TRUE(victim.handshake());
  ASSERT_TRUE(victim.send("SUB big 1\r\n"));
  ASSERT_TRUE(victim.ping_pong());
  RawClient pub = quiet_client(server);
  const std::string msg = "PUB big 16384\r\n" + std::string(16384, 'x') + "\r\n";
  std::string burst;
  for (int i = 0; i < 512; ++i) burst += msg;  // 8 MiB the victim never reads: more than the kernel holds
  ASSERT_TRUE(pub.send(burst, 10s));
  ASSERT_TRUE(pub.ping_pong(10s));  // the server has taken all of it
  linger reset{1, 0};
  ASSERT_EQ(::setsockopt(victim.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
  victim.close();
  ASSERT_TRUE(server.wait_for_log(" - Error flushing: ", 5s)) << server.log();
  // Pylon's loop runs the failed write before the read that also fails (Asio completes a
  // socket's write before its read); nats-server's reading and writing goroutines race, and
  // its read sometimes closes the client first, as "Client Closed".
  if (!using_reference_server()) {
    EXPECT_TRUE(server.wait_for_log("Client connection closed: Write Error", 5s)) << server.log();
  } else {
    EXPECT_TRUE(wait_for([&] {
      const std::string log = server.log();
      return log.find("Client connection closed: Write Error") != std::string::npos ||
             log.find("Client connection closed: Client Closed") != std::string::npos;
    }, 5s)) << server.log();
  }
  const std::string log = server.log();
  const size_t at = log.find(" - Error flushing: ");
  const size_t line_start = log.rfind('\n', at) + 1;
  EXPECT_NE(log.substr(line_start, at - line_start).find("[DBG]"), std::string::npos) << log;
  EXPECT_EQ(server.log().find("[ERR]"), std::string::npos) << "a client's write error is not an error of the server's\n"
                                                            << server.log();
  // The publisher is untouched.
  ASSERT_TRUE(pub.send("SUB small 2\r\nPUB small 2\r\nok\r\n"));
  EXPECT_EQ(pub.read_until("ok\r\n", 5s), "MSG small 2 2\r\nok\r\n");
}

TEST(RawProtoOptions, MaximumControlLineExceeded) {
  ServerProcess server(with_config("max_control_line: 256\n"));
  ASSERT_TRUE(server.start());
  // Just under the limit is fine.
  RawClient ok = quiet_client(server);
  ASSERT_TRUE(ok.send("SUB " + std::string(200, 'a') + " 1\r\n"));
  EXPECT_TRUE(lines_before_pong(ok).empty());
  // A complete control line over the limit.
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("SUB " + std::string(300, 'a') + " 1\r\n"));
  expect_error_then_close(c, "-ERR 'maximum control line exceeded'");
  // A control line that never ends must not be buffered forever.
  RawClient p = quiet_client(server);
  ASSERT_TRUE(p.send("PUB " + std::string(1000, 'b')));
  expect_error_then_close(p, "-ERR 'maximum control line exceeded'");
}

TEST(RawProtoOptions, DefaultMaximumControlLineIs4K) {
  ServerProcess server;
  ASSERT_TRUE(server.start());
  RawClient ok = quiet_client(server);
  ASSERT_TRUE(ok.send("SUB " + std::string(4000, 'a') + " 1\r\n"));
  EXPECT_TRUE(lines_before_pong(ok).empty());
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("SUB " + std::string(5000, 'a') + " 1\r\n"));
  expect_error_then_close(c, "-ERR 'maximum control line exceeded'");
}

TEST_F(RawProto, InvalidSubjectKeepsConnectionOpen) {
  RawClient c = quiet_client(server);
  for (const char* bad : {"foo..bar", "foo.>.bar", ".foo", "foo.", ">.foo"}) {
    ASSERT_TRUE(c.send(std::string("SUB ") + bad + " 9\r\n"));
    auto before = lines_before_pong(c);
    ASSERT_EQ(before.size(), 1u) << "SUB " << bad;
    EXPECT_EQ(before[0], "-ERR 'Invalid Subject'") << "SUB " << bad;
  }
  // Still fully usable.
  ASSERT_TRUE(c.send("SUB good.subject 1\r\nPUB good.subject 2\r\nok\r\nPING\r\n"));
  EXPECT_EQ(c.read_until("PONG\r\n"), "MSG good.subject 1 2\r\nok\r\nPONG\r\n");
  // The -ERR is the whole answer: the reference logs nothing of it (Pylon logged an [ERR]
  // line for each, which a client looping on a bad subject turned into a flood).
  EXPECT_EQ(server.log().find("[ERR]"), std::string::npos) << server.log();
}

TEST_F(RawProto, InvalidPublishSubjectWhenPedantic) {
  RawClient c = quiet_client(server, R"({"verbose":false,"pedantic":true})");
  ASSERT_TRUE(c.send("PUB foo.* 2\r\nhi\r\n"));
  auto before = lines_before_pong(c);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0], "-ERR 'Invalid Publish Subject'");
  ASSERT_TRUE(c.send("PUB foo.> 2\r\nhi\r\n"));
  before = lines_before_pong(c);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0], "-ERR 'Invalid Publish Subject'");

  // Without pedantic, no complaint.
  RawClient lax = quiet_client(server, R"({"verbose":false,"pedantic":false})");
  ASSERT_TRUE(lax.send("PUB foo.* 2\r\nhi\r\n"));
  EXPECT_TRUE(lines_before_pong(lax).empty());
}

// Found by fuzz/proto_diff.py (the same random sessions against both servers):

// A later CONNECT changes only what it names, as the reference unmarshals it into the options
// it has: a bare "CONNECT {}" leaves a quiet client quiet, and authenticated as it was.
TEST(RawProtoOptions, ALaterConnectKeepsWhatItDoesNotName) {
  ServerProcess server(with_args({"--user", "alice", "--pass", "s3cr3t"}));
  ASSERT_TRUE(server.start());
  RawClient c = raw_connect(server.port());
  std::string got;
  ASSERT_TRUE(c.handshake(R"({"verbose":false,"pedantic":false,"user":"alice","pass":"s3cr3t"})", &got)) << got;
  ASSERT_TRUE(c.send("CONNECT {}\r\nSUB a.* 1\r\nPUB foo.* 2\r\nhi\r\n"));
  EXPECT_TRUE(lines_before_pong(c).empty()) << "no +OK (verbose stays false), no -ERR (pedantic stays false)";
  ASSERT_TRUE(c.send("CONNECT {\"verbose\":true}\r\nSUB b 2\r\n"));
  EXPECT_EQ(lines_before_pong(c), (std::vector<std::string>{"+OK", "+OK"}));
}

// PONG, -ERR and +OK leave in the order of what they answer: a PING read before a bad
// subscription is answered before its -ERR, and before the -ERR of an operation that closes
// the connection.
TEST_F(RawProto, APingIsAnsweredBeforeTheErrorsOfWhatFollowsIt) {
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("PING\r\nSUB foo..bar 1\r\n"));
  EXPECT_EQ(c.read_line(5s), "PONG");
  EXPECT_EQ(c.read_line(5s), "-ERR 'Invalid Subject'");
  EXPECT_TRUE(lines_before_pong(c).empty());
  RawClient d = quiet_client(server);
  ASSERT_TRUE(d.send("PING\r\nGARBAGE\r\n"));
  auto lines = d.read_all_lines(5s);
  EXPECT_TRUE(d.peer_closed());
  EXPECT_EQ(lines, (std::vector<std::string>{"PONG", "-ERR 'Unknown Protocol Operation'"}));
}

// A SUB is judged in the reference's order: permissions, the subscription limit, a repeated
// sid (ignored, so its subject is never looked at), and the subject last.
TEST(RawProtoOptions, ARepeatedSidIsIgnoredBeforeItsSubjectIsChecked) {
  ServerProcess server(with_config("max_subscriptions: 2\n"));
  ASSERT_TRUE(server.start());
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("SUB foo 1\r\nSUB .bad 1\r\n"));
  EXPECT_TRUE(lines_before_pong(c).empty()) << "a repeated sid is ignored, whatever its subject";
  ASSERT_TRUE(c.send("SUB .bad 2\r\n"));
  EXPECT_EQ(lines_before_pong(c), (std::vector<std::string>{"-ERR 'Invalid Subject'"}));
  ASSERT_TRUE(c.send("SUB bar 3\r\n"));
  EXPECT_TRUE(lines_before_pong(c).empty());
  // At the limit, even a repeated sid is refused as one too many.
  ASSERT_TRUE(c.send("SUB foo 1\r\n"));
  EXPECT_EQ(lines_before_pong(c), (std::vector<std::string>{"-ERR 'maximum subscriptions exceeded'"}));
}

// A publish subject with wildcard tokens is published all the same, pedantic or not: the
// reference's -ERR is a warning, and its sublist matches the tokens as they are, so a '*' or
// '>' there is a token only wildcard subscriptions match. A subject with an empty token
// matches nothing. (Pylon dropped all of these.)
TEST_F(RawProto, WildcardTokensInAPublishedSubjectReachOnlyWildcardSubscriptions) {
  RawClient sub = quiet_client(server);
  ASSERT_TRUE(sub.send("SUB foo.> 1\r\nSUB foo.* 2\r\nSUB foo.bar 3\r\nSUB *.* 4\r\nSUB > 5\r\nSUB foo 6\r\n"));
  ASSERT_TRUE(sub.ping_pong());
  RawClient pedantic = quiet_client(server, R"({"verbose":false,"pedantic":true})");
  ASSERT_TRUE(pedantic.send("PUB foo.* 1\r\na\r\n"));
  auto before = lines_before_pong(pedantic);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0], "-ERR 'Invalid Publish Subject'");
  RawClient lax = quiet_client(server, R"({"verbose":false,"pedantic":false})");
  ASSERT_TRUE(lax.send("PUB foo.> 1\r\nb\r\nPUB > 1\r\nc\r\nPUB foo..bar 1\r\nd\r\nPUB foo.bar 1\r\ne\r\n"));
  EXPECT_TRUE(lines_before_pong(lax).empty());
  // Everything delivered is queued to the subscriber before the answer to its PING. Within a
  // message the order of its subscriptions is the server's own: compare sets.
  std::vector<std::string> lines;
  ASSERT_TRUE(sub.ping_pong(5s, &lines));
  ASSERT_EQ(lines.size() % 2, 0u);
  std::map<std::string, std::multiset<std::string>> by_payload;  // payload -> "subject sid"
  for (size_t i = 0; i < lines.size(); i += 2) {
    std::istringstream words(lines[i]);
    std::string op, subject, sid;
    words >> op >> subject >> sid;
    EXPECT_EQ(op, "MSG") << lines[i];
    by_payload[lines[i + 1]].insert(subject + " " + sid);
  }
  using Set = std::multiset<std::string>;
  EXPECT_EQ(by_payload["a"], (Set{"foo.* 1", "foo.* 2", "foo.* 4", "foo.* 5"}));
  EXPECT_EQ(by_payload["b"], (Set{"foo.> 1", "foo.> 2", "foo.> 4", "foo.> 5"}));
  EXPECT_EQ(by_payload["c"], (Set{"> 5"}));
  EXPECT_EQ(by_payload.count("d"), 0u) << "an empty token matches nothing";
  EXPECT_EQ(by_payload["e"], (Set{"foo.bar 1", "foo.bar 2", "foo.bar 3", "foo.bar 4", "foo.bar 5"}));
}

// ------------------------------------------------------------------ authorization

TEST(RawProtoAuth, AuthorizationViolation) {
  ServerProcess server(with_args({"--user", "alice", "--pass", "s3cr3t"}));
  ASSERT_TRUE(server.start());
  const std::string violation = "-ERR 'Authorization Violation'";
  {
    RawClient c = raw_connect(server.port());
    ASSERT_TRUE(c.send("CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"wrong\"}\r\nPING\r\n"));
    expect_error_then_close(c, violation);
  }
  {
    RawClient c = raw_connect(server.port());
    ASSERT_TRUE(c.send("CONNECT {\"verbose\":false,\"user\":\"mallory\",\"pass\":\"s3cr3t\"}\r\nPING\r\n"));
    expect_error_then_close(c, violation);
  }
  {
    RawClient c = raw_connect(server.port());
    ASSERT_TRUE(c.send("CONNECT {\"verbose\":false}\r\nPING\r\n"));
    expect_error_then_close(c, violation);
  }
  {  // First operation is not CONNECT.
    RawClient c = raw_connect(server.port());
    ASSERT_TRUE(c.send("PING\r\n"));
    expect_error_then_close(c, violation);
  }
  {
    RawClient c = raw_connect(server.port());
    ASSERT_TRUE(c.send("SUB foo 1\r\n"));
    expect_error_then_close(c, violation);
  }
  {
    RawClient c = raw_connect(server.port());
    std::string got;
    EXPECT_TRUE(c.handshake(R"({"verbose":false,"user":"alice","pass":"s3cr3t"})", &got)) << got;
  }
  EXPECT_TRUE(server.running());
}

// Before CONNECT the reference's parser refuses any operation that does not begin as CONNECT
// does, before it knows whether the operation exists: "GARBAGE" or "PX" sent first to a
// server that requires authentication is an authorization violation, not an unknown
// operation (a port scanner or an HTTP probe is logged as a failed authentication). Only
// what begins with 'C' gets as far as the parser's own error.
TEST(RawProtoAuth, AnythingButConnectFirstIsAnAuthorizationViolation) {
  ServerProcess server(with_args({"--user", "alice", "--pass", "s3cr3t"}));
  ASSERT_TRUE(server.start());
  for (const char* first : {"GARBAGE\r\n", "PX\r\n", "GET / HTTP/1.1\r\n\r\n"}) {
    RawClient c = raw_connect(server.port());
    ASSERT_TRUE(c.send(first));
    expect_error_then_close(c, "-ERR 'Authorization Violation'");
  }
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.send("Cx\r\n"));
  expect_error_then_close(c, "-ERR 'Unknown Protocol Operation'");
  EXPECT_TRUE(server.wait_for_log(R"( - Client parser ERROR, state=10, i=1: proto='"x\r"...')", 5s)) << server.log();
  EXPECT_TRUE(wait_for([&] { return count_occurrences(server.log(), " - authentication error") == 3; }, 5s))
      << server.log();
}

// no_auth_user takes a client that sends no CONNECT at all, as the reference's parser does
// (a telnet session that subscribes straight away): the client is that user, with its
// permissions, and its first operation is carried out.
TEST(RawProtoAuth, NoAuthUserTakesAClientThatSendsNoConnect) {
  ServerProcess server(with_config(
      "authorization {\n  users: [\n    {user: alice, password: s3cr3t}\n"
      "    {user: anon, password: x, permissions: {publish: \"open.>\", subscribe: \"open.>\"}}\n  ]\n}\n"
      "no_auth_user: anon\n"));
  ASSERT_TRUE(server.start());
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.send("SUB open.x 1\r\nPUB open.x 2\r\nhi\r\nPING\r\n"));
  // Verbose, as every client is until its CONNECT says otherwise: +OK for the SUB and the PUB.
  EXPECT_EQ(c.read_until("PONG\r\n"), "+OK\r\n+OK\r\nMSG open.x 1 2\r\nhi\r\nPONG\r\n");
  ASSERT_TRUE(c.send("PUB closed 2\r\nhi\r\nPING\r\n"));
  EXPECT_EQ(c.read_until("PONG\r\n"), "-ERR 'Permissions Violation for Publish to \"closed\"'\r\nPONG\r\n");
  // An operation that does not exist is still one: admitted, then refused as unknown.
  RawClient g = raw_connect(server.port());
  ASSERT_TRUE(g.send("GARBAGE\r\n"));
  expect_error_then_close(g, "-ERR 'Unknown Protocol Operation'");
  EXPECT_EQ(server.log().find(" - authentication error"), std::string::npos) << server.log();
}

TEST(RawProtoAuth, TokenViolation) {
  ServerProcess server(with_args({"--auth", "t0k3n"}));
  ASSERT_TRUE(server.start());
  {
    RawClient c = raw_connect(server.port());
    ASSERT_TRUE(c.send("CONNECT {\"verbose\":false,\"auth_token\":\"bad\"}\r\nPING\r\n"));
    expect_error_then_close(c, "-ERR 'Authorization Violation'");
  }
  RawClient c = raw_connect(server.port());
  std::string got;
  EXPECT_TRUE(c.handshake(R"({"verbose":false,"auth_token":"t0k3n"})", &got)) << got;
}

TEST(RawProtoAuth, AuthenticationTimeout) {
  // The server promises the close at the configured timeout: not before it, and not at
  // some unrelated much later time. The upper bound is a wide multiple of the configured
  // value, so a loaded machine does not fail it while a timer that never fires does.
  constexpr milliseconds kAuthTimeout = 500ms;  // "timeout: 0.5" below
  constexpr int kLateFactor = 10;
  ServerProcess server(with_config("authorization {\n  user: alice\n  password: s3cr3t\n  timeout: 0.5\n}\n"));
  ASSERT_TRUE(server.start());
  RawClient c;
  // The server arms its timer when it accepts, which is after connect() starts.
  auto start = Clock::now();
  ASSERT_TRUE(c.connect(server.port()));
  ASSERT_TRUE(c.read_info());
  expect_error_then_close(c, "-ERR 'Authentication Timeout'", kAuthTimeout * kLateFactor + 5s);
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_GE(took, kAuthTimeout) << "closed before the auth timeout";
  EXPECT_LE(took, kAuthTimeout * kLateFactor) << "auth timeout not honoured";

  // A client that authenticates in time is not affected, even after the timeout passes.
  RawClient ok = raw_connect(server.port());
  std::string got;
  ASSERT_TRUE(ok.handshake(R"({"verbose":false,"user":"alice","pass":"s3cr3t"})", &got)) << got;
  auto t0 = Clock::now();
  ASSERT_FALSE(ok.read_line(1s)) << "unexpected line for an authenticated client";
  EXPECT_GE(Clock::now() - t0, 900ms);
  EXPECT_TRUE(ok.ping_pong());
}

// ------------------------------------------------------------------ limits

TEST(RawProtoLimits, MaximumConnectionsExceeded) {
  ServerProcess server(with_config("max_connections: 2\n"));
  ASSERT_TRUE(server.start());
  // The harness's readiness probe may still occupy a slot for a moment: retry until
  // two real clients are in.
  std::vector<RawClient> in;
  ASSERT_TRUE(wait_for(
      [&] {
        RawClient c;
        if (!c.connect(server.port()) || !c.read_info()) return false;
        if (!c.handshake(kQuiet)) return false;
        in.push_back(std::move(c));
        return in.size() == 2;
      },
      10s, 20ms));
  RawClient third;
  ASSERT_TRUE(third.connect(server.port()));
  auto lines = third.read_all_lines(5s);
  EXPECT_TRUE(third.peer_closed());
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front().rfind("INFO ", 0), 0u) << "INFO comes first: " << lines.front();
  EXPECT_EQ(lines.back(), "-ERR 'maximum connections exceeded'");
  // The two admitted clients are unaffected; a slot frees when one leaves.
  for (auto& c : in) EXPECT_TRUE(c.ping_pong());
  in.pop_back();
  EXPECT_TRUE(wait_for(
      [&] {
        RawClient c;
        return c.connect(server.port()) && c.read_info() && c.handshake(kQuiet);
      },
      10s, 20ms));
}

TEST(RawProtoLimits, MaximumSubscriptionsExceeded) {
  ServerProcess server(with_config("max_subscriptions: 3\n"));
  ASSERT_TRUE(server.start());
  RawClient c = quiet_client(server);
  ASSERT_TRUE(c.send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n"));
  EXPECT_TRUE(lines_before_pong(c).empty());
  ASSERT_TRUE(c.send("SUB d 4\r\n"));
  auto before = lines_before_pong(c);  // the connection stays open
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0], "-ERR 'maximum subscriptions exceeded'");
  ASSERT_TRUE(c.send("PUB a 1\r\nx\r\nPUB d 1\r\ny\r\nPING\r\n"));
  EXPECT_EQ(c.read_until("PONG\r\n"), "MSG a 1 1\r\nx\r\nPONG\r\n");
  // Unsubscribing frees a slot.
  ASSERT_TRUE(c.send("UNSUB 1\r\nSUB d 4\r\nPUB d 1\r\ny\r\nPING\r\n"));
  EXPECT_EQ(c.read_until("PONG\r\n"), "MSG d 4 1\r\ny\r\nPONG\r\n");
}

TEST(RawProtoLimits, StaleConnectionIsClosed) {
  // Stale detection is a duration the server promises: a PING every ping_interval, and
  // the close at the tick after ping_max went unanswered, so (ping_max + 1) intervals
  // after the connection was accepted. Bounded below by that (the count of PINGs checks
  // the ticks) and above by a wide multiple of it.
  constexpr milliseconds kPingInterval = 100ms;  // the config below
  constexpr int kPingMax = 2;
  constexpr milliseconds kStaleAfter = kPingInterval * (kPingMax + 1);
  constexpr int kLateFactor = 20;
  ServerProcess server(with_config("ping_interval: \"100ms\"\nping_max: 2\n"));
  ASSERT_TRUE(server.start());
  auto start = Clock::now();  // before the accept, where the server arms its ping timer
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.send(std::string("CONNECT ") + kQuiet + "\r\n"));
  auto lines = c.read_all_lines(kStaleAfter * kLateFactor + 5s);  // never answer PING
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_TRUE(c.peer_closed()) << "stale client not disconnected";
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "-ERR 'Stale Connection'");
  int pings = static_cast<int>(std::count(lines.begin(), lines.end(), "PING"));
  EXPECT_EQ(pings, kPingMax) << "ping_max 2: two unanswered PINGs, then closed";
  EXPECT_GE(took, kStaleAfter) << "closed before ping_max intervals went unanswered";
  EXPECT_LE(took, kStaleAfter * kLateFactor) << "stale detection not honoured";
}

TEST(RawProtoLimits, ClientAnsweringPingsIsNotStale) {
  ServerProcess server(with_config("ping_interval: \"100ms\"\nping_max: 2\n"));
  ASSERT_TRUE(server.start());
  RawClient c = raw_connect(server.port());
  ASSERT_TRUE(c.send(std::string("CONNECT ") + kQuiet + "\r\n"));
  int answered = 0;
  while (answered < 8) {
    auto line = c.read_line(3s);
    ASSERT_TRUE(line) << "connection lost after " << answered << " PINGs";
    ASSERT_EQ(*line, "PING");
    ASSERT_TRUE(c.send("PONG\r\n"));
    ++answered;
  }
  EXPECT_TRUE(c.ping_pong());
}

// ------------------------------------------------------------------ isolation

TEST(RawProtoLimits, SlowConsumerIsCutOffWithoutHurtingOthers) {
  ServerProcess server(with_config("max_payload: 65536\nmax_pending: 262144\nwrite_deadline: \"500ms\"\n"));
  ASSERT_TRUE(server.start());

  // The slow consumer: a tiny receive buffer, subscribes, then never reads again.
  RawClient slow;
  ASSERT_TRUE(slow.connect(server.port(), 5s, 4096));
  ASSERT_TRUE(slow.read_info());
  ASSERT_TRUE(slow.handshake(kQuiet));
  ASSERT_TRUE(slow.send("SUB flood 1\r\n"));
  ASSERT_TRUE(slow.ping_pong());

  auto healthy = nats_connect(server.url());
  auto pub = nats_connect(server.url());
  ASSERT_TRUE(healthy && pub);
  auto sub = sub_sync(healthy.get(), "flood");
  ASSERT_TRUE(sub);
  ASSERT_TRUE(flush(healthy.get()));

  const std::string pad(1024, 'z');
  int published = 0;
  auto publish_batch = [&](int n) {
    for (int i = 0; i < n; ++i) {
      std::string body = std::to_string(published++) + ":" + pad;
      ASSERT_EQ(natsConnection_PublishString(pub.get(), "flood", body.c_str()), NATS_OK);
    }
    ASSERT_TRUE(flush(pub.get()));
  };
  // Flood until the server reports the slow consumer (bounded: 256 MB). Each burst
  // (~100 KiB) is well under max_pending, so the healthy subscriber, which reads
  // continuously, never has more than that outstanding.
  auto deadline = Clock::now() + 60s;
  bool detected = false;
  while (!detected && published < 256 * 1024 && Clock::now() < deadline) {
    publish_batch(100);
    detected = server.log().find("Slow Consumer") != std::string::npos;
  }
  ASSERT_TRUE(detected) << "no 'Slow Consumer' in the server log after " << published << " messages";
  EXPECT_FALSE(natsConnection_IsClosed(healthy.get())) << "the healthy subscriber was disconnected";
  // Traffic keeps flowing after the cut.
  publish_batch(2000);
  ASSERT_TRUE(flush(healthy.get()));

  auto got = drain(sub.get());
  ASSERT_EQ(got.size(), static_cast<size_t>(published)) << "healthy subscriber lost messages";
  for (int i = 0; i < published; ++i)
    ASSERT_EQ(got[static_cast<size_t>(i)].data, std::to_string(i) + ":" + pad) << "message " << i;

  // The slow consumer was disconnected (draining what the kernel buffered).
  EXPECT_TRUE(slow.expect_closed(20s)) << "slow consumer still connected";
  EXPECT_TRUE(server.running());
}

TEST(RawProtoLimits, HealthySubscriberUnderMaxPendingIsNeverCut) {
  // Bursts of ~100 KiB against max_pending 256 KiB, with a round trip between bursts: a
  // subscriber that reads all the time must never be taken for a slow consumer.
  ServerProcess server(with_config("max_payload: 65536\nmax_pending: 262144\n"));
  ASSERT_TRUE(server.start());
  auto healthy = nats_connect(server.url());
  auto pub = nats_connect(server.url());
  ASSERT_TRUE(healthy && pub);
  auto sub = sub_sync(healthy.get(), "steady");
  ASSERT_TRUE(sub);
  ASSERT_TRUE(flush(healthy.get()));
  const std::string pad(1024, 'h');
  constexpr int kMessages = 20000;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(natsConnection_PublishString(pub.get(), "steady", pad.c_str()), NATS_OK);
    if (i % 100 == 99) {
      ASSERT_TRUE(flush(pub.get()));
    }
  }
  ASSERT_TRUE(flush(pub.get()));
  ASSERT_TRUE(flush(healthy.get())) << "healthy subscriber's connection was closed";
  EXPECT_EQ(server.log().find("Slow Consumer"), std::string::npos) << "a healthy subscriber was cut off";
  EXPECT_EQ(drain(sub.get()).size(), static_cast<size_t>(kMessages));
}

TEST(RawProtoLimits, MisbehavingClientsDoNotDisturbOthers) {
  ServerProcess server;
  ASSERT_TRUE(server.start());
  auto good = nats_connect(server.url());
  auto pub = nats_connect(server.url());
  ASSERT_TRUE(good && pub);
  auto sub = sub_sync(good.get(), "stream");
  ASSERT_TRUE(sub);
  ASSERT_TRUE(flush(good.get()));

  std::atomic<bool> stop{false};
  std::atomic<int> bad_connections{0};
  std::thread chaos([&] {
    const std::string quiet = std::string("CONNECT ") + kQuiet + "\r\n";
    const std::vector<std::string> garbage{
        "FOO bar\r\n",
        std::string("\x00\x01\x02\xff\xfe\r\n", 7),
        quiet + "PUB stream 99999999\r\n",
        quiet + "SUB foo..bar 1\r\nPUB stream.x 5\r\nhelloEXTRA\r\n",
        quiet + "PUB stream.x " + std::string(6000, '9'),
        quiet + "PUB stream 100\r\nabc",  // then vanish mid-payload
        "CONNECT {bad json\r\nPING\r\n",
        quiet + "HPUB stream 10 5\r\nNATS/1.0\r\n\r\n",
        quiet + "UNSUB abc def ghi\r\n",
        quiet + "SUB stream 1\r\nPING\r\nMSG stream 1 2\r\nxx\r\n",
        quiet + "SUB stream 5\r\nSUB stream 6\r\n\r\n\r\n PING\r\n\x7f\r\n",
        "",  // connect and leave
    };
    size_t i = 0;
    while (!stop.load()) {
      RawClient c;
      if (!c.connect(server.port(), 1s)) continue;
      const std::string& g = garbage[i++ % garbage.size()];
      if (!g.empty()) c.send(g, 1s);
      if (i % 3 == 0) {
        c.expect_closed(200ms);  // sometimes wait for the server, sometimes just drop
      }
      bad_connections++;
    }
  });
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } joiner{stop, chaos};

  constexpr int kMessages = 20000;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(natsConnection_PublishString(pub.get(), "stream", std::to_string(i).c_str()), NATS_OK);
    if (i % 500 == 499) {
      ASSERT_TRUE(flush(pub.get()));
    }
  }
  ASSERT_TRUE(flush(pub.get()));
  // Keep the chaos going until a fair number of bad clients came and went.
  wait_for([&] { return bad_connections.load() >= 100; }, 20s);
  stop = true;
  chaos.join();
  ASSERT_TRUE(flush(good.get()));

  EXPECT_GE(bad_connections.load(), 100);
  auto got = drain(sub.get());
  ASSERT_EQ(got.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(got[static_cast<size_t>(i)].data, std::to_string(i));
  EXPECT_TRUE(server.running());
}

}  // namespace
}  // namespace pylon::it
