// Recursive-descent reader for the reference server's config format. See config.h for the
// format; the comments here name the reference lexer state whose behaviour a branch follows.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "server/config/config.h"

namespace pylon::config {

namespace {

namespace fs = std::filesystem;

constexpr size_t npos = std::string_view::npos;

bool is_ws(int c) { return c == ' ' || c == '\t'; }
bool is_nl(int c) { return c == '\n' || c == '\r'; }
bool is_digit(int c) { return c >= '0' && c <= '9'; }
bool is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_size_suffix(int c) {
  switch (c) {
    case 'k': case 'K': case 'm': case 'M': case 'g': case 'G':
    case 't': case 'T': case 'p': case 'P': case 'e': case 'E':
      return true;
    default:
      return false;
  }
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string line_col(const Position& p) {
  return std::to_string(p.line) + ":" + std::to_string(p.column);
}

std::string squote(std::string_view s) { return "'" + std::string(s) + "'"; }

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

std::string canonical_key(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  if (ec) {
    c = fs::absolute(p, ec);
    if (ec) return p.lexically_normal().string();
    c = c.lexically_normal();
  }
  return c.string();
}

bool read_file(const fs::path& p, std::string& out, std::string& err) {
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
void relocate(Value& v, const Position& pos) {
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

bool looks_like_other_bcrypt(std::string_view name) {
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
  Value parse_document() {
    if (src_.substr(0, 3) == "\xEF\xBB\xBF") p_ = 3;  // byte-order mark
    Value root = Value::map(here());
    ScopeGuard scope(scopes_, &root);
    std::vector<Position> braces;
    for (;;) {
      skip_space_and_comments();
      int c = peek();
      if (c < 0) break;
      if (c == '{') {
        if (root.as_map().empty() && braces.empty()) root.set_pos(here());
        braces.push_back(here());
        adv();
        continue;
      }
      if (c == '}') {
        close_top_brace(braces);
        continue;
      }
      std::string what = parse_entry(root, /*top=*/true);
      top_value_end(what, braces);
    }
    if (!braces.empty())
      fail(here(), "expected '}' to close the map opened at " + line_col(braces.back()) +
                       ", found end of file");
    return root;
  }

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
  std::string parse_entry(Value& map, bool top) {
    size_t kstart = p_;
    Position kpos = here();
    int c = peek();
    if (c == '=' || c == ':' || c == ',' || c == ';' || (!top && c == ']'))
      fail(kpos, std::string("expected a key") + (top ? "" : " or '}'") + ", found " + found());
    if (c == '/') {  // a lone '/' (not a "//" comment)
      if (top) fail(kpos, "expected a key, found '/'");
      // lexMapKeyStart drops it, and takes the next character as the key's first, whatever it is.
      adv();
      kstart = p_;
      if (!eof()) adv(char_len(p_));
      c = peek();
    }
    std::string key;
    if (p_ == kstart && (c == '"' || c == '\'')) {
      adv();
      size_t end = src_.find(static_cast<char>(c), p_);
      if (end == npos) {
        p_ = src_.size();
        fail(here(), std::string("expected ") + static_cast<char>(c) +
                         " to close the key opened at " + line_col(kpos) + ", found end of file");
      }
      key = std::string(src_.substr(p_, end - p_));
      p_ = end + 1;
    } else {
      while (!eof() && space_len(p_) == 0 && peek() != '=' && peek() != ':') adv();
      key = std::string(src_.substr(kstart, p_ - kstart));
      if (space_len(p_) != 0 && to_lower(key) == "include") {
        parse_include(map);
        return "the include";
      }
    }

    // Separator: any white space including new lines, then at most one ':' or '='.
    skip_spaces();
    int sep = 0;
    if (peek() == '=' || peek() == ':') {
      sep = peek();
      adv();
    }
    if (top) {
      if (!sep && eof()) fail(here(), "expected a value for " + squote(key) + ", found end of file");
      if (sep) {
        // lexValue: only blanks may follow the separator at the top level.
        while (is_ws(peek())) adv();
        if (is_nl(peek()))
          fail(here(), "expected a value for " + squote(key) + " after the '" +
                           static_cast<char>(sep) + "', found a new line");
      }
    } else {
      skip_spaces();  // in a map the value may even start on the next line
      c = peek();
      if (c < 0 || c == ',' || c == '}')
        fail(here(), "expected a value for " + squote(key) + ", found " + found());
    }
    Value v = parse_value();
    map.set(Entry{key, std::move(kpos), std::move(v), false});
    return "the value of " + squote(key);
  }

  // lexTopValueEnd.
  void top_value_end(const std::string& what, std::vector<Position>& braces) {
    for (;;) {
      int c = peek();
      if (is_ws(c)) {
        adv();
        continue;
      }
      if (at_comment()) {
        skip_comment();
        return;
      }
      if (c < 0 || is_nl(c) || c == ';' || c == ',') {
        adv();
        return;
      }
      if (c == '}' && !braces.empty()) {
        close_top_brace(braces);
        return;
      }
      value_end_error(what, braces.empty() ? "a new line, ';' or ','" : "a new line, ';', ',' or '}'");
    }
  }

  void close_top_brace(std::vector<Position>& braces) {
    if (braces.empty()) fail(here(), "unexpected '}': no map is open here");
    braces.pop_back();
    adv();
  }

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
  Value parse_value(bool in_array = false) {
    last_num_start_ = npos;
    number_in_array_ = in_array;
    while (is_ws(peek())) adv();
    int c = peek();
    switch (c) {
      case '[': return parse_array();
      case '{': return parse_map();
      case '"': return parse_dq_string();
      case '\'': return parse_sq_string();
      case '(': return parse_block();
      case '-': return parse_negative();
      case '.': fail(here(), "expected a value, found '.' (a float must start with a digit: 0.5)");
      case '\n':
      case '\r': fail(here(), "expected a value, found a new line");
      default: break;
    }
    if (is_digit(c)) return parse_number();
    return parse_bare(p_);  // also "" at end of file, as the reference does for `key:` at EOF
  }

  // lexMapKeyStart .. lexMapValueEnd.
  Value parse_map() {
    Position open = here();
    DepthGuard depth(sh_, open);
    adv();
    Value m = Value::map(open);
    ScopeGuard scope(scopes_, &m);
    for (;;) {
      skip_space_and_comments();
      if (eof())
        fail(here(), "expected '}' to close the map opened at " + line_col(open) +
                         ", found end of file");
      if (peek() == '}') {
        adv();
        break;
      }
      std::string what = parse_entry(m, /*top=*/false);
      bool closed = false;
      for (;;) {
        int c = peek();
        if (is_ws(c)) {
          adv();
        } else if (at_comment()) {
          skip_comment();
        } else if (is_nl(c) || c == ',' || c == ';') {
          adv();
          break;
        } else if (c == '}') {
          adv();
          closed = true;
          break;
        } else if (c < 0) {
          fail(here(), "expected '}' to close the map opened at " + line_col(open) +
                           ", found end of file");
        } else {
          value_end_error(what, "a new line, ',', ';' or '}'");
        }
      }
      if (closed) break;
    }
    last_num_start_ = npos;
    return m;
  }

  // lexArrayValue / lexArrayValueEnd.
  Value parse_array() {
    Position open = here();
    DepthGuard depth(sh_, open);
    adv();
    Value a = Value::array(open);
    for (;;) {
      skip_space_and_comments();
      int c = peek();
      if (c < 0)
        fail(here(), "expected ']' to close the array opened at " + line_col(open) +
                         ", found end of file");
      if (c == ']') {
        adv();
        break;
      }
      if (c == ',' || c == '/') fail(here(), "expected an array element or ']', found " + found());
      a.push_back(parse_value(/*in_array=*/true));
      bool closed = false;
      for (;;) {
        c = peek();
        if (is_ws(c)) {
          adv();
        } else if (at_comment()) {
          skip_comment();
        } else if (is_nl(c) || c == ',') {
          adv();
          break;
        } else if (c == ']') {
          adv();
          closed = true;
          break;
        } else if (c < 0) {
          fail(here(), "expected ']' to close the array opened at " + line_col(open) +
                           ", found end of file");
        } else {
          value_end_error("an array element", "',', ']' or a new line");
        }
      }
      if (closed) break;
    }
    last_num_start_ = npos;
    return a;
  }

  // lexStringEscape / lexStringBinary; p_ is at the backslash.
  void parse_escape(std::string& out) {
    Position epos = here();
    adv();
    int c = peek();
    switch (c) {
      case 't': out += '\t'; adv(); return;
      case 'n': out += '\n'; adv(); return;
      case 'r': out += '\r'; adv(); return;
      case '"': out += '"'; adv(); return;
      case '\\': out += '\\'; adv(); return;
      case 'x': {
        adv();
        int h = peek(), l = peek(1);
        if (!is_hex(h) || !is_hex(l)) {
          std::string got;
          if (h < 0 || l < 0) got = "end of file";
          else if (is_nl(h) || is_nl(l)) got = "a new line";
          else got = squote(src_.substr(p_, 2));
          fail(epos, "expected two hexadecimal digits after '\\x', found " + got);
        }
        auto hv = [](int x) { return is_digit(x) ? x - '0' : lower(static_cast<char>(x)) - 'a' + 10; };
        out += static_cast<char>(hv(h) * 16 + hv(l));
        adv(2);
        return;
      }
      default:
        break;
    }
    if (c < 0) fail(epos, "expected an escape character after '\\', found end of file");
    std::string msg = "invalid escape '\\" + std::string(src_.substr(p_, char_len(p_))) +
                      "': only \\t, \\n, \\r, \\\", \\\\ and \\xHH are allowed";
    if (c == 'u') msg += " (there is no \\u: write the character itself)";
    fail(epos, msg);
  }

  // lexString: unquoted text. [start, p_) is already part of the token.
  Value parse_bare(size_t start) {
    Position pos = pos_at(start);
    std::string out;
    size_t seg = start;
    bool escaped = false, quote_ended = false;
    for (;;) {
      int c = peek();
      if (c < 0 || is_nl(c) || is_ws(c) || c == ';' || c == ',' || c == ']' || c == '}') break;
      if (c == '\'') {  // the reference ends the text at a quote and drops the quote
        out.append(src_.substr(seg, p_ - seg));
        adv();
        seg = p_;
        quote_ended = true;
        break;
      }
      if (c == '\\') {
        out.append(src_.substr(seg, p_ - seg));
        parse_escape(out);
        seg = p_;
        escaped = true;
        continue;
      }
      adv();
    }
    if (!quote_ended) out.append(src_.substr(seg, p_ - seg));
    if (!escaped && !quote_ended) {
      std::string l = to_lower(out);
      if (l == "true" || l == "yes" || l == "on") return Value::boolean(true, pos);
      if (l == "false" || l == "no" || l == "off") return Value::boolean(false, pos);
      if (!out.empty() && out[0] == '$') return lookup_variable(out.substr(1), pos);
    }
    return Value::string(std::move(out), pos);
  }

  // lexDubQuotedString.
  Value parse_dq_string() {
    Position pos = here();
    adv();
    std::string out;
    size_t seg = p_;
    for (;;) {
      int c = peek();
      if (c < 0)
        fail(here(), "expected '\"' to close the string opened at " + line_col(pos) +
                         ", found end of file");
      if (c == '"') {
        out.append(src_.substr(seg, p_ - seg));
        adv();
        break;
      }
      if (c == '\\') {
        out.append(src_.substr(seg, p_ - seg));
        parse_escape(out);
        seg = p_;
        continue;
      }
      adv();
    }
    return Value::string(std::move(out), pos);
  }

  // lexQuotedString: raw.
  Value parse_sq_string() {
    Position pos = here();
    adv();
    size_t end = src_.find('\'', p_);
    if (end == npos) {
      p_ = src_.size();
      fail(here(), "expected \"'\" to close the string opened at " + line_col(pos) +
                       ", found end of file");
    }
    std::string out(src_.substr(p_, end - p_));
    p_ = end + 1;
    return Value::string(std::move(out), pos);
  }

  // lexBlock: '(' raw text up to a line holding only ')'.
  Value parse_block() {
    Position pos = here();
    adv();
    size_t start = p_;
    for (;;) {
      if (eof())
        fail(here(), "expected a line holding only ')' to close the block opened at " +
                         line_col(pos) + ", found end of file");
      if (peek() == ')' && src_[p_ - 1] == '\n') {
        int d = peek(1);
        if (d < 0 || d == '\n' || (d == '\r' && (peek(2) == '\n' || peek(2) < 0))) {
          std::string out(src_.substr(start, p_ - start));
          adv();
          return Value::string(std::move(out), pos);
        }
      }
      adv();
    }
  }

  bool int_end(int c) const {
    return c < 0 || is_nl(c) || is_ws(c) || c == '}' || c == ';' || c == ',';
  }

  // lexNumberOrDateOrStringOrIP: a token starting with a digit.
  Value parse_number() {
    size_t start = p_;
    while (is_digit(peek())) adv();
    int c = peek();
    if (c == '-') {
      if (p_ - start == 4) return parse_datetime(start);
      fail(here(), "unexpected '-' after " + squote(src_.substr(start, p_ - start)) +
                       ": a datetime must have the form YYYY-MM-DDTHH:MM:SSZ (quote the value "
                       "if it is a string)");
    }
    if (c == '.') return parse_fraction(start);
    if (is_size_suffix(c)) return parse_suffixed(start);
    // In an array, the reference fails on an integer directly followed by ']' (it reads "7]" as
    // text, so the array is never closed); we accept it. Elsewhere "7]" is the string "7]".
    if (int_end(c) || (c == ']' && number_in_array_)) return make_int(start, p_, p_);
    // Digits followed by anything else: a string. The reference takes this one character
    // literally (even a quote or backslash) and continues as unquoted text.
    adv(char_len(p_));
    return parse_bare(start);
  }

  // lexNegNumberStart / lexNegNumber.
  Value parse_negative() {
    size_t start = p_;
    adv();
    int c = peek();
    if (!is_digit(c)) {
      if (c == '.') fail(here(), "expected a digit after '-', found '.' (write -0.5, not -.5)");
      fail(here(), "expected a digit after '-', found " + found() +
                       " (quote values that start with '-' but are not numbers)");
    }
    while (is_digit(peek())) adv();
    c = peek();
    if (c == '.') return parse_fraction(start);
    if (is_size_suffix(c)) return parse_suffixed(start);
    return make_int(start, p_, p_);
  }

  // lexFloatStart / lexFloat / lexIPAddr; p_ is at the '.'.
  Value parse_fraction(size_t start) {
    adv();
    if (!is_digit(peek()))
      fail(here(), "expected a digit after the '.' in " +
                       squote(src_.substr(start, p_ - start)) + ", found " + found());
    while (is_digit(peek())) adv();
    if (peek() == '.') {  // digits.digits. -> an address such as 127.0.0.1:4222, a string
      adv();
      for (int c = peek(); is_digit(c) || c == '.' || c == ':' || c == '-'; c = peek()) adv();
      return Value::string(std::string(src_.substr(start, p_ - start)), pos_at(start));
    }
    std::string_view text = src_.substr(start, p_ - start);
    double d = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec == std::errc::result_out_of_range) {
      // Overflow if there is a significant digit before the '.', else underflow to 0.
      size_t i = text[0] == '-' ? 1 : 0;
      while (i < text.size() && text[i] == '0') ++i;
      if (i < text.size() && text[i] != '.')
        fail(pos_at(start), "float " + squote(text) + " is out of range");
      d = text[0] == '-' ? -0.0 : 0.0;
    } else if (ec != std::errc() || ptr != text.data() + text.size()) {
      fail(pos_at(start), "invalid float " + squote(text));
    }
    last_num_start_ = start;
    last_num_end_ = p_;
    return Value::floating(d, pos_at(start));
  }

  // lexConvenientNumber; p_ is at the first suffix letter.
  Value parse_suffixed(size_t start) {
    size_t digits_end = p_;
    adv();
    for (int c = peek(); c == 'b' || c == 'B' || c == 'i' || c == 'I'; c = peek()) adv();
    if (int_end(peek()) || is_digit(peek())) return make_int(start, digits_end, p_);
    return parse_bare(start);  // e.g. 10ms, 1kx: a string
  }

  Value make_int(size_t start, size_t digits_end, size_t end) {
    Position pos = pos_at(start);
    std::string_view num = src_.substr(start, digits_end - start);
    std::string_view text = src_.substr(start, end - start);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec == std::errc::result_out_of_range)
      fail(pos, "integer " + squote(text) + " is out of range");
    if (ec != std::errc() || ptr != num.data() + num.size())
      fail(pos, "invalid integer " + squote(text));
    if (end > digits_end) {
      std::string suf = to_lower(src_.substr(digits_end, end - digits_end));
      int power = static_cast<int>(std::string_view("kmgtpe").find(suf[0])) + 1;
      std::string_view rest = std::string_view(suf).substr(1);
      int64_t base;
      if (rest.empty()) {
        base = 1000;
      } else if (rest == "b" || rest == "i" || rest == "ib") {
        base = 1024;
      } else {
        fail(pos, "invalid size suffix " + squote(src_.substr(digits_end, end - digits_end)) +
                      " in " + squote(text) +
                      ": use K, M, G, T, P, E (powers of 1000) or KB, MB, ... / KiB, MiB, ... "
                      "(powers of 1024)");
      }
      for (int i = 0; i < power; ++i)
        if (__builtin_mul_overflow(v, base, &v))
          fail(pos, "integer " + squote(text) + " is out of range");
    }
    last_num_start_ = start;
    last_num_end_ = end;
    return Value::integer(v, pos);
  }

  // lexDateAfterYear; p_ is at the '-' after four digits.
  Value parse_datetime(size_t start) {
    static constexpr std::string_view tmpl = "-00-00T00:00:00Z";
    for (char t : tmpl) {
      int c = peek();
      if (t == '0' ? !is_digit(c) : c != t)
        fail(here(), std::string("expected ") + (t == '0' ? "a digit" : squote(std::string(1, t))) +
                         " in a datetime of the form YYYY-MM-DDTHH:MM:SSZ, found " + found());
      adv();
    }
    std::string_view s = src_.substr(start, p_ - start);
    auto num = [&](size_t off, size_t len) {
      int v = 0;
      for (size_t i = 0; i < len; ++i) v = v * 10 + (s[off + i] - '0');
      return v;
    };
    int Y = num(0, 4), M = num(5, 2), D = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
    Position pos = pos_at(start);
    using namespace std::chrono;
    const char* bad = nullptr;
    year_month_day ymd{year{Y}, month{static_cast<unsigned>(M)}, day{static_cast<unsigned>(D)}};
    if (M < 1 || M > 12) bad = "month";
    else if (!ymd.ok()) bad = "day";
    else if (h > 23) bad = "hour";
    else if (mi > 59) bad = "minute";
    else if (se > 59) bad = "second";
    if (bad) fail(pos, "invalid datetime " + squote(s) + ": " + bad + " out of range");
    DateTime t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{se};
    return Value::datetime(t, pos);
  }

  // ---- variables ---------------------------------------------------------------------------

  // parser.lookupVariable.
  Value lookup_variable(const std::string& name, const Position& pos) {
    if (name.starts_with("2a$")) return Value::string("$" + name, pos);  // bcrypt hash
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      if (Entry* e = (*it)->find_entry(name)) {
        e->used_as_variable = true;
        Value v = e->value;
        v.set_pos(pos);
        return v;
      }
    }
    if (auto env = sh_.getenv(name)) return expand_env(name, *env, pos);
    if (looks_like_other_bcrypt(name))
      fail(pos, "'$" + name.substr(0, 3) +
                    "...' is read as a variable reference: only $2a$ bcrypt hashes may be "
                    "left unquoted, put this one in quotes");
    fail(pos, "undefined variable '$" + name + "': no key " + squote(name) +
                  " is defined before it in this map or an enclosing one, and there is no "
                  "environment variable " + name);
  }

  // The environment value is parsed as the value of a key (so "4222" is an integer).
  Value expand_env(const std::string& name, const std::string& text, const Position& pos) {
    auto& names = sh_.env_names;
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      std::string chain;
      for (auto it = std::find(names.begin(), names.end(), name); it != names.end(); ++it)
        chain += "$" + *it + " -> ";
      fail(pos, "environment variables refer to each other in a cycle: " + chain + "$" + name);
    }
    DepthGuard depth(sh_, pos);
    names.push_back(name);
    struct Pop {
      std::vector<std::string>& v;
      ~Pop() { v.pop_back(); }
    } pop{names};
    std::string src = "pk=" + text;
    Value doc;
    try {
      Parser sub(src, "$" + name, base_dir_, sh_);
      doc = sub.parse_document();
    } catch (const ConfigError& e) {
      std::string where = e.pos.line == 1 ? "column " + std::to_string(std::max(1, e.pos.column - 3))
                                          : "line " + std::to_string(e.pos.line) + ", column " +
                                                std::to_string(e.pos.column);
      if (e.pos.file != "$" + name) throw;  // an error from a nested expansion: already explained
      std::string inner = e.message;  // it names the synthetic key 'pk': name the variable instead
      for (size_t at = inner.find("'pk'"); at != npos; at = inner.find("'pk'", at + 1))
        inner.replace(at, 4, "$" + name);
      fail(pos, "environment variable " + name + " (used as $" + name +
                    ") does not hold a valid value: " + where + ": " + inner);
    }
    const Value* found_v = doc.find("pk");
    Value v = found_v ? *found_v : Value::string("", pos);
    relocate(v, pos);
    return v;
  }

