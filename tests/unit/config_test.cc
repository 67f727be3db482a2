// Tests for the config-file reader (src/server/config). Expected values were checked against
// the reference server's own parser (nats-server 2.9 conf package) on the same inputs.
#include "server/config/config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <ostream>
#include <string>

namespace pylon::config {
// Readable Position in failure messages.
void PrintTo(const Position& p, std::ostream* os) { *os << '"' << p.to_string() << '"'; }
}  // namespace pylon::config

using namespace pylon::config;
using namespace std::chrono_literals;

namespace {

std::string fixture_dir() { return std::string(PYLON_SOURCE_DIR) + "/tests/unit/testdata/config/"; }

std::string fx(const std::string& name) { return fixture_dir() + name; }

// Parse with a fixed, empty environment unless one is given.
Value parse(std::string_view text, std::map<std::string, std::string> env = {}) {
  ParseOptions o;
  o.getenv = [env](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return parse_string(text, "t.conf", o);
}

Value load(const std::string& name, std::map<std::string, std::string> env = {}) {
  ParseOptions o;
  o.getenv = [env](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return parse_file(fx(name), o);
}

// The full what() of the error text produces, or "no error: <dump>".
std::string error_of(std::string_view text, std::map<std::string, std::string> env = {}) {
  try {
    return "no error: " + parse(text, std::move(env)).dump();
  } catch (const ConfigError& e) {
    return e.what();
  }
}

std::string load_error(const std::string& name) {
  try {
    return "no error: " + load(name).dump();
  } catch (const ConfigError& e) {
    return e.what();
  }
}

const Value& at(const Value& m, std::string_view key) {
  const Value* v = m.find(key);
  if (!v) throw std::runtime_error("missing key " + std::string(key) + " in " + m.dump());
  return *v;
}

Position P(std::string file, int line, int col) { return Position{std::move(file), line, col}; }

}  // namespace

// ---- the user's files --------------------------------------------------------------------------

TEST(ConfigSample, NodeALoadsWithTheRightValues) {
  Value c = load("nodea.conf");
  ASSERT_TRUE(c.is_map());
  EXPECT_EQ(at(c, "listen").as_string(), "localhost:4222");
  EXPECT_EQ(at(c, "http").as_string(), "localhost:4333");

  const Value& auth = at(c, "authorization");
  EXPECT_EQ(at(auth, "user").as_string(), "ruser");
  // An unquoted $2a$ bcrypt hash is taken literally, not as a variable.
  EXPECT_EQ(at(auth, "password").as_string(),
            "$2a$11$abcdefghijklmnopqrstuu1234567890123456789012345678901");
  EXPECT_EQ(at(auth, "timeout").as_int(), 2);
  EXPECT_EQ(at(auth, "timeout").as_number(), 2.0);

  const Value& cluster = at(c, "cluster");
  EXPECT_EQ(at(cluster, "listen").as_string(), "localhost:4248");
  const Value& cauth = at(cluster, "authorization");
  EXPECT_EQ(at(cauth, "user").as_string(), "ruser");
  EXPECT_EQ(at(cauth, "password").as_string(), "T0pS3cr3t");
  EXPECT_EQ(at(cauth, "timeout").as_int(), 2);
  const auto& routes = at(cluster, "routes").as_array();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].as_string(), "nats-route://ruser:T0pS3cr3t@localhost:5248");
  EXPECT_EQ(routes[1].as_string(), "nats-route://ruser:T0pS3cr3t@localhost:6248");

  EXPECT_EQ(c.find("log_file"), nullptr);  // commented out
  EXPECT_FALSE(at(c, "debug").as_bool());
  EXPECT_FALSE(at(c, "trace").as_bool());
  EXPECT_TRUE(at(c, "logtime").as_bool());
  EXPECT_EQ(at(c, "pid_file").as_string(), "/tmp/nodea.pid");
  EXPECT_EQ(at(c, "max_connections").as_int(), 100);
  EXPECT_EQ(at(c, "max_subscriptions").as_int(), 1000);
  EXPECT_EQ(at(c, "max_control_line").as_int(), 512);
  EXPECT_EQ(at(c, "max_payload").as_int(), 65536);
  EXPECT_EQ(parse_duration(at(c, "write_deadline")), 2s);

  // File order is kept.
  std::vector<std::string> keys;
  for (const Entry& e : c.as_map()) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "listen", "http", "authorization", "cluster", "debug", "trace", "logtime",
                      "pid_file", "max_connections", "max_subscriptions", "max_control_line",
                      "max_payload", "write_deadline"}));
}

TEST(ConfigSample, NodeAPositions) {
  Value c = load("nodea.conf");
  const std::string f = fx("nodea.conf");
  EXPECT_EQ(c.find_entry("listen")->key_pos, P(f, 2, 1));
  EXPECT_EQ(at(c, "listen").pos(), P(f, 2, 9));
  EXPECT_EQ(at(c, "http").pos(), P(f, 3, 7));
  EXPECT_EQ(at(c, "authorization").pos(), P(f, 4, 15));
  EXPECT_EQ(at(at(c, "authorization"), "password").pos(), P(f, 7, 13));
  EXPECT_EQ(at(at(c, "cluster"), "routes").pos(), P(f, 17, 12));
  EXPECT_EQ(at(at(c, "cluster"), "routes").as_array()[1].pos(), P(f, 19, 5));
  EXPECT_EQ(at(c, "write_deadline").pos(), P(f, 31, 17));
  // Type errors from accessors carry the value's position.
  try {
    at(c, "listen").as_int();
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), f + ":2:9: expected an integer, found a string");
  }
}

