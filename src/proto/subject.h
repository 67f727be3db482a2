// Subject validation and tokenising, shared by server and client.
//
// A subject is a '.'-separated list of non-empty tokens. In a subscription a token
// may be the wildcard '*' (exactly one token) and the last token may be '>' (one or
// more tokens). Publish subjects carry no wildcards. Non-pedantic checks follow the
// reference server's fast path (no whitespace, no empty tokens); pedantic checks also
// refuse wildcard characters embedded inside a token ("foo*.bar", "a.b>").
#pragma once

#include <cstddef>
#include <string_view>

namespace pylon::proto {

// True for a valid subscription subject (wildcards allowed).
// `pedantic` refuses '*' or '>' embedded in a longer token.
bool valid_subscribe_subject(std::string_view subject, bool pedantic = false) noexcept;

// True for a valid publish subject: a valid literal subject (no wildcard tokens).
// Non-pedantic mode only checks for whitespace and empty tokens, as the reference does
// for speed; pedantic mode also refuses '*' and '>' tokens.
bool valid_publish_subject(std::string_view subject, bool pedantic = false) noexcept;

// True when the subject has no wildcard tokens ("*" or ">").
bool is_literal(std::string_view subject) noexcept;

// True when literal subject `subject` is matched by pattern `pattern` (which may hold
// wildcards). Both must be valid; used by permissions and tests, not the hot path.
bool subject_matches(std::string_view pattern, std::string_view subject) noexcept;

// A valid queue group name: non-empty, no whitespace.
bool valid_queue_name(std::string_view queue) noexcept;

// Iterates the tokens of a subject without allocating.
class Tokens {
 public:
  explicit Tokens(std::string_view subject) noexcept : rest_(subject), done_(false) {}
  // Next token into `out`; false at the end.
  bool next(std::string_view& out) noexcept {
    if (done_) return false;
    auto dot = rest_.find('.');
    if (dot == std::string_view::npos) {
      out = rest_;
      done_ = true;
      return true;
    }
    out = rest_.substr(0, dot);
    rest_.remove_prefix(dot + 1);
    return true;
  }

 private:
  std::string_view rest_;
  bool done_;
};

}  // namespace pylon::proto
