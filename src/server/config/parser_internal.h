// The config reader's internals, shared by parser.cc (the document, entries, variables and
// includes) and parser_values.cc (values: maps, arrays, strings, numbers, dates). Not part of
// the interface: config.h is. The comments name the reference lexer state whose behaviour a
// branch follows.
#pragma once

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "server/config/config.h"

namespace pylon::config::detail {

namespace fs = std::filesystem;

inline constexpr size_t npos = std::string_view::npos;

inline bool is_ws(int c) { return c == ' ' || c == '\t'; }
inline bool is_nl(int c) { return c == '\n' || c == '\r'; }
inline bool is_digit(int c) { return c >= '0' && c <= '9'; }
inline bool is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
inline bool is_size_suffix(int c) {
  switch (c) {
    case 'k': case 'K': case 'm': case 'M': case 'g': case 'G':
    case 't': case 'T': case 'p': case 'P': case 'e': case 'E':
      return true;
    default:
      return false;
  }
}

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

inline std::string line_col(const Position& p) {
  return std::to_string(p.line) + ":" + std::to_string(p.column);
}

inline std::string squote(std::string_view s) { return "'" + std::string(s) + "'"; }

// Shared by a parse and everything it includes or expands from the environment.
struct Shared {
  explicit Shared(const ParseOptions& o) : opts(o) {}
  const ParseOptions& opts;
  struct Open {
    std::string canonical;
    std::string display;
  };
  std::vector<Open> includes;          // files being parsed, outermost first
  std::vector<std::string> env_names;  // environment variables being expanded
  int depth = 0;

  std::optional<std::string> getenv(const std::string& name) const {
    if (opts.getenv) return opts.getenv(name);
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  }
};

struct DepthGuard {
  Shared& sh;
  DepthGuard(Shared& s, const Position& pos) : sh(s) {
    if (++sh.depth > sh.opts.max_depth) {
      --sh.depth;
      throw ConfigError(pos, "nesting too deep (more than " + std::to_string(sh.opts.max_depth) +
                                 " levels of maps, arrays, includes and variables)");
    }
  }
  ~DepthGuard() { --sh.depth; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
};

inline std::string canonical_key(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  if (ec) {
    c = fs::absolute(p, ec);
    if (ec) return p.lexically_normal().string();
    c = c.lexically_normal();
  }
  return c.string();
}

inline bool read_file(const fs::path& p, std::string& out, std::string& err) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    err = "is a directory";
    return false;
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    err = std::strerror(errno ? errno : ENOENT);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    err = std::strerror(errno ? errno : EIO);
    return false;
  }
  out = std::move(ss).str();
  return true;
}

// Points every position in v (recursively) at pos; used for values taken from the environment,
// whose only meaningful location is the $NAME that pulled them in.
inline void relocate(Value& v, const Position& pos) {
  v.set_pos(pos);
  if (v.is_map()) {
    for (Entry& e : v.as_map()) {
      e.key_pos = pos;
      relocate(e.value, pos);
    }
  } else if (v.is_array()) {
    for (Value& x : v.as_array()) relocate(x, pos);
  }
}

inline bool looks_like_other_bcrypt(std::string_view name) {
  return name.size() > 3 && name[0] == '2' && name[2] == '$' &&
         (name[1] == 'b' || name[1] == 'y' || name[1] == 'x');
}

class Parser {
 public:
  Parser(std::string_view text, std::string file, fs::path base_dir, Shared& sh)
      : src_(text), file_(std::move(file)), base_dir_(std::move(base_dir)), sh_(sh) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  // lexTop / lexTopValueEnd: the file is a map. As in the reference, a '{' where a top-level
  // key could start is skipped, so the whole file may be wrapped in braces; we also require
  // each such '{' to be closed by a '}' (where a key could start or after a value).
  Value parse_document();

