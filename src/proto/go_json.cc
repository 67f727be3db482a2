// Go's encoding/json (go1.19) as the reference server runs it on CONNECT and INFO: scanner.go
// for the syntax check, decode.go's object/array/literalStore for the typed decode. The
// state names follow scanner.go so the two can be read side by side.
#include "proto/go_json.h"

#include "proto/go_quote.h"

#include "proto/go_json_strings.h"

#include <charconv>
#include <limits>

namespace pylon::proto::gojson {

namespace {

// ---------------------------------------------------------------------------------------
// scanner.go
// ---------------------------------------------------------------------------------------

bool is_space(unsigned char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_hex(unsigned char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Go's quoteChar: the byte as a rune (Latin-1), quoted as strconv.Quote does, in single quotes.
std::string quote_char(unsigned char c) {
  std::string out = "'";
  if (c < 0x80) {
    append_go_escaped_ascii(out, c, '\'');
  } else if (go_unprintable(c)) {
    append_go_escaped_rune(out, c);
  } else {
    out += static_cast<char>(0xc0 | (c >> 6));  // the rune U+00xx in UTF-8
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
  out += '\'';
  return out;
}

class Scanner {
 public:
  std::optional<std::string> check(std::string_view data) {
    for (unsigned char c : data) {
      if (step(c) == kError) return err_;
    }
    // eof()
    if (err_) return err_;
    if (end_top_) return std::nullopt;
    step(' ');
    if (end_top_) return std::nullopt;
    if (!err_) err_ = "unexpected end of JSON input";
    return err_;
  }

 private:
  enum Result { kContinue, kError, kEnd };
  enum class State : uint8_t {
    kBeginValueOrEmpty, kBeginValue, kBeginStringOrEmpty, kBeginString, kEndValue, kEndTop,
    kInString, kInStringEsc, kInStringEscU, kInStringEscU1, kInStringEscU12, kInStringEscU123,
    kNeg, k1, k0, kDot, kDot0, kE, kESign, kE0,
    kT, kTr, kTru, kF, kFa, kFal, kFals, kN, kNu, kNul, kError,
  };
  enum Parse : uint8_t { kObjectKey, kObjectValue, kArrayValue };
  static constexpr size_t kMaxNestingDepth = 10000;

  Result error(unsigned char c, std::string_view context) {
    state_ = State::kError;
    err_ = "invalid character " + quote_char(c) + " " + std::string(context);
    return kError;
  }
  Result push(unsigned char c, Parse p) {
    parse_.push_back(p);
    if (parse_.size() <= kMaxNestingDepth) return kContinue;
    return error(c, "exceeded max depth");
  }
  void pop() {
    parse_.pop_back();
    if (parse_.empty()) {
      state_ = State::kEndTop;
      end_top_ = true;
    } else {
      state_ = State::kEndValue;
    }
  }

  Result begin_value(unsigned char c) {
    if (is_space(c)) return kContinue;
    switch (c) {
      case '{': state_ = State::kBeginStringOrEmpty; return push(c, kObjectKey);
      case '[': state_ = State::kBeginValueOrEmpty; return push(c, kArrayValue);
      case '"': state_ = State::kInString; return kContinue;
      case '-': state_ = State::kNeg; return kContinue;
      case '0': state_ = State::k0; return kContinue;
      case 't': state_ = State::kT; return kContinue;
      case 'f': state_ = State::kF; return kContinue;
      case 'n': state_ = State::kN; return kContinue;
      default: break;
    }
    if (c >= '1' && c <= '9') {
      state_ = State::k1;
      return kContinue;
    }
    return error(c, "looking for beginning of value");
  }

  Result begin_string(unsigned char c) {
    if (is_space(c)) return kContinue;
    if (c == '"') {
      state_ = State::kInString;
      return kContinue;
    }
    return error(c, "looking for beginning of object key string");
  }

  Result end_value(unsigned char c) {
    if (parse_.empty()) {
      state_ = State::kEndTop;
      end_top_ = true;
      return end_top(c);
    }
    if (is_space(c)) {
      state_ = State::kEndValue;
      return kContinue;
    }
    switch (parse_.back()) {
      case kObjectKey:
        if (c == ':') {
          parse_.back() = kObjectValue;
          state_ = State::kBeginValue;
          return kContinue;
        }
        return error(c, "after object key");
      case kObjectValue:
        if (c == ',') {
          parse_.back() = kObjectKey;
          state_ = State::kBeginString;
          return kContinue;
        }
        if (c == '}') {
          pop();
          return kContinue;
        }
        return error(c, "after object key:value pair");
      case kArrayValue:
        if (c == ',') {
          state_ = State::kBeginValue;
          return kContinue;
        }
        if (c == ']') {
          pop();
          return kContinue;
        }
        return error(c, "after array element");
    }
    return error(c, "");
  }

  Result end_top(unsigned char c) {
    if (!is_space(c)) error(c, "after top-level value");
    return kEnd;
  }

  Result literal(unsigned char c, char want, State next, std::string_view context) {
    if (c == static_cast<unsigned char>(want)) {
      state_ = next;
      return kContinue;
    }
    return error(c, context);
  }

  Result step(unsigned char c) {
    switch (state_) {
      case State::kBeginValueOrEmpty:
        if (is_space(c)) return kContinue;
        if (c == ']') return end_value(c);
        return begin_value(c);
      case State::kBeginValue: return begin_value(c);
      case State::kBeginStringOrEmpty:
        if (is_space(c)) return kContinue;
        if (c == '}') {
          parse_.back() = kObjectValue;
          return end_value(c);
        }
        return begin_string(c);
      case State::kBeginString: return begin_string(c);
      case State::kEndValue: return end_value(c);
      case State::kEndTop: return end_top(c);
      case State::kInString:
        if (c == '"') {
          state_ = State::kEndValue;
          return kContinue;
        }
        if (c == '\\') {
          state_ = State::kInStringEsc;
          return kContinue;
        }
        if (c < 0x20) return error(c, "in string literal");
        return kContinue;
      case State::kInStringEsc:
        switch (c) {
          case 'b': case 'f': case 'n': case 'r': case 't': case '\\': case '/': case '"':
            state_ = State::kInString;
            return kContinue;
          case 'u':
            state_ = State::kInStringEscU;
            return kContinue;
          default:
            return error(c, "in string escape code");
        }
      case State::kInStringEscU:
      case State::kInStringEscU1:
      case State::kInStringEscU12:
      case State::kInStringEscU123:
        if (!is_hex(c)) return error(c, "in \\u hexadecimal character escape");
        state_ = state_ == State::kInStringEscU    ? State::kInStringEscU1
                 : state_ == State::kInStringEscU1 ? State::kInStringEscU12
                 : state_ == State::kInStringEscU12 ? State::kInStringEscU123
                                                    : State::kInString;
        return kContinue;
      case State::kNeg:
        if (c == '0') {
          state_ = State::k0;
          return kContinue;
        }
        if (c >= '1' && c <= '9') {
          state_ = State::k1;
          return kContinue;
        }
        return error(c, "in numeric literal");
      case State::k1:
        if (c >= '0' && c <= '9') return kContinue;
        [[fallthrough]];
      case State::k0:
        if (c == '.') {
          state_ = State::kDot;
          return kContinue;
        }
        if (c == 'e' || c == 'E') {
          state_ = State::kE;
          return kContinue;
        }
        return end_value(c);
      case State::kDot:
        if (c >= '0' && c <= '9') {
          state_ = State::kDot0;
          return kContinue;
        }
        return error(c, "after decimal point in numeric literal");
      case State::kDot0:
        if (c >= '0' && c <= '9') return kContinue;
        if (c == 'e' || c == 'E') {
          state_ = State::kE;
          return kContinue;
        }
        return end_value(c);
      case State::kE:
        if (c == '+' || c == '-') {
          state_ = State::kESign;
          return kContinue;
        }
        [[fallthrough]];
      case State::kESign:
        if (c >= '0' && c <= '9') {
          state_ = State::kE0;
          return kContinue;
        }
        return error(c, "in exponent of numeric literal");
      case State::kE0:
        if (c >= '0' && c <= '9') return kContinue;
        return end_value(c);
      case State::kT: return literal(c, 'r', State::kTr, "in literal true (expecting 'r')");
      case State::kTr: return literal(c, 'u', State::kTru, "in literal true (expecting 'u')");
      case State::kTru: return literal(c, 'e', State::kEndValue, "in literal true (expecting 'e')");
      case State::kF: return literal(c, 'a', State::kFa, "in literal false (expecting 'a')");
      case State::kFa: return literal(c, 'l', State::kFal, "in literal false (expecting 'l')");
      case State::kFal: return literal(c, 's', State::kFals, "in literal false (expecting 's')");
      case State::kFals: return literal(c, 'e', State::kEndValue, "in literal false (expecting 'e')");
      case State::kN: return literal(c, 'u', State::kNu, "in literal null (expecting 'u')");
      case State::kNu: return literal(c, 'l', State::kNul, "in literal null (expecting 'l')");
      case State::kNul: return literal(c, 'l', State::kEndValue, "in literal null (expecting 'l')");
      case State::kError: return kError;
    }
    return kError;
  }

  State state_ = State::kBeginValue;
  std::vector<Parse> parse_;
  bool end_top_ = false;
  std::optional<std::string> err_;
};

using detail::base64_decode;
using detail::unquote;

// ---------------------------------------------------------------------------------------
// decode.go, over text the scanner accepted
// ---------------------------------------------------------------------------------------

enum class Kind { kObject, kArray, kString, kNumber, kBool, kNull };

std::string_view type_name(Type t) {
  switch (t) {
    case Type::kBool: return "bool";
    case Type::kString: return "string";
    case Type::kInt: return "int";
    case Type::kInt32: return "int32";
    case Type::kUint8: return "uint8";
    case Type::kUint64: return "uint64";
    case Type::kStringSlice: return "[]string";
    case Type::kBytes: return "[]uint8";
    case Type::kSubjectPermission: return "server.SubjectPermission";
    case Type::kExtensionString: return "string";
    case Type::kExtensionBool: return "bool";
  }
  return "?";
}

constexpr Field kSubjectPermissionFields[] = {{"allow", Type::kStringSlice}, {"deny", Type::kStringSlice}};
constexpr StructType kSubjectPermission{"SubjectPermission", "server.SubjectPermission", kSubjectPermissionFields};

bool ascii_equal_fold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    char x = a[k], y = b[k];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

class Decoder {
 public:
  explicit Decoder(std::string_view s) : s_(s) {}

  std::optional<std::string> run(const StructType& type, const std::function<void(size_t, const Value&)>& set) {
    const Kind k = kind();
    if (k == Kind::kObject) {
      decode_struct(type, set);
    } else if (k == Kind::kNull) {
      skip();
    } else {
      mismatch(k, type.qualified_name);
    }
    return err_;
  }

 private:
  void ws() {
    while (i_ < s_.size() && is_space(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  Kind kind() {
    ws();
    switch (s_[i_]) {
      case '{': return Kind::kObject;
      case '[': return Kind::kArray;
      case '"': return Kind::kString;
      case 't': case 'f': return Kind::kBool;
      case 'n': return Kind::kNull;
      default: return Kind::kNumber;
    }
  }
  // The raw text of a string literal (without quotes); i_ at its opening quote.
  std::string_view string_body() {
    const size_t b = ++i_;
    while (s_[i_] != '"') i_ += s_[i_] == '\\' ? 2 : 1;
    return s_.substr(b, i_++ - b);
  }
  std::string_view literal() {
    ws();
    const size_t b = i_;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == ',' || c == '}' || c == ']' || is_space(static_cast<unsigned char>(c))) break;
      ++i_;
    }
    return s_.substr(b, i_ - b);
  }
  // Skips one value of any depth without recursion.
  void skip() {
    ws();
    if (s_[i_] == '"') {
      string_body();
      return;
    }
    if (s_[i_] != '{' && s_[i_] != '[') {
      literal();
      return;
    }
    size_t depth = 0;
    do {
      const char c = s_[i_];
      if (c == '"') {
        string_body();
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') --depth;
      ++i_;
    } while (depth > 0);
  }
  // After a value inside an object or array: true when another element follows (',' eaten),
  // false at the closing bracket (eaten).
  bool next() {
    ws();
    return s_[i_++] == ',';
  }

  void save(std::string_view value, std::string_view type) {
    if (err_) return;
    std::string e = "json: cannot unmarshal " + std::string(value);
    if (struct_.empty()) {
      e += " into Go value of type ";
    } else {
      e += " into Go struct field " + std::string(struct_) + ".";
      for (size_t k = 0; k < path_.size(); ++k) {
        if (k) e += '.';
        e += path_[k];
      }
      e += " of type ";
    }
    e += type;
    err_ = std::move(e);
  }
  // A value of JSON kind `k` where Go wanted `type`: saved as Go's UnmarshalTypeError; skipped.
  void mismatch(Kind k, std::string_view type) {
    static constexpr std::string_view kNames[] = {"object", "array", "string", "number", "bool", "null"};
    save(kNames[static_cast<int>(k)], type);
    skip();
  }

  void decode_struct(const StructType& type, const std::function<void(size_t, const Value&)>& set) {
    ++i_;  // '{'
    ws();
    if (s_[i_] == '}') {
      ++i_;
      return;
    }
    do {
      ws();
      const std::string key = unquote(string_body());
      ws();
      ++i_;  // ':'
      const Field* f = nullptr;
      for (const Field& c : type.fields) {
        if (c.name == key) {
          f = &c;
          break;
        }
      }
      if (!f) {
        for (const Field& c : type.fields) {
          if (ascii_equal_fold(c.name, key)) {
            f = &c;
            break;
          }
        }
      }
      if (!f) {
        skip();
        continue;
      }
      const std::string_view outer = struct_;
      struct_ = type.name;
      path_.push_back(f->name);
      Value v;
      if (decode_field(f->type, v)) set(static_cast<size_t>(f - type.fields.data()), v);
      path_.pop_back();
      struct_ = outer;
    } while (next());
  }

  // Go's strconv.ParseInt/ParseUint on a number literal, with the field type's range.
  bool integer(Type t, std::string_view lit, Value& v) {
    const char* b = lit.data();
    const char* e = b + lit.size();
    if (t == Type::kUint64) {
      auto [p, ec] = std::from_chars(b, e, v.u);
      if (ec == std::errc() && p == e && lit[0] != '-') return true;
    } else {
      auto [p, ec] = std::from_chars(b, e, v.i);
      if (ec == std::errc() && p == e) {
        if (t == Type::kInt) return true;
        if (t == Type::kInt32 && v.i >= std::numeric_limits<int32_t>::min() &&
            v.i <= std::numeric_limits<int32_t>::max()) {
          return true;
        }
        if (t == Type::kUint8 && lit[0] != '-' && v.i >= 0 && v.i <= 255) return true;
      }
    }
    save("number " + std::string(lit), type_name(t));
    return false;
  }

  // A []string or []byte given as an array: each element decoded as the element type.
  bool elements(Type elem, Value& v) {
    ++i_;  // '['
    ws();
    if (s_[i_] == ']') {
      ++i_;
      return true;
    }
    bool ok = true;
    do {
      const Kind k = kind();
      if (elem == Type::kString) {
        if (k == Kind::kString) {
          v.list.push_back(unquote(string_body()));
        } else if (k == Kind::kNull) {
          v.list.emplace_back();
          skip();
        } else {
          mismatch(k, "string");
          ok = false;
        }
      } else {  // uint8
        Value b;
        if (k == Kind::kNumber) {
          if (integer(Type::kUint8, literal(), b)) {
            v.s += static_cast<char>(b.i);
          } else {
            ok = false;
          }
        } else if (k == Kind::kNull) {
          v.s += '\0';
          skip();
        } else {
          mismatch(k, "uint8");
          ok = false;
        }
      }
    } while (next());
    return ok;
  }

  // Decodes the value at i_ into a field of type t; true when `v` holds a value to set.
  bool decode_field(Type t, Value& v) {
    const Kind k = kind();
    if (k == Kind::kNull) {
      skip();
      // Go sets slices and pointers to nil; other types keep their value.
      v.null = true;
      return t == Type::kStringSlice || t == Type::kBytes || t == Type::kSubjectPermission;
    }
    switch (t) {
      case Type::kBool:
        if (k != Kind::kBool) break;
        v.b = literal() == "true";
        return true;
      case Type::kString:
        if (k != Kind::kString) break;
        v.s = unquote(string_body());
        return true;
      case Type::kExtensionString:
        if (k != Kind::kString) {
          skip();
          return false;
        }
        v.s = unquote(string_body());
        return true;
      case Type::kExtensionBool:
        if (k != Kind::kBool) {
          skip();
          return false;
        }
        v.b = literal() == "true";
        return true;
      case Type::kInt:
      case Type::kInt32:
      case Type::kUint8:
      case Type::kUint64:
        if (k != Kind::kNumber) break;
        return integer(t, literal(), v);
      case Type::kStringSlice:
        if (k != Kind::kArray) break;
        return elements(Type::kString, v);
      case Type::kBytes:
        if (k == Kind::kArray) return elements(Type::kUint8, v);
        if (k != Kind::kString) break;
        if (auto e = base64_decode(unquote(string_body()), v.s)) {
          if (!err_) err_ = std::move(*e);  // not a type error: Go adds no field context
          return false;
        }
        return true;
      case Type::kSubjectPermission: {
        if (k != Kind::kObject) break;
        bool ok = true;
        decode_struct(kSubjectPermission, [&](size_t f, const Value& e) {
          (f == 0 ? v.perm.allow : v.perm.deny) = e.list;
          ok = ok && !err_;
        });
        return ok && !err_;
      }
    }
    mismatch(k, type_name(t));
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::optional<std::string> err_;
  std::string_view struct_;             // Go's errorContext.Struct (empty: the top value)
  std::vector<std::string_view> path_;  // errorContext.FieldStack
};

}  // namespace

std::optional<std::string> syntax_error(std::string_view text) { return Scanner().check(text); }

std::optional<std::string> unmarshal(std::string_view text, const StructType& type,
                                     const std::function<void(size_t field, const Value& value)>& set) {
  if (auto e = syntax_error(text)) return e;
  return Decoder(text).run(type, set);
}

}  // namespace pylon::proto::gojson
