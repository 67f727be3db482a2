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
  kServerOfClient,  // a server reading a client: CONNECT PUB HPUB SUB UNSUB PING PONG (+OK -ERR INFO tolerated)
  kServerOfRoute,   // a server reading a route: CONNECT INFO PING PONG RS+ RS- RMSG HMSG(routed) LS+ LS- LMSG +OK -ERR
  kServerOfLeaf,    // a server reading a leaf connection: CONNECT INFO PING PONG LS+ LS- LMSG HMSG(leaf) +OK -ERR
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
  // "RMSG acc subj | q1 q2 size". `queues` is the whitespace-separated list (empty if
  // none); walk it with next_queue().
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
  // max_msgs < 0: no limit given (plain unsubscribe). Like the reference, a max that is
  // not a number is not an error: it arrives as -1. The reference unsubscribes at once
  // unless max_msgs > 0 (and more than already delivered).
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
  // LS+/LS-/LMSG (leaf-origin variants): args as RS+/RS-/RMSG plus the origin cluster
  // first. LMSG always carries headers (header_len >= 0). The reference sends LS- WITHOUT
  // an origin ("LS- acc subj [queue]"), so on_ls_unsub gets an empty origin.
  // On a leaf connection (Role::kServerOfLeaf) the same callbacks carry neither origin nor
  // account (the connection is bound to one): "LS+ subj [queue weight]", "LS- subj [queue]",
  // "LMSG subj [reply-part] size" (header_len -1) and "HMSG subj [reply-part] hdr size".
  virtual bool on_ls_sub(std::string_view origin, std::string_view account, std::string_view subject,
                         std::string_view queue, int32_t weight) { return true; }
  virtual bool on_ls_unsub(std::string_view origin, std::string_view account, std::string_view subject,
                           std::string_view queue) { return true; }
  virtual bool on_lmsg(std::string_view origin, const MsgArgs& args, std::string_view payload) { return true; }
};

// Why parsing failed. After any error the connection is to be closed; what the
// reference server (2.9.10, checked on the wire) sends first differs per error, see
// error_text() and sends_err().
enum class ParseError {
  kNone,
  kUnknownOp,        // -ERR 'Unknown Protocol Operation': unknown/illegal op name, op name not
                     // followed by a space, payload not followed by "\r\n"
  kMaxControlLine,   // -ERR 'maximum control line exceeded' (sic, lower case on the wire)
  kMaxPayload,       // -ERR 'Maximum Payload Violation'
  kBadArgs,          // malformed arguments of a known op: the reference closes WITHOUT any -ERR
                     // (it only logs e.g. "processPub Parse Error: ..."); see detail
};

// The -ERR text the reference server sends for a parse error (without quotes);
// empty for kNone and kBadArgs (nothing is sent, the connection is just closed).
std::string_view error_text(ParseError e) noexcept;

// True when the reference answers the error with "-ERR '<error_text>'" before closing.
bool sends_err(ParseError e) noexcept;

struct ParseResult {
  size_t consumed = 0;       // bytes of the buffer used (== buffer size unless stopped or error)
  ParseError error = ParseError::kNone;
  bool stopped = false;      // a handler returned false
  std::string detail;        // human-readable context for the log on error
  // kUnknownOp only: "state=N, i=N: proto='\"...\"'...", the context the reference's
  // parseError logs (N being the state of its parser.go and the byte's index in the buffer).
  std::string reference_detail;
  int reference_state = -1;  // kUnknownOp only: that N
};

// A parse error's log text (after the connection's prefix) as the reference logs it: bad
// arguments, an oversize control line or payload in their own words ("processPub Bad or
// Missing Size: \"a b c\""), an unknown operation as "<kind> parser ERROR, state=N, i=N:
// proto='...'...", `kind` being the reference's name for the connection ("Client", "Router",
// "Leafnode").
std::string error_log_text(const ParseResult& r, std::string_view kind);

// An unknown operation that began as CONNECT does ("Cx", "CONNEX"): the only kind the
// reference's parser lets a client that must authenticate send first; any other is an
// authorization violation there, whatever follows.
bool unknown_op_began_as_connect(const ParseResult& r) noexcept;