  struct ScopeGuard {
    std::vector<Value*>& v;
    ScopeGuard(std::vector<Value*>& vec, Value* m) : v(vec) { v.push_back(m); }
    ~ScopeGuard() { v.pop_back(); }
  };

  // ---- cursor ------------------------------------------------------------------------------
  bool eof() const { return p_ >= src_.size(); }
  int peek(size_t k = 0) const {
    return p_ + k < src_.size() ? static_cast<unsigned char>(src_[p_ + k]) : -1;
  }
  void adv(size_t n = 1) { p_ = std::min(src_.size(), p_ + n); }

  Position pos_at(size_t off) const {
    off = std::min(off, src_.size());
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), off);
    size_t li = static_cast<size_t>(it - line_starts_.begin()) - 1;
    // Positions are mostly asked for in increasing order: continue counting from the last one
    // on the same line, so that a very long line is not rescanned for each value.
    size_t from = line_starts_[li];
    int col = 1;
    if (col_cache_line_ == li && col_cache_off_ <= off) {
      from = col_cache_off_;
      col = col_cache_col_;
    }
    for (size_t i = from; i < off; ++i)
      if ((static_cast<unsigned char>(src_[i]) & 0xC0) != 0x80) ++col;
    col_cache_line_ = li;
    col_cache_off_ = off;
    col_cache_col_ = col;
    return Position{file_, static_cast<int>(li + 1), col};
  }
  Position here() const { return pos_at(p_); }

  // Byte length of the UTF-8 character at off; 1 for an invalid sequence (as Go decodes it).
  size_t char_len(size_t off) const {
    unsigned char c = static_cast<unsigned char>(src_[off]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (off + n > src_.size()) return 1;
    for (size_t i = 1; i < n; ++i)
      if ((static_cast<unsigned char>(src_[off + i]) & 0xC0) != 0x80) return 1;
    return n;
  }

  // Byte length of the character at off if Go's unicode.IsSpace holds for it, else 0.
  size_t space_len(size_t off) const {
    if (off >= src_.size()) return 0;
    auto at = [&](size_t i) {
      return i < src_.size() ? static_cast<unsigned char>(src_[i]) : 0;
    };
    unsigned char c = at(off);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return 1;
    if (c < 0x80) return 0;
    unsigned char d = at(off + 1), e = at(off + 2);
    if (c == 0xC2 && (d == 0x85 || d == 0xA0)) return 2;                      // NEL, NBSP
    if (c == 0xE1 && d == 0x9A && e == 0x80) return 3;                        // U+1680
    if (c == 0xE2 && d == 0x80 && ((e >= 0x80 && e <= 0x8A) || e == 0xA8 || e == 0xA9 || e == 0xAF))
      return 3;                                                               // U+2000..
    if (c == 0xE2 && d == 0x81 && e == 0x9F) return 3;                        // U+205F
    if (c == 0xE3 && d == 0x80 && e == 0x80) return 3;                        // U+3000
    return 0;
  }

  void skip_spaces() {
    while (size_t n = space_len(p_)) adv(n);
  }
  bool at_comment() const { return peek() == '#' || (peek() == '/' && peek(1) == '/'); }
  void skip_comment() {
    while (!eof() && !is_nl(peek())) adv();
  }
  void skip_space_and_comments() {
    for (;;) {
      if (size_t n = space_len(p_)) {
        adv(n);
      } else if (at_comment()) {
        skip_comment();
      } else {
        return;
      }
    }
  }

  std::string describe_at(size_t off) const {
    if (off >= src_.size()) return "end of file";
    unsigned char c = static_cast<unsigned char>(src_[off]);
    if (c == '\n' || c == '\r') return "a new line";
    if (c == '\t') return "a tab";
    if (c < 0x20 || c == 0x7f) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "the control byte 0x%02x", c);
      return buf;
    }
    return squote(src_.substr(off, char_len(off)));
  }
  std::string found() const { return describe_at(p_); }

  [[noreturn]] void fail(const Position& pos, std::string msg) const {
    throw ConfigError(pos, std::move(msg));
  }

  // ---- entries -----------------------------------------------------------------------------

  // One `key [sep] value` (or `include path`) at the top level or in a map; returns what was
  // parsed, for "after the value of 'x'" in the caller's error messages.
  // lexKeyStart/lexKey/lexKeyEnd and lexMapKeyStart/lexMapKey/lexMapKeyEnd/lexMapValue.
  std::string parse_entry(Value& map, bool top);

  // lexTopValueEnd.
  void top_value_end(const std::string& what, std::vector<Position>& braces);

  void close_top_brace(std::vector<Position>& braces);

  [[noreturn]] void value_end_error(const std::string& what, const std::string& expected) {
    std::string msg = "expected " + expected + " after " + what + ", found " + found();
    int c = peek();
    bool alnum = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.';
    if (last_num_start_ != npos && alnum && p_ == last_num_end_) {
      size_t e = last_num_start_;
      while (e < src_.size()) {
        int x = static_cast<unsigned char>(src_[e]);
        if (is_ws(x) || is_nl(x) || x == ',' || x == ';' || x == ']' || x == '}') break;
        ++e;
      }
      std::string tok(src_.substr(last_num_start_, e - last_num_start_));
      msg += " (to use " + tok + " as a string, quote it: \"" + tok + "\")";
    }
    fail(here(), msg);
  }

  // ---- values ------------------------------------------------------------------------------

  // lexValue.
  Value parse_value(bool in_array = false);

  // lexMapKeyStart .. lexMapValueEnd.
  Value parse_map();

  // lexArrayValue / lexArrayValueEnd.
  Value parse_array();

  // lexStringEscape / lexStringBinary; p_ is at the backslash.
  void parse_escape(std::string& out);

  // lexString: unquoted text. [start, p_) is already part of the token.
  Value parse_bare(size_t start);

  // lexDubQuotedString.
  Value parse_dq_string();

  // lexQuotedString: raw.
  Value parse_sq_string();

  // lexBlock: '(' raw text up to a line holding only ')'.
  Value parse_block();

  bool int_end(int c) const {
    return c < 0 || is_nl(c) || is_ws(c) || c == '}' || c == ';' || c == ',';
  }

  // lexNumberOrDateOrStringOrIP: a token starting with a digit.
  Value parse_number();

  // lexNegNumberStart / lexNegNumber.
  Value parse_negative();

  // lexFloatStart / lexFloat / lexIPAddr; p_ is at the '.'.
  Value parse_fraction(size_t start);

  // lexConvenientNumber; p_ is at the first suffix letter.
  Value parse_suffixed(size_t start);

  Value make_int(size_t start, size_t digits_end, size_t end);

  // lexDateAfterYear; p_ is at the '-' after four digits.
  Value parse_datetime(size_t start);

  // ---- variables ---------------------------------------------------------------------------

  // parser.lookupVariable.
  Value lookup_variable(const std::string& name, const Position& pos);

  // The environment value is parsed as the value of a key (so "4222" is an integer).
  Value expand_env(const std::string& name, const std::string& text, const Position& pos);

  // ---- include -----------------------------------------------------------------------------

  // lexIncludeStart / lexInclude*; p_ is at the white space after the keyword.
  void parse_include(Value& map);

  void include_file(Value& map, const std::string& name, const Position& ipos);

  std::string_view src_;
  size_t p_ = 0;
  std::string file_;
  fs::path base_dir_;
  Shared& sh_;
  std::vector<size_t> line_starts_;
  mutable size_t col_cache_line_ = npos, col_cache_off_ = 0;
  mutable int col_cache_col_ = 1;
  std::vector<Value*> scopes_;  // maps under construction, innermost last
  size_t last_num_start_ = npos;  // the number just parsed, for error hints
  size_t last_num_end_ = npos;
  bool number_in_array_ = false;  // the value being parsed is an array element
};

}  // namespace pylon::config::detail
