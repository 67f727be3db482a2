// Reader for the reference server's (nats-server 2.9) configuration-file format.
//
// The file is parsed into a tree of typed values; every value and every map key carries the
// position (file, line, column) it came from, so the option loader can report
// "nodea.conf:12:18: ..." for any semantic error too.
//
// ---------------------------------------------------------------------------------------------
// The format, as the reference accepts it (facts checked against nats-server's conf/lex.go and
// conf/parse.go, and by running the reference parser on the same inputs):
//
//   key: value     key = value     key value        (one ':' or '=', or just white space)
//   # comment      // comment                       (to the end of the line)
//   name { ... }   name = { ... }                   maps; entries end at a new line, ',' or ';'
//   [ a, b ]       [ a \n b ]                       arrays; elements end at ',' or a new line
//   { ... }         a '{' where a top-level key could start is skipped, so the whole file may
//                   be wrapped in braces (we require each such '{' to be closed)
//   "text"   escapes \t \n \r \" \\ \xHH (no \u: the reference rejects it)
//   'text'   raw, no escapes            ( ... )  raw block ending at a line holding only ')'
//   bare     unquoted text up to white space, a new line, ',', ';', ']' or '}'. It may hold
//            ':', '/', '@', '=', '#', '$' etc. (listen: localhost:4222, nats-route://u:p@h:1).
//            Backslash escapes are processed in bare text too.
//   true/false/yes/no/on/off   booleans, any letter case, only when unquoted
//   123  -5  1.5               integers (int64) and floats; 1e5 is NOT a float
//   size suffixes (integers only, any case): K M G T P E = powers of 1000 (1k = 1000);
//            KB KI KIB, MB MI MIB, ... = powers of 1024 (1KB = 1024, 64MB = 67108864).
//            A suffix followed by other text makes a string ("10s", "500ms" are strings), but
//            "2m" is the integer 2000000 and unquoted 1m30s is an error: quote durations.
//   1.2.3.4:4222 (digits, then dots)           a string
//   2016-05-04T18:53:41Z                       a datetime (exactly this Zulu form)
//   $name    a variable: the value of the key `name` defined EARLIER in this map or an
//            enclosing map (innermost first, case-sensitive), else the environment variable
//            `name`, whose text is parsed as a value (so FOO=4222 gives an integer). Undefined
//            is an error. The key that was referenced is flagged `used_as_variable`; the
//            reference does not report such keys as unknown fields.
//            Exception: an unquoted value starting with "$2a$" is a bcrypt hash, taken
//            literally (only $2a$; quote $2b$/$2y$ hashes).
//   include path     (also 'path' / "path"; keyword in any case, only when followed by white
//            space: `include: x` is a key, but `include = x` includes a file named "=")
//            parses another file relative to the including file's directory and merges its
//            top-level keys into the current map. Variables of the including file are not
//            visible inside the included one (only the environment is).
//   A key defined twice keeps the last value.
//
// Deliberate differences from the reference (all where the reference silently drops or mangles
// input, or fails): `[1]` and `[1, 2]` parse (the reference fails on an integer directly before
// ']'); a key with no value at the end of the file, a dangling key before '}', an unknown size
// suffix (1kbb), integer overflow from a suffix, an unclosed top-level '{', a stray '}', a stray
// '/' after a value or where a top-level key should start, and include cycles are errors; absolute include
// paths are absolute (the reference joins them onto the including directory); a leading UTF-8
// byte-order mark is skipped. Values are never interpolated: "nats://$USER@h" stays as written.
// ---------------------------------------------------------------------------------------------
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pylon::config {

// Where something is in a config source. line and column are 1-based; column counts characters
// (UTF-8 code points; a tab is one). line == 0 means "the file as a whole" (e.g. cannot open).
struct Position {
  std::string file;
  int line = 0;
  int column = 0;

  std::string to_string() const;  // "file:line:column", or "file" when line == 0
  friend bool operator==(const Position&, const Position&) = default;
};

// Every parse error and every type error from the accessors below.
// what() == pos.to_string() + ": " + message.
struct ConfigError : std::runtime_error {
  ConfigError(Position pos, std::string message);
  Position pos;
  std::string message;  // without the position prefix
};

enum class Kind { Null, Bool, Int, Float, String, DateTime, Map, Array };

// "null", "boolean", "integer", "float", "string", "datetime", "map", "array".
std::string_view kind_name(Kind k);

// Appends `s` in double quotes as Go's %q writes ASCII text: \" \\ \n \r \t escaped, other
// control bytes as \xHH. For dumps of config values and the client tags in log lines.
void append_go_quoted(std::string& out, std::string_view s);

using DateTime = std::chrono::sys_seconds;  // UTC

struct Entry;

class Value {
 public:
  using Map = std::vector<Entry>;    // entries in file order, keys unique (exact match)
  using Array = std::vector<Value>;

  Value() = default;  // Null (never produced by the parser; the "absent" value)
  static Value boolean(bool b, Position pos = {});
  static Value integer(int64_t i, Position pos = {});
  static Value floating(double d, Position pos = {});
  static Value string(std::string s, Position pos = {});
  static Value datetime(DateTime t, Position pos = {});
  static Value map(Position pos = {});
  static Value array(Position pos = {});

  Kind kind() const;
  std::string_view kind_name() const { return config::kind_name(kind()); }
  const Position& pos() const { return pos_; }
  void set_pos(Position p) { pos_ = std::move(p); }

  bool is_null() const { return kind() == Kind::Null; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return kind() == Kind::String; }
  bool is_datetime() const { return kind() == Kind::DateTime; }
  bool is_map() const { return kind() == Kind::Map; }
  bool is_array() const { return kind() == Kind::Array; }

  // Typed access. On a kind mismatch these throw ConfigError at this value's position:
  // "expected an integer, found a string".
  bool as_bool() const;
  int64_t as_int() const;
  double as_float() const;   // Float only
  double as_number() const;  // Int or Float (e.g. authorization.timeout: 2 or 0.5)
  const std::string& as_string() const;
  DateTime as_datetime() const;
  const Map& as_map() const;
  const Array& as_array() const;
  Map& as_map();
  Array& as_array();

  // Map lookup; nullptr if this is not a map or the key is absent.
  // find: exact key. find_ci: ASCII case-insensitive (the reference lower-cases option names);
  // if several keys differ only in case, the one defined last wins.
  const Value* find(std::string_view key) const;
  const Value* find_ci(std::string_view key) const;
  const Entry* find_entry(std::string_view key) const;
  const Entry* find_entry_ci(std::string_view key) const;
  Entry* find_entry(std::string_view key);

  // Map: insert, or replace an existing entry with the same exact key (the old one is removed
  // and the new one appended, so file order reflects the last definition).
  void set(Entry e);
  // Array: append.
  void push_back(Value v);

  // Compact one-line rendering for tests and debug logs, e.g.
  // {"a": 1, "b": "x", "c": [true, 1.5], "d": 2016-05-04T18:53:41Z}
  std::string dump() const;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, DateTime, Map, Array> v_;
  Position pos_;
};

struct Entry {
  std::string key;
  Position key_pos;
  Value value;
  bool used_as_variable = false;  // referenced as $key somewhere after its definition
};

struct ParseOptions {
  // Environment lookup for $NAME not defined in the file. Default (empty): std::getenv.
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  // Directory that `include` paths are relative to, for parse_string (parse_file always uses
  // the file's own directory). Empty: the current directory (as the reference does).
  std::string base_dir;
  // Limit on nesting of maps/arrays + includes + environment expansions.
  int max_depth = 100;
};

// Parse a config file. The result is a Map. Throws ConfigError (cannot read, syntax, undefined
// variable, include failure or cycle, ...). Positions name files as the path given here, and
// included files as <including dir>/<include path>.
Value parse_file(const std::string& path, const ParseOptions& opts = {});
Value parse_string(std::string_view text, const std::string& name = "<string>",
                   const ParseOptions& opts = {});

// Go's time.ParseDuration: "2s", "1m30s", "1.5h", "300ms", "-1us", "0"; units ns us µs ms s m h.
// Throws std::invalid_argument with Go's message, e.g. `time: invalid duration "abc"`,
// `time: missing unit in duration "1"`, `time: unknown unit "d" in duration "1d"`.
std::chrono::nanoseconds parse_go_duration(std::string_view text);

// A duration option the way the reference's opts.go parseDuration reads it: a string in Go
// syntax, or (legacy) an integer number of SECONDS, in which case *legacy_seconds is set to true
// (the reference then warns "<field> should be converted to a duration"). Anything else, or a bad
// string, throws ConfigError at v.pos() (message for a bad string: Go's, as above; the reference
// prefixes it with "error parsing <field>: ").
std::chrono::nanoseconds parse_duration(const Value& v, bool* legacy_seconds = nullptr);

// A storage size the way the reference's getStorageSize reads it: an integer as is (the lexer
// has already applied any K/KB/... suffix), or a string "<int><K|M|G|T>" (uppercase, powers of
// 1024), "" meaning 0. Throws ConfigError at v.pos() otherwise.
int64_t parse_size(const Value& v);

}  // namespace pylon::config