TEST(ConfigSample, NodeBAndNodeC) {
  Value b = load("nodeb.conf");
  EXPECT_EQ(at(b, "listen").as_string(), "localhost:5222");
  EXPECT_EQ(at(at(b, "cluster"), "listen").as_string(), "localhost:5248");
  EXPECT_EQ(at(at(b, "cluster"), "routes").as_array()[0].as_string(),
            "nats-route://ruser:T0pS3cr3t@localhost:4248");
  EXPECT_EQ(at(b, "pid_file").as_string(), "/tmp/nodeb.pid");
  Value c = load("nodec.conf");
  EXPECT_EQ(at(c, "http").as_string(), "localhost:6333");
  EXPECT_EQ(at(at(c, "cluster"), "routes").as_array()[1].as_string(),
            "nats-route://ruser:T0pS3cr3t@localhost:4248");
}

TEST(ConfigSample, VariantSpellings) {
  Value c = load("nodea_variants.conf");
  EXPECT_EQ(at(c, "listen").as_string(), "0.0.0.0:4222");
  EXPECT_EQ(at(c, "http").as_int(), 4333);
  EXPECT_EQ(at(at(c, "authorization"), "token").as_string(),
            "$2a$11$PWIFAL8RsWyGI3jVZtO9Nu8.6jOxzxfZo7c/W0eLk017hjgUKWrhy");
  EXPECT_EQ(at(at(c, "authorization"), "timeout").as_float(), 0.5);
  const auto& routes = at(at(c, "cluster"), "routes").as_array();
  ASSERT_EQ(routes.size(), 2u);
  // Variables are whole values only: no interpolation inside text.
  EXPECT_EQ(routes[0].as_string(), "nats-route://ruser:$ROUTE_PASS@localhost:5248");
  EXPECT_EQ(routes[1].as_string(), "nats-route://ruser:T0pS3cr3t@localhost:6248");
  EXPECT_EQ(at(c, "log_file").as_string(), "/tmp/node a.log");
  EXPECT_TRUE(at(c, "debug").as_bool());
  EXPECT_FALSE(at(c, "trace").as_bool());
  EXPECT_EQ(at(c, "max_payload").as_int(), 1048576);
  bool legacy = false;
  EXPECT_EQ(parse_duration(at(c, "write_deadline"), &legacy), 10s);
  EXPECT_TRUE(legacy);
}

TEST(ConfigSample, CrlfLineEnds) {
  Value c = load("crlf.conf");
  EXPECT_EQ(at(c, "listen").as_string(), "localhost:4222");
  EXPECT_EQ(at(at(c, "cluster"), "listen").as_string(), "localhost:4248");
  EXPECT_EQ(at(at(c, "cluster"), "routes").as_array().at(0).as_string(),
            "nats-route://localhost:5248");
  EXPECT_TRUE(at(c, "debug").as_bool());
  EXPECT_EQ(at(c, "debug").pos(), P(fx("crlf.conf"), 9, 8));
}

TEST(ConfigSample, TopLevelBraces) {
  Value c = load("braces.conf");
  EXPECT_EQ(c.dump(), R"({"port": 4222, "cluster": {"port": 4248}})");
  EXPECT_EQ(parse("{ a: 1, b: 2 }").dump(), R"({"a": 1, "b": 2})");
  EXPECT_EQ(parse("{}").dump(), "{}");
  EXPECT_EQ(error_of("{ a: 1"), "t.conf:1:7: expected '}' to close the map opened at 1:1, found end of file");
  // As in the reference, a '{' where a top-level key could start is skipped (we also require
  // it to be closed).
  EXPECT_EQ(parse("{ a: 1 }\nb: 2").dump(), R"({"a": 1, "b": 2})");
  EXPECT_EQ(parse("a: 1\n{\nb: 2 }").dump(), R"({"a": 1, "b": 2})");
  EXPECT_EQ(error_of("a: 1\n}"), "t.conf:2:1: unexpected '}': no map is open here");
  EXPECT_EQ(error_of("{a: 1}}"), "t.conf:1:7: unexpected '}': no map is open here");
  EXPECT_EQ(error_of("a: 1}"), "t.conf:1:5: expected a new line, ';' or ',' after the value of 'a', found '}'");
  EXPECT_EQ(c.pos(), P(fx("braces.conf"), 2, 1));
}

// ---- syntax ------------------------------------------------------------------------------------

TEST(ConfigSyntax, KeyValueSeparators) {
  EXPECT_EQ(parse("a: 1\nb = 2\nc 3\nd:4\ne=5\nf\t6\ng :7\nh\n= 8").dump(),
            R"({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8})");
  // Only one separator is consumed; a second one is part of the value.
  EXPECT_EQ(parse("a:=b\nc ::d").dump(), R"({"a": "=b", "c": ":d"})");
  // Entries may also end with ';' or ','.
  EXPECT_EQ(parse("a = 1; b = 2, c = 3").dump(), R"({"a": 1, "b": 2, "c": 3})");
  // Quoted keys (no escapes in keys).
  EXPECT_EQ(parse("\"a b\": 1\n'c d' 2\n\"x\\ty\": 3").dump(),
            R"({"a b": 1, "c d": 2, "x\\ty": 3})");
  // Bare keys run to white space, ':' or '='.
  EXPECT_EQ(parse("a.b-c_d/e: 1").dump(), R"({"a.b-c_d/e": 1})");
}

