// The op writers: exact bytes of every operation, appending to what is already in the
// buffer, and a round trip through the parser.
#include "proto/writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "proto/parser.h"

namespace pylon::proto {
namespace {

std::string written(auto fn) {
  std::string buf;
  fn(buf);
  return buf;
}

TEST(Writer, MsgToAClient) {
  EXPECT_EQ(written([](std::string& b) { append_msg(b, "foo.bar", "1", "", "hello"); }),
            "MSG foo.bar 1 5\r\nhello\r\n");
  EXPECT_EQ(written([](std::string& b) { append_msg(b, "foo", "22", "_INBOX.abc", ""); }),
            "MSG foo 22 _INBOX.abc 0\r\n\r\n");
}

TEST(Writer, HmsgToAClient) {
  EXPECT_EQ(written([](std::string& b) { append_hmsg(b, "foo", "1", "", 12, "NATS/1.0\r\n\r\nHELLO"); }),
            "HMSG foo 1 12 17\r\nNATS/1.0\r\n\r\nHELLO\r\n");
  EXPECT_EQ(written([](std::string& b) { append_hmsg(b, "foo", "1", "r", 0, "x"); }), "HMSG foo 1 r 0 1\r\nx\r\n");
}

TEST(Writer, RmsgToARoute) {
  const std::string_view q2[] = {"q1", "q2"};
  EXPECT_EQ(written([](std::string& b) { append_rmsg(b, "$G", "foo", "", {}, "hi"); }), "RMSG $G foo 2\r\nhi\r\n");
  EXPECT_EQ(written([](std::string& b) { append_rmsg(b, "$G", "foo", "r", {}, "hi"); }),
            "RMSG $G foo r 2\r\nhi\r\n");
  EXPECT_EQ(written([&](std::string& b) { append_rmsg(b, "$G", "foo", "r", q2, "hi"); }),
            "RMSG $G foo + r q1 q2 2\r\nhi\r\n");
  EXPECT_EQ(written([&](std::string& b) { append_rmsg(b, "$G", "foo", "", q2, "hi"); }),
            "RMSG $G foo | q1 q2 2\r\nhi\r\n");
}

TEST(Writer, RoutedHmsg) {
  const std::string_view q1[] = {"workers"};
  EXPECT_EQ(written([](std::string& b) { append_routed_hmsg(b, "$G", "foo", "", {}, 3, "XXXhello"); }),
            "HMSG $G foo 3 8\r\nXXXhello\r\n");
  EXPECT_EQ(written([](std::string& b) { append_routed_hmsg(b, "$G", "foo", "r", {}, 3, "XXXhello"); }),
            "HMSG $G foo r 3 8\r\nXXXhello\r\n");
  EXPECT_EQ(written([&](std::string& b) { append_routed_hmsg(b, "$G", "foo", "r", q1, 3, "XXXhello"); }),
            "HMSG $G foo + r workers 3 8\r\nXXXhello\r\n");
  EXPECT_EQ(written([&](std::string& b) { append_routed_hmsg(b, "$G", "foo", "", q1, 3, "XXXhello"); }),
            "HMSG $G foo | workers 3 8\r\nXXXhello\r\n");
}

TEST(Writer, PubAndHpubFromAClient) {
  EXPECT_EQ(written([](std::string& b) { append_pub(b, "foo", "", "hello"); }), "PUB foo 5\r\nhello\r\n");
  EXPECT_EQ(written([](std::string& b) { append_pub(b, "foo", "INBOX.1", ""); }), "PUB foo INBOX.1 0\r\n\r\n");
  EXPECT_EQ(written([](std::string& b) { append_hpub(b, "foo", "", 12, "name:derek\r\nHELLO"); }),
            "HPUB foo 12 17\r\nname:derek\r\nHELLO\r\n");
  EXPECT_EQ(written([](std::string& b) { append_hpub(b, "foo", "r", 0, "x"); }), "HPUB foo r 0 1\r\nx\r\n");
}

// append_pub formats a small operation on the stack with fixed-size moves of up to 32
// bytes and a large one in place: every length of subject, reply and payload on either
// side of those bounds gives the same bytes.
TEST(Writer, PubIsExactAtEveryLengthAroundItsCopyAndStackBounds) {
  auto text = [](size_t n, char first) {
    std::string t(n, '.');
    for (size_t i = 0; i < n; ++i) t[i] = static_cast<char>(first + i % 26);
    return t;
  };
  for (size_t subject_len : {1, 2, 7, 8, 15, 16, 17, 18, 31, 32, 33, 64, 200, 300}) {
    for (size_t reply_len : {0, 1, 16, 17, 32, 40}) {
      for (size_t payload_len : {0, 1, 3, 16, 17, 32, 33, 100, 150, 200, 230, 255, 256, 1024, 5000}) {
        const std::string subject = text(subject_len, 'a'), reply = text(reply_len, 'A'),
                          payload = text(payload_len, 'a');
        std::string expected = "PUB " + subject + (reply.empty() ? "" : " " + reply) + " " +
                               std::to_string(payload_len) + "\r\n" + payload + "\r\n";
        std::string b = "x";  // appended to, not overwritten
        append_pub(b, subject, reply, payload);
        ASSERT_EQ(b, "x" + expected) << subject_len << " " << reply_len << " " << payload_len;
      }
    }
  }
}

TEST(Writer, SubAndUnsub) {
  EXPECT_EQ(written([](std::string& b) { append_sub(b, "foo.*", "", "1"); }), "SUB foo.* 1\r\n");
  EXPECT_EQ(written([](std::string& b) { append_sub(b, "foo", "workers", "2"); }), "SUB foo workers 2\r\n");
  EXPECT_EQ(written([](std::string& b) { append_unsub(b, "1"); }), "UNSUB 1\r\n");
  EXPECT_EQ(written([](std::string& b) { append_unsub(b, "1", 0); }), "UNSUB 1 0\r\n");
  EXPECT_EQ(written([](std::string& b) { append_unsub(b, "1", 10); }), "UNSUB 1 10\r\n");
}

TEST(Writer, RouteInterest) {
  EXPECT_EQ(written([](std::string& b) { append_rs_sub(b, "$G", "foo.>", "", 0); }), "RS+ $G foo.>\r\n");
  EXPECT_EQ(written([](std::string& b) { append_rs_sub(b, "$G", "foo", "workers", 3); }),
            "RS+ $G foo workers 3\r\n");
  EXPECT_EQ(written([](std::string& b) { append_rs_unsub(b, "$G", "foo", ""); }), "RS- $G foo\r\n");
  EXPECT_EQ(written([](std::string& b) { append_rs_unsub(b, "$G", "foo", "workers"); }), "RS- $G foo workers\r\n");
}

TEST(Writer, ErrInfoConnectAndFixedOps) {
  EXPECT_EQ(written([](std::string& b) { append_err(b, "Unknown Protocol Operation"); }),
            "-ERR 'Unknown Protocol Operation'\r\n");
  EXPECT_EQ(written([](std::string& b) { append_info(b, "{\"server_id\":\"X\"}"); }),
            "INFO {\"server_id\":\"X\"}\r\n");
  EXPECT_EQ(written([](std::string& b) { append_connect(b, "{}"); }), "CONNECT {}\r\n");
  EXPECT_EQ(kPingOp, "PING\r\n");
  EXPECT_EQ(kPongOp, "PONG\r\n");
  EXPECT_EQ(kOkOp, "+OK\r\n");
}

TEST(Writer, ControlLinesLeaveThePayloadToTheCaller) {
  std::string b;
  append_msg_line(b, "foo", "1", "r", 5);
  EXPECT_EQ(b, "MSG foo 1 r 5\r\n");
  append_payload(b, "hello");
  EXPECT_EQ(b, "MSG foo 1 r 5\r\nhello\r\n");
  b.clear();
  append_hmsg_line(b, "foo", "1", "", 2, 5);
  append_pub_line(b, "foo", "", 5);
  append_hpub_line(b, "foo", "r", 2, 5);
  const std::string_view q[] = {"a"};
  append_rmsg_line(b, "$G", "foo", "", q, 5);
  append_routed_hmsg_line(b, "$G", "foo", "r", q, 2, 5);
  EXPECT_EQ(b, "HMSG foo 1 2 5\r\nPUB foo 5\r\nHPUB foo r 2 5\r\nRMSG $G foo | a 5\r\nHMSG $G foo + r a 2 5\r\n");
}

// Every part is copied whole whatever its length: the writers move short parts in words, with
// separate paths below 4, from 4, from 8 and past 16 bytes, and large ops by appending.
TEST(Writer, PartsOfEveryLengthAreCopiedExactly) {
  // 0..40 bytes each; then payloads past the size up to which an op is copied inline.
  for (size_t n = 0; n <= 48; ++n) {
    const size_t m = n <= 40 ? n : 3000 + (n - 40) * 300;
    std::string subject = "s" + std::string(n, 'a');  // never empty
    std::string sid(n / 3 + 1, '7');
    std::string reply(n, 'r');
    std::string payload;
    for (size_t i = 0; i < m; ++i) payload += static_cast<char>('A' + i % 26);
    std::string want = "MSG " + subject + " " + sid + (reply.empty() ? "" : " " + reply) + " " +
                       std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
    std::string buf = "x";  // appended after what is there
    append_msg(buf, subject, sid, reply, payload);
    EXPECT_EQ(buf, "x" + want) << "part length " << n;
  }
}

// A message formatted once for all its subscribers writes, for each sid, exactly what
// append_msg/append_hmsg would: subjects, replies and payloads of every length (around the
// inline payload's bound, and a subject that needs the heap), and sids whose length changes
// from one subscriber to the next (the sid's slot moves, grows past the buffer, shrinks).
TEST(ClientMsg, EachSubscribersCopyIsTheOpAppendMsgWrites) {
  const std::vector<std::string> sids = {"1", "22", "3", "4444444444", "5", std::string(40, 's'), "66",
                                         std::string(400, 't'), "7"};
  const size_t k = ClientMsg::kInlinePayload;
  for (size_t n : {size_t{0}, size_t{1}, size_t{9}, size_t{17}, k - 1, k, k + 1, size_t{5000}}) {
    std::string payload;
    for (size_t i = 0; i < n; ++i) payload += static_cast<char>('A' + i % 26);
    for (const std::string& subject : {std::string("s"), std::string("foo.bar"), std::string(600, 'x')}) {
      for (std::string_view reply : {std::string_view(), std::string_view("_INBOX.r")}) {
        for (int64_t hdr : {int64_t{-1}, int64_t{0}, static_cast<int64_t>(n / 2)}) {
         for (size_t receivers : {size_t{1}, sids.size()}) {
          ClientMsg msg(subject, reply, hdr, payload, receivers);
          std::string got = "x";  // appended after what is there
          std::string want = "x";
          for (const std::string& sid : sids) {
            const size_t before = got.size();
            const size_t size = msg.size(sid);
            msg.append(got, sid);
            // The room asked for: exact when formatted once, a bound when direct.
            if (receivers > 1) {
              EXPECT_EQ(got.size() - before, size) << "sid " << sid.size();
            } else {
              EXPECT_LE(got.size() - before, size) << "sid " << sid.size();
            }
            if (hdr < 0) {
              append_msg(want, subject, sid, reply, payload);
            } else {
              append_hmsg(want, subject, sid, reply, hdr, payload);
            }
          }
          ASSERT_EQ(got, want) << "payload " << n << ", subject " << subject.size() << ", reply " << reply
                               << ", header " << hdr << ", receivers " << receivers;
         }
        }
      }
    }
  }
}

TEST(ClientMsg, KeepsWhatItWasGiven) {
  ClientMsg msg("foo", "r", 2, "hihello", 2);
  EXPECT_EQ(msg.subject(), "foo");
  EXPECT_EQ(msg.reply(), "r");
  EXPECT_EQ(msg.header_len(), 2);
  EXPECT_EQ(msg.payload(), "hihello");
  EXPECT_EQ(written([&](std::string& b) { msg.append(b, "9"); }), "HMSG foo 9 r 2 7\r\nhihello\r\n");
}

TEST(Writer, WritersAppendToWhatIsThere) {
  std::string b = "PING\r\n";
  append_msg(b, "a", "1", "", "x");
  append_unsub(b, "1");
  EXPECT_EQ(b, "PING\r\nMSG a 1 1\r\nx\r\nUNSUB 1\r\n");
}

TEST(Writer, LargeNumbersAreWrittenInFull) {
  EXPECT_EQ(written([](std::string& b) { append_msg_line(b, "a", "1", "", 1234567890123LL); }),
            "MSG a 1 1234567890123\r\n");
  EXPECT_EQ(written([](std::string& b) { append_unsub(b, "1", std::numeric_limits<int64_t>::max()); }),
            "UNSUB 1 9223372036854775807\r\n");
  EXPECT_EQ(written([](std::string& b) { append_rs_sub(b, "$G", "f", "q", std::numeric_limits<int32_t>::max()); }),
            "RS+ $G f q 2147483647\r\n");
}

TEST(Writer, OpsThatFitTheCapacityNeverMoveTheBuffer) {
  // No temporaries, no reallocation: an outbound buffer with room takes ops in place.
  std::string b;
  b.reserve(256 * 1024);
  const char* data = b.data();
  const std::string payload(10000, 'p');
  const std::string_view qs[] = {"q1", "q2", "q3"};
  for (int i = 0; i < 5; ++i) {
    append_rmsg(b, "$G", "some.subject", "_INBOX.reply", qs, payload);
    append_msg(b, "some.subject", "12", "", payload);
    append_rs_sub(b, "$G", "foo", "q", 3);
  }
  EXPECT_EQ(b.data(), data);
}

TEST(Writer, AnOpThatExactlyFillsTheCapacityDoesNotGrowIt) {
  // Each writer reserves its exact size, never a rounded-up guess.
  const std::string_view qs[] = {"q1", "q2"};
  auto fill = [&](std::string& b) {
    append_rmsg(b, "$G", "foo", "r", qs, "hello");
    append_routed_hmsg(b, "$G", "foo", "", qs, 2, "hello");
    append_msg(b, "foo", "1", "r", "hello");
    append_hmsg(b, "foo", "1", "", 2, "hello");
    append_pub(b, "foo", "r", "hello");
    append_hpub(b, "foo", "", 2, "hello");
    append_rs_sub(b, "$G", "foo", "q", 12);
    append_unsub(b, "1", 5);
  };
  std::string probe;
  fill(probe);
  std::string b;
  b.reserve(probe.size());
  const size_t cap = b.capacity();
  const char* data = b.data();
  fill(b);
  EXPECT_EQ(b, probe);
  EXPECT_EQ(b.capacity(), cap);
  EXPECT_EQ(b.data(), data);
}

// Every writer's output parses back into the same operation.
class Collect : public ParserHandler {
 public:
  std::vector<std::string> ev;
  bool on_pub(const MsgArgs& a, std::string_view p) override { return add("PUB", a, p); }
  bool on_msg(const MsgArgs& a, std::string_view p) override { return add("MSG", a, p); }
  bool on_rmsg(const MsgArgs& a, std::string_view p) override { return add("RMSG", a, p); }
  bool on_sub(std::string_view s, std::string_view q, std::string_view sid) override {
    ev.push_back("SUB " + std::string(s) + "|" + std::string(q) + "|" + std::string(sid));
    return true;
  }
  bool on_unsub(std::string_view sid, int64_t max) override {
    ev.push_back("UNSUB " + std::string(sid) + "|" + std::to_string(max));
    return true;
  }
  bool on_rs_sub(std::string_view acc, std::string_view s, std::string_view q, int32_t w) override {
    ev.push_back("RS+ " + std::string(acc) + "|" + std::string(s) + "|" + std::string(q) + "|" + std::to_string(w));
    return true;
  }
  bool on_rs_unsub(std::string_view acc, std::string_view s, std::string_view q) override {
    ev.push_back("RS- " + std::string(acc) + "|" + std::string(s) + "|" + std::string(q));
    return true;
  }
  bool on_err(std::string_view t) override {
    ev.push_back("ERR " + std::string(t));
    return true;
  }
  bool on_info(std::string_view j) override {
    ev.push_back("INFO " + std::string(j));
    return true;
  }
  bool on_connect(std::string_view j) override {
    ev.push_back("CONNECT " + std::string(j));
    return true;
  }

