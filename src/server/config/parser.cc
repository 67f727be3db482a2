// Recursive-descent reader for the reference server's config format. See config.h for the
// format; the comments here name the reference lexer state whose behaviour a branch follows.
// This file: the document, its entries, variables and includes; parser_values.cc: values.
#include "server/config/parser_internal.h"

namespace pylon::config {

namespace detail {

Value Parser::parse_document() {
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

std::string Parser::parse_entry(Value& map, bool top) {
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

void Parser::top_value_end(const std::string& what, std::vector<Position>& braces) {
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

void Parser::close_top_brace(std::vector<Position>& braces) {
  if (braces.empty()) fail(here(), "unexpected '}': no map is open here");
  braces.pop_back();
  adv();
}

Value Parser::lookup_variable(const std::string& name, const Position& pos) {
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

Value Parser::expand_env(const std::string& name, const std::string& text, const Position& pos) {
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

void Parser::parse_include(Value& map) {
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

void Parser::include_file(Value& map, const std::string& name, const Position& ipos) {
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

}  // namespace detail

using detail::canonical_key;
using detail::Parser;
using detail::read_file;
using detail::Shared;
namespace fs = std::filesystem;

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
