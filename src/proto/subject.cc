// Subject rules as the reference server's sublist.go applies them (IsValidSubject,
// IsValidLiteralSubject, subjectIsLiteral, matchLiteral): a wildcard is only a wildcard
// when it is a whole token, so "foo*" and "a.>b" are ordinary literal tokens.
#include "proto/subject.h"

#include <array>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>

#include "proto/writer.h"  // detail::put_part
#endif

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

#if defined(__SSE2__)
// The non-pedantic publish check 16 bytes at a time (the client library validates every
// published subject; the byte loop above cost about 6 instructions a byte). Its verdict is
// check(s, kIgnored, false)'s: non-empty, no empty token, no whitespace. A byte at or
// below ' ' (whitespace, or another control byte, which is allowed) sends the subject to
// that exact loop instead, so only '.' is judged here: a token is empty when a '.' follows
// the start or another '.', or ends the subject.
bool fast_publish_check(std::string_view s) noexcept {
  const size_t n = s.size();
  if (n == 0) return false;
  const char* p = s.data();
  const __m128i dot = _mm_set1_epi8('.');
  const __m128i space = _mm_set1_epi8(' ');
  unsigned after_dot = 1;  // the byte before the block is a '.' (or the subject starts)
  // Bit i of `dots` / `low`: byte i of the block is '.' / is at most ' ' (unsigned).
  auto block = [&](__m128i v, unsigned* dots, unsigned* low) {
    *dots = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, dot)));
    *low = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, space), v)));
  };
  size_t i = 0;
  unsigned dots = 0, low = 0;
  for (; n - i >= 16; i += 16) {
    block(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), &dots, &low);
    if (low != 0) return check(s, Wildcards::kIgnored, false);
    if ((dots & ((dots << 1) | after_dot)) != 0) return false;
    after_dot = dots >> 15;
  }
  if (i < n) {
    const size_t r = n - i;  // 1..15 bytes left
    if (n >= 16) {
      // The last 16 bytes of the subject, of which the top r are new (no read past it).
      block(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16)), &dots, &low);
      dots >>= 16 - r;
      low >>= 16 - r;
    } else {
      alignas(16) char buf[16] = {};
      detail::put_part(buf, s);  // fixed-size moves inside the subject's bounds, no call
      block(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)), &dots, &low);
      const unsigned mask = (1u << r) - 1;
      dots &= mask;
      low &= mask;
    }
    if (low != 0) return check(s, Wildcards::kIgnored, false);
    if ((dots & ((dots << 1) | after_dot)) != 0) return false;
    after_dot = (dots >> (r - 1)) & 1;
  }
  return after_dot == 0;  // a '.' at the end leaves an empty last token
}
#endif

}  // namespace

bool valid_subscribe_subject(std::string_view subject, bool pedantic) noexcept {
  return check(subject, Wildcards::kAllowed, pedantic);
}

bool valid_publish_subject(std::string_view subject, bool pedantic) noexcept {
  if (pedantic) return check(subject, Wildcards::kLiteralOnly, false);
#if defined(__SSE2__)
  return fast_publish_check(subject);
#else
  return check(subject, Wildcards::kIgnored, false);
#endif
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
