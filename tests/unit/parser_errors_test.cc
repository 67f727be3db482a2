// The wire-protocol parser's errors (the reference server's words), its limits (control line,
// max_payload) and a handler's stop. The ops themselves: parser_test.cc.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parser_test_support.h"

namespace pylon::proto {
namespace {

using namespace parser_test;  // NOLINT: the tests' shared vocabulary

TEST(ParserErrors, ErrorTextsAreTheReferenceServersWords) {
  EXPECT_EQ(error_text(ParseError::kUnknownOp), "Unknown Protocol Operation");
  EXPECT_EQ(error_text(ParseError::kMaxControlLine), "maximum control line exceeded");
  EXPECT_EQ(error_text(ParseError::kMaxPayload), "Maximum Payload Violation");
  // Malformed arguments make the reference close the connection without a word.
  EXPECT_EQ(error_text(ParseError::kBadArgs), "");
  EXPECT_FALSE(sends_err(ParseError::kBadArgs));
  EXPECT_FALSE(sends_err(ParseError::kNone));
  EXPECT_TRUE(sends_err(ParseError::kUnknownOp));
  EXPECT_TRUE(sends_err(ParseError::kMaxControlLine));
  EXPECT_TRUE(sends_err(ParseError::kMaxPayload));
}

TEST(ParserErrors, TheReferencesShouldFailListFails) {
  // parser_test.go TestShouldFail, each with the error our parser reports. Incomplete
  // inputs that are already wrong fail at once; the JSON-less CONNECT/INFO lines are
  // the handler's to refuse (see ParserClientOps.ConnectNeedsNoSpace...).
  const std::vector<std::pair<const char*, ParseError>> cases = {
      {"xxx", ParseError::kUnknownOp},
      {"Px", ParseError::kUnknownOp},
      {"PIx", ParseError::kUnknownOp},
      {"PINx", ParseError::kUnknownOp},
      {" PING", ParseError::kUnknownOp},
      {"POx", ParseError::kUnknownOp},
      {"PONx", ParseError::kUnknownOp},
      {"+x", ParseError::kUnknownOp},
      {"+Ox", ParseError::kUnknownOp},
      {"-x", ParseError::kUnknownOp},
      {"-Ex", ParseError::kUnknownOp},
      {"-ERx", ParseError::kUnknownOp},
      {"-ERRx", ParseError::kUnknownOp},
      {"Cx", ParseError::kUnknownOp},
      {"COx", ParseError::kUnknownOp},
      {"CONx", ParseError::kUnknownOp},
      {"CONNx", ParseError::kUnknownOp},
      {"CONNEx", ParseError::kUnknownOp},
      {"CONNECx", ParseError::kUnknownOp},
      {"PUx", ParseError::kUnknownOp},
      {"PUB foo\r\n", ParseError::kBadArgs},
      {"PUB  \r\n", ParseError::kBadArgs},
      {"PUB foo bar       \r\n", ParseError::kBadArgs},
      {"PUB foo 2\r\nok \r\n", ParseError::kUnknownOp},
      {"PUB foo 2\r\nok\r \n", ParseError::kUnknownOp},
      {"Sx", ParseError::kUnknownOp},
      {"SUx", ParseError::kUnknownOp},
      {"SUB\r\n", ParseError::kUnknownOp},
      {"SUB  \r\n", ParseError::kBadArgs},
      {"SUB foo\r\n", ParseError::kBadArgs},
      {"SUB foo bar baz 22\r\n", ParseError::kBadArgs},
      {"Ux", ParseError::kUnknownOp},
      {"UNx", ParseError::kUnknownOp},
      {"UNSx", ParseError::kUnknownOp},
      {"UNSUx", ParseError::kUnknownOp},
      {"UNSUBx", ParseError::kUnknownOp},
      {"UNSUBUNSUB 1\r\n", ParseError::kUnknownOp},
      {"UNSUB_2\r\n", ParseError::kUnknownOp},
      {"UNSUB_UNSUB_UNSUB 2\r\n", ParseError::kUnknownOp},
      {"UNSUB_\t2\r\n", ParseError::kUnknownOp},
      {"UNSUB\r\n", ParseError::kUnknownOp},
      {"UNSUB \r\n", ParseError::kBadArgs},
      {"UNSUB          \t       \r\n", ParseError::kBadArgs},
      {"UNSUB 1 2 3\r\n", ParseError::kBadArgs},
      {"Ix", ParseError::kUnknownOp},
      {"INx", ParseError::kUnknownOp},
      {"INFx", ParseError::kUnknownOp},
      {"M", ParseError::kUnknownOp},  // MSG from a client
      {"R", ParseError::kUnknownOp},  // route ops from a client
      {"L", ParseError::kUnknownOp},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(error_of(kClientConn, input), expected) << input;
  }
  // And for a route (MSG is not a route op; RMSG is).
  for (const char* input : {"Mx", "MSx", "MSGx", "MSG  \r\n", "MSG $foo foo 5\r\nhello\r\n", "Rx", "RSx", "RMx",
                            "Lx", "LSx", "RS+x"}) {
    EXPECT_EQ(error_of(kRouteConn, input), ParseError::kUnknownOp) << input;
  }
}

// The reference's parseError context, "state=N, i=N: proto='<%q>...'": N its parser.go state
// (OP_START = 0, in declaration order) before the failing byte, i that byte's index in the
// buffer, and protoSnippet's quoting of up to 32 bytes from it (a short buffer loses its last
// byte). The integration test RawProto.UnknownOperationsAreLoggedAsTheReferenceLogsThem
// checks a sample of these against nats-server itself.
TEST(ParserErrors, UnknownOperationsCarryTheReferencesStateIndexAndSnippet) {
  auto context = [](Role role, std::string_view input) {
    Parser parser(role);
    Recorder rec;
    ParseResult r = parser.parse(input, rec);
    EXPECT_EQ(r.error, ParseError::kUnknownOp) << input;
    return r.reference_detail;
  };
  const std::vector<std::pair<const char*, const char*>> client = {
      {"xxx\r\n", R"(state=0, i=0: proto='"xxx\r"...')"},
      {"Px\r\n", R"(state=29, i=1: proto='"x\r"...')"},          // OP_P
      {"PIx\r\n", R"(state=34, i=2: proto='"x\r"...')"},         // OP_PI
      {"PONx\r\n", R"(state=38, i=3: proto='"x\r"...')"},        // OP_PON
      {"+x\r\n", R"(state=1, i=1: proto='"x\r"...')"},           // OP_PLUS
      {"-ERx\r\n", R"(state=6, i=3: proto='"x\r"...')"},         // OP_MINUS_ER
      {"-ERRx\r\n", R"(state=7, i=4: proto='"x\r"...')"},        // OP_MINUS_ERR
      {"CONNECx\r\n", R"(state=15, i=6: proto='"x\r"...')"},     // OP_CONNEC
      {"HPUx\r\n", R"(state=20, i=3: proto='"x\r"...')"},        // OP_HPU
      {"HPUBx\r\n", R"(state=21, i=4: proto='"x\r"...')"},       // OP_HPUB
      {"SUx\r\n", R"(state=44, i=2: proto='"x\r"...')"},         // OP_SU
      {"UNSUBx\r\n", R"(state=63, i=5: proto='"x\r"...')"},      // OP_UNSUB
      {"INFx\r\n", R"(state=73, i=3: proto='"x\r"...')"},        // OP_INF
      {"M\r\n", R"(state=0, i=0: proto='"M\r"...')"},            // no client op starts so
      {"RS+ x\r\n", R"(state=0, i=0: proto='"RS+ x\r"...')"},
      {"PUB a 1\r\nxy\r\n", R"(state=41, i=10: proto='"y\r"...')"},  // MSG_END_R
      {"PUB a 1\r\nx\ry\r\n", R"(state=42, i=11: proto='"y\r"...')"},  // MSG_END_N
      {"PING\r\nFOO", R"(state=0, i=6: proto='"FO"...')"},
      {"Q" "0123456789abcdef0123456789abcdef0123456789", R"(state=0, i=0: proto='"Q0123456789abcdef0123456789abcde"...')"},
  };
  for (const auto& [input, expected] : client) EXPECT_EQ(context(kClientConn, input), expected) << input;
  const std::vector<std::pair<const char*, const char*>> route = {
      {"RS+x\r\n", R"(state=45, i=3: proto='"x\r"...')"},  // RS+ passes through OP_SUB
      {"RS-x\r\n", R"(state=63, i=3: proto='"x\r"...')"},  // and RS- through OP_UNSUB
      {"RMx\r\n", R"(state=66, i=2: proto='"x\r"...')"},   // RMSG through OP_M
      {"Rx\r\n", R"(state=57, i=1: proto='"x\r"...')"},    // OP_R
      {"LSx\r\n", R"(state=56, i=2: proto='"x\r"...')"},   // OP_LS
  };
  for (const auto& [input, expected] : route) EXPECT_EQ(context(kRouteConn, input), expected) << input;

  // Split across reads, i counts from the start of the read that holds the byte.
  Parser parser(kClientConn);
  Recorder rec;
  EXPECT_EQ(parser.parse("PIN", rec).error, ParseError::kNone);
  ParseResult r = parser.parse("x\r\n", rec);
  EXPECT_EQ(r.error, ParseError::kUnknownOp);
  EXPECT_EQ(r.reference_detail, R"(state=35, i=0: proto='"x\r"...')");  // OP_PIN
  // And the whole log text, as the connection's log line ends.
  EXPECT_EQ(error_log_text(r, "Client"), R"(Client parser ERROR, state=35, i=0: proto='"x\r"...')");
}

TEST(ParserErrors, AnOpNameMustBeFollowedByASpace) {
  EXPECT_EQ(error_of(kClientConn, "PUBfoo 1\r\nx\r\n"), ParseError::kUnknownOp);
  EXPECT_EQ(error_of(kClientConn, "SUB\tfoo 1\r\n"), ParseError::kNone);
  EXPECT_EQ(error_of(kClientConn, "-ERR\r\n"), ParseError::kUnknownOp);
  EXPECT_EQ(error_of(kRouteConn, "RS+$G foo\r\n"), ParseError::kUnknownOp);
}

TEST(ParserErrors, MalformedPubArguments) {
  EXPECT_EQ(error_of(kClientConn, "PUB foo bar baz 3\r\n"), ParseError::kBadArgs);  // too many
  EXPECT_EQ(error_of(kClientConn, "PUB foo x\r\n"), ParseError::kBadArgs);          // not a number
  EXPECT_EQ(error_of(kClientConn, "PUB foo -1\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kClientConn, "PUB foo 1a\r\n"), ParseError::kBadArgs);
  // Sizes are at most 9 digits (CVE-2019-13126): longer ones are malformed, not too big.
  EXPECT_EQ(error_of(kClientConn, "PUB foo 3333333333333333333333333333333333333333333333333333\r\n"),
            ParseError::kBadArgs);
  EXPECT_EQ(error_of(kClientConn, "PUB foo 0000000001\r\n"), ParseError::kBadArgs);
}

TEST(ParserErrors, MalformedPubDetailNamesTheProblem) {
  Parser parser(kClientConn);
  Recorder rec;
  ParseResult r = parser.parse("PUB foo\r\n", rec);
  EXPECT_EQ(r.error, ParseError::kBadArgs);
  EXPECT_NE(r.detail.find("processPub Parse Error"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("foo"), std::string::npos) << r.detail;
}

TEST(ParserErrors, MalformedHpubArguments) {
  EXPECT_EQ(error_of(kClientConn, "HPUB foo 3\r\n"), ParseError::kBadArgs);            // no total
  EXPECT_EQ(error_of(kClientConn, "HPUB foo 5 3\r\n"), ParseError::kBadArgs);          // header > total
  EXPECT_EQ(error_of(kClientConn, "HPUB foo x 3\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kClientConn, "HPUB foo 1 x\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kClientConn, "HPUB a b c 1 2\r\n"), ParseError::kBadArgs);        // too many
}

TEST(ParserErrors, MalformedRouteArguments) {
  EXPECT_EQ(error_of(kRouteConn, "RS+ $G\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kRouteConn, "RS+ $G foo q\r\n"), ParseError::kBadArgs);  // queue without weight
  EXPECT_EQ(error_of(kRouteConn, "RS+ $G foo q x\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kRouteConn, "RS+ $G foo q 1 2\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kRouteConn, "RS- $G\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kRouteConn, "RS- $G foo q x\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kRouteConn, "LS+ C $G\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kRouteConn, "RMSG $G 5\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kRouteConn, "RMSG $G foo x\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kRouteConn, "RMSG $G foo * q 1\r\n"), ParseError::kBadArgs);   // bad reply indicator
  EXPECT_EQ(error_of(kRouteConn, "RMSG $G foo ++ r q 1\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kRouteConn, "HMSG $foo foo 10 8\r\n"), ParseError::kBadArgs);  // header > total
  EXPECT_EQ(error_of(kRouteConn, "HMSG $G foo 8\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kRouteConn, "LMSG C $G foo 2\r\n"), ParseError::kBadArgs);
}

TEST(ParserErrors, MalformedClientSideMessages) {
  EXPECT_EQ(error_of(kClient, "MSG foo 5\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kClient, "MSG foo 1 r x 5\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kClient, "HMSG foo 1 5\r\n"), ParseError::kBadArgs);
  EXPECT_EQ(error_of(kClient, "HMSG foo 1 6 5\r\n"), ParseError::kBadArgs);
}

TEST(ParserErrors, APayloadMustBeFollowedByCrLf) {
  EXPECT_EQ(error_of(kClientConn, "PUB foo 2\r\nokX\r\n"), ParseError::kUnknownOp);
  EXPECT_EQ(error_of(kClientConn, "PUB foo 2\r\nok\n"), ParseError::kUnknownOp);
  EXPECT_EQ(error_of(kClientConn, "PUB foo.bar 11\r\nhello world hello world\r\n"), ParseError::kUnknownOp);
  EXPECT_EQ(error_of(kRouteConn, "RMSG $G foo 2\r\nok\rX"), ParseError::kUnknownOp);
  EXPECT_EQ(error_of(kClient, "MSG foo 1 2\r\nokok"), ParseError::kUnknownOp);
}

TEST(ParserErrors, TheParserStaysFailed) {
  Parser parser(kClientConn);
  Recorder rec;
  EXPECT_EQ(parser.parse("FOO\r\n", rec).error, ParseError::kUnknownOp);
  ParseResult again = parser.parse("PING\r\n", rec);
  EXPECT_EQ(again.error, ParseError::kUnknownOp);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_TRUE(rec.events.empty());
}

TEST(ParserErrors, OpsBeforeTheErrorAreDelivered) {
  Outcome o = whole(kClientConn, "PING\r\nSUB foo 1\r\nBAD\r\nPING\r\n");
  EXPECT_EQ(o.error, ParseError::kUnknownOp);
  EXPECT_EQ(o.events, (Events{"PING", "SUB subject=foo queue= sid=1"}));
  EXPECT_EQ(o.consumed, std::strlen("PING\r\nSUB foo 1\r\n"));  // the offending byte
}

// ---- Limits ---------------------------------------------------------------------------

TEST(ParserLimitChecks, ControlLineOverTheLimitFails) {
  // As the reference's TestMaxControlLine: the arguments "foo.bar.baz 2" exceed 8 bytes.
  EXPECT_EQ(error_of(kClientConn, "PUB foo.bar.baz 2\r\nok\r\n", control_line(8)), ParseError::kMaxControlLine);
}

TEST(ParserLimitChecks, AnUnfinishedControlLineOverTheLimitFailsBeforeItsEnd) {
  EXPECT_EQ(error_of(kClientConn, "PUB foo.bar.ba", control_line(8)), ParseError::kMaxControlLine);
  Outcome o = byte_by_byte(kClientConn, "PUB foo.bar.baz 2\r\nok\r\n", control_line(8));
  EXPECT_EQ(o.error, ParseError::kMaxControlLine);
  EXPECT_EQ(o.consumed, std::strlen("PUB foo.bar.b"));  // failed on the 9th argument byte
}

TEST(ParserLimitChecks, TheLimitCountsArgumentsOnly) {
  // "foo 2" is 5 bytes: the op name, the spaces after it and the CRLF are not counted.
  EXPECT_EQ(error_of(kClientConn, "PUB    foo 2\r\nok\r\n", control_line(5)), ParseError::kNone);
  EXPECT_EQ(error_of(kClientConn, "PUB    foo 22\r\n", control_line(5)), ParseError::kMaxControlLine);
  // Exactly at the limit, even split right after the '\r'.
  EXPECT_EQ(byte_by_byte(kClientConn, "PUB foo 2\r\nok\r\n", control_line(5)).error, ParseError::kNone);
  EXPECT_EQ(feed(kClientConn, "PUB foo 2\r\nok\r\n", {10}, control_line(5)).error, ParseError::kNone);
}

TEST(ParserLimitChecks, TheLimitAppliesToEveryClientControlLine) {
  EXPECT_EQ(error_of(kClientConn, "CONNECT {\"verbose\":false}\r\n", control_line(8)), ParseError::kMaxControlLine);
  EXPECT_EQ(error_of(kClientConn, "SUB foo.bar.baz 1\r\n", control_line(8)), ParseError::kMaxControlLine);
  EXPECT_EQ(error_of(kClientConn, "UNSUB 123456789\r\n", control_line(8)), ParseError::kMaxControlLine);
}

TEST(ParserLimitChecks, RoutesAndServersAreNotHeldToTheControlLineLimit) {
  // Like the reference (overMaxControlLineLimit only checks clients).
  EXPECT_EQ(error_of(kRouteConn, "RMSG $G foo.bar.baz 2\r\nok\r\n", control_line(8)), ParseError::kNone);
  EXPECT_EQ(error_of(kClient, "INFO {\"connect_urls\":[\"a\",\"b\"]}\r\n", control_line(8)), ParseError::kNone);
}

TEST(ParserLimitChecks, ANegativeControlLineLimitMeansNone) {
  EXPECT_EQ(error_of(kClientConn, "SUB " + std::string(100000, 'a') + " 1\r\n", control_line(-1)),
            ParseError::kNone);
}

TEST(ParserLimitChecks, PubOverMaxPayloadFailsAtTheControlLine) {
  // Only the control line is fed: the violation is known before any payload byte.
  Parser parser(kClientConn, payload_limit(1000));
  Recorder rec;
  ParseResult r = parser.parse("PUB foo 1001\r\n", rec);
  EXPECT_EQ(r.error, ParseError::kMaxPayload);
  EXPECT_NE(r.detail.find("1001 vs 1000"), std::string::npos) << r.detail;
  EXPECT_EQ(error_of(kClientConn, "HPUB foo 10 1001\r\n", payload_limit(1000)), ParseError::kMaxPayload);
}

TEST(ParserLimitChecks, PubAtMaxPayloadIsFine) {
  std::string body(1000, 'x');
  EXPECT_EQ(whole(kClientConn, "PUB foo 1000\r\n" + body + "\r\n", payload_limit(1000)).events,
            Events{"PUB subject=foo total=1000 payload=" + body});
}

TEST(ParserLimitChecks, MalformedArgumentsWinOverMaxPayload) {
  // The reference checks the arguments before the size limit.
  EXPECT_EQ(error_of(kClientConn, "HPUB foo 2000 1001\r\n", payload_limit(1000)), ParseError::kBadArgs);
}

TEST(ParserLimitChecks, ANegativeMaxPayloadMeansNone) {
  std::string body(5000, 'x');
  EXPECT_EQ(error_of(kClientConn, "PUB foo 5000\r\n" + body + "\r\n", payload_limit(-1)), ParseError::kNone);
}

TEST(ParserLimitChecks, RoutedMessagesAreNotHeldToMaxPayload) {
  EXPECT_EQ(error_of(kRouteConn, "RMSG $G foo 5\r\nhello\r\n", payload_limit(1)), ParseError::kNone);
}

TEST(ParserLimitChecks, LimitsCanChangeBetweenFeeds) {
  Parser parser(kClientConn, payload_limit(10));
  Recorder rec;
  EXPECT_EQ(parser.parse("PUB a 5\r\nhello\r\n", rec).error, ParseError::kNone);
  parser.set_limits(payload_limit(4));
  EXPECT_EQ(parser.limits().max_payload, 4);
  EXPECT_EQ(parser.parse("PUB a 5\r\n", rec).error, ParseError::kMaxPayload);
}

// ---- Stopping ---------------------------------------------------------------------------

TEST(ParserStop, AHandlerReturningFalseStopsJustAfterItsOp) {
  const std::string stream = "PING\r\nPUB a 2\r\nok\r\nSUB b 1\r\nPONG\r\n";
  const std::vector<size_t> ends = {6, 19, 28, 34};  // just after each op
  for (int stop = 0; stop < 4; ++stop) {
    Parser parser(kClientConn);
    Recorder rec;
    rec.stop_at = stop;
    ParseResult r = parser.parse(stream, rec);
    EXPECT_TRUE(r.stopped) << stop;
    EXPECT_EQ(r.error, ParseError::kNone);
    EXPECT_EQ(r.consumed, ends[stop]) << stop;
    EXPECT_EQ(rec.events.size(), static_cast<size_t>(stop + 1));
    EXPECT_TRUE(parser.idle());
    // The rest can still be fed.
    rec.stop_at = -1;
    ParseResult rest = parser.parse(std::string_view(stream).substr(r.consumed), rec);
    EXPECT_FALSE(rest.stopped);
    EXPECT_EQ(rec.events, events_of(kClientConn, stream));
  }
}

TEST(ParserStop, StoppingOnASplitMessageCountsOnlyThisFeedsBytes) {
  Parser parser(kClientConn);
  Recorder rec;
  rec.stop_at = 0;
  EXPECT_EQ(parser.parse("PUB a 5\r\nhel", rec).consumed, 12u);
  ParseResult r = parser.parse("lo\r\nPING\r\n", rec);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.consumed, 4u);
  EXPECT_EQ(rec.events, Events{"PUB subject=a total=5 payload=hello"});
}

}  // namespace
}  // namespace pylon::proto
