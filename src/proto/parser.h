// The NATS wire protocol parser: one incremental, zero-copy state machine for every
// side of the protocol (a server reading a client or a route, a client reading a server).
//
// Feed it whatever a read returned; a message may be split at any byte. Arguments and
// payloads that lie whole inside the fed buffer are handed to the handler as views into
// that buffer (no copy). Only an operation split across two feeds is copied, into the
// parser's own small buffers (control line) or a payload buffer sized once from the
// announced length. So any split of a byte stream yields exactly the same callbacks.
//
// The parser checks framing only: operation names, argument counts, numbers, CRLF after
// payloads, the control-line and payload limits. Meaning (subject validity, permissions,
// whether an op is allowed before CONNECT) is the handler's business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pylon::proto {

// Which protocol the byte stream speaks; decides which operations are legal.
enum class Role {
  kServerOfClient,  // a server reading a client: CONNECT PUB HPUB SUB UNSUB PING PONG (+OK -ERR tolerated)
  kServerOfRoute,   // a server reading a route: CONNECT INFO PING PONG RS+ RS- RMSG HMSG(routed) LS+ LS- LMSG +OK -ERR
  kClient,          // a client reading a server: INFO MSG HMSG PING PONG +OK -ERR
};

// Arguments of a message-carrying operation. All views point into the fed buffer
// or the parser's own buffers and are valid only during the callback.
struct MsgArgs {
  std::string_view account;  // RMSG/LMSG/routed HMSG only
  std::string_view subject;
  std::string_view reply;    // empty when absent
  std::string_view sid;      // MSG/HMSG to a client only
  // Routed messages may name queue groups: "RMSG acc subj + reply q1 q2 size" or
  // "RMSG acc subj | q1 q2 size". `queues` is the space-separated list (empty if none).
  std::string_view queues;
  int64_t header_len = -1;   // -1: no headers (PUB, MSG, RMSG); else HPUB/HMSG header size
  int64_t total_len = 0;     // payload size, headers included
};

// Receives each parsed operation. Returning false stops parsing at once (e.g. the
// handler closed the connection); parse() then returns with stopped=true.
class ParserHandler {
 public:
  virtual ~ParserHandler() = default;
  virtual bool on_connect(std::string_view json) { return true; }
  virtual bool on_info(std::string_view json) { return true; }
  virtual bool on_ping() { return true; }
  virtual bool on_pong() { return true; }
  virtual bool on_ok() { return true; }
  virtual bool on_err(std::string_view text) { return true; }  // text without quotes
  // PUB/HPUB from a client. `payload` holds headers then body (total_len bytes).
  virtual bool on_pub(const MsgArgs& args, std::string_view payload) { return true; }
  virtual bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) { return true; }
  // max_msgs < 0: no limit given (plain unsubscribe).
  virtual bool on_unsub(std::string_view sid, int64_t max_msgs) { return true; }
  // MSG/HMSG to a client.
  virtual bool on_msg(const MsgArgs& args, std::string_view payload) { return true; }
  // Route operations. weight is 0 when absent.
  virtual bool on_rs_sub(std::string_view account, std::string_view subject, std::string_view queue,
                         int32_t weight) { return true; }
  virtual bool on_rs_unsub(std::string_view account, std::string_view subject, std::string_view queue) {
    return true;
  }
  // RMSG and HMSG on a route (header_len >= 0 for HMSG).
  virtual bool on_rmsg(const MsgArgs& args, std::string_view payload) { return true; }
  // LS+/LS-/LMSG (leaf-origin variants): args as RS+/RS-/RMSG plus the origin cluster.
  virtual bool on_ls_sub(std::string_view origin, std::string_view account, std::string_view subject,
                         std::string_view queue, int32_t weight) { return true; }
  virtual bool on_ls_unsub(std::string_view origin, std::string_view account, std::string_view subject,
                           std::string_view queue) { return true; }
  virtual bool on_lmsg(std::string_view origin, const MsgArgs& args, std::string_view payload) { return true; }
};

// Why parsing failed. The server answers each with the reference server's -ERR text
// (see error_text()) and closes the connection.
enum class ParseError {
  kNone,
  kUnknownOp,        // -ERR 'Unknown Protocol Operation'
  kMaxControlLine,   // -ERR 'Maximum Control Line Exceeded'
  kMaxPayload,       // -ERR 'Maximum Payload Violation'
  kBadArgs,          // malformed arguments of a known op (reference: processPub Parse Error ...)
};

// The -ERR text the reference server sends for a parse error (without quotes).
std::string_view error_text(ParseError e) noexcept;

struct ParseResult {
  size_t consumed = 0;       // bytes of the buffer used (== buffer size unless stopped or error)
  ParseError error = ParseError::kNone;
  bool stopped = false;      // a handler returned false
  std::string detail;        // human-readable context for the log on error
};

struct ParserLimits {
  int64_t max_control_line = 4096;  // bytes of a control line (reference default 4 KiB)
  int64_t max_payload = 1 << 20;    // bytes of a payload, headers included (default 1 MiB); <0: no limit
};

class Parser {
 public:
  Parser(Role role, ParserLimits limits = {}) noexcept;
  ~Parser();

  // Parse as much of `buf` as possible, calling `handler` per complete operation.
  // After an error the parser is unusable (the connection is to be closed).
  ParseResult parse(std::string_view buf, ParserHandler& handler);

  void set_limits(ParserLimits limits) noexcept { limits_ = limits; }
  const ParserLimits& limits() const noexcept { return limits_; }
  Role role() const noexcept { return role_; }
  // True between operations (nothing partial is buffered).
  bool idle() const noexcept;

 private:
  struct Impl;
  Role role_;
  ParserLimits limits_;
  // State machine state; see parser.cc. Kept opaque so the layout can change freely.
  int state_ = 0;
  std::string arg_buf_;       // a control line split across feeds
  std::string payload_buf_;   // a payload split across feeds
  MsgArgs pending_;           // arguments of the message whose payload is being read
  int64_t payload_need_ = 0;
  size_t arg_start_ = 0;
  bool drop_ = false;
  uint8_t op_ = 0;
};

}  // namespace pylon::proto
