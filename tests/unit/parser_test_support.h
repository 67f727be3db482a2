// What the parser's unit tests share (parser_test.cc, parser_errors_test.cc): a handler that
// records every callback as a line, and feeding a stream whole, cut at given offsets or byte by
// byte.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "proto/parser.h"

namespace pylon::proto::parser_test {

// Readable failure messages.
inline std::ostream& operator<<(std::ostream& os, ParseError e) {
  switch (e) {
    case ParseError::kNone: return os << "kNone";
    case ParseError::kUnknownOp: return os << "kUnknownOp";
    case ParseError::kMaxControlLine: return os << "kMaxControlLine";
    case ParseError::kMaxPayload: return os << "kMaxPayload";
    case ParseError::kBadArgs: return os << "kBadArgs";
  }
  return os << "?";
}


// Records every callback as one readable line, copying the views at once.
class Recorder : public ParserHandler {
 public:
  std::vector<std::string> events;
  // Stop (return false) at the callback with this index (0-based); -1: never.
  int stop_at = -1;
  // Where the last payload view pointed (to prove zero copy).
  const char* last_payload_data = nullptr;

  bool on_connect(std::string_view json) override { return add("CONNECT " + std::string(json)); }
  bool on_info(std::string_view json) override { return add("INFO " + std::string(json)); }
  bool on_ping() override { return add("PING"); }
  bool on_pong() override { return add("PONG"); }
  bool on_ok() override { return add("+OK"); }
  bool on_err(std::string_view text) override { return add("-ERR " + std::string(text)); }
  bool on_pub(const MsgArgs& a, std::string_view payload) override {
    last_payload_data = payload.data();
    return add("PUB" + msg(a, payload));
  }
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) override {
    return add("SUB subject=" + s(subject) + " queue=" + s(queue) + " sid=" + s(sid));
  }
  bool on_unsub(std::string_view sid, int64_t max_msgs) override {
    return add("UNSUB sid=" + s(sid) + " max=" + std::to_string(max_msgs));
  }
  bool on_msg(const MsgArgs& a, std::string_view payload) override {
    last_payload_data = payload.data();
    return add("MSG" + msg(a, payload));
  }
  bool on_rs_sub(std::string_view account, std::string_view subject, std::string_view queue,
                 int32_t weight) override {
    return add("RS+ account=" + s(account) + " subject=" + s(subject) + " queue=" + s(queue) +
               " weight=" + std::to_string(weight));
  }
  bool on_rs_unsub(std::string_view account, std::string_view subject, std::string_view queue) override {
    return add("RS- account=" + s(account) + " subject=" + s(subject) + " queue=" + s(queue));
  }
  bool on_rmsg(const MsgArgs& a, std::string_view payload) override {
    last_payload_data = payload.data();
    return add("RMSG" + msg(a, payload));
  }
  bool on_ls_sub(std::string_view origin, std::string_view account, std::string_view subject,
                 std::string_view queue, int32_t weight) override {
    return add("LS+ origin=" + s(origin) + " account=" + s(account) + " subject=" + s(subject) +
               " queue=" + s(queue) + " weight=" + std::to_string(weight));
  }
  bool on_ls_unsub(std::string_view origin, std::string_view account, std::string_view subject,
                   std::string_view queue) override {
    return add("LS- origin=" + s(origin) + " account=" + s(account) + " subject=" + s(subject) +
               " queue=" + s(queue));
  }
  bool on_lmsg(std::string_view origin, const MsgArgs& a, std::string_view payload) override {
    last_payload_data = payload.data();
    return add("LMSG origin=" + s(origin) + msg(a, payload));
  }

 private:
  static std::string s(std::string_view v) { return std::string(v); }
  static std::string msg(const MsgArgs& a, std::string_view payload) {
    std::string out;
    if (!a.account.empty()) out += " account=" + s(a.account);
    out += " subject=" + s(a.subject);
    if (!a.sid.empty()) out += " sid=" + s(a.sid);
    if (!a.reply.empty()) out += " reply=" + s(a.reply);
    if (!a.queues.empty()) out += " queues=[" + s(a.queues) + "]";
    if (a.header_len >= 0) out += " hdr=" + std::to_string(a.header_len);
    out += " total=" + std::to_string(a.total_len);
    out += " payload=" + s(payload);
    return out;
  }
  bool add(std::string e) {
    events.push_back(std::move(e));
    return stop_at < 0 || static_cast<int>(events.size()) - 1 != stop_at;
  }
};

struct Outcome {
  std::vector<std::string> events;
  ParseError error = ParseError::kNone;
  size_t consumed = 0;  // summed over all feeds
  bool idle = false;

  // consumed too: a split must not change how many bytes the parser took, nor (on an
  // error) the byte where it stopped. One exception: a control line over
  // max_control_line is caught as soon as its buffered part exceeds the limit when the
  // line arrives split, and at its end when it arrives whole (the reference's parser
  // does the same), so there only the error itself must agree; the connection is closed
  // either way.
  bool operator==(const Outcome& o) const {
    const bool same_stop = consumed == o.consumed || (error == ParseError::kMaxControlLine && error == o.error);
    return events == o.events && error == o.error && idle == o.idle && same_stop;
  }
};

inline std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "error=" << o.error << " consumed=" << o.consumed << " idle=" << o.idle << " events:\n";
  for (const auto& e : o.events) os << "  " << e << "\n";
  return os;
}

// Feeds `stream` in chunks ending at the given cut points. Every chunk lives in its own
// heap block that is scribbled over and freed right after parse() returns, so a parser
// that kept a view into an old read buffer shows garbage (or trips ASan).
inline Outcome feed(Role role, std::string_view stream, const std::vector<size_t>& cuts, ParserLimits limits = {}) {
  Parser parser(role, limits);
  Recorder rec;
  Outcome out;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t end : ends) {
    if (end < from) continue;
    const size_t len = end - from;
    auto chunk = std::make_unique<char[]>(len + 1);
    std::memcpy(chunk.get(), stream.data() + from, len);
    ParseResult r = parser.parse(std::string_view(chunk.get(), len), rec);
    std::memset(chunk.get(), '#', len);
    out.consumed += r.consumed;
    if (r.error != ParseError::kNone) {
      out.error = r.error;
      break;
    }
    EXPECT_FALSE(r.stopped);
    EXPECT_EQ(r.consumed, len);
    from = end;
  }
  out.events = rec.events;
  out.idle = parser.idle();
  return out;
}

inline Outcome whole(Role role, std::string_view stream, ParserLimits limits = {}) { return feed(role, stream, {}, limits); }

inline Outcome byte_by_byte(Role role, std::string_view stream, ParserLimits limits = {}) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  return feed(role, stream, cuts, limits);
}

inline std::vector<std::string> events_of(Role role, std::string_view stream) {
  Outcome o = whole(role, stream);
  EXPECT_EQ(o.error, ParseError::kNone) << stream;
  return o.events;
}

inline ParseError error_of(Role role, std::string_view stream, ParserLimits limits = {}) {
  return whole(role, stream, limits).error;
}

using Events = std::vector<std::string>;
inline constexpr Role kClientConn = Role::kServerOfClient;
inline constexpr Role kRouteConn = Role::kServerOfRoute;
inline constexpr Role kClient = Role::kClient;

inline ParserLimits control_line(int64_t n) {
  ParserLimits l;
  l.max_control_line = n;
  return l;
}

inline ParserLimits payload_limit(int64_t n) {
  ParserLimits l;
  l.max_payload = n;
  return l;
}

}  // namespace pylon::proto::parser_test