TEST(ConfigSyntax, Comments) {
  Value c = parse(
      "# hash comment\n"
      "// slash comment\n"
      "a: 1 # trailing\n"
      "b: 2 // trailing\n"
      "m {  # after brace\n"
      "  # x: 1\n"
      "  y: 2 // c\n"
      "  // z { w: 1 }\n"
      "}\n"
      "arr: [ # c\n"
      "  1 # one\n"
      "  // 2\n"
      "  3\n"
      "]\n");
  EXPECT_EQ(c.dump(), R"({"a": 1, "b": 2, "m": {"y": 2}, "arr": [1, 3]})");
  // '#' does not start a comment inside a value, or at the start of a value.
  EXPECT_EQ(parse("a: b#c\nd: #e\nf: \"g # h\"").dump(), R"({"a": "b#c", "d": "#e", "f": "g # h"})");
  EXPECT_EQ(parse("").dump(), "{}");
  EXPECT_EQ(parse("# only a comment").dump(), "{}");
  EXPECT_EQ(parse("\n\n  \t\n").dump(), "{}");
}

TEST(ConfigSyntax, Strings) {
  Value c = parse(
      "dq: \"a\\tb\\nc\\rd\\\"e\\\\f\\x41\"\n"
      "sq: 'raw \\n \"x\"'\n"
      "bare: localhost:4222\n"
      "url: nats-route://user:pass@host:5248\n"
      "path: /var/run/nats.pid\n"
      "bare_esc: a\\tb\n"
      "empty: \"\"\n"
      "multi: \"line1\nline2\"\n"
      "utf8: \"h\xC3\xA9llo\"\n"
      "dollar_quoted: \"$foo\"\n"
      "ipv4: 127.0.0.1:4222\n"
      "dots: 1.2.3\n"
      "digits_then_text: 4222abc\n"
      "ms: 500ms\n"
      "secs: 10s\n"
      "ends_at_quote: abc'\n");
  EXPECT_EQ(at(c, "dq").as_string(), "a\tb\nc\rd\"e\\fA");
  EXPECT_EQ(at(c, "sq").as_string(), "raw \\n \"x\"");
  EXPECT_EQ(at(c, "bare").as_string(), "localhost:4222");
  EXPECT_EQ(at(c, "url").as_string(), "nats-route://user:pass@host:5248");
  EXPECT_EQ(at(c, "path").as_string(), "/var/run/nats.pid");
  EXPECT_EQ(at(c, "bare_esc").as_string(), "a\tb");
  EXPECT_EQ(at(c, "empty").as_string(), "");
  EXPECT_EQ(at(c, "multi").as_string(), "line1\nline2");
  EXPECT_EQ(at(c, "utf8").as_string(), "h\xC3\xA9llo");
  EXPECT_EQ(at(c, "dollar_quoted").as_string(), "$foo");
  EXPECT_EQ(at(c, "ipv4").as_string(), "127.0.0.1:4222");
  EXPECT_EQ(at(c, "dots").as_string(), "1.2.3");
  EXPECT_EQ(at(c, "digits_then_text").as_string(), "4222abc");
  EXPECT_EQ(at(c, "ms").as_string(), "500ms");
  EXPECT_EQ(at(c, "secs").as_string(), "10s");
  EXPECT_EQ(at(c, "ends_at_quote").as_string(), "abc");
  // `key:` at the end of the file is an empty string, as in the reference.
  EXPECT_EQ(parse("a:").dump(), R"({"a": ""})");
}

TEST(ConfigSyntax, Blocks) {
  Value c = parse("text: (\nline one\n  line two)\n)\nnext: 1\n");
  EXPECT_EQ(at(c, "text").as_string(), "\nline one\n  line two)\n");
  EXPECT_EQ(at(c, "next").as_int(), 1);
  EXPECT_EQ(at(parse("t (\nx\n)"), "t").as_string(), "\nx\n");
  EXPECT_EQ(error_of("t: (\nx)\n"),
            "t.conf:3:1: expected a line holding only ')' to close the block opened at 1:4, "
            "found end of file");
}

TEST(ConfigSyntax, Booleans) {
  Value c = parse(
      "a: true\nb: false\nc: yes\nd: no\ne: on\nf: off\n"
      "g: TRUE\nh: False\ni: YES\nj: No\nk: On\nl: oFF\n"
      "m: \"true\"\nn: 'yes'\no: truex\np: true'\n");
  for (const char* k : {"a", "c", "e", "g", "i", "k"}) EXPECT_TRUE(at(c, k).as_bool()) << k;
  for (const char* k : {"b", "d", "f", "h", "j", "l"}) EXPECT_FALSE(at(c, k).as_bool()) << k;
  EXPECT_EQ(at(c, "m").as_string(), "true");
  EXPECT_EQ(at(c, "n").as_string(), "yes");
  EXPECT_EQ(at(c, "o").as_string(), "truex");
  EXPECT_EQ(at(c, "p").as_string(), "true");  // text ended by a quote is never a boolean
}

TEST(ConfigSyntax, Integers) {
  Value c = parse("a: 0\nb: 4222\nc: -17\nd: 007\ne: 9223372036854775807\nf: -9223372036854775808\n");
  EXPECT_EQ(at(c, "a").as_int(), 0);
  EXPECT_EQ(at(c, "b").as_int(), 4222);
  EXPECT_EQ(at(c, "c").as_int(), -17);
  EXPECT_EQ(at(c, "d").as_int(), 7);
  EXPECT_EQ(at(c, "e").as_int(), INT64_MAX);
  EXPECT_EQ(at(c, "f").as_int(), INT64_MIN);
  EXPECT_EQ(error_of("a: 9223372036854775808"),
            "t.conf:1:4: integer '9223372036854775808' is out of range");
}

TEST(ConfigSyntax, SizeSuffixes) {
  struct Case {
    const char* text;
    int64_t want;
  } cases[] = {
      {"1k", 1000},          {"1K", 1000},          {"1kb", 1024},
      {"1KB", 1024},         {"1Kb", 1024},         {"1ki", 1024},
      {"1KiB", 1024},        {"2m", 2000000},       {"2MB", 2 << 20},
      {"2Mi", 2 << 20},      {"2MiB", 2 << 20},     {"3g", 3000000000},
      {"3GB", 3LL << 30},    {"1t", 1000000000000}, {"1TB", 1LL << 40},
      {"1p", 1000000000000000}, {"1PiB", 1LL << 50}, {"1e", 1000000000000000000},
      {"1EB", 1LL << 60},    {"-1k", -1000},        {"64MB", 64LL << 20},
      {"8e", 8000000000000000000},
  };
  for (const auto& tc : cases) {
    Value c = parse(std::string("v: ") + tc.text);
    EXPECT_EQ(at(c, "v").as_int(), tc.want) << tc.text;
  }
  // A suffix followed by other text is a string.
  EXPECT_EQ(at(parse("v: 1kx"), "v").as_string(), "1kx");
  EXPECT_EQ(at(parse("v: 10ms"), "v").as_string(), "10ms");
  // Errors.
  EXPECT_EQ(error_of("v: 1kbb"),
            "t.conf:1:4: invalid size suffix 'kbb' in '1kbb': use K, M, G, T, P, E (powers of "
            "1000) or KB, MB, ... / KiB, MiB, ... (powers of 1024)");
  EXPECT_EQ(error_of("v: 10e"), "t.conf:1:4: integer '10e' is out of range");
  EXPECT_EQ(error_of("v: 9000000000000000000k"),
            "t.conf:1:4: integer '9000000000000000000k' is out of range");
}

TEST(ConfigSyntax, Floats) {
  Value c = parse("a: 1.5\nb: -0.25\nc: 0.5\nd: 100.0\n");
  EXPECT_EQ(at(c, "a").as_float(), 1.5);
  EXPECT_EQ(at(c, "b").as_float(), -0.25);
  EXPECT_EQ(at(c, "c").as_number(), 0.5);
  EXPECT_TRUE(at(c, "d").is_float());
  EXPECT_EQ(error_of("a: .5"), "t.conf:1:4: expected a value, found '.' (a float must start with a digit: 0.5)");
  EXPECT_EQ(error_of("a: 1."), "t.conf:1:6: expected a digit after the '.' in '1.', found end of file");
  EXPECT_EQ(error_of("a: 1.5e3"),
            "t.conf:1:7: expected a new line, ';' or ',' after the value of 'a', found 'e' (to use "
            "1.5e3 as a string, quote it: \"1.5e3\")");
}

TEST(ConfigSyntax, Datetimes) {
  Value c = parse("t: 2016-05-04T18:53:41Z\n");
  EXPECT_EQ(at(c, "t").as_datetime().time_since_epoch(), 1462388021s);
  EXPECT_EQ(c.dump(), R"({"t": 2016-05-04T18:53:41Z})");
  EXPECT_EQ(error_of("t: 2016-02-30T00:00:00Z"),
            "t.conf:1:4: invalid datetime '2016-02-30T00:00:00Z': day out of range");
  EXPECT_EQ(error_of("t: 2016-05-04 18:53:41"),
            "t.conf:1:14: expected 'T' in a datetime of the form YYYY-MM-DDTHH:MM:SSZ, found ' '");
  EXPECT_EQ(error_of("t: 12-3"),
            "t.conf:1:6: unexpected '-' after '12': a datetime must have the form "
            "YYYY-MM-DDTHH:MM:SSZ (quote the value if it is a string)");
}

TEST(ConfigSyntax, Arrays) {
  EXPECT_EQ(parse("a: [1, 2, 3]").dump(), R"({"a": [1, 2, 3]})");
  EXPECT_EQ(parse("a: [1]").dump(), R"({"a": [1]})");
  EXPECT_EQ(parse("a: [1k, 2]").dump(), R"({"a": [1000, 2]})");
  EXPECT_EQ(parse("a: []").dump(), R"({"a": []})");
  EXPECT_EQ(parse("a: [\n]").dump(), R"({"a": []})");
  EXPECT_EQ(parse("a: [a, b, ]").dump(), R"({"a": ["a", "b"]})");
  EXPECT_EQ(parse("a: [\n  x\n  y,\n  z\n\n]").dump(), R"({"a": ["x", "y", "z"]})");
  EXPECT_EQ(parse("a [ \"q\", 'r', true, 1.5, -2 ]").dump(),
            R"({"a": ["q", "r", true, 1.5, -2]})");
  EXPECT_EQ(parse("a: [[1, 2], [], [[x]]]").dump(), R"({"a": [[1, 2], [], [["x"]]]})");
  EXPECT_EQ(parse("users = [\n  {user: a, password: b}\n  {user: c, password: d}\n]").dump(),
            R"({"users": [{"user": "a", "password": "b"}, {"user": "c", "password": "d"}]})");
  // The reference reads "7]" outside an array as text.
  EXPECT_EQ(parse("a: 7]").dump(), R"({"a": "7]"})");
  EXPECT_EQ(error_of("a: [1, , 2]"), "t.conf:1:8: expected an array element or ']', found ','");
  EXPECT_EQ(error_of("a: [,]"), "t.conf:1:5: expected an array element or ']', found ','");
  EXPECT_EQ(error_of("a: [1 2]"),
            "t.conf:1:7: expected ',', ']' or a new line after an array element, found '2'");
  EXPECT_EQ(error_of("a: [1,\n2\n"),
            "t.conf:3:1: expected ']' to close the array opened at 1:4, found end of file");
}

