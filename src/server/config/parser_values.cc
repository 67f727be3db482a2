// The config reader's values (parser_internal.h): maps, arrays, strings and their escapes,
// numbers with their size suffixes, dates. Each names the reference lexer state it follows.
#include "server/config/parser_internal.h"

namespace pylon::config::detail {

Value Parser::parse_value(bool in_array) {
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

Value Parser::parse_map() {
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

Value Parser::parse_array() {
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

void Parser::parse_escape(std::string& out) {
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

Value Parser::parse_bare(size_t start) {
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

Value Parser::parse_dq_string() {
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

Value Parser::parse_sq_string() {
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

Value Parser::parse_block() {
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

Value Parser::parse_number() {
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

Value Parser::parse_negative() {
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

Value Parser::parse_fraction(size_t start) {
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

Value Parser::parse_suffixed(size_t start) {
  size_t digits_end = p_;
  adv();
  for (int c = peek(); c == 'b' || c == 'B' || c == 'i' || c == 'I'; c = peek()) adv();
  if (int_end(peek()) || is_digit(peek())) return make_int(start, digits_end, p_);
  return parse_bare(start);  // e.g. 10ms, 1kx: a string
}

Value Parser::make_int(size_t start, size_t digits_end, size_t end) {
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

Value Parser::parse_datetime(size_t start) {
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

}  // namespace pylon::config::detail