struct ParserLimits {
  // Bytes of a control line's arguments (after the op name and its spaces, without "\r\n").
  // Like the reference, enforced only for Role::kServerOfClient; <0: no limit.
  int64_t max_control_line = 4096;
  // Bytes of a PUB/HPUB payload, headers included; <0: no limit. Checked when the control
  // line ends, before any payload byte is read. Enforced only for Role::kServerOfClient.
  int64_t max_payload = 1 << 20;
};

class Parser {
 public:
  Parser(Role role, ParserLimits limits = {}) noexcept;
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Parse as much of `buf` as possible, calling `handler` per complete operation.
  // After an error the parser is unusable (the connection is to be closed); further
  // calls return the same error and consume nothing. After a stop (handler returned
  // false) the parser sits between operations and may be fed the rest of the buffer.
  ParseResult parse(std::string_view buf, ParserHandler& handler);

  void set_limits(ParserLimits limits) noexcept { limits_ = limits; }
  const ParserLimits& limits() const noexcept { return limits_; }
  Role role() const noexcept { return role_; }
  // True between operations (nothing partial is buffered).
  bool idle() const noexcept;

 private:
  enum class State : uint8_t;  // the named states, defined in parser.cc
  enum class Op : uint8_t;     // the operation being parsed, defined in parser.cc

  ParseResult fail(ParseResult& r, size_t at, ParseError e, std::string detail);
  // The reference's parser state (parser.go) for ours, for its "parser ERROR, state=N" line.
  static int reference_state(State s, Op op) noexcept;
  // Recognises a whole "PUB "/"MSG "/"HPUB "/"HMSG "/"RMSG " at p (5 bytes readable) and
  // moves past it; false leaves everything to the per-letter states.
  bool fast_op_name(const char* p, size_t& i) noexcept;
  // Hot path of a server reading a client: a common PUB ("PUB subject [reply] size", its
  // payload and CRLF) lying whole in the buffer from p + i goes to the handler at once, past
  // the per-op states, and i moves past it; go_on is the handler's answer. Anything else (a
  // split, an odd shape, a limit passed, an error) returns false with nothing touched, and
  // the states take it from i as before: so the callbacks, errors and bytes consumed are
  // the same either way.
  bool fast_pub(const char* p, size_t n, size_t& i, ParserHandler& h, bool& go_on);
  // A complete control line (no "\r\n") of op_: calls the handler, or sets up
  // pending_ and moves to the payload. Returns false on error (r filled) or stop.
  bool on_line(std::string_view line, ParseResult& r, size_t at, ParserHandler& h);
  bool parse_msg_args(std::string_view line, ParseResult& r, size_t at);
  [[gnu::cold, gnu::noinline]] bool bad_args(ParseResult& r, size_t at, const char* op_name, const char* problem,
                                             std::string_view line);
  // A bad operation's arguments for its error text, quoted as the reference quotes them.
  [[gnu::cold]] std::string quoted_args(std::string_view args) const;
  // Hands the message in pending_ with its payload to the handler.
  bool deliver(std::string_view payload, ParserHandler& h);
  // The payload goes on in the next feed: copy the control line (line_) into arg_buf_,
  // unless it is there already, and re-point pending_ and origin_ at the copy.
  void keep_line();
  void reset_op() noexcept;

  Role role_;
  ParserLimits limits_;
  State state_;
  Op op_;
  bool arg_split_ = false;       // arg_buf_ holds the start of the current control line
  bool line_kept_ = false;       // pending_ points into arg_buf_ (not the read buffer)
  bool payload_split_ = false;   // the payload is being gathered in payload_buf_
  ParseError error_ = ParseError::kNone;
  std::string arg_buf_;          // a control line split across feeds
  std::string payload_buf_;      // a payload split across feeds
  MsgArgs pending_;              // arguments of the message whose payload is being read
  std::string_view origin_;      // LMSG origin cluster (points where pending_ does)
  std::string_view line_;        // the control line of the message in pending_
};

// Walks the whitespace-separated queue group names of MsgArgs::queues without
// allocating: `while (next_queue(rest, q)) ...`.
inline bool next_queue(std::string_view& rest, std::string_view& out) noexcept {
  size_t b = 0;
  while (b < rest.size() && (rest[b] == ' ' || rest[b] == '\t')) ++b;
  if (b == rest.size()) {
    rest = {};
    return false;
  }
  size_t e = b;
  while (e < rest.size() && rest[e] != ' ' && rest[e] != '\t') ++e;
  out = rest.substr(b, e - b);
  rest.remove_prefix(e);
  return true;
}

}  // namespace pylon::proto