TEST(ConfigSyntax, Maps) {
  EXPECT_EQ(parse("m { a: 1, b: 2; c: 3\n d: 4 }").dump(),
            R"({"m": {"a": 1, "b": 2, "c": 3, "d": 4}})");
  EXPECT_EQ(parse("m = { }").dump(), R"({"m": {}})");
  EXPECT_EQ(parse("m: {x {y {z: 1}}}").dump(), R"({"m": {"x": {"y": {"z": 1}}}})");
  // Inside a map, the value may start on the line after the separator (not at the top level).
  EXPECT_EQ(parse("m {\n a =\n 1\n b\n 2\n}").dump(), R"({"m": {"a": 1, "b": 2}})");
  EXPECT_EQ(error_of("a =\n1"), "t.conf:1:4: expected a value for 'a' after the '=', found a new line");
  EXPECT_EQ(error_of("m { a: 1 b: 2 }"),
            "t.conf:1:10: expected a new line, ',', ';' or '}' after the value of 'a', found 'b'");
  EXPECT_EQ(error_of("m { a }"), "t.conf:1:7: expected a value for 'a', found '}'");
  EXPECT_EQ(error_of("m { a: 1,, b: 2 }"), "t.conf:1:10: expected a key or '}', found ','");
  EXPECT_EQ(error_of("m { : 1 }"), "t.conf:1:5: expected a key or '}', found ':'");
  EXPECT_EQ(error_of("m { ] }"), "t.conf:1:5: expected a key or '}', found ']'");
  // The reference drops a lone '/' before a key in a map, and rejects it at the top level.
  EXPECT_EQ(parse("m { /foo: 1 }").dump(), R"({"m": {"foo": 1}})");
  EXPECT_EQ(error_of("/foo: 1"), "t.conf:1:1: expected a key, found '/'");
}