  // ---- include -----------------------------------------------------------------------------

  // lexIncludeStart / lexInclude*; p_ is at the white space after the keyword.
  void parse_include(Value& map) {
    while (is_ws(peek())) adv();
    Position ipos = here();
    int c = peek();
    std::string name;
    if (c == '\'' || c == '"') {
      adv();
      size_t end = src_.find(static_cast<char>(c), p_);
      if (end == npos) {
        p_ = src_.size();
        fail(here(), std::string("expected ") + static_cast<char>(c) +
                         " to close the include path opened at " + line_col(ipos) +
                         ", found end of file");
      }
      name = std::string(src_.substr(p_, end - p_));
      p_ = end + 1;
    } else if (c < 0 || is_nl(c)) {
      fail(ipos, "expected a file name after 'include', found " + found());
    } else if (c == '[' || c == '{' || c == '(' || c == '\\' || c == '-' || is_digit(c)) {
      fail(ipos, "expected a file name after 'include', found " + found() +
                     " (put the path in quotes)");
    } else {
      size_t start = p_;
      for (c = peek(); !(c < 0 || is_nl(c) || is_ws(c) || c == ';' || c == '}'); c = peek()) {
        if (c == '\'') break;
        adv();
      }
      name = std::string(src_.substr(start, p_ - start));
      if (peek() == '\'') adv();  // the reference ends the path at a quote and drops it
    }
    if (name.empty()) fail(ipos, "empty include path");
    if (name.find('\0') != std::string::npos) {
      // A NUL would cut the path short where the file is opened (another file would be read)
      // and cut every message that names it; Go's open refuses it as EINVAL.
      std::string quoted;
      append_go_quoted(quoted, name);
      fail(ipos, "cannot read include file " + quoted + ": invalid argument");
    }
    include_file(map, name, ipos);
  }

