// Value, Position and ConfigError of the config-file reader.
#include "server/config/config.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "proto/go_quote.h"

namespace pylon::config {

std::string Position::to_string() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

ConfigError::ConfigError(Position p, std::string msg)
    : std::runtime_error(p.to_string() + ": " + msg), pos(std::move(p)), message(std::move(msg)) {}

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::Null: return "null";
    case Kind::Bool: return "boolean";
    case Kind::Int: return "integer";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::DateTime: return "datetime";
    case Kind::Map: return "map";
    case Kind::Array: return "array";
  }
  return "?";
}

void append_go_quoted(std::string& out, std::string_view s) { proto::append_go_quoted(out, s); }

namespace {

std::string with_article(std::string_view noun) {
  bool vowel = !noun.empty() && std::string_view("aeiou").find(noun[0]) != std::string_view::npos;
  return std::string(vowel ? "an " : "a ") + std::string(noun);
}

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}


void dump_value(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Kind::Null: out += "null"; break;
    case Kind::Bool: out += v.as_bool() ? "true" : "false"; break;
    case Kind::Int: out += std::to_string(v.as_int()); break;
    case Kind::Float: {
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_float());
      std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
      out += s;
      if (s.find_first_of(".eEn") == std::string_view::npos) out += ".0";  // keep it a float
      break;
    }
    case Kind::String: append_go_quoted(out, v.as_string()); break;
    case Kind::DateTime: {
      auto t = v.as_datetime();
      auto days = std::chrono::floor<std::chrono::days>(t);
      std::chrono::year_month_day ymd{days};
      std::chrono::hh_mm_ss hms{t - days};
      char buf[64];
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()),
                    unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                    int(hms.minutes().count()), int(hms.seconds().count()));
      out += buf;
      break;
    }
    case Kind::Map: {
      out += '{';
      bool first = true;
      for (const Entry& e : v.as_map()) {
        if (!first) out += ", ";
        first = false;
        append_go_quoted(out, e.key);
        out += ": ";
        dump_value(out, e.value);
      }
      out += '}';
      break;
    }
    case Kind::Array: {
      out += '[';
      bool first = true;
      for (const Value& e : v.as_array()) {
        if (!first) out += ", ";
        first = false;
        dump_value(out, e);
      }
      out += ']';
      break;
    }
  }
}

[[noreturn]] void type_error(const Value& v, std::string_view wanted) {
  throw ConfigError(v.pos(), "expected " + with_article(wanted) + ", found " +
                                 with_article(v.kind_name()));
}

}  // namespace

Value Value::boolean(bool b, Position pos) {
  Value v;
  v.v_ = b;
  v.pos_ = std::move(pos);
  return v;
}
Value Value::integer(int64_t i, Position pos) {
  Value v;
  v.v_ = i;
  v.pos_ = std::move(pos);
  return v;
}
Value Value::floating(double d, Position pos) {
  Value v;
  v.v_ = d;
  v.pos_ = std::move(pos);
  return v;
}
Value Value::string(std::string s, Position pos) {
  Value v;
  v.v_ = std::move(s);
  v.pos_ = std::move(pos);
  return v;
}
Value Value::datetime(DateTime t, Position pos) {
  Value v;
  v.v_ = t;
  v.pos_ = std::move(pos);
  return v;
}
Value Value::map(Position pos) {
  Value v;
  v.v_ = Map{};
  v.pos_ = std::move(pos);
  return v;
}
Value Value::array(Position pos) {
  Value v;
  v.v_ = Array{};
  v.pos_ = std::move(pos);
  return v;
}

Kind Value::kind() const {
  switch (v_.index()) {
    case 0: return Kind::Null;
    case 1: return Kind::Bool;
    case 2: return Kind::Int;
    case 3: return Kind::Float;
    case 4: return Kind::String;
    case 5: return Kind::DateTime;
    case 6: return Kind::Map;
    default: return Kind::Array;
  }
}

bool Value::as_bool() const {
  if (auto* p = std::get_if<bool>(&v_)) return *p;
  type_error(*this, "boolean");
}
int64_t Value::as_int() const {
  if (auto* p = std::get_if<int64_t>(&v_)) return *p;
  type_error(*this, "integer");
}
double Value::as_float() const {
  if (auto* p = std::get_if<double>(&v_)) return *p;
  type_error(*this, "float");
}
double Value::as_number() const {
  if (auto* p = std::get_if<double>(&v_)) return *p;
  if (auto* p = std::get_if<int64_t>(&v_)) return static_cast<double>(*p);
  type_error(*this, "number");
}
const std::string& Value::as_string() const {
  if (auto* p = std::get_if<std::string>(&v_)) return *p;
  type_error(*this, "string");
}
DateTime Value::as_datetime() const {
  if (auto* p = std::get_if<DateTime>(&v_)) return *p;
  type_error(*this, "datetime");
}
const Value::Map& Value::as_map() const {
  if (auto* p = std::get_if<Map>(&v_)) return *p;
  type_error(*this, "map");
}
const Value::Array& Value::as_array() const {
  if (auto* p = std::get_if<Array>(&v_)) return *p;
  type_error(*this, "array");
}
Value::Map& Value::as_map() {
  if (auto* p = std::get_if<Map>(&v_)) return *p;
  type_error(*this, "map");
}
Value::Array& Value::as_array() {
  if (auto* p = std::get_if<Array>(&v_)) return *p;
  type_error(*this, "array");
}

const Entry* Value::find_entry(std::string_view key) const {
  auto* m = std::get_if<Map>(&v_);
  if (!m) return nullptr;
  for (const Entry& e : *m)
    if (e.key == key) return &e;
  return nullptr;
}

Entry* Value::find_entry(std::string_view key) {
  auto* m = std::get_if<Map>(&v_);
  if (!m) return nullptr;
  for (Entry& e : *m)
    if (e.key == key) return &e;
  return nullptr;
}

const Entry* Value::find_entry_ci(std::string_view key) const {
  auto* m = std::get_if<Map>(&v_);
  if (!m) return nullptr;
  for (auto it = m->rbegin(); it != m->rend(); ++it)
    if (ieq(it->key, key)) return &*it;
  return nullptr;
}

const Value* Value::find(std::string_view key) const {
  const Entry* e = find_entry(key);
  return e ? &e->value : nullptr;
}

const Value* Value::find_ci(std::string_view key) const {
  const Entry* e = find_entry_ci(key);
  return e ? &e->value : nullptr;
}

void Value::set(Entry e) {
  Map& m = as_map();
  auto it = std::find_if(m.begin(), m.end(), [&](const Entry& x) { return x.key == e.key; });
  if (it != m.end()) m.erase(it);
  m.push_back(std::move(e));
}

void Value::push_back(Value v) { as_array().push_back(std::move(v)); }

std::string Value::dump() const {
  std::string out;
  dump_value(out, *this);
  return out;
}

}  // namespace pylon::config