TEST(ConfigSyntax, DuplicateKeysLastWins) {
  Value c = parse("a: 1\nb: 2\na: 3\n");
  EXPECT_EQ(c.dump(), R"({"b": 2, "a": 3})");
  EXPECT_EQ(c.find_entry("a")->key_pos, P("t.conf", 3, 1));
}

TEST(ConfigSyntax, CaseInsensitiveLookup) {
  Value c = parse("Listen: a\nMAX_payload: 10\nlisten: b\n");
  EXPECT_EQ(c.find("LISTEN"), nullptr);
  EXPECT_EQ(c.find_ci("LISTEN")->as_string(), "b");  // the last of the case variants
  EXPECT_EQ(c.find_ci("max_payload")->as_int(), 10);
  EXPECT_EQ(c.find_entry_ci("max_payload")->key, "MAX_payload");
  EXPECT_EQ(c.find_ci("nope"), nullptr);
  EXPECT_EQ(at(c, "Listen").find_ci("x"), nullptr);  // not a map
}

TEST(ConfigSyntax, ColumnsCountCharacters) {
  // 'é' is two bytes but one column.
  Value c = parse("k\xC3\xA9y: [1, x]");
  EXPECT_EQ(at(c, "k\xC3\xA9y").as_array()[1].pos(), P("t.conf", 1, 10));
  EXPECT_EQ(error_of("\"\xC3\xA9\": 1 2"),
            "t.conf:1:8: expected a new line, ';' or ',' after the value of '\xC3\xA9', found '2'");
}

TEST(ConfigSyntax, InvalidUtf8IsKeptByteForByte) {
  // A stray lead byte is one character (as Go decodes it), not the start of a 3-byte sequence.
  EXPECT_EQ(at(parse("a: 4222\xE2\nb: 1"), "a").as_string(), "4222\xE2");
  EXPECT_EQ(at(parse("a: x\xFFy\n"), "a").as_string(), "x\xFFy");
}

TEST(ConfigSyntax, ByteOrderMarkIsSkipped) {
  EXPECT_EQ(parse("\xEF\xBB\xBFport: 1").dump(), R"({"port": 1})");
}

TEST(ConfigSyntax, SyntaxErrorsWithPositions) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"port: 4222\ncluster {\n  listen: x\n",
       "t.conf:4:1: expected '}' to close the map opened at 2:9, found end of file"},
      {"a: \"abc\n\n", "t.conf:3:1: expected '\"' to close the string opened at 1:4, found end of file"},
      {"a: 'abc", "t.conf:1:8: expected \"'\" to close the string opened at 1:4, found end of file"},
      {"\"a: 1", "t.conf:1:6: expected \" to close the key opened at 1:1, found end of file"},
      {"a: 1 2", "t.conf:1:6: expected a new line, ';' or ',' after the value of 'a', found '2'"},
      {"x: 1m30s",
       "t.conf:1:6: expected a new line, ';' or ',' after the value of 'x', found '3' (to use "
       "1m30s as a string, quote it: \"1m30s\")"},
      {"a: \"\\u0041\"",
       "t.conf:1:5: invalid escape '\\u': only \\t, \\n, \\r, \\\", \\\\ and \\xHH are allowed "
       "(there is no \\u: write the character itself)"},
      {"a: \"\\xZZ\"", "t.conf:1:5: expected two hexadecimal digits after '\\x', found 'ZZ'"},
      {"a: b\\", "t.conf:1:5: expected an escape character after '\\', found end of file"},
      {"a: -x", "t.conf:1:5: expected a digit after '-', found 'x' (quote values that start with "
                "'-' but are not numbers)"},
      {"a: 1\nport", "t.conf:2:5: expected a value for 'port', found end of file"},
      {"= 1", "t.conf:1:1: expected a key, found '='"},
      {"a: 1\n: 2", "t.conf:2:1: expected a key, found ':'"},
      {"a: 1\n\n  b: [\n    1,\n  ]\n  c: {\n    d: 1 e\n  }",
       "t.conf:7:10: expected a new line, ',', ';' or '}' after the value of 'd', found 'e'"},
      {"a: 1 /", "t.conf:1:6: expected a new line, ';' or ',' after the value of 'a', found '/'"},
      {"a: x\x01", "no error: {\"a\": \"x\\x01\"}"},
      {"a: \"x\" y", "t.conf:1:8: expected a new line, ';' or ',' after the value of 'a', found 'y'"},
  };
  for (const auto& tc : cases) EXPECT_EQ(error_of(tc.text), tc.want) << tc.text;
}

