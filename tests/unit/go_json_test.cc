// CONNECT and INFO JSON read as the reference reads them (proto/go_json.h and its users
// connect_json.h, route_info.h). Every expected text below is what go1.19's encoding/json
// printed for the same input into nats-server 2.9.10's structs (fuzz/json_diff/oracle.go, the
// oracle `make fuzz` compares against), so these are the reference's words.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/go_json.h"
#include "server/client/connect_json.h"
#include "server/route/route_info.h"

namespace pylon::server {
namespace {

std::string connect_error(std::string_view json) {
  ClientConnect c;
  return decode_client_connect(json, c).value_or("<nil>");
}
std::string info_error(std::string_view json) {
  RouteInfo i;
  return decode_route_info(json, i).value_or("<nil>");
}
std::string route_connect_error(std::string_view json) {
  RouteConnect r;
  return decode_route_connect(json, r).value_or("<nil>");
}

// Issue 10: this INFO on a route port ended the whole server process (boost::json's
// to_number threw "not exact" out of the event loop).
TEST(GoJson, AFractionalPortIsGosTypeErrorNotAnException) {
  RouteInfo i;
  std::optional<std::string> e;
  ASSERT_NO_THROW(e = decode_route_info(R"({"server_id":"NX","port":1.5})", i));
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, "json: cannot unmarshal number 1.5 into Go struct field Info.port of type int");
}

// monitor_url is Pylon's own: nats-server's Info has no such field and skips it whatever its
// value, so a route must not be closed over it (the JSON differential fuzzing found
// {"monitor_url":8} refused by Pylon and accepted by Go).
TEST(GoJson, PylonsOwnFieldOfTheWrongTypeIsSkippedAsGoSkipsAnUnknownField) {
  for (const char* json : {R"({"monitor_url":8})", R"({"monitor_url":{"a":[1,"x"]},"port":4248})",
                           R"({"monitor_url":[],"server_id":"A"})", R"({"monitor_url":true})"}) {
    SCOPED_TRACE(json);
    RouteInfo i;
    EXPECT_EQ(decode_route_info(json, i).value_or("<nil>"), "<nil>");
    EXPECT_EQ(i.monitor_url, "");
  }
  RouteInfo i;
  ASSERT_FALSE(decode_route_info(R"({"monitor_url":"http://10.0.0.1:8222","port":4248})", i));
  EXPECT_EQ(i.monitor_url, "http://10.0.0.1:8222");
  EXPECT_EQ(i.port, 4248);
}

TEST(GoJson, TypeErrorsNameTheStructTheFieldAndTheGoType) {
  EXPECT_EQ(connect_error(R"({"verbose":"x"})"),
            "json: cannot unmarshal string into Go struct field ClientOpts.verbose of type bool");
  EXPECT_EQ(connect_error(R"({"protocol":1e400})"),
            "json: cannot unmarshal number 1e400 into Go struct field ClientOpts.protocol of type int");
  EXPECT_EQ(connect_error(R"({"protocol":1.5})"),
            "json: cannot unmarshal number 1.5 into Go struct field ClientOpts.protocol of type int");
  EXPECT_EQ(connect_error(R"({"protocol":99999999999999999999})"),
            "json: cannot unmarshal number 99999999999999999999 into Go struct field ClientOpts.protocol of type int");
  EXPECT_EQ(connect_error(R"({"name":5})"),
            "json: cannot unmarshal number into Go struct field ClientOpts.name of type string");
  EXPECT_EQ(connect_error(R"({"import":{"allow":[1]}})"),
            "json: cannot unmarshal number into Go struct field SubjectPermission.import.allow of type string");
  EXPECT_EQ(connect_error(R"({"import":5})"),
            "json: cannot unmarshal number into Go struct field ClientOpts.import of type server.SubjectPermission");
  EXPECT_EQ(info_error(R"({"max_payload":2147483648})"),
            "json: cannot unmarshal number 2147483648 into Go struct field Info.max_payload of type int32");
  EXPECT_EQ(info_error(R"({"client_id":-1})"),
            "json: cannot unmarshal number -1 into Go struct field Info.client_id of type uint64");
  EXPECT_EQ(info_error(R"({"gateway_cmd":256})"),
            "json: cannot unmarshal number 256 into Go struct field Info.gateway_cmd of type uint8");
  EXPECT_EQ(info_error(R"({"connect_urls":"x"})"),
            "json: cannot unmarshal string into Go struct field Info.connect_urls of type []string");
  EXPECT_EQ(info_error(R"({"connect_urls":[1]})"),
            "json: cannot unmarshal number into Go struct field Info.connect_urls of type string");
  EXPECT_EQ(info_error(R"({"gateway_cmd_payload":"aGVsbG8"})"), "illegal base64 data at input byte 4");
}

TEST(GoJson, KeysMatchCaseInsensitivelyAsInGo) {
  EXPECT_EQ(info_error(R"({"PORT":"x"})"), "json: cannot unmarshal string into Go struct field Info.port of type int");
  RouteInfo i;
  ASSERT_FALSE(decode_route_info(R"({"Server_ID":"A","server_id":"B","PORT":4248})", i));
  EXPECT_EQ(i.id, "B");  // a repeated key sets the field again
  EXPECT_EQ(i.port, 4248);
}

TEST(GoJson, AWholeValueOfTheWrongKindNamesTheGoType) {
  EXPECT_EQ(connect_error("[1]"), "json: cannot unmarshal array into Go value of type server.ClientOpts");
  EXPECT_EQ(info_error("\"s\""), "json: cannot unmarshal string into Go value of type server.Info");
  // null decodes to nothing at all: a CONNECT null is a CONNECT with every default.
  ClientConnect c;
  EXPECT_FALSE(decode_client_connect("null", c));
  EXPECT_TRUE(c.verbose);
  EXPECT_TRUE(c.pedantic);
  EXPECT_TRUE(c.echo);
}

TEST(GoJson, SyntaxErrorsAreGosScannerTexts) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "unexpected end of JSON input"},
      {" ", "unexpected end of JSON input"},
      {R"({"verbose":false,})", "invalid character '}' looking for beginning of object key string"},
      {R"({"a" 1})", "invalid character '1' after object key"},
      {R"({"a":01})", "invalid character '1' after object key:value pair"},
      {R"({"a":tru})", "invalid character '}' in literal true (expecting 'e')"},
      {R"({"a":1.})", "invalid character '}' after decimal point in numeric literal"},
      {R"({"a":1e})", "invalid character '}' in exponent of numeric literal"},
      {R"({"a":"\x"})", "invalid character 'x' in string escape code"},
      {R"({"a":"\u12g4"})", "invalid character 'g' in \\u hexadecimal character escape"},
      {"{\"a\":\"\x01\"}", "invalid character '\\x01' in string literal"},
      {"\xff", "invalid character '\xc3\xbf' looking for beginning of value"},  // Go prints the byte as U+00FF
      {"{\"a\":1}\xa0", "invalid character '\\u00a0' after top-level value"},
      {R"({"verbose":true}{"verbose":false})", "invalid character '{' after top-level value"},
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(connect_error(in), want) << in;
    EXPECT_EQ(info_error(in), want) << in;  // the syntax comes first, whatever the struct
  }
}