  void include_file(Value& map, const std::string& name, const Position& ipos) {
    fs::path path(name);
    if (path.is_relative() && !base_dir_.empty()) path = base_dir_ / path;
    path = path.lexically_normal();  // as Go's filepath.Join cleans the path
    std::string canon = canonical_key(path);
    auto& open = sh_.includes;
    auto cyc = std::find_if(open.begin(), open.end(),
                            [&](const Shared::Open& o) { return o.canonical == canon; });
    if (cyc != open.end()) {
      std::string chain;
      for (auto it = cyc; it != open.end(); ++it) chain += it->display + " -> ";
      fail(ipos, "include cycle: " + chain + path.string());
    }
    DepthGuard depth(sh_, ipos);
    std::string text, err;
    if (!read_file(path, text, err))
      fail(ipos, "cannot read include file " + squote(name) +
                     (path.string() != name ? " (" + path.string() + ")" : "") + ": " + err);
    open.push_back({canon, path.string()});
    struct Pop {
      std::vector<Shared::Open>& v;
      ~Pop() { v.pop_back(); }
    } pop{open};
    Value inc;
    try {
      Parser sub(text, path.string(), path.parent_path(), sh_);
      inc = sub.parse_document();
    } catch (const ConfigError& e) {
      throw ConfigError(e.pos, e.message + " (included from " + ipos.to_string() + ")");
    }
    for (Entry& e : inc.as_map()) map.set(std::move(e));
  }

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

}  // namespace

Value parse_file(const std::string& path, const ParseOptions& opts) {
  Shared sh{opts};
  std::string text, err;
  if (!read_file(path, text, err))
    throw ConfigError(Position{path, 0, 0}, "cannot read config file: " + err);
  sh.includes.push_back({canonical_key(path), path});
  Parser p(text, path, fs::path(path).parent_path(), sh);
  return p.parse_document();
}

Value parse_string(std::string_view text, const std::string& name, const ParseOptions& opts) {
  Shared sh{opts};
  Parser p(text, name, fs::path(opts.base_dir), sh);
  return p.parse_document();
}

}  // namespace pylon::config