TEST(ConfigSyntax, UnclosedMapInFile) {
  EXPECT_EQ(load_error("unclosed_map.conf"),
            fx("unclosed_map.conf") +
                ":11:1: expected '}' to close the map opened at 3:9, found end of file");
}

TEST(ConfigSyntax, MissingFile) {
  EXPECT_EQ(load_error("no_such_file.conf"),
            fx("no_such_file.conf") + ": cannot read config file: No such file or directory");
}

TEST(ConfigSyntax, NestingLimit) {
  std::string deep = "a: " + std::string(500, '[') + std::string(500, ']');
  std::string err = error_of(deep);
  EXPECT_NE(err.find("nesting too deep"), std::string::npos) << err;
  std::string ok = "a: " + std::string(50, '[') + std::string(50, ']');
  EXPECT_EQ(error_of(ok).substr(0, 9), "no error:");
}

// ---- variables ---------------------------------------------------------------------------------

TEST(ConfigVariables, DefinedEarlierInTheFile) {
  Value c = parse("port: 4222\nlisten: $port\nname = \"n1\"\nm { n: $name, arr: [$port, $name] }");
  EXPECT_EQ(at(c, "listen").as_int(), 4222);
  EXPECT_EQ(at(c, "listen").pos(), P("t.conf", 2, 9));  // the position of the reference
  EXPECT_EQ(at(at(c, "m"), "n").as_string(), "n1");
  EXPECT_EQ(at(at(c, "m"), "arr").dump(), R"([4222, "n1"])");
  EXPECT_TRUE(c.find_entry("port")->used_as_variable);
  EXPECT_TRUE(c.find_entry("name")->used_as_variable);
  EXPECT_FALSE(c.find_entry("listen")->used_as_variable);
}

TEST(ConfigVariables, Scoping) {
  // Innermost map first, then enclosing maps; a map or array value is copied.
  Value c = parse(
      "x = 1\n"
      "a {\n"
      "  x = 2\n"
      "  b { y: $x }\n"
      "  arr: [ { z: $x } ]\n"
      "}\n"
      "c: $x\n"
      "list: [1, 2]\n"
      "copy: $list\n");
  EXPECT_EQ(at(at(at(c, "a"), "b"), "y").as_int(), 2);
  EXPECT_EQ(at(at(c, "a"), "arr").dump(), R"([{"z": 2}])");
  EXPECT_EQ(at(c, "c").as_int(), 1);
  EXPECT_EQ(at(c, "copy").dump(), "[1, 2]");
  // A key of a sibling map is not visible.
  EXPECT_EQ(error_of("a { y: 1 }\nb: $y"),
            "t.conf:2:4: undefined variable '$y': no key 'y' is defined before it in this map or "
            "an enclosing one, and there is no environment variable y");
  // Only keys defined before the reference.
  EXPECT_EQ(error_of("a: $b\nb: 1").substr(0, 35), "t.conf:1:4: undefined variable '$b'");
  // Lookup is case-sensitive.
  EXPECT_EQ(error_of("Port: 1\na: $port").substr(0, 38), "t.conf:2:4: undefined variable '$port'");
}

TEST(ConfigVariables, Environment) {
  Value c = parse(
      "a: $PORT\nb: $HOST\nc: $LIST\nd: $FLAG\ne: $SIZE\nf: $EMPTY\ng: $QUOTED\nh: $CHAIN\n",
      {{"PORT", "4222"}, {"HOST", "localhost:4222"}, {"LIST", "[1, 2 ]"}, {"FLAG", "true"},
       {"SIZE", "1MB"}, {"EMPTY", ""}, {"QUOTED", "\"x y\""}, {"CHAIN", "$PORT"}});
  EXPECT_EQ(at(c, "a").as_int(), 4222);
  EXPECT_EQ(at(c, "b").as_string(), "localhost:4222");
  EXPECT_EQ(at(c, "c").dump(), "[1, 2]");
  EXPECT_EQ(at(c, "c").as_array()[1].pos(), P("t.conf", 3, 4));
  EXPECT_TRUE(at(c, "d").as_bool());
  EXPECT_EQ(at(c, "e").as_int(), 1 << 20);
  EXPECT_EQ(at(c, "f").as_string(), "");
  EXPECT_EQ(at(c, "g").as_string(), "x y");
  EXPECT_EQ(at(c, "h").as_int(), 4222);
  // The file's own keys win over the environment.
  EXPECT_EQ(at(parse("PORT: 1\na: $PORT", {{"PORT", "2"}}), "a").as_int(), 1);
}

TEST(ConfigVariables, EnvironmentErrors) {
  EXPECT_EQ(error_of("a: $BAD", {{"BAD", "a b"}}),
            "t.conf:1:4: environment variable BAD (used as $BAD) does not hold a valid value: "
            "column 3: expected a new line, ';' or ',' after the value of $BAD, found 'b'");
  std::string cyc = error_of("a: $A", {{"A", "$B"}, {"B", "$A"}});
  EXPECT_NE(cyc.find("t.conf:1:4: "), std::string::npos) << cyc;
  EXPECT_NE(cyc.find("cycle: $A -> $B -> $A"), std::string::npos) << cyc;
  std::string self = error_of("a: $A", {{"A", "$A"}});
  EXPECT_NE(self.find("cycle: $A -> $A"), std::string::npos) << self;
}

TEST(ConfigVariables, RealProcessEnvironmentByDefault) {
  ::setenv("PYLON_CONFIG_TEST_VAR", "77", 1);
  Value c = parse_string("a: $PYLON_CONFIG_TEST_VAR");
  EXPECT_EQ(at(c, "a").as_int(), 77);
  ::unsetenv("PYLON_CONFIG_TEST_VAR");
}