TEST(GoJson, ARouteConnectIsReadAsAClientsFirstThenAsARoutes) {
  EXPECT_EQ(route_connect_error(R"({"verbose":"x","name":"NX","cluster":"c"})"),
            "json: cannot unmarshal string into Go struct field ClientOpts.verbose of type bool");
  EXPECT_EQ(route_connect_error(R"({"verbose":false,"name":"NX","cluster":5})"),
            "json: cannot unmarshal number into Go struct field connectInfo.cluster of type string");
  // A client on the route port (lang set) is turned away before the route's own decode.
  RouteConnect r;
  EXPECT_FALSE(decode_route_connect(R"({"lang":"go","cluster":5})", r));
  EXPECT_EQ(r.lang, "go");
}

TEST(GoJson, StringsDecodeAsGoDoesInvalidUtf8AndLoneSurrogatesBecomeReplacementChars) {
  ClientConnect c;
  ASSERT_FALSE(decode_client_connect("{\"name\":\"a\\u00e9\\ud83d\\ude00\\ud800x\xff\"}", c));
  EXPECT_EQ(c.name, "a\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx\xef\xbf\xbd");
}

TEST(GoJson, AWellFormedConnectFillsEveryFieldPylonUses) {
  ClientConnect c;
  ASSERT_FALSE(decode_client_connect(
      R"({"verbose":false,"pedantic":false,"echo":false,"headers":true,"no_responders":true,"protocol":1,)"
      R"("user":"u","pass":"p","auth_token":"t","name":"n","lang":"go","version":"1.2.3","unknown":[{"x":1}]})",
      c));
  EXPECT_FALSE(c.verbose);
  EXPECT_FALSE(c.pedantic);
  EXPECT_FALSE(c.echo);
  EXPECT_TRUE(c.headers);
  EXPECT_TRUE(c.no_responders);
  EXPECT_EQ(c.protocol, 1);
  EXPECT_EQ(c.user, "u");
  EXPECT_EQ(c.pass, "p");
  EXPECT_EQ(c.auth_token, "t");
  EXPECT_EQ(c.name, "n");
  EXPECT_EQ(c.lang, "go");
  EXPECT_EQ(c.version, "1.2.3");
}

TEST(GoJson, DeepNestingIsSkippedWithoutRecursionAndGosDepthLimitHolds) {
  const std::string deep_ok = "{\"x\":" + std::string(9999, '[') + std::string(9999, ']') + "}";
  EXPECT_EQ(connect_error(deep_ok), "<nil>");
  const std::string too_deep = std::string(10001, '[');
  EXPECT_EQ(connect_error(too_deep), "invalid character '[' exceeded max depth");
}

}  // namespace
}  // namespace pylon::server
