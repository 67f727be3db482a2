// Subject rules as the reference server's sublist.go applies them (IsValidSubject,
// IsValidLiteralSubject, subjectIsLiteral, matchLiteral): a wildcard is only a wildcard
// when it is a whole token, so "foo*" and "a.>b" are ordinary literal tokens.
#include "proto/subject.h"

#include <array>

namespace pylon::proto {

namespace {

// The whitespace the reference refuses inside a subject.
inline bool is_subject_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

enum class Wildcards {
  kAllowed,       // subscription: '*' tokens anywhere, '>' as the last token
  kLiteralOnly,   // publish, pedantic: no wildcard tokens at all
  kIgnored,       // publish, fast: wildcard tokens are not looked at
};

// What each byte is to the subject rules, so the loop below costs one table load and one
// compare for an ordinary byte (the client library validates every published subject).
enum ByteClass : unsigned char { kOrdinary = 0, kDot, kSpace, kWildcard };
constexpr std::array<unsigned char, 256> kByteClass = [] {
  std::array<unsigned char, 256> t{};
  t[static_cast<unsigned char>('.')] = kDot;
  for (char c : {' ', '\t', '\n', '\r', '\f'}) t[static_cast<unsigned char>(c)] = kSpace;
  t[static_cast<unsigned char>('*')] = kWildcard;
  t[static_cast<unsigned char>('>')] = kWildcard;
  return t;
}();
static_assert(kByteClass[static_cast<unsigned char>('\f')] == kSpace);

// One pass over the subject: non-empty, no empty tokens, no whitespace, wildcard tokens
// as `wc` says; `pedantic` also refuses '*' or '>' inside a longer token.
bool check(std::string_view s, Wildcards wc, bool pedantic) noexcept {
  const size_t n = s.size();
  if (n == 0) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  bool after_fwc = false;  // a '>' token was seen: nothing may follow
  bool wild = false;       // the current token holds a '*' or '>'
  size_t start = 0;
  for (size_t i = 0;; ++i) {
    if (i < n) {
      const unsigned char k = kByteClass[p[i]];
      if (k == kOrdinary) continue;
      if (k == kSpace) return false;
      if (k == kWildcard) {
        wild = true;
        continue;
      }
    }
    // A token [start, i) ends here (at a '.' or at the end).
    const size_t len = i - start;
    if (len == 0 || after_fwc) return false;
    if (wild) {
      if (len == 1) {
        if (wc == Wildcards::kLiteralOnly) return false;
        if (p[start] == '>' && wc == Wildcards::kAllowed) after_fwc = true;
      } else if (pedantic) {
        return false;
      }
      wild = false;
    }
    if (i == n) return true;
    start = i + 1;
  }
}

}  // namespace

bool valid_subscribe_subject(std::string_view subject, bool pedantic) noexcept {
  return check(subject, Wildcards::kAllowed, pedantic);
}

bool valid_publish_subject(std::string_view subject, bool pedantic) noexcept {
  return pedantic ? check(subject, Wildcards::kLiteralOnly, false) : check(subject, Wildcards::kIgnored, false);
}

bool is_literal(std::string_view subject) noexcept {
  const size_t n = subject.size();
  for (size_t i = 0; i < n; ++i) {
    const char c = subject[i];
    if ((c == '*' || c == '>') && (i == 0 || subject[i - 1] == '.') && (i + 1 == n || subject[i + 1] == '.')) {
      return false;
    }
  }
  return true;
}

bool subject_matches(std::string_view pattern, std::string_view subject) noexcept {
  Tokens p(pattern), s(subject);
  std::string_view pt, st;
  while (p.next(pt)) {
    if (pt == ">") return s.next(st);  // '>' needs at least one more token
    if (!s.next(st)) return false;
    if (pt != "*" && pt != st) return false;
  }
  return !s.next(st);
}

bool valid_queue_name(std::string_view queue) noexcept {
  if (queue.empty()) return false;
  for (char c : queue) {
    if (is_subject_space(c)) return false;
  }
  return true;
}

}  // namespace pylon::proto