TEST(ConfigVariables, Bcrypt) {
  Value c = parse("p: $2a$11$abc\nq: \"$2b$11$abc\"\n");
  EXPECT_EQ(at(c, "p").as_string(), "$2a$11$abc");
  EXPECT_EQ(at(c, "q").as_string(), "$2b$11$abc");
  EXPECT_EQ(error_of("p: $2b$11$abc"),
            "t.conf:1:4: '$2b$...' is read as a variable reference: only $2a$ bcrypt hashes may be "
            "left unquoted, put this one in quotes");
  EXPECT_EQ(error_of("p: $"),
            "t.conf:1:4: undefined variable '$': no key '' is defined before it in this map or an "
            "enclosing one, and there is no environment variable ");
}

// ---- includes ----------------------------------------------------------------------------------

TEST(ConfigInclude, RelativeToIncludingFile) {
  Value c = load("main_include.conf");
  // sub/auth.conf's keys are merged at the top; sub/nested/deeper.conf (included from sub/,
  // relative to sub/) overrides the earlier port.
  EXPECT_EQ(at(c, "port").as_int(), 5222);
  EXPECT_EQ(at(at(c, "authorization"), "user").as_string(), "ruser");
  EXPECT_EQ(at(at(c, "authorization"), "password").as_string(),
            "$2a$11$abcdefghijklmnopqrstuu1234567890123456789012345678901");
  // Include inside a map merges into that map; included keys are visible as variables after.
  EXPECT_EQ(at(at(c, "cluster"), "listen").as_string(), "localhost:4248");
  EXPECT_EQ(at(at(c, "cluster"), "name").as_string(), "east");
  EXPECT_EQ(at(c, "user_copy").as_string(), "included_user");
  // Positions point into the included files.
  EXPECT_EQ(at(c, "port").pos(), P(fx("sub/nested/deeper.conf"), 1, 7));
  EXPECT_EQ(c.find_entry("authorization")->key_pos, P(fx("sub/auth.conf"), 1, 1));
  EXPECT_TRUE(c.find_entry("user")->used_as_variable);
}

TEST(ConfigInclude, ForParseString) {
  ParseOptions o;
  o.base_dir = fixture_dir();
  Value c = parse_string("include 'sub/cluster_part.conf'\nINCLUDE \"braces.conf\"", "s", o);
  EXPECT_EQ(c.dump(), R"({"cluster_name": "east", "listen": "localhost:4248", "port": 4222, )"
                      R"("cluster": {"port": 4248}})");
}

TEST(ConfigInclude, ParentVariablesAreNotVisible) {
  EXPECT_EQ(load_error("include_sees_no_parent_vars.conf"),
            fx("sub/uses_secret.conf") +
                ":1:11: undefined variable '$secret': no key 'secret' is defined before it in this "
                "map or an enclosing one, and there is no environment variable secret (included "
                "from " + fx("include_sees_no_parent_vars.conf") + ":2:9)");
  // ... but the environment is.
  Value c = load("include_sees_no_parent_vars.conf", {{"secret", "from_env"}});
  EXPECT_EQ(at(c, "password").as_string(), "from_env");
}

TEST(ConfigInclude, Errors) {
  EXPECT_EQ(load_error("include_missing.conf"),
            fx("include_missing.conf") +
                ":2:9: cannot read include file './sub/does_not_exist.conf' (" +
                fx("sub/does_not_exist.conf") + "): No such file or directory");
  EXPECT_EQ(load_error("include_error.conf"),
            fx("sub/broken.conf") +
                ":3:1: expected '}' to close the map opened at 1:9, found end of file (included "
                "from " + fx("include_error.conf") + ":2:9)");
  EXPECT_EQ(error_of("include\nx.conf"),
            "t.conf:1:8: expected a file name after 'include', found a new line");
  EXPECT_EQ(error_of("include [a]"),
            "t.conf:1:9: expected a file name after 'include', found '[' (put the path in quotes)");
  // `include` directly followed by ':' or '=' is an ordinary key; after white space it is the
  // keyword, so `include = 2` includes a file named "=", as in the reference.
  EXPECT_EQ(parse("include: 1\nm { include=2 }").dump(), R"({"include": 1, "m": {"include": 2}})");
  EXPECT_EQ(error_of("include = 2"), "t.conf:1:9: cannot read include file '=': No such file or directory");
  // A NUL in the path (found by fuzz/config_fuzz.cc, whose reproducer is `include bad.conf`,
  // NUL, 0x18): opening would read "bad.conf" instead, and its errors would carry a path cut
  // short at the NUL; it is refused whole and quoted.
  EXPECT_EQ(error_of(std::string("include bad.conf\0\x18\n", 19)),
            "t.conf:1:9: cannot read include file \"bad.conf\\x00\\x18\": invalid argument");
}

TEST(ConfigInclude, CyclesAreDetected) {
  EXPECT_EQ(load_error("self_include.conf"),
            fx("self_include.conf") + ":1:9: include cycle: " + fx("self_include.conf") + " -> " +
                fx("self_include.conf"));
  std::string err = load_error("cycle_a.conf");
  EXPECT_EQ(err, fx("cycle_b.conf") + ":2:9: include cycle: " + fx("cycle_a.conf") + " -> " +
                     fx("cycle_b.conf") + " -> " + fx("cycle_a.conf") + " (included from " +
                     fx("cycle_a.conf") + ":2:9)");
}

// ---- helpers -----------------------------------------------------------------------------------