 private:
  bool add(const char* op, const MsgArgs& a, std::string_view p) {
    ev.push_back(std::string(op) + " " + std::string(a.account) + "|" + std::string(a.subject) + "|" +
                 std::string(a.sid) + "|" + std::string(a.reply) + "|" + std::string(a.queues) + "|" +
                 std::to_string(a.header_len) + "|" + std::to_string(a.total_len) + "|" + std::string(p));
    return true;
  }
};

std::vector<std::string> parsed(Role role, const std::string& bytes) {
  Parser parser(role);
  Collect c;
  ParseResult r = parser.parse(bytes, c);
  EXPECT_EQ(r.error, ParseError::kNone) << r.detail;
  EXPECT_EQ(r.consumed, bytes.size());
  return c.ev;
}

TEST(WriterRoundTrip, ClientOpsParseBack) {
  std::string b;
  append_connect(b, "{\"verbose\":false}");
  append_pub(b, "foo", "r", "hello");
  append_hpub(b, "foo", "", 3, "h:1hello");
  append_sub(b, "foo", "q", "7");
  append_unsub(b, "7", 2);
  EXPECT_EQ(parsed(Role::kServerOfClient, b),
            (std::vector<std::string>{"CONNECT {\"verbose\":false}", "PUB |foo||r||-1|5|hello",
                                      "PUB |foo||||3|8|h:1hello", "SUB foo|q|7", "UNSUB 7|2"}));
}

TEST(WriterRoundTrip, ServerToClientOpsParseBack) {
  std::string b;
  append_info(b, "{}");
  append_msg(b, "foo", "1", "", "hi");
  append_hmsg(b, "foo", "1", "r", 2, "h:hi");
  append_err(b, "Authorization Violation");
  EXPECT_EQ(parsed(Role::kClient, b),
            (std::vector<std::string>{"INFO {}", "MSG |foo|1|||-1|2|hi", "MSG |foo|1|r||2|4|h:hi",
                                      "ERR Authorization Violation"}));
}

TEST(WriterRoundTrip, RouteOpsParseBack) {
  const std::string_view qs[] = {"q1", "q2"};
  std::string b;
  append_rs_sub(b, "$G", "foo", "", 0);
  append_rs_sub(b, "$G", "foo", "q1", 4);
  append_rs_unsub(b, "$G", "foo", "q1");
  append_rmsg(b, "$G", "foo", "r", qs, "hi");
  append_rmsg(b, "$G", "foo", "", qs, "hi");
  append_routed_hmsg(b, "$G", "foo", "r", {}, 1, "hhi");
  EXPECT_EQ(parsed(Role::kServerOfRoute, b),
            (std::vector<std::string>{"RS+ $G|foo||0", "RS+ $G|foo|q1|4", "RS- $G|foo|q1",
                                      "RMSG $G|foo||r|q1 q2|-1|2|hi", "RMSG $G|foo|||q1 q2|-1|2|hi",
                                      "RMSG $G|foo||r||1|3|hhi"}));
}

}  // namespace
}  // namespace pylon::proto
