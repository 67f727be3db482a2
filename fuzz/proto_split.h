// The split-read property of proto::Parser, shared by the client and route parser targets:
// one byte stream parsed whole and parsed in fuzzer-chosen chunks must produce the same
// operations (with the same arguments and payloads), the same error, and consume the same
// bytes. A handler that stops the parser (returns false) after the same operations in both
// runs must leave it resumable on the rest of the buffer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/parser.h"

namespace pylon::fuzz {

// Writes every callback as one line of text, so two runs compare as two vectors of strings.
class Recorder : public proto::ParserHandler {
 public:
  // Every `stop_every`-th operation returns false (0: never).
  explicit Recorder(unsigned stop_every) : stop_every_(stop_every) {}
  std::vector<std::string> ops;

  bool on_connect(std::string_view j) override { return add("CONNECT", j); }
  bool on_info(std::string_view j) override { return add("INFO", j); }
  bool on_ping() override { return add("PING", {}); }
  bool on_pong() override { return add("PONG", {}); }
  bool on_ok() override { return add("+OK", {}); }
  bool on_err(std::string_view t) override { return add("-ERR", t); }
  bool on_pub(const proto::MsgArgs& a, std::string_view p) override { return msg("PUB", {}, a, p); }
  bool on_msg(const proto::MsgArgs& a, std::string_view p) override { return msg("MSG", {}, a, p); }
  bool on_rmsg(const proto::MsgArgs& a, std::string_view p) override { return msg("RMSG", {}, a, p); }
  bool on_lmsg(std::string_view o, const proto::MsgArgs& a, std::string_view p) override {
    return msg("LMSG", o, a, p);
  }
  bool on_sub(std::string_view s, std::string_view q, std::string_view sid) override {
    return add("SUB", join({s, q, sid}));
  }
  bool on_unsub(std::string_view sid, int64_t max) override { return add("UNSUB", join({sid, std::to_string(max)})); }
  bool on_rs_sub(std::string_view acc, std::string_view s, std::string_view q, int32_t w) override {
    return add("RS+", join({acc, s, q, std::to_string(w)}));
  }
  bool on_rs_unsub(std::string_view acc, std::string_view s, std::string_view q) override {
    return add("RS-", join({acc, s, q}));
  }
  bool on_ls_sub(std::string_view o, std::string_view acc, std::string_view s, std::string_view q,
                 int32_t w) override {
    return add("LS+", join({o, acc, s, q, std::to_string(w)}));
  }
  bool on_ls_unsub(std::string_view o, std::string_view acc, std::string_view s, std::string_view q) override {
    return add("LS-", join({o, acc, s, q}));
  }

 private:
  static std::string join(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (auto p : parts) {
      out += '|';
      out += p;
    }
    return out;
  }
  bool msg(const char* op, std::string_view origin, const proto::MsgArgs& a, std::string_view payload) {
    // The framing the parser promises: the payload is exactly the announced size, and the
    // headers fit inside it.
    if (payload.size() != static_cast<size_t>(a.total_len)) {
      std::fprintf(stderr, "%s payload of %zu bytes, announced %lld\n", op, payload.size(),
                   static_cast<long long>(a.total_len));
      std::abort();
    }
    if (a.header_len > a.total_len) std::abort();
    return add(op, join({origin, a.account, a.subject, a.reply, a.sid, a.queues, std::to_string(a.header_len),
                         std::to_string(a.total_len), payload}));
  }
  bool add(const char* op, std::string_view args) {
    ops.push_back(std::string(op) + std::string(args));
    return stop_every_ == 0 || ops.size() % stop_every_ != 0;
  }
  unsigned stop_every_;
};

struct Outcome {
  std::vector<std::string> ops;
  proto::ParseError error = proto::ParseError::kNone;
  size_t consumed = 0;  // bytes consumed before the error (all of them without one)
};

// Feeds `stream` in the given chunk sizes (the last chunk takes the rest); a stop resumes on
// the rest of the same chunk, as a connection does after its handler paused.
inline Outcome run(proto::Role role, proto::ParserLimits limits, unsigned stop_every, std::string_view stream,
                   const std::vector<size_t>& chunks) {
  proto::Parser parser(role, limits);
  Recorder rec(stop_every);
  Outcome out;
  size_t pos = 0;
  size_t k = 0;
  while (pos < stream.size()) {
    size_t len = k < chunks.size() ? std::min(chunks[k], stream.size() - pos) : stream.size() - pos;
    ++k;
    // Copy each chunk into a buffer of its own and scribble over it afterwards: a parser that
    // kept a view into a previous read buffer reads garbage (and ASan sees the freed memory).
    std::string chunk(stream.substr(pos, len));
    std::string_view rest = chunk;
    while (!rest.empty()) {
      proto::ParseResult r = parser.parse(rest, rec);
      out.consumed += r.consumed;
      if (r.error != proto::ParseError::kNone) {
        out.error = r.error;
        out.ops = std::move(rec.ops);
        return out;
      }
      if (!r.stopped && r.consumed != rest.size()) std::abort();  // all consumed unless stopped
      rest.remove_prefix(r.consumed);
    }
    pos += len;
    chunk.assign(chunk.size(), '\xee');
  }
  out.ops = std::move(rec.ops);
  return out;
}

// Checks one stream in one role. The chunkings, limits and stop points come from a hash of
// the stream, so that a seed is a plain protocol stream (handwritten seeds stay readable)
// and every mutation of it is parsed at new splits.
inline void check_split(proto::Role role, std::string_view stream) {
  uint64_t x = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : stream) x = (x ^ c) * 1099511628211ull;
  x |= 1;
  auto next = [&] {  // xorshift64
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 4; ++round) {
    proto::ParserLimits limits;  // the defaults in rounds 0 and 1, small ones after
    if (round >= 2) {
      limits.max_control_line = static_cast<int64_t>(next() % 200);
      limits.max_payload = static_cast<int64_t>(next() % 200);
    }
    const unsigned stop_every = static_cast<unsigned>(next() % 4);
    const Outcome whole = run(role, limits, stop_every, stream, {});
    // Chunk sizes: mostly tiny (every byte boundary matters), sometimes large.
    std::vector<size_t> chunks;
    for (size_t total = 0; total < stream.size();) {
      size_t c = (next() % 4 == 0) ? 1 + next() % 64 : 1 + next() % 3;
      chunks.push_back(c);
      total += c;
    }
    const Outcome split = run(role, limits, stop_every, stream, chunks);
    bool same = split.ops == whole.ops && split.error == whole.error;
    // An over-long control line is reported where the limit was crossed: at the line's end
    // when the whole line is in one read, at the end of the read that crossed it otherwise.
    // Everything before it must agree all the same.
    if (whole.error != proto::ParseError::kMaxControlLine) same = same && split.consumed == whole.consumed;
    if (!same) {
      std::fprintf(stderr,
                   "split parse differs (role %d, round %d): whole %zu ops, error %d, consumed %zu; "
                   "split %zu ops, error %d, consumed %zu\n",
                   static_cast<int>(role), round, whole.ops.size(), static_cast<int>(whole.error), whole.consumed,
                   split.ops.size(), static_cast<int>(split.error), split.consumed);
      for (size_t i = 0; i < std::max(whole.ops.size(), split.ops.size()); ++i) {
        std::fprintf(stderr, "  %zu whole: %s\n  %zu split: %s\n", i, i < whole.ops.size() ? whole.ops[i].c_str() : "-",
                     i, i < split.ops.size() ? split.ops[i].c_str() : "-");
      }
      std::abort();
    }
  }
}

}  // namespace pylon::fuzz