TEST(ConfigHelpers, GoDurations) {
  EXPECT_EQ(parse_go_duration("2s"), 2s);
  EXPECT_EQ(parse_go_duration("1m30s"), 90s);
  EXPECT_EQ(parse_go_duration("1h30m"), 90min);
  EXPECT_EQ(parse_go_duration("1.5h"), 90min);
  EXPECT_EQ(parse_go_duration("300ms"), 300ms);
  EXPECT_EQ(parse_go_duration("-1us"), -1us);
  EXPECT_EQ(parse_go_duration("+5ns"), 5ns);
  EXPECT_EQ(parse_go_duration("1\xC2\xB5s"), 1us);
  EXPECT_EQ(parse_go_duration(".5s"), 500ms);
  EXPECT_EQ(parse_go_duration("5.s"), 5s);
  EXPECT_EQ(parse_go_duration("0"), 0s);
  EXPECT_EQ(parse_go_duration("1h1m1s1ms1us1ns"), 1h + 1min + 1s + 1ms + 1us + 1ns);
  EXPECT_EQ(parse_go_duration("2562047h47m16.854775807s").count(), INT64_MAX);
  EXPECT_EQ(parse_go_duration("-2562047h47m16.854775808s").count(), INT64_MIN);
  auto err = [](const char* s) {
    try {
      parse_go_duration(s);
      return std::string("no error");
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
  };
  EXPECT_EQ(err(""), "time: invalid duration \"\"");
  EXPECT_EQ(err("abc"), "time: invalid duration \"abc\"");
  EXPECT_EQ(err("1"), "time: missing unit in duration \"1\"");
  EXPECT_EQ(err("1d"), "time: unknown unit \"d\" in duration \"1d\"");
  EXPECT_EQ(err("."), "time: invalid duration \".\"");
  EXPECT_EQ(err("-"), "time: invalid duration \"-\"");
  EXPECT_EQ(err("2562047h47m16.854775808s"), "time: invalid duration \"2562047h47m16.854775808s\"");
  EXPECT_EQ(err("9999999999999999999ns"), "time: invalid duration \"9999999999999999999ns\"");
}

TEST(ConfigHelpers, ParseDuration) {
  Value c = parse("a: \"2s\"\nb: 3\nc: \"1m30s\"\nd: \"bogus\"\ne: true\nf: 1.5\ng: 500ms\n");
  bool legacy = true;
  EXPECT_EQ(parse_duration(at(c, "a"), &legacy), 2s);
  EXPECT_FALSE(legacy);
  EXPECT_EQ(parse_duration(at(c, "b"), &legacy), 3s);  // an integer is seconds
  EXPECT_TRUE(legacy);
  EXPECT_EQ(parse_duration(at(c, "c")), 90s);
  EXPECT_EQ(parse_duration(at(c, "g")), 500ms);
  auto err = [&](const char* k) {
    try {
      parse_duration(at(c, k));
      return std::string("no error");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
  };
  EXPECT_EQ(err("d"), "t.conf:4:4: time: invalid duration \"bogus\"");
  EXPECT_EQ(err("e"),
            "t.conf:5:4: expected a duration (a string such as \"2s\" or \"1m30s\", or an integer "
            "number of seconds), found a boolean");
  EXPECT_EQ(err("f").substr(0, 11), "t.conf:6:4:");
}

TEST(ConfigHelpers, ParseSize) {
  Value c = parse(
      "a: 1024\nb: 1MB\nc: \"1K\"\nd: \"2M\"\ne: \"3G\"\nf: \"1T\"\ng: \"\"\nh: \"1k\"\ni: \"1KB\"\n"
      "j: true\nk: \"xK\"\n");
  EXPECT_EQ(parse_size(at(c, "a")), 1024);
  EXPECT_EQ(parse_size(at(c, "b")), 1 << 20);
  EXPECT_EQ(parse_size(at(c, "c")), 1024);
  EXPECT_EQ(parse_size(at(c, "d")), 2 << 20);
  EXPECT_EQ(parse_size(at(c, "e")), 3LL << 30);
  EXPECT_EQ(parse_size(at(c, "f")), 1LL << 40);
  EXPECT_EQ(parse_size(at(c, "g")), 0);
  auto err = [&](const char* k) {
    try {
      parse_size(at(c, k));
      return std::string("no error");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
  };
  EXPECT_EQ(err("h"), "t.conf:8:4: sizes defined as strings must end in K, M, G, T");
  EXPECT_EQ(err("i"), "t.conf:9:4: strconv.ParseInt: parsing \"1K\": invalid syntax");
  EXPECT_EQ(err("j"), "t.conf:10:4: must be int64 or string");
  EXPECT_EQ(err("k"), "t.conf:11:4: strconv.ParseInt: parsing \"x\": invalid syntax");
}

TEST(ConfigHelpers, AccessorsAndDump) {
  Value c = parse("s: x\ni: 1\nm {}\na: []\n");
  auto what = [](auto f) {
    try {
      f();
      return std::string("no error");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
  };
  EXPECT_EQ(what([&] { at(c, "s").as_bool(); }), "t.conf:1:4: expected a boolean, found a string");
  EXPECT_EQ(what([&] { at(c, "i").as_map(); }), "t.conf:2:4: expected a map, found an integer");
  EXPECT_EQ(what([&] { at(c, "m").as_array(); }), "t.conf:3:3: expected an array, found a map");
  EXPECT_EQ(what([&] { at(c, "a").as_string(); }), "t.conf:4:4: expected a string, found an array");
  EXPECT_EQ(what([&] { at(c, "s").as_number(); }), "t.conf:1:4: expected a number, found a string");
  EXPECT_EQ(Value().kind(), Kind::Null);
  EXPECT_EQ(kind_name(Kind::DateTime), "datetime");
  EXPECT_EQ(parse("a: \"q\\\"\\n\"\nb: 2.0\n").dump(), R"({"a": "q\"\n", "b": 2.0})");
  EXPECT_EQ(Position{}.to_string(), "");
  EXPECT_EQ(P("f", 1, 2).to_string(), "f:1:2");
}
