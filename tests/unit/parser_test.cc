// The wire-protocol parser: every op in every role, and the promise that any split of a byte
// stream yields the same callbacks as the whole stream. Errors, limits and stopping:
// parser_errors_test.cc.
#include "proto/parser.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "parser_test_support.h"

namespace pylon::proto {
namespace {

using namespace parser_test;  // NOLINT: the tests' shared vocabulary

// ---- Operations a server reads from a client -----------------------------------------

TEST(ParserClientOps, ConnectPassesTheJsonThrough) {
  EXPECT_EQ(events_of(kClientConn, "CONNECT {\"verbose\":false,\"pedantic\":true}\r\n"),
            Events{"CONNECT {\"verbose\":false,\"pedantic\":true}"});
}

TEST(ParserClientOps, ConnectNeedsNoSpaceAndAnEmptyOneReachesTheHandler) {
  EXPECT_EQ(events_of(kClientConn, "CONNECT{}\r\n"), Events{"CONNECT {}"});
  EXPECT_EQ(events_of(kClientConn, "CONNECT \t {}\r\n"), Events{"CONNECT {}"});
  // The reference fails these in its JSON decoding, not the parser: the handler decides.
  EXPECT_EQ(events_of(kClientConn, "CONNECT\r\n"), Events{"CONNECT "});
  EXPECT_EQ(events_of(kClientConn, "CONNECT \r\n"), Events{"CONNECT "});
}

TEST(ParserClientOps, PingAndPong) {
  EXPECT_EQ(events_of(kClientConn, "PING\r\nPONG\r\n"), (Events{"PING", "PONG"}));
}

TEST(ParserClientOps, PingIgnoresWhatFollowsTheNameUpToTheLineEnd) {
  // As the reference: "PINGXYZ\r\n" is answered with a PONG.
  EXPECT_EQ(events_of(kClientConn, "PINGXYZ\r\nPONG foo\r\n"), (Events{"PING", "PONG"}));
}

TEST(ParserClientOps, PubWithoutReply) {
  EXPECT_EQ(events_of(kClientConn, "PUB foo 5\r\nhello\r\n"),
            Events{"PUB subject=foo total=5 payload=hello"});
}

TEST(ParserClientOps, PubWithReply) {
  EXPECT_EQ(events_of(kClientConn, "PUB foo.bar INBOX.22 11\r\nhello world\r\n"),
            Events{"PUB subject=foo.bar reply=INBOX.22 total=11 payload=hello world"});
}

TEST(ParserClientOps, PubWithEmptyPayload) {
  EXPECT_EQ(events_of(kClientConn, "PUB foo 0\r\n\r\n"), Events{"PUB subject=foo total=0 payload="});
}

TEST(ParserClientOps, PubPayloadMayHoldCrLf) {
  EXPECT_EQ(events_of(kClientConn, "PUB foo 4\r\n\r\n\r\n\r\n"),
            Events{"PUB subject=foo total=4 payload=\r\n\r\n"});
}

TEST(ParserClientOps, HpubWithoutReply) {
  EXPECT_EQ(events_of(kClientConn, "HPUB foo 12 17\r\nname:derek\r\nHELLO\r\n"),
            Events{"PUB subject=foo hdr=12 total=17 payload=name:derek\r\nHELLO"});
}

TEST(ParserClientOps, HpubWithReplyAndZeroHeaders) {
  EXPECT_EQ(events_of(kClientConn, "HPUB foo INBOX.22 0 5\r\nHELLO\r\n"),
            Events{"PUB subject=foo reply=INBOX.22 hdr=0 total=5 payload=HELLO"});
}

TEST(ParserClientOps, SubPlainAndQueue) {
  EXPECT_EQ(events_of(kClientConn, "SUB foo 1\r\nSUB foo.* workers 22\r\n"),
            (Events{"SUB subject=foo queue= sid=1", "SUB subject=foo.* queue=workers sid=22"}));
}

TEST(ParserClientOps, UnsubWithAndWithoutMax) {
  EXPECT_EQ(events_of(kClientConn, "UNSUB 1\r\nUNSUB 2 10\r\n"),
            (Events{"UNSUB sid=1 max=-1", "UNSUB sid=2 max=10"}));
}

TEST(ParserClientOps, UnsubWithANonNumericMaxIsAPlainUnsubscribeLikeTheReference) {
  EXPECT_EQ(events_of(kClientConn, "UNSUB 1 x\r\n"), Events{"UNSUB sid=1 max=-1"});
}

TEST(ParserClientOps, OkErrAndInfoAreTolerated) {
  EXPECT_EQ(events_of(kClientConn, "+OK\r\n-ERR 'Stale Connection'\r\nINFO {}\r\n"),
            (Events{"+OK", "-ERR Stale Connection", "INFO {}"}));
}

TEST(ParserClientOps, OpNamesAreCaseInsensitive) {
  EXPECT_EQ(events_of(kClientConn,
                      "pub a 1\r\nx\r\nPub b 1\r\ny\r\npUb c 1\r\nz\r\nhPuB d 0 0\r\n\r\nsub e 1\r\n"
                      "Unsub 1\r\nping\r\npOnG\r\nconnect {}\r\n+ok\r\n-err 'e'\r\ninfo {}\r\n"),
            (Events{"PUB subject=a total=1 payload=x", "PUB subject=b total=1 payload=y",
                    "PUB subject=c total=1 payload=z", "PUB subject=d hdr=0 total=0 payload=",
                    "SUB subject=e queue= sid=1", "UNSUB sid=1 max=-1", "PING", "PONG", "CONNECT {}", "+OK",
                    "-ERR e", "INFO {}"}));
}

// A PUB line takes a fast way (fast_pub_args) when it is "subject [reply] size" with nothing
// odd; every other shape goes the general way. Both must split alike, so the shapes at the
// edge of the fast one: a stray '\r' as a separator, the largest and a too-long size, and
// split feeds (the line gathered in the parser's own buffer).
TEST(ParserClientOps, PubLinesAtTheEdgeOfTheFastPathSplitAsTheGeneralOne) {
  EXPECT_EQ(events_of(kClientConn, "PUB foo\rbar 2\r\nok\r\n"), Events{"PUB subject=foo reply=bar total=2 payload=ok"});
  EXPECT_EQ(events_of(kClientConn, "PUB foo \r2\r\nok\r\n"), Events{"PUB subject=foo total=2 payload=ok"});
  EXPECT_EQ(events_of(kClientConn, "PUB foo 02\r\nok\r\n"), Events{"PUB subject=foo total=2 payload=ok"});
  EXPECT_EQ(error_of(kClientConn, "PUB foo 1234567890\r\n"), ParseError::kBadArgs);  // 10 digits
  // Far too many: read without overflowing (UBSan in the fuzz smoke tests sees that).
  EXPECT_EQ(error_of(kClientConn, "PUB foo " + std::string(40, '9') + "\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kClientConn, "PUB 22\r\n"), ParseError::kBadArgs);                // a size, no subject
  EXPECT_EQ(error_of(kClientConn, "PUB foo bar baz 2\r\nok\r\n"), ParseError::kBadArgs);
  const std::string whole = "PUB foo.bar INBOX.1 5\r\nhello\r\n";
  for (size_t cut = 1; cut < whole.size(); ++cut) {
    Parser p(Role::kServerOfClient);
    Recorder rec;
    ASSERT_EQ(p.parse(whole.substr(0, cut), rec).error, ParseError::kNone) << cut;
    ASSERT_EQ(p.parse(whole.substr(cut), rec).error, ParseError::kNone) << cut;
    EXPECT_EQ(rec.events, Events{"PUB subject=foo.bar reply=INBOX.1 total=5 payload=hello"}) << cut;
  }
}

TEST(ParserClientOps, SpacesAndTabsBetweenArgumentsAreOneSeparator) {
  for (std::string arg : {"foo 22", " foo 22", "foo 22 ", "foo   22", " \t foo \t 22 \t ", "\tfoo\t22"}) {
    EXPECT_EQ(events_of(kClientConn, "PUB " + arg + "\r\n" + std::string(22, 'x') + "\r\n"),
              Events{"PUB subject=foo total=22 payload=" + std::string(22, 'x')})
        << arg;
  }
  for (std::string arg : {"foo bar 2", "  foo   bar  2  ", "\t\tfoo\t\t\tbar\t\t2\t\t", "\t \tfoo\t \t bar\t 2\t"}) {
    EXPECT_EQ(events_of(kClientConn, "PUB " + arg + "\r\nok\r\n"),
              Events{"PUB subject=foo reply=bar total=2 payload=ok"})
        << arg;
  }
  EXPECT_EQ(events_of(kClientConn, "HPUB\t foo \tbar  11 \t22 \r\n" + std::string(22, 'h') + "\r\n"),
            Events{"PUB subject=foo reply=bar hdr=11 total=22 payload=" + std::string(22, 'h')});
  EXPECT_EQ(events_of(kClientConn, "SUB\tfoo\t\tq\t 7 \r\n"), Events{"SUB subject=foo queue=q sid=7"});
}

TEST(ParserClientOps, ABareNewlineEndsAControlLine) {
  // The reference drops an optional '\r' before the '\n' of a control line.
  EXPECT_EQ(events_of(kClientConn, "SUB foo 1\nPUB foo 2\nok\r\nPING\n"),
            (Events{"SUB subject=foo queue= sid=1", "PUB subject=foo total=2 payload=ok", "PING"}));
}

TEST(ParserClientOps, ManyOpsInOneBufferAreAllConsumed) {
  std::string stream;
  Events expected;
  for (int i = 0; i < 200; ++i) {
    std::string subj = "s." + std::to_string(i);
    std::string body(i % 7, 'a' + i % 26);
    stream += "PUB " + subj + " " + std::to_string(body.size()) + "\r\n" + body + "\r\n";
    expected.push_back("PUB subject=" + subj + " total=" + std::to_string(body.size()) + " payload=" + body);
    if (i % 10 == 0) {
      stream += "PING\r\n";
      expected.push_back("PING");
    }
  }
  Parser parser(kClientConn);
  Recorder rec;
  ParseResult r = parser.parse(stream, rec);
  EXPECT_EQ(r.error, ParseError::kNone);
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.consumed, stream.size());
  EXPECT_EQ(rec.events, expected);
  EXPECT_TRUE(parser.idle());
}

TEST(ParserClientOps, AWholePayloadIsHandedOverWithoutACopy) {
  std::string stream = "PUB foo 5\r\nhello\r\n";
  Parser parser(kClientConn);
  Recorder rec;
  parser.parse(stream, rec);
  EXPECT_EQ(rec.last_payload_data, stream.data() + std::strlen("PUB foo 5\r\n"));
}

// ---- Operations a server reads from a route ----------------------------------------

TEST(ParserRouteOps, HandshakeAndKeepalive) {
  EXPECT_EQ(events_of(kRouteConn, "CONNECT {\"name\":\"S1\"}\r\nINFO {\"server_id\":\"S1\"}\r\nPING\r\nPONG\r\n"
                                  "+OK\r\n-ERR 'Duplicate Route'\r\n"),
            (Events{"CONNECT {\"name\":\"S1\"}", "INFO {\"server_id\":\"S1\"}", "PING", "PONG", "+OK",
                    "-ERR Duplicate Route"}));
}

TEST(ParserRouteOps, RsPlusPlainAndQueueWithWeight) {
  EXPECT_EQ(events_of(kRouteConn, "RS+ $G foo.bar\r\nRS+ $G foo.> workers 3\r\n"),
            (Events{"RS+ account=$G subject=foo.bar queue= weight=0",
                    "RS+ account=$G subject=foo.> queue=workers weight=3"}));
}

TEST(ParserRouteOps, RsMinusPlainAndQueue) {
  EXPECT_EQ(events_of(kRouteConn, "RS- $G foo.bar\r\nRS- $G foo.> workers\r\n"),
            (Events{"RS- account=$G subject=foo.bar queue=", "RS- account=$G subject=foo.> queue=workers"}));
}

TEST(ParserRouteOps, RmsgPlain) {
  EXPECT_EQ(events_of(kRouteConn, "RMSG $foo foo 5\r\nhello\r\n"),
            Events{"RMSG account=$foo subject=foo total=5 payload=hello"});
}

TEST(ParserRouteOps, RmsgWithReply) {
  EXPECT_EQ(events_of(kRouteConn, "RMSG $G foo.bar INBOX.22 11\r\nhello world\r\n"),
            Events{"RMSG account=$G subject=foo.bar reply=INBOX.22 total=11 payload=hello world"});
}

TEST(ParserRouteOps, RmsgWithReplyAndQueueGroups) {
  EXPECT_EQ(events_of(kRouteConn, "RMSG $G foo.bar + reply baz 11\r\nhello world\r\n"),
            Events{"RMSG account=$G subject=foo.bar reply=reply queues=[baz] total=11 payload=hello world"});
  EXPECT_EQ(events_of(kRouteConn, "RMSG $G foo + r q1 q2  q3 2\r\nok\r\n"),
            Events{"RMSG account=$G subject=foo reply=r queues=[q1 q2  q3] total=2 payload=ok"});
}

TEST(ParserRouteOps, RmsgWithQueueGroupsAndNoReply) {
  EXPECT_EQ(events_of(kRouteConn, "RMSG $G foo.bar | baz 11\r\nhello world\r\n"),
            Events{"RMSG account=$G subject=foo.bar queues=[baz] total=11 payload=hello world"});
  EXPECT_EQ(events_of(kRouteConn, "RMSG $G foo | q1 q2 q3 q4 q5 q6 q7 2\r\nok\r\n"),
            Events{"RMSG account=$G subject=foo queues=[q1 q2 q3 q4 q5 q6 q7] total=2 payload=ok"});
}

TEST(ParserRouteOps, RmsgWithPlusReplyAndNoQueueGroups) {
  EXPECT_EQ(events_of(kRouteConn, "RMSG $G foo + r 2\r\nok\r\n"),
            Events{"RMSG account=$G subject=foo reply=r total=2 payload=ok"});
}

TEST(ParserRouteOps, RoutedHmsgCarriesHeaderAndTotalSizes) {
  EXPECT_EQ(events_of(kRouteConn, "HMSG $foo foo 3 8\r\nXXXhello\r\n"),
            Events{"RMSG account=$foo subject=foo hdr=3 total=8 payload=XXXhello"});
  EXPECT_EQ(events_of(kRouteConn, "HMSG $G foo.bar INBOX.22 3 14\r\nOK:hello world\r\n"),
            Events{"RMSG account=$G subject=foo.bar reply=INBOX.22 hdr=3 total=14 payload=OK:hello world"});
  EXPECT_EQ(events_of(kRouteConn, "HMSG $G foo.bar + reply baz 3 14\r\nOK:hello world\r\n"),
            Events{"RMSG account=$G subject=foo.bar reply=reply queues=[baz] hdr=3 total=14 payload=OK:hello world"});
  EXPECT_EQ(events_of(kRouteConn, "HMSG $G foo.bar | baz bat 3 14\r\nOK:hello world\r\n"),
            Events{"RMSG account=$G subject=foo.bar queues=[baz bat] hdr=3 total=14 payload=OK:hello world"});
}

TEST(ParserRouteOps, LeafOriginVariants) {
  EXPECT_EQ(events_of(kRouteConn, "LS+ C1 $G foo\r\nLS+ C1 $G foo q 2\r\n"),
            (Events{"LS+ origin=C1 account=$G subject=foo queue= weight=0",
                    "LS+ origin=C1 account=$G subject=foo queue=q weight=2"}));
  // The reference sends LS- without the origin.
  EXPECT_EQ(events_of(kRouteConn, "LS- $G foo\r\nLS- $G foo q\r\n"),
            (Events{"LS- origin= account=$G subject=foo queue=", "LS- origin= account=$G subject=foo queue=q"}));
  EXPECT_EQ(events_of(kRouteConn, "LMSG C1 $G foo 0 2\r\nok\r\n"),
            Events{"LMSG origin=C1 account=$G subject=foo hdr=0 total=2 payload=ok"});
  EXPECT_EQ(events_of(kRouteConn, "LMSG C1 $G foo r 0 2\r\nok\r\n"),
            Events{"LMSG origin=C1 account=$G subject=foo reply=r hdr=0 total=2 payload=ok"});
  EXPECT_EQ(events_of(kRouteConn, "LMSG C1 $G foo + r q1 q2 0 2\r\nok\r\n"),
            Events{"LMSG origin=C1 account=$G subject=foo reply=r queues=[q1 q2] hdr=0 total=2 payload=ok"});
  EXPECT_EQ(events_of(kRouteConn, "LMSG C1 $G foo | q1 1 2\r\nok\r\n"),
            Events{"LMSG origin=C1 account=$G subject=foo queues=[q1] hdr=1 total=2 payload=ok"});
}

// A leaf connection is bound to one account: its LS+/LS-/LMSG/HMSG name none (the reference's
// processLeafSub, processLeafMsgArgs, processLeafHeaderMsgArgs).
TEST(ParserLeafOps, NoAccountNoOrigin) {
  constexpr Role kLeafConn = Role::kServerOfLeaf;
  EXPECT_EQ(events_of(kLeafConn, "LS+ foo\r\nLS+ foo q 2\r\nLS- foo\r\nLS- foo q\r\n"),
            (Events{"LS+ origin= account= subject=foo queue= weight=0",
                    "LS+ origin= account= subject=foo queue=q weight=2", "LS- origin= account= subject=foo queue=",
                    "LS- origin= account= subject=foo queue=q"}));
  EXPECT_EQ(events_of(kLeafConn, "LMSG foo 2\r\nok\r\n"), Events{"LMSG origin= subject=foo total=2 payload=ok"});
  EXPECT_EQ(events_of(kLeafConn, "LMSG foo r 2\r\nok\r\n"),
            Events{"LMSG origin= subject=foo reply=r total=2 payload=ok"});
  EXPECT_EQ(events_of(kLeafConn, "LMSG foo + r q1 q2 2\r\nok\r\n"),
            Events{"LMSG origin= subject=foo reply=r queues=[q1 q2] total=2 payload=ok"});
  EXPECT_EQ(events_of(kLeafConn, "LMSG foo | q1 2\r\nok\r\n"),
            Events{"LMSG origin= subject=foo queues=[q1] total=2 payload=ok"});
  EXPECT_EQ(events_of(kLeafConn, "HMSG foo r 1 2\r\nok\r\n"),
            Events{"LMSG origin= subject=foo reply=r hdr=1 total=2 payload=ok"});
  EXPECT_EQ(events_of(kLeafConn, "HMSG foo | q 1 2\r\nok\r\n"),
            Events{"LMSG origin= subject=foo queues=[q] hdr=1 total=2 payload=ok"});
  // What a leaf never sends is unknown there, as the route's RS+ and a client's PUB.
  EXPECT_EQ(error_of(kLeafConn, "RS+ $G foo\r\n"), ParseError::kUnknownOp);
  EXPECT_EQ(error_of(kLeafConn, "PUB foo 0\r\n\r\n"), ParseError::kUnknownOp);
  EXPECT_EQ(error_of(kLeafConn, "LS+ foo q\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kLeafConn, "LMSG foo x y 2\r\nok\r\n"), ParseError::kBadArgs);
}

TEST(ParserRouteOps, QueueListIsWalkedWithNextQueue) {
  struct Queues : ParserHandler {
    std::vector<std::string> names;
    bool on_rmsg(const MsgArgs& a, std::string_view) override {
      std::string_view rest = a.queues, q;
      while (next_queue(rest, q)) names.emplace_back(q);
      return true;
    }
  } h;
  Parser parser(kRouteConn);
  parser.parse("RMSG $G foo | q1 \t q2 q3 0\r\n\r\n", h);
  EXPECT_EQ(h.names, (std::vector<std::string>{"q1", "q2", "q3"}));
}

// ---- Operations a client reads from a server ---------------------------------------

TEST(ParserClientSide, InfoMsgHmsgAndControl) {
  EXPECT_EQ(events_of(kClient, "INFO {\"server_id\":\"X\"}\r\nMSG foo 1 5\r\nhello\r\nMSG foo 1 _INBOX.x 2\r\nhi\r\n"
                               "HMSG foo 2 12 17\r\nNATS/1.0\r\n\r\nHELLO\r\nHMSG foo 2 r 0 1\r\n!\r\n"
                               "PING\r\nPONG\r\n+OK\r\n-ERR 'Authorization Violation'\r\n"),
            (Events{"INFO {\"server_id\":\"X\"}", "MSG subject=foo sid=1 total=5 payload=hello",
                    "MSG subject=foo sid=1 reply=_INBOX.x total=2 payload=hi",
                    "MSG subject=foo sid=2 hdr=12 total=17 payload=NATS/1.0\r\n\r\nHELLO",
                    "MSG subject=foo sid=2 reply=r hdr=0 total=1 payload=!", "PING", "PONG", "+OK",
                    "-ERR Authorization Violation"}));
}

TEST(ParserClientSide, ErrTextLosesItsQuotesOnlyWhenBothArePresent) {
  EXPECT_EQ(events_of(kClient, "-ERR 'a b'  \r\n-ERR plain\r\n-ERR 'half\r\n"),
            (Events{"-ERR a b", "-ERR plain", "-ERR 'half"}));
}

TEST(ParserClientSide, MaxPayloadIsNotEnforcedOnMessagesFromTheServer) {
  ParserLimits limits;
  limits.max_payload = 2;
  EXPECT_EQ(whole(kClient, "MSG foo 1 5\r\nhello\r\n", limits).events,
            Events{"MSG subject=foo sid=1 total=5 payload=hello"});
}

// ---- Which ops each role accepts ------------------------------------------------------

struct RoleCase {
  Role role;
  const char* op;  // a complete, well-formed op
  bool allowed;
};

TEST(ParserRoles, OpsOutsideTheRoleAreUnknownOperations) {
  const char* kConnect = "CONNECT {}\r\n";
  const char* kInfo = "INFO {}\r\n";
  const char* kPub = "PUB foo 2\r\nok\r\n";
  const char* kHpub = "HPUB foo 0 2\r\nok\r\n";
  const char* kSub = "SUB foo 1\r\n";
  const char* kUnsub = "UNSUB 1\r\n";
  const char* kMsg = "MSG foo 1 2\r\nok\r\n";
  const char* kHmsgClient = "HMSG foo 1 0 2\r\nok\r\n";
  const char* kHmsgRoute = "HMSG $G foo 0 2\r\nok\r\n";
  const char* kRsSub = "RS+ $G foo\r\n";
  const char* kRsUnsub = "RS- $G foo\r\n";
  const char* kLsSub = "LS+ C $G foo\r\n";
  const char* kLsUnsub = "LS- $G foo\r\n";
  const char* kRmsg = "RMSG $G foo 2\r\nok\r\n";
  const char* kLmsg = "LMSG C $G foo 0 2\r\nok\r\n";
  const std::vector<RoleCase> cases = {
      {kClientConn, kConnect, true}, {kClientConn, kInfo, true},    {kClientConn, kPub, true},
      {kClientConn, kHpub, true},    {kClientConn, kSub, true},     {kClientConn, kUnsub, true},
      {kClientConn, kMsg, false},    {kClientConn, kHmsgClient, false}, {kClientConn, kRsSub, false},
      {kClientConn, kRsUnsub, false}, {kClientConn, kLsSub, false}, {kClientConn, kLsUnsub, false},
      {kClientConn, kRmsg, false},   {kClientConn, kLmsg, false},

      {kRouteConn, kConnect, true},  {kRouteConn, kInfo, true},     {kRouteConn, kPub, false},
      {kRouteConn, kHpub, false},    {kRouteConn, kSub, false},     {kRouteConn, kUnsub, false},
      {kRouteConn, kMsg, false},     {kRouteConn, kHmsgRoute, true}, {kRouteConn, kRsSub, true},
      {kRouteConn, kRsUnsub, true},  {kRouteConn, kLsSub, true},    {kRouteConn, kLsUnsub, true},
      {kRouteConn, kRmsg, true},     {kRouteConn, kLmsg, true},

      {kClient, kConnect, false},    {kClient, kInfo, true},        {kClient, kPub, false},
      {kClient, kHpub, false},       {kClient, kSub, false},        {kClient, kUnsub, false},
      {kClient, kMsg, true},         {kClient, kHmsgClient, true},  {kClient, kRsSub, false},
      {kClient, kRsUnsub, false},    {kClient, kLsSub, false},      {kClient, kLsUnsub, false},
      {kClient, kRmsg, false},       {kClient, kLmsg, false},
  };
  for (const RoleCase& c : cases) {
    Outcome o = whole(c.role, c.op);
    if (c.allowed) {
      EXPECT_EQ(o.error, ParseError::kNone) << "role " << static_cast<int>(c.role) << ": " << c.op;
      EXPECT_EQ(o.events.size(), 1u) << c.op;
    } else {
      EXPECT_EQ(o.error, ParseError::kUnknownOp) << "role " << static_cast<int>(c.role) << ": " << c.op;
      EXPECT_TRUE(o.events.empty()) << c.op;
    }
  }
}

TEST(ParserRoles, PingPongOkErrWorkInEveryRole) {
  for (Role role : {kClientConn, kRouteConn, kClient}) {
    EXPECT_EQ(events_of(role, "PING\r\nPONG\r\n+OK\r\n-ERR 'x'\r\n"), (Events{"PING", "PONG", "+OK", "-ERR x"}));
  }
}

// ---- Errors -------------------------------------------------------------------------

// A whole common PUB goes to the handler past the per-op states (Parser::fast_pub), and its
// words are found a machine word at a time (find_sep). Words of every length around the word
// size, each separator in every lane, and a fourth word: the outcome is the general way's,
// whole or fed a byte at a time (which always takes the states).
TEST(ParserClientOps, PubWordsOfEveryLengthAndSeparatorParseAsTheGeneralWay) {
  for (size_t len = 1; len <= 40; ++len) {
    for (char sep : {' ', '\t', '\r'}) {
      const std::string subj(len, 's'), reply(41 - len, 'r');
      const std::string two = "PUB " + subj + sep + "2\r\nok\r\n";
      const std::string three = "PUB " + subj + sep + reply + sep + "2\r\nok\r\n";
      const std::string four = "PUB " + subj + sep + reply + sep + "x 2\r\nok\r\n";
      EXPECT_EQ(events_of(kClientConn, two), Events{"PUB subject=" + subj + " total=2 payload=ok"}) << len;
      EXPECT_EQ(events_of(kClientConn, three), Events{"PUB subject=" + subj + " reply=" + reply + " total=2 payload=ok"})
          << len;
      EXPECT_EQ(error_of(kClientConn, four), ParseError::kBadArgs) << len;
      for (const std::string& s : {two, three, four, two + three + four}) {
        EXPECT_EQ(byte_by_byte(kClientConn, s), whole(kClientConn, s)) << len;
      }
    }
  }
  // At the limits: the fast way leaves a control line too long and a payload too big to the
  // states, which say so; a payload not followed by CRLF likewise.
  EXPECT_EQ(error_of(kClientConn, "PUB foo.bar 2\r\nok\r\n", control_line(8)), ParseError::kMaxControlLine);
  EXPECT_EQ(error_of(kClientConn, "PUB foo 3\r\nbig\r\n", payload_limit(2)), ParseError::kMaxPayload);
  EXPECT_EQ(error_of(kClientConn, "PUB foo 2\r\nokX\r\n"), ParseError::kUnknownOp);
  EXPECT_EQ(events_of(kClientConn, "PUB foo 2\r\nok\r\nPUB bar 0\r\n\r\n"),
            (Events{"PUB subject=foo total=2 payload=ok", "PUB subject=bar total=0 payload="}));
}

// ---- Split reads ----------------------------------------------------------------------

// One stream per role exercising every op, with odd spacing, empty payloads, payloads
// holding CRLF, and queue lists.
std::string client_stream() {
  return "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"x y\"}\r\n"
         "PING\r\npong\r\n"
         "SUB foo 1\r\nSUB\tbar.* \t workers 2\r\n"
         "PUB foo 5\r\nhello\r\n"
         "PUB foo INBOX.1 0\r\n\r\n"
         "pub  foo   INBOX.2   4  \r\n\r\n\r\n\r\n"
         "HPUB foo 12 17\r\nname:derek\r\nHELLO\r\n"
         "HPUB foo r 0 0\r\n\r\n"
         "UNSUB 1\nUNSUB 2 100\r\n"
         "+OK\r\n-ERR 'oops'\r\nINFO {}\r\n"
         "PINGXX\r\n"
         "PUB big 300\r\n" + std::string(300, 'B') + "\r\n";
}

std::string route_stream() {
  return "CONNECT {\"name\":\"S\"}\r\nINFO {\"server_id\":\"S\",\"connect_urls\":[\"a:1\",\"b:2\"]}\r\n"
         "RS+ $G foo\r\nRS+ $G bar q 3\r\nRS- $G foo\r\nRS- $G bar q\r\n"
         "RMSG $G foo 5\r\nhello\r\nRMSG $G foo r 0\r\n\r\n"
         "RMSG $G foo + r q1 q2 q3 q4 q5 q6 q7 q8 2\r\nok\r\nRMSG $G foo | q1 2\r\nok\r\n"
         "HMSG $G foo 3 8\r\nXXXhello\r\nHMSG $G foo + r q 3 8\r\nXXXhello\r\n"
         "LS+ C $G foo\r\nLS+ C $G foo q 1\r\nLS- $G foo\r\nLMSG C $G foo | q 1 2\r\nok\r\n"
         "PING\r\nPONG\r\n+OK\r\n-ERR 'x'\r\n"
         "RMSG $G big 1000\r\n" + std::string(1000, 'R') + "\r\n";
}

std::string server_stream() {
  return "INFO {\"server_id\":\"X\",\"max_payload\":1048576}\r\n+OK\r\nPING\r\n"
         "MSG foo 1 5\r\nhello\r\nMSG foo 1 r 0\r\n\r\n"
         "HMSG foo 2 12 17\r\nNATS/1.0\r\n\r\nHELLO\r\nHMSG foo 2 r 0 0\r\n\r\n"
         "-ERR 'Permissions Violation for Subscription to \"x\"'\r\nPONG\r\n";
}

struct SplitCase {
  Role role;
  std::string stream;
  ParserLimits limits;
};

std::vector<SplitCase> split_cases() {
  std::vector<SplitCase> cases = {
      {kClientConn, client_stream(), {}},
      {kRouteConn, route_stream(), {}},
      {kClient, server_stream(), {}},
      // Streams that end in an error: the ops before it, and the error, never depend on splits.
      {kClientConn, client_stream() + "PUB foo 2\r\nokX\r\n", {}},
      {kClientConn, client_stream() + "PUB foo\r\n", {}},
      {kClientConn, client_stream() + "PUB foo 2000\r\n", payload_limit(1000)},
      {kClientConn, client_stream() + "SUB " + std::string(200, 's') + " 1\r\n", control_line(100)},
      {kRouteConn, route_stream() + "PUB foo 1\r\nx\r\n", {}},
  };
  return cases;
}

TEST(ParserSplits, ByteByByteGivesTheSameCallbacksAsWhole) {
  for (const SplitCase& c : split_cases()) {
    Outcome w = whole(c.role, c.stream, c.limits);
    EXPECT_GT(w.events.size(), 8u);
    EXPECT_EQ(byte_by_byte(c.role, c.stream, c.limits), w) << c.stream;
  }
}

TEST(ParserSplits, EveryTwoWaySplitGivesTheSameCallbacks) {
  for (const SplitCase& c : split_cases()) {
    Outcome w = whole(c.role, c.stream, c.limits);
    for (size_t cut = 1; cut < c.stream.size(); ++cut) {
      ASSERT_EQ(feed(c.role, c.stream, {cut}, c.limits), w) << "cut at " << cut << " of " << c.stream;
    }
  }
}

TEST(ParserSplits, RandomSplitsGiveTheSameCallbacks) {
  std::mt19937 rng(20240611);  // fixed seed: failures reproduce
  for (const SplitCase& c : split_cases()) {
    Outcome w = whole(c.role, c.stream, c.limits);
    for (int iter = 0; iter < 300; ++iter) {
      std::vector<size_t> cuts;
      std::uniform_int_distribution<size_t> step(1, iter % 3 == 0 ? 4 : 64);
      for (size_t at = step(rng); at < c.stream.size(); at += step(rng)) cuts.push_back(at);
      ASSERT_EQ(feed(c.role, c.stream, cuts, c.limits), w) << "iteration " << iter;
    }
  }
}

TEST(ParserSplits, RandomStreamsWithCorruptionSplitTheSame) {
  // Streams glued from ops of every role, some bytes flipped: whatever the outcome (ops,
  // then maybe an error), it must not depend on the read boundaries.
  const std::vector<std::string> ops = {
      "PING\r\n", "PONG\r\n", "+OK\r\n", "-ERR 'x'\r\n", "INFO {}\r\n", "CONNECT {}\r\n",
      "PUB a 3\r\nabc\r\n", "PUB a r 0\r\n\r\n", "HPUB a 1 3\r\nabc\r\n", "SUB a q 1\r\n", "UNSUB 1 5\r\n",
      "MSG a 1 3\r\nabc\r\n", "HMSG a 1 r 1 3\r\nabc\r\n", "RS+ $G a q 2\r\n", "RS- $G a\r\n",
      "RMSG $G a + r q1 q2 3\r\nabc\r\n", "HMSG $G a | q 1 3\r\nabc\r\n", "LS+ C $G a\r\n",
      "LMSG C $G a 0 3\r\nabc\r\n", "pub\tb  12\nhello world!\r\n"};
  const std::string noise = " \t\r\n+-PUBMSG0123456789x";
  std::mt19937 rng(7);
  for (int iter = 0; iter < 600; ++iter) {
    std::string stream;
    const int count = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < count; ++k) stream += ops[rng() % ops.size()];
    if (iter % 2 == 1) {  // corrupt a few bytes
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) stream[rng() % stream.size()] = noise[rng() % noise.size()];
    }
    ParserLimits limits;
    limits.max_control_line = 3 + static_cast<int64_t>(rng() % 20);
    limits.max_payload = static_cast<int64_t>(rng() % 16);
    for (Role role : {kClientConn, kRouteConn, kClient}) {
      Outcome w = whole(role, stream, limits);
      ASSERT_EQ(byte_by_byte(role, stream, limits), w) << stream;
      for (int split = 0; split < 3; ++split) {
        std::vector<size_t> cuts;
        for (size_t at = 1 + rng() % 7; at < stream.size(); at += 1 + rng() % 7) cuts.push_back(at);
        ASSERT_EQ(feed(role, stream, cuts, limits), w) << stream;
      }
    }
  }
}

TEST(ParserSplits, WholeStreamsEndIdleAndConsumeEverything) {
  for (Role role : {kClientConn, kRouteConn, kClient}) {
    std::string stream = role == kClientConn ? client_stream() : role == kRouteConn ? route_stream() : server_stream();
    Outcome o = whole(role, stream);
    EXPECT_EQ(o.error, ParseError::kNone);
    EXPECT_EQ(o.consumed, stream.size());
    EXPECT_TRUE(o.idle);
  }
}

TEST(ParserSplits, IdleOnlyBetweenOperations) {
  Parser parser(kClientConn);
  Recorder rec;
  EXPECT_TRUE(parser.idle());
  parser.parse("PU", rec);
  EXPECT_FALSE(parser.idle());
  parser.parse("B foo 2\r\no", rec);
  EXPECT_FALSE(parser.idle());
  parser.parse("k\r", rec);
  EXPECT_FALSE(parser.idle());
  parser.parse("\n", rec);
  EXPECT_TRUE(parser.idle());
  EXPECT_EQ(rec.events, Events{"PUB subject=foo total=2 payload=ok"});
}

TEST(ParserSplits, ALargePayloadArrivesInManyReads) {
  std::string body(1 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7) % 26);
  const std::string stream = "PUB big.one _INBOX.r " + std::to_string(body.size()) + "\r\n" + body + "\r\nPING\r\n";
  std::vector<size_t> cuts;
  for (size_t at = 3; at < stream.size(); at += 4096) cuts.push_back(at);
  Outcome o = feed(kClientConn, stream, cuts);
  EXPECT_EQ(o.error, ParseError::kNone);
  ASSERT_EQ(o.events.size(), 2u);
  EXPECT_EQ(o.events[0], "PUB subject=big.one reply=_INBOX.r total=1048576 payload=" + body);
  EXPECT_EQ(o.events[1], "PING");
}

TEST(ParserSplits, ALongControlLineArrivesInManyReads) {
  const std::string info = "{\"connect_urls\":[" + std::string(20000, 'u') + "]}";
  std::vector<size_t> cuts;
  for (size_t at = 1; at < info.size(); at += 1000) cuts.push_back(at);
  Outcome o = feed(kClient, "INFO " + info + "\r\n", cuts);
  EXPECT_EQ(o.events, Events{"INFO " + info});
}

}  // namespace
}  // namespace pylon::proto
