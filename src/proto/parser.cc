// The wire-protocol state machine. Facts taken from the reference server (parser.go,
// client.go, route.go of nats-server 2.9) and checked against a running 2.9.10:
//
// - Op names are case-insensitive letter by letter ("pUb" is PUB).
// - PING, PONG and +OK ignore whatever follows the name up to '\n' ("PINGXYZ" is a PING).
// - CONNECT and INFO need no space before their argument; every other op with
//   arguments needs at least one space or tab after its name, else the op is unknown.
// - A control line ends at '\n'; one '\r' right before it is dropped (so a bare "\n"
//   ends a line too). A payload, however, must be followed by exactly "\r\n".
// - Arguments are separated by any run of spaces/tabs; leading/trailing ones are ignored.
// - Sizes are 1..9 decimal digits (the reference's parseSize), anything else is malformed.
// - The control-line limit counts the arguments only (from the first non-space after the
//   op name up to, not including, "\r\n"), and applies to clients only, like the reference.
//   Where the reference checks a split line only approximately, we check it exactly, so
//   the outcome never depends on how the stream was split.
#include "proto/parser.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <cstdint>

#include "proto/go_quote.h"

namespace pylon::proto {

enum class Parser::State : uint8_t {
  kOpStart,
  // Op names, one state per letter read. Branch points: P (PUB/PING/PONG), H (HPUB/HMSG),
  // R and L (RS+/RS-/RMSG and LS+/LS-/LMSG).
  kOpPlus, kOpPlusO,                          // +OK
  kOpMinus, kOpMinusE, kOpMinusEr,            // -ERR
  kOpC, kOpCo, kOpCon, kOpConn, kOpConne, kOpConnec,  // CONNECT
  kOpI, kOpIn, kOpInf,                        // INFO
  kOpP, kOpPu, kOpPi, kOpPin, kOpPo, kOpPon,  // PUB PING PONG
  kOpH, kOpHp, kOpHpu, kOpHm, kOpHms,         // HPUB HMSG
  kOpS, kOpSu,                                // SUB
  kOpU, kOpUn, kOpUns, kOpUnsu,               // UNSUB
  kOpR, kOpRs, kOpL, kOpLs,                   // RS+ RS- RMSG, LS+ LS- LMSG
  kOpM, kOpMs,                                // MSG (also the tail of RMSG/LMSG)
  kOpName,     // a name that takes arguments is complete: expect a space or tab
  kArgSpace,   // spaces and tabs before the first argument
  kArg,        // the arguments, up to '\n'
  kSkipLine,   // PING/PONG/+OK: ignore everything up to '\n'
  kPayload,    // the announced number of payload bytes
  kMsgEndR,    // the '\r' after a payload
  kMsgEndN,    // the '\n' after a payload
  kFailed,
};

enum class Parser::Op : uint8_t {
  kNone, kConnect, kInfo, kPing, kPong, kOk, kErr,
  kPub, kHpub, kSub, kUnsub, kMsg, kHmsg,
  kRsSub, kRsUnsub, kLsSub, kLsUnsub, kRmsg, kLmsg,
};

namespace {
// The reference's parserState numbers (parser.go of nats-server 2.9, OP_START = 0 and on in
// the order it declares them) that reference_state() names.
enum RefState : int {
  kRefStart = 0, kRefPlus = 1, kRefPlusO = 2, kRefPlusOk = 3, kRefMinus = 4, kRefMinusE = 5, kRefMinusEr = 6, kRefMinusErr = 7,
  kRefC = 10, kRefConnect = 16, kRefConnectArg = 17, kRefH = 18, kRefHp = 19, kRefHpu = 20, kRefHpub = 21,
  kRefHpubArg = 23, kRefHm = 24, kRefHms = 25, kRefHmsg = 26, kRefHmsgArg = 28, kRefP = 29, kRefPu = 30,
  kRefPub = 31, kRefPubArg = 33, kRefPi = 34, kRefPin = 35, kRefPing = 36, kRefPo = 37, kRefPon = 38,
  kRefPong = 39, kRefMsgPayload = 40, kRefMsgEndR = 41, kRefMsgEndN = 42, kRefS = 43, kRefSu = 44,
  kRefSub = 45, kRefSubArg = 47, kRefL = 55, kRefLs = 56, kRefR = 57, kRefRs = 58, kRefU = 59,
  kRefUnsub = 63, kRefUnsubArg = 65, kRefM = 66, kRefMs = 67, kRefMsg = 68, kRefMsgArg = 70, kRefI = 71,
  kRefInfo = 74, kRefInfoArg = 75, kRefMinusErrArg = 9,
};
}  // namespace

// Our states follow the reference's per-letter states one for one. After a whole name it has
// a state per operation (OP_PUB, OP_SUB, ...) where we have one for all (kOpName), so the
// operation says which; RS+/LS+ and RS-/LS- pass through its OP_SUB and OP_UNSUB, RMSG and
// LMSG through OP_MSG.
int Parser::reference_state(State s, Op op) noexcept {
  // The state after a whole name (0), in the blanks after it (1), or in its arguments (2).
  // Where the reference has no state of blanks (CONNECT, INFO) it stays on the name's.
  auto named = [op](int phase) -> int {
    auto pick = [phase](int name, int blanks, int args) { return phase == 0 ? name : phase == 1 ? blanks : args; };
    switch (op) {
      case Op::kPub: return pick(kRefPub, kRefPub + 1, kRefPubArg);
      case Op::kHpub: return pick(kRefHpub, kRefHpub + 1, kRefHpubArg);
      case Op::kSub: case Op::kRsSub: case Op::kLsSub: return pick(kRefSub, kRefSub + 1, kRefSubArg);
      case Op::kUnsub: case Op::kRsUnsub: case Op::kLsUnsub: return pick(kRefUnsub, kRefUnsub + 1, kRefUnsubArg);
      case Op::kMsg: case Op::kRmsg: case Op::kLmsg: return pick(kRefMsg, kRefMsg + 1, kRefMsgArg);
      case Op::kHmsg: return pick(kRefHmsg, kRefHmsg + 1, kRefHmsgArg);
      case Op::kErr: return pick(kRefMinusErr, kRefMinusErr + 1, kRefMinusErrArg);
      case Op::kConnect: return pick(kRefConnect, kRefConnect, kRefConnectArg);
      case Op::kInfo: return pick(kRefInfo, kRefInfo, kRefInfoArg);
      case Op::kPing: return kRefPing;
      case Op::kPong: return kRefPong;
      case Op::kOk: return kRefPlusOk;
      case Op::kNone: break;
    }
    return kRefStart;
  };
  switch (s) {
    case State::kOpStart: return kRefStart;
    case State::kOpPlus: return kRefPlus;
    case State::kOpPlusO: return kRefPlusO;
    case State::kOpMinus: return kRefMinus;
    case State::kOpMinusE: return kRefMinusE;
    case State::kOpMinusEr: return kRefMinusEr;
    case State::kOpC: case State::kOpCo: case State::kOpCon: case State::kOpConn: case State::kOpConne:
    case State::kOpConnec:
      return kRefC + (static_cast<int>(s) - static_cast<int>(State::kOpC));
    case State::kOpI: case State::kOpIn: case State::kOpInf:
      return kRefI + (static_cast<int>(s) - static_cast<int>(State::kOpI));
    case State::kOpP: return kRefP;
    case State::kOpPu: return kRefPu;
    case State::kOpPi: return kRefPi;
    case State::kOpPin: return kRefPin;
    case State::kOpPo: return kRefPo;
    case State::kOpPon: return kRefPon;
    case State::kOpH: return kRefH;
    case State::kOpHp: return kRefHp;
    case State::kOpHpu: return kRefHpu;
    case State::kOpHm: return kRefHm;
    case State::kOpHms: return kRefHms;
    case State::kOpS: return kRefS;
    case State::kOpSu: return kRefSu;
    case State::kOpU: case State::kOpUn: case State::kOpUns: case State::kOpUnsu:
      return kRefU + (static_cast<int>(s) - static_cast<int>(State::kOpU));
    case State::kOpR: return kRefR;
    case State::kOpRs: return kRefRs;
    case State::kOpL: return kRefL;
    case State::kOpLs: return kRefLs;
    case State::kOpM: return kRefM;
    case State::kOpMs: return kRefMs;
    case State::kOpName: return named(0);
    case State::kArgSpace: return named(1);
    case State::kArg: return named(2);
    case State::kSkipLine: return named(0);
    case State::kPayload: return kRefMsgPayload;
    case State::kMsgEndR: return kRefMsgEndR;
    case State::kMsgEndN: return kRefMsgEndN;
    case State::kFailed: break;
  }
  return kRefStart;
}

namespace {

// Compares a byte with a lower-case letter, ignoring case. Setting bit 5 maps 'A'..'Z'
// onto 'a'..'z' and never maps a non-letter onto a letter, so this is exact.
inline bool is(char b, char lower_letter) noexcept { return static_cast<char>(b | 0x20) == lower_letter; }

inline bool is_blank(char b) noexcept { return b == ' ' || b == '\t'; }

// The reference's parseSize: 1 to 9 decimal digits, else -1.
int64_t parse_size(std::string_view d) noexcept {
  if (d.empty() || d.size() > 9) return -1;
  int64_t n = 0;
  for (char c : d) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// The words of a control line (separated by runs of space, tab or a stray '\r'), without
// allocating: the first kHead words and the last kTail ones are kept, which is all any op
// needs; the words between are only counted (routed queue-group lists can be long).
class Words {
 public:
  static constexpr size_t kHead = 6;
  static constexpr size_t kTail = 3;

  explicit Words(std::string_view line) noexcept {
    const char* p = line.data();
    const char* const end = p + line.size();
    while (true) {
      while (p != end && is_sep(*p)) ++p;
      if (p == end) break;
      const char* b = p;
      while (p != end && !is_sep(*p)) ++p;
      const std::string_view w(b, static_cast<size_t>(p - b));
      if (count_ < kHead) head_[count_] = w;
      tail_[count_ % kTail] = w;
      ++count_;
    }
  }
  size_t size() const noexcept { return count_; }
  // Word i; valid for i < kHead or i >= size() - kTail.
  std::string_view operator[](size_t i) const noexcept { return i < kHead ? head_[i] : tail_[i % kTail]; }
  // The text from the start of word `first` to the end of word `last` (inclusive), e.g. a
  // queue-group list; empty when first > last.
  std::string_view span(size_t first, size_t last) const noexcept {
    if (first > last) return {};
    std::string_view a = (*this)[first], b = (*this)[last];
    return {a.data(), static_cast<size_t>(b.data() + b.size() - a.data())};
  }

 private:
  // One table lookup per byte instead of three compares: this loop is most of the cost
  // of parsing a small PUB.
  static constexpr std::array<bool, 256> kSep = [] {
    std::array<bool, 256> t{};
    t[' '] = t['\t'] = t['\r'] = true;
    return t;
  }();
  static bool is_sep(char c) noexcept { return kSep[static_cast<unsigned char>(c)]; }
  std::array<std::string_view, kHead> head_{};
  std::array<std::string_view, kTail> tail_{};
  size_t count_ = 0;
};

// A printable excerpt of protocol bytes for the log.
std::string snippet(std::string_view s, size_t max = 64) {
  std::string out = "'";
  const size_t n = std::min(s.size(), max);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += s.size() > max ? "'..." : "'";
  return out;
}

}  // namespace

std::string_view error_text(ParseError e) noexcept {
  switch (e) {
    case ParseError::kUnknownOp: return "Unknown Protocol Operation";
    case ParseError::kMaxControlLine: return "maximum control line exceeded";
    case ParseError::kMaxPayload: return "Maximum Payload Violation";
    case ParseError::kBadArgs:
    case ParseError::kNone: break;
  }
  return {};
}

std::string error_log_text(const ParseResult& r, std::string_view kind) {
  if (r.error == ParseError::kUnknownOp) {
    return std::string(kind) + " parser ERROR, " + (r.reference_detail.empty() ? r.detail : r.reference_detail);
  }
  return r.detail;
}

namespace {

// The reference's protoSnippet: Go's %q of up to 32 bytes from `at`, where a buffer that ends
// sooner loses its last byte (its stop is len(buf)-1), and `""` when nothing is left.
std::string reference_snippet(std::string_view buf, size_t at) {
  constexpr size_t kMax = 32;  // PROTO_SNIPPET_SIZE
  if (at >= buf.size()) return "\"\"";
  size_t stop = at + kMax;
  if (stop > buf.size()) stop = buf.size() - 1;
  std::string out;
  append_go_quoted(out, buf.substr(at, stop - at));
  return out;
}

}  // namespace

bool unknown_op_began_as_connect(const ParseResult& r) noexcept {
  return r.error == ParseError::kUnknownOp && r.reference_state >= kRefC && r.reference_state <= kRefConnectArg;
}

bool sends_err(ParseError e) noexcept {
  return e == ParseError::kUnknownOp || e == ParseError::kMaxControlLine || e == ParseError::kMaxPayload;
}

Parser::Parser(Role role, ParserLimits limits) noexcept
    : role_(role), limits_(limits), state_(State::kOpStart), op_(Op::kNone) {}

Parser::~Parser() = default;

bool Parser::idle() const noexcept { return state_ == State::kOpStart; }

void Parser::reset_op() noexcept {
  state_ = State::kOpStart;
  op_ = Op::kNone;
  // pending_ is rewritten by the next message op; only the buffers need care, and only
  // when this op used them (the hot path of whole ops never does).
  if (arg_split_ || line_kept_ || payload_split_) {
    arg_split_ = false;
    line_kept_ = false;
    payload_split_ = false;
    pending_ = MsgArgs{};
    origin_ = {};
    line_ = {};
    // Keep the buffers' memory for the next split op, but do not hold on to the memory
    // of one huge INFO or payload forever.
    constexpr size_t kKeep = 64 * 1024;
    if (arg_buf_.capacity() > kKeep) std::string().swap(arg_buf_); else arg_buf_.clear();
    if (payload_buf_.capacity() > kKeep) std::string().swap(payload_buf_); else payload_buf_.clear();
  }
}

ParseResult Parser::fail(ParseResult& r, size_t at, ParseError e, std::string detail) {
  state_ = State::kFailed;
  error_ = e;
  r.consumed = at;
  r.error = e;
  r.detail = std::move(detail);
  return r;
}

namespace {

// Which operations each side of the protocol may send.
template <typename Op>
bool allowed(Role role, Op op) noexcept {
  switch (op) {
    case Op::kPing: case Op::kPong: case Op::kOk: case Op::kErr: case Op::kInfo:
      return true;
    case Op::kConnect:
      return role != Role::kClient;
    case Op::kPub: case Op::kHpub: case Op::kSub: case Op::kUnsub:
      return role == Role::kServerOfClient;
    case Op::kMsg:
      return role == Role::kClient;
    case Op::kHmsg:
      return role == Role::kClient || role == Role::kServerOfRoute || role == Role::kServerOfLeaf;
    case Op::kRsSub: case Op::kRsUnsub: case Op::kRmsg:
      return role == Role::kServerOfRoute;
    case Op::kLsSub: case Op::kLsUnsub: case Op::kLmsg:
      return role == Role::kServerOfRoute || role == Role::kServerOfLeaf;
    case Op::kNone:
      break;
  }
  return false;
}

// Four bytes as a little-endian word, for comparing op names in one go.
inline uint32_t word4(const char* p) noexcept {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}
constexpr uint32_t pack4(char a, char b, char c, char d) noexcept {
  return static_cast<uint32_t>(static_cast<unsigned char>(a)) | static_cast<uint32_t>(static_cast<unsigned char>(b)) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(c)) << 16 | static_cast<uint32_t>(static_cast<unsigned char>(d)) << 24;
}

// Whether some op of the role starts with this (lower-case) letter.
bool first_letter_allowed(Role role, char c) noexcept {
  switch (role) {
    case Role::kServerOfClient: return c != 'm' && c != 'r' && c != 'l';
    case Role::kServerOfRoute: return c != 's' && c != 'u' && c != 'm';
    case Role::kServerOfLeaf: return c != 's' && c != 'u' && c != 'm' && c != 'r';
    case Role::kClient: return c != 'c' && c != 's' && c != 'u' && c != 'r' && c != 'l';
  }
  return false;
}

}  // namespace

bool Parser::fast_op_name(const char* p, size_t& i) noexcept {
  if constexpr (std::endian::native != std::endian::little) return false;
  const uint32_t w = word4(p);
  Op op = Op::kNone;
  size_t len = 0;
  // Three-letter names with their space: lower-case the letters only, so that a NUL
  // does not pass for the space.
  switch (w | 0x00202020u) {
    case pack4('p', 'u', 'b', ' '): op = Op::kPub; len = 4; break;
    case pack4('m', 's', 'g', ' '): op = Op::kMsg; len = 4; break;
    default:
      if (p[4] != ' ') return false;
      switch (w | 0x20202020u) {
        case pack4('h', 'p', 'u', 'b'): op = Op::kHpub; len = 5; break;
        case pack4('h', 'm', 's', 'g'): op = Op::kHmsg; len = 5; break;
        case pack4('r', 'm', 's', 'g'): op = Op::kRmsg; len = 5; break;
        default: return false;
      }
  }
  if (!allowed(role_, op)) return false;  // the slow path reports it
  op_ = op;
  state_ = State::kArgSpace;
  i += len;
  return true;
}

ParseResult Parser::parse(std::string_view buf, ParserHandler& h) {
  ParseResult r;
  if (state_ == State::kFailed) {
    r.error = error_;
    r.detail = "parser already failed";
    return r;
  }
  const char* const p = buf.data();
  const size_t n = buf.size();
  size_t i = 0;

  // `ref_state`: the reference's state at this byte, when ours does not say it.
  auto unknown = [&](size_t at, int ref_state = -1) {
    if (ref_state < 0) ref_state = reference_state(state_, op_);
    r.reference_state = ref_state;
    r.reference_detail = "state=" + std::to_string(ref_state) + ", i=" + std::to_string(at) + ": proto='" +
                         reference_snippet(buf, at) + "...'";
    return fail(r, at, ParseError::kUnknownOp,
                "unknown protocol operation at byte " + std::to_string(at) + ": " + snippet(buf.substr(at), 32));
  };
  // Moves from one letter of an op name to the next, or fails.
  auto step = [&](char letter, State next) {
    if (!is(p[i], letter)) return false;
    state_ = next;
    ++i;
    return true;
  };
  // The op name in op_ is complete (its last byte at i): check the role and move on.
  auto name_done = [&]() {
    if (!allowed(role_, op_)) return false;
    switch (op_) {
      case Op::kPing: case Op::kPong: case Op::kOk: state_ = State::kSkipLine; break;
      case Op::kConnect: case Op::kInfo: state_ = State::kArgSpace; break;
      default: state_ = State::kOpName; break;
    }
    ++i;
    return true;
  };
  auto over_control_line = [&](size_t len) {
    return role_ == Role::kServerOfClient && limits_.max_control_line >= 0 &&
           static_cast<int64_t>(len) > limits_.max_control_line;
  };
  auto control_line_error = [&](size_t at, size_t len, std::string_view line) {
    return fail(r, at, ParseError::kMaxControlLine,
                "maximum control line exceeded: max_control_line " + std::to_string(limits_.max_control_line) +
                    ", line length " + std::to_string(len) + " (snip: " + snippet(line, 128) + ")");
  };
  // The handler's answer for a complete op that ended just before i.
  auto finished = [&](bool go_on) {
    if (go_on) return true;
    r.stopped = true;
    r.consumed = i;
    return false;
  };

  while (i < n) {
    const char b = p[i];
    switch (state_) {
      case State::kOpStart:
        // Hot path: a message op whose name and first space are whole in buf skips the
        // per-letter states. Anything else (a split name, a tab, an error) takes them.
        if (n - i >= 5) {
          bool go_on;
          if (fast_pub(p, n, i, h, go_on)) {
            if (!finished(go_on)) return r;
            break;
          }
          if (fast_op_name(p + i, i)) break;
        }
        switch (b) {
          case '+': op_ = Op::kOk; state_ = State::kOpPlus; ++i; continue;
          case '-': op_ = Op::kErr; state_ = State::kOpMinus; ++i; continue;
          default: break;
        }
        switch (b | 0x20) {  // letters only, see is()
          case 'p': state_ = State::kOpP; break;
          case 'h': state_ = State::kOpH; break;
          case 's': op_ = Op::kSub; state_ = State::kOpS; break;
          case 'u': op_ = Op::kUnsub; state_ = State::kOpU; break;
          case 'c': op_ = Op::kConnect; state_ = State::kOpC; break;
          case 'i': op_ = Op::kInfo; state_ = State::kOpI; break;
          case 'm': op_ = Op::kMsg; state_ = State::kOpM; break;
          case 'r': state_ = State::kOpR; break;
          case 'l': state_ = State::kOpL; break;
          default: return unknown(i);
        }
        // Like the reference, refuse at once a letter no op of this role starts with.
        if (!first_letter_allowed(role_, static_cast<char>(b | 0x20))) {
          state_ = State::kOpStart;
          return unknown(i);
        }
        ++i;
        break;

      // +OK
      case State::kOpPlus: if (!step('o', State::kOpPlusO)) return unknown(i); break;
      case State::kOpPlusO: if (!is(b, 'k') || !name_done()) return unknown(i); break;

      // -ERR
      case State::kOpMinus: if (!step('e', State::kOpMinusE)) return unknown(i); break;
      case State::kOpMinusE: if (!step('r', State::kOpMinusEr)) return unknown(i); break;
      case State::kOpMinusEr: if (!is(b, 'r') || !name_done()) return unknown(i); break;

      // CONNECT
      case State::kOpC: if (!step('o', State::kOpCo)) return unknown(i); break;
      case State::kOpCo: if (!step('n', State::kOpCon)) return unknown(i); break;
      case State::kOpCon: if (!step('n', State::kOpConn)) return unknown(i); break;
      case State::kOpConn: if (!step('e', State::kOpConne)) return unknown(i); break;
      case State::kOpConne: if (!step('c', State::kOpConnec)) return unknown(i); break;
      case State::kOpConnec: if (!is(b, 't') || !name_done()) return unknown(i); break;

      // INFO
      case State::kOpI: if (!step('n', State::kOpIn)) return unknown(i); break;
      case State::kOpIn: if (!step('f', State::kOpInf)) return unknown(i); break;
      case State::kOpInf: if (!is(b, 'o') || !name_done()) return unknown(i); break;

      // PUB PING PONG
      case State::kOpP:
        switch (b | 0x20) {
          case 'u': op_ = Op::kPub; state_ = State::kOpPu; break;
          case 'i': op_ = Op::kPing; state_ = State::kOpPi; break;
          case 'o': op_ = Op::kPong; state_ = State::kOpPo; break;
          default: return unknown(i);
        }
        ++i;
        break;
      case State::kOpPu: if (!is(b, 'b') || !name_done()) return unknown(i); break;
      case State::kOpPi: if (!step('n', State::kOpPin)) return unknown(i); break;
      case State::kOpPin: if (!is(b, 'g') || !name_done()) return unknown(i); break;
      case State::kOpPo: if (!step('n', State::kOpPon)) return unknown(i); break;
      case State::kOpPon: if (!is(b, 'g') || !name_done()) return unknown(i); break;

      // HPUB HMSG
      case State::kOpH:
        switch (b | 0x20) {
          case 'p': op_ = Op::kHpub; state_ = State::kOpHp; break;
          case 'm': op_ = Op::kHmsg; state_ = State::kOpHm; break;
          default: return unknown(i);
        }
        ++i;
        break;
      case State::kOpHp: if (!step('u', State::kOpHpu)) return unknown(i); break;
      case State::kOpHpu: if (!is(b, 'b') || !name_done()) return unknown(i); break;
      case State::kOpHm: if (!step('s', State::kOpHms)) return unknown(i); break;
      case State::kOpHms: if (!is(b, 'g') || !name_done()) return unknown(i); break;

      // SUB
      case State::kOpS: if (!step('u', State::kOpSu)) return unknown(i); break;
      case State::kOpSu: if (!is(b, 'b') || !name_done()) return unknown(i); break;

      // UNSUB
      case State::kOpU: if (!step('n', State::kOpUn)) return unknown(i); break;
      case State::kOpUn: if (!step('s', State::kOpUns)) return unknown(i); break;
      case State::kOpUns: if (!step('u', State::kOpUnsu)) return unknown(i); break;
      case State::kOpUnsu: if (!is(b, 'b') || !name_done()) return unknown(i); break;

      // RS+ RS- RMSG / LS+ LS- LMSG
      case State::kOpR:
      case State::kOpL: {
        const bool leaf = state_ == State::kOpL;
        switch (b | 0x20) {
          case 's': state_ = leaf ? State::kOpLs : State::kOpRs; break;
          case 'm': op_ = leaf ? Op::kLmsg : Op::kRmsg; state_ = State::kOpM; break;
          default: return unknown(i);
        }
        ++i;
        break;
      }
      case State::kOpRs:
      case State::kOpLs: {
        const bool leaf = state_ == State::kOpLs;
        if (b == '+') {
          op_ = leaf ? Op::kLsSub : Op::kRsSub;
        } else if (b == '-') {
          op_ = leaf ? Op::kLsUnsub : Op::kRsUnsub;
        } else {
          return unknown(i);
        }
        if (!name_done()) return unknown(i);
        break;
      }

      // MSG, and the MSG of RMSG/LMSG (op_ already says which)
      case State::kOpM: if (!step('s', State::kOpMs)) return unknown(i); break;
      case State::kOpMs: if (!is(b, 'g') || !name_done()) return unknown(i); break;

      case State::kOpName:
        if (!is_blank(b)) return unknown(i);
        state_ = State::kArgSpace;
        ++i;
        break;

      case State::kArgSpace:
        if (is_blank(b)) {
          ++i;
        } else {
          state_ = State::kArg;  // this byte starts the arguments
          arg_split_ = false;
        }
        break;

      case State::kArg: {
        // Hot path: find the line end at once instead of a state step per byte.
        const void* nl = std::memchr(p + i, '\n', n - i);
        if (nl == nullptr) {
          // The line goes on in the next feed: keep what we have.
          size_t have = (arg_split_ ? arg_buf_.size() : 0) + (n - i);
          if (p[n - 1] == '\r') --have;  // may be the line's own "\r\n"
          if (over_control_line(have)) {
            return control_line_error(n, have, arg_split_ ? std::string_view(arg_buf_) : buf.substr(i));
          }
          if (arg_split_) {
            arg_buf_.append(p + i, n - i);
          } else {
            arg_buf_.assign(p + i, n - i);
            arg_split_ = true;
          }
          i = n;
          break;
        }
        const size_t end = static_cast<const char*>(nl) - p;
        std::string_view line;
        if (arg_split_) {
          arg_buf_.append(p + i, end - i);
          line = arg_buf_;
        } else {
          line = std::string_view(p + i, end - i);  // zero copy: the line is whole in buf
        }
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        i = end + 1;
        if (over_control_line(line.size())) return control_line_error(i, line.size(), line);
        if (!on_line(line, r, i, h)) return r;
        break;
      }

      case State::kSkipLine: {
        const void* nl = std::memchr(p + i, '\n', n - i);
        if (nl == nullptr) {
          i = n;
          break;
        }
        i = static_cast<const char*>(nl) - p + 1;
        const Op op = op_;
        reset_op();
        bool go_on = op == Op::kPing ? h.on_ping() : op == Op::kPong ? h.on_pong() : h.on_ok();
        if (!finished(go_on)) return r;
        break;
      }

      case State::kPayload: {
        const size_t total = static_cast<size_t>(pending_.total_len);
        if (!payload_split_) {
          if (n - i >= total + 2) {
            // Hot path: the payload and its CRLF are whole in buf; jump over them.
            if (p[i + total] != '\r') return unknown(i + total, kRefMsgEndR);
            if (p[i + total + 1] != '\n') return unknown(i + total + 1, kRefMsgEndN);
            std::string_view payload(p + i, total);
            i += total + 2;
            if (!finished(deliver(payload, h))) return r;
            break;
          }
          // The payload goes on in the next feed: from here on the arguments must not
          // point into buf, and the payload is gathered in payload_buf_.
          keep_line();
          const bool limited = role_ == Role::kServerOfClient && limits_.max_payload >= 0;
          constexpr size_t kMaxReserve = 8u << 20;
          payload_buf_.clear();
          payload_buf_.reserve(limited ? total : std::min(total, kMaxReserve));
          payload_split_ = true;
        }
        const size_t take = std::min(total - payload_buf_.size(), n - i);
        payload_buf_.append(p + i, take);
        i += take;
        if (payload_buf_.size() == total) state_ = State::kMsgEndR;
        break;
      }

      case State::kMsgEndR:
        if (b != '\r') return unknown(i);
        state_ = State::kMsgEndN;
        ++i;
        break;

      case State::kMsgEndN:
        if (b != '\n') return unknown(i);
        ++i;
        if (!finished(deliver(payload_buf_, h))) return r;
        break;

      case State::kFailed:
        return fail(r, i, error_, "parser already failed");
    }
  }

  // The control line of a message ended exactly at the end of buf: its payload is still
  // to come, and the arguments must not keep pointing into buf, which the caller reuses.
  if (state_ == State::kPayload && !payload_split_) {
    keep_line();
    payload_buf_.clear();
    payload_split_ = true;
  }
  r.consumed = n;
  return r;
}

void Parser::keep_line() {
  if (line_kept_) return;
  arg_buf_.assign(line_.data(), line_.size());
  auto rebase = [&](std::string_view& v) {
    if (v.empty()) {
      v = {};
      return;
    }
    const size_t off = static_cast<size_t>(v.data() - line_.data());
    v = std::string_view(arg_buf_.data() + off, v.size());
  };
  rebase(pending_.account);
  rebase(pending_.subject);
  rebase(pending_.reply);
  rebase(pending_.sid);
  rebase(pending_.queues);
  rebase(origin_);
  line_ = arg_buf_;
  line_kept_ = true;
}

bool Parser::deliver(std::string_view payload, ParserHandler& h) {
  const Op op = op_;
  bool go_on;
  switch (op) {
    case Op::kPub: case Op::kHpub: go_on = h.on_pub(pending_, payload); break;
    case Op::kMsg: go_on = h.on_msg(pending_, payload); break;
    case Op::kHmsg:
      go_on = role_ == Role::kClient         ? h.on_msg(pending_, payload)
              : role_ == Role::kServerOfLeaf ? h.on_lmsg({}, pending_, payload)
                                             : h.on_rmsg(pending_, payload);
      break;
    case Op::kRmsg: go_on = h.on_rmsg(pending_, payload); break;
    case Op::kLmsg: go_on = h.on_lmsg(origin_, pending_, payload); break;
    default: go_on = true; break;
  }
  reset_op();
  return go_on;
}

bool Parser::bad_args(ParseResult& r, size_t at, const char* op_name, const char* problem, std::string_view line) {
  fail(r, at, ParseError::kBadArgs, std::string(op_name) + " " + problem + ": " + quoted_args(line));
  return false;
}

std::string Parser::quoted_args(std::string_view args) const {
  // As the reference words it: a client's arguments with Go's %q (client.go's processPub and
  // the rest), a route's or leaf's in single quotes ('%s' in route.go and leafnode.go).
  if (role_ != Role::kServerOfClient) return snippet(args, 256);
  std::string out;
  append_go_quoted(out, args.substr(0, 256));
  return out;
}

namespace {

// The first of ' ', '\t', '\r' in [b, e), else e. Eight bytes a word (SWAR): a subject is
// mostly longer than a word, and this scan was most of a small PUB's parse (callgrind: 77 of
// the 206 instructions of fast_pub_args, a byte at a time, for a 15-byte subject). In each
// word, a byte equal to one of the three sets the top bit of its lane in `m`; a lane above a
// match may be set falsely (the borrow), never one below it, so the lowest set lane is exact.
inline const char* find_sep(const char* b, const char* e) noexcept {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  auto seps = [](uint64_t w) {
    auto zero_lanes = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    return zero_lanes(w ^ (kOnes * ' ')) | zero_lanes(w ^ (kOnes * '\t')) | zero_lanes(w ^ (kOnes * '\r'));
  };
  auto load = [](const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  };
  if constexpr (std::endian::native == std::endian::little) {
    const char* s = b;
    for (; e - s >= 8; s += 8) {
      if (const uint64_t m = seps(load(s))) return s + (std::countr_zero(m) >> 3);
    }
    if (s == e) return e;
    if (e - b >= 8) {
      // The last word, ending at e: its first 8 - (e - s) bytes were looked at already (no
      // match there, so no false lane above them either).
      const unsigned done = static_cast<unsigned>(8 - (e - s));
      const uint64_t m = seps(load(e - 8)) >> (8 * done);
      return m ? s + (std::countr_zero(m) >> 3) : e;
    }
    b = s;
  }
  while (b != e && *b != ' ' && *b != '\t' && *b != '\r') ++b;
  return b;
}

// The common PUB line, "subject size" or "subject reply size" with the size 1 to 9 digits:
// its words found in one pass from each end, without Words' bookkeeping (most of the parse of
// a small message). Anything else — a missing or bad size, a separator at either end, a word
// too many — returns false and goes the general way, which says what is wrong; so whatever
// this accepts, Words would have split the same.
bool fast_pub_args(std::string_view line, MsgArgs& a) noexcept {
  static constexpr std::array<bool, 256> kSep = [] {
    std::array<bool, 256> t{};
    t[' '] = t['\t'] = t['\r'] = true;
    return t;
  }();
  auto sep = [](char c) { return kSep[static_cast<unsigned char>(c)]; };
  const char* const b = line.data();
  const char* const e = b + line.size();
  const char* d = e;
  int64_t size = 0, scale = 1;
  // At most 10 digits are read: a tenth means too many for this path, and summing a run of
  // digits of any length would overflow (fuzz/proto_client found "PUB foo - 9999…9").
  while (d > b && e - d < 10 && static_cast<unsigned>(d[-1] - '0') < 10) {
    --d;
    size += (*d - '0') * scale;
    scale *= 10;
  }
  const size_t digits = static_cast<size_t>(e - d);
  if (digits == 0 || digits > 9 || d == b || !sep(d[-1]) || sep(*b)) return false;
  const char* we = d - 1;  // the end of the word before the size
  while (we > b && sep(we[-1])) --we;
  const char* const s_end = find_sep(b, we);
  a = MsgArgs{};
  a.subject = std::string_view(b, static_cast<size_t>(s_end - b));
  if (s_end != we) {
    const char* r = s_end;
    while (sep(*r)) ++r;  // stops inside the word that ends at `we`
    if (find_sep(r, we) != we) return false;  // a fourth word
    a.reply = std::string_view(r, static_cast<size_t>(we - r));
  }
  a.total_len = size;
  return true;
}

}  // namespace

bool Parser::fast_pub(const char* p, size_t n, size_t& i, ParserHandler& h, bool& go_on) {
  if constexpr (std::endian::native != std::endian::little) return false;
  if (role_ != Role::kServerOfClient || (word4(p + i) | 0x00202020u) != pack4('p', 'u', 'b', ' ')) return false;
  const char* const args = p + i + 4;
  const char* const end = p + n;
  if (args == end || is_blank(*args)) return false;  // the general way skips the blanks
  const char* const nl = static_cast<const char*>(std::memchr(args, '\n', static_cast<size_t>(end - args)));
  if (nl == nullptr) return false;
  std::string_view line(args, static_cast<size_t>(nl - args));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (limits_.max_control_line >= 0 && static_cast<int64_t>(line.size()) > limits_.max_control_line) return false;
  MsgArgs a;
  if (!fast_pub_args(line, a)) return false;
  if (limits_.max_payload >= 0 && a.total_len > limits_.max_payload) return false;
  const size_t total = static_cast<size_t>(a.total_len);
  const char* const payload = nl + 1;
  if (static_cast<size_t>(end - payload) < total + 2 || payload[total] != '\r' || payload[total + 1] != '\n') {
    return false;
  }
  i = static_cast<size_t>(payload + total + 2 - p);
  go_on = h.on_pub(a, std::string_view(payload, total));
  return true;
}

bool Parser::parse_msg_args(std::string_view line, ParseResult& r, size_t at) {
  if (op_ == Op::kPub && fast_pub_args(line, pending_)) [[likely]] {
    if (role_ == Role::kServerOfClient && limits_.max_payload >= 0 && pending_.total_len > limits_.max_payload) {
      fail(r, at, ParseError::kMaxPayload,
           "maximum payload exceeded: " + std::to_string(pending_.total_len) + " vs " +
               std::to_string(limits_.max_payload));
      return false;
    }
    return true;
  }
  const Words w(line);
  const size_t n = w.size();
  MsgArgs& a = pending_;
  a = MsgArgs{};
  // Error texts are built out of line (bad_args), keeping this hot function small.
  auto bad = [&](const char* op_name, const char* problem) { return bad_args(r, at, op_name, problem, line); };
  // Size words at the end of the line, shared by every message op.
  auto sizes = [&](bool headers, const char* op_name) {
    a.total_len = parse_size(w[n - 1]);
    if (headers) {
      a.header_len = parse_size(w[n - 2]);
      if (a.header_len < 0) [[unlikely]] return bad(op_name, "Bad or Missing Header Size");
      if (a.total_len < 0) [[unlikely]] return bad(op_name, "Bad or Missing Size");
      if (a.header_len > a.total_len) [[unlikely]] return bad(op_name, "Header Size larger then TotalSize");
    } else if (a.total_len < 0) [[unlikely]] {
      return bad(op_name, "Bad or Missing Size");
    }
    return true;
  };

  switch (op_) {
    case Op::kPub:
    case Op::kHpub: {
      // PUB subject [reply] size / HPUB subject [reply] hdr_size total_size
      const bool hdr = op_ == Op::kHpub;
      const char* name = hdr ? "processHeaderPub" : "processPub";
      const size_t base = hdr ? 3 : 2;
      if (n != base && n != base + 1) return bad(name, "Parse Error");
      a.subject = w[0];
      if (n == base + 1) a.reply = w[1];
      if (!sizes(hdr, name)) return false;
      if (role_ == Role::kServerOfClient && limits_.max_payload >= 0 && a.total_len > limits_.max_payload) {
        fail(r, at, ParseError::kMaxPayload,
             "maximum payload exceeded: " + std::to_string(a.total_len) + " vs " +
                 std::to_string(limits_.max_payload));
        return false;
      }
      return true;
    }
    case Op::kLmsg:
    case Op::kHmsg:
      if (role_ == Role::kServerOfLeaf) {
        // LMSG subject [reply | + reply q1 q2.. | "|" q1 q2..] size, and HMSG the same with
        // hdr_size before size: no account, a leaf connection is bound to one.
        const bool hdr = op_ == Op::kHmsg;
        const char* name = hdr ? "processLeafHeaderMsgArgs" : "processLeafMsgArgs";
        const size_t plain = 2 + (hdr ? 1 : 0);
        if (n < plain) return bad(name, "Parse Error");
        if (n == plain + 1) {
          a.reply = w[1];
        } else if (n > plain + 1) {
          const std::string_view ind = w[1];
          if (ind.size() != 1 || (ind[0] != '+' && ind[0] != '|')) return bad(name, "Bad or Missing Reply Indicator");
          size_t first_queue = 2;
          if (ind[0] == '+') {
            a.reply = w[2];
            ++first_queue;
          }
          a.queues = w.span(first_queue, n - 2 - (hdr ? 1 : 0));
        }
        if (!sizes(hdr, name)) return false;
        origin_ = {};
        a.subject = w[0];
        return true;
      }
      if (op_ == Op::kLmsg) goto routed;
      [[fallthrough]];
    case Op::kMsg:
      if (role_ == Role::kClient) {
        // MSG subject sid [reply] size / HMSG subject sid [reply] hdr_size total_size
        const bool hdr = op_ == Op::kHmsg;
        const char* name = hdr ? "processHeaderMsgArgs" : "processMsgArgs";
        const size_t base = hdr ? 4 : 3;
        if (n != base && n != base + 1) return bad(name, "Parse Error");
        a.subject = w[0];
        a.sid = w[1];
        if (n == base + 1) a.reply = w[2];
        return sizes(hdr, name);
      }
      [[fallthrough]];  // HMSG on a route: routed with headers
    case Op::kRmsg:
    routed: {
      // [origin] account subject [reply | + reply q1 q2.. | "|" q1 q2..] [hdr_size] size
      const bool hdr = op_ != Op::kRmsg;
      const size_t off = op_ == Op::kLmsg ? 1 : 0;
      const char* name = op_ == Op::kLmsg   ? "processRoutedOriginClusterMsgArgs"
                         : op_ == Op::kHmsg ? "processRoutedHeaderMsgArgs"
                                            : "processRoutedMsgArgs";
      const size_t plain = off + 3 + (hdr ? 1 : 0);  // word count without a reply
      if (n < plain) return bad(name, "Parse Error");
      if (n == plain + 1) {
        a.reply = w[off + 2];
      } else if (n > plain + 1) {
        const std::string_view ind = w[off + 2];
        if (ind.size() != 1 || (ind[0] != '+' && ind[0] != '|')) {
          return bad(name, "Bad or Missing Reply Indicator");
        }
        size_t first_queue = off + 3;
        if (ind[0] == '+') {
          a.reply = w[off + 3];
          ++first_queue;
        }
        a.queues = w.span(first_queue, n - 2 - (hdr ? 1 : 0));
      }
      if (!sizes(hdr, name)) return false;
      origin_ = off ? w[0] : std::string_view{};
      a.account = w[off];
      a.subject = w[off + 1];
      return true;
    }
    default:
      return bad("parser", "not a message operation");
  }
}

bool Parser::on_line(std::string_view line, ParseResult& r, size_t at, ParserHandler& h) {
  auto bad = [&](std::string_view what) {
    fail(r, at, ParseError::kBadArgs, std::string(what) + ": " + quoted_args(line));
    return false;
  };
  auto done = [&](bool go_on) {
    reset_op();
    if (go_on) return true;
    r.stopped = true;
    r.consumed = at;
    return false;
  };

  switch (op_) {
    case Op::kConnect: return done(h.on_connect(line));
    case Op::kInfo: return done(h.on_info(line));
    case Op::kErr: {
      std::string_view text = line;
      while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
      if (text.size() >= 2 && text.front() == '\'' && text.back() == '\'') text = text.substr(1, text.size() - 2);
      return done(h.on_err(text));
    }
    case Op::kSub: {
      // SUB subject [queue] sid
      const Words w(line);
      if (w.size() == 2) return done(h.on_sub(w[0], {}, w[1]));
      if (w.size() == 3) return done(h.on_sub(w[0], w[1], w[2]));
      return bad("processSub Parse Error");
    }
    case Op::kUnsub: {
      // UNSUB sid [max]; a max that is no number counts as none, like the reference.
      const Words w(line);
      if (w.size() == 1) return done(h.on_unsub(w[0], -1));
      if (w.size() == 2) return done(h.on_unsub(w[0], parse_size(w[1])));
      return bad("processUnsub Parse Error");
    }
    case Op::kRsSub:
    case Op::kLsSub: {
      // RS+ account subject [queue weight] / LS+ origin account subject [queue weight]
      const Words w(line);
      if (role_ == Role::kServerOfLeaf) {
        // LS+ subject [queue weight]
        if (w.size() == 1) return done(h.on_ls_sub({}, {}, w[0], {}, 0));
        if (w.size() != 3) return bad("processLeafSub Parse Error");
        const int64_t weight = parse_size(w[2]);
        return done(h.on_ls_sub({}, {}, w[0], w[1], static_cast<int32_t>(weight < 0 ? 0 : weight)));
      }
      const size_t off = op_ == Op::kLsSub ? 1 : 0;
      std::string_view queue;
      int64_t weight = 0;
      if (w.size() == off + 4) {
        queue = w[off + 2];
        weight = parse_size(w[off + 3]);
        if (weight < 0) return bad("processRemoteSub Bad Queue Weight");
      } else if (w.size() != off + 2) {
        return bad("processRemoteSub Parse Error");
      }
      const auto wt = static_cast<int32_t>(weight);
      if (off) return done(h.on_ls_sub(w[0], w[1], w[2], queue, wt));
      return done(h.on_rs_sub(w[0], w[1], queue, wt));
    }
    case Op::kRsUnsub:
    case Op::kLsUnsub: {
      // RS- account subject [queue]; LS- has the same form (the reference sends no origin).
      const Words w(line);
      if (role_ == Role::kServerOfLeaf) {
        // LS- subject [queue]
        if (w.size() != 1 && w.size() != 2) return bad("processLeafUnsub Parse Error");
        return done(h.on_ls_unsub({}, {}, w[0], w.size() == 2 ? w[1] : std::string_view{}));
      }
      if (w.size() != 2 && w.size() != 3) return bad("processRemoteUnsub parse error");
      const std::string_view queue = w.size() == 3 ? w[2] : std::string_view{};
      if (op_ == Op::kLsUnsub) return done(h.on_ls_unsub({}, w[0], w[1], queue));
      return done(h.on_rs_unsub(w[0], w[1], queue));
    }
    case Op::kPub: case Op::kHpub: case Op::kMsg: case Op::kHmsg: case Op::kRmsg: case Op::kLmsg:
      if (!parse_msg_args(line, r, at)) return false;
      line_ = line;
      line_kept_ = arg_split_;  // a line gathered across feeds already lives in arg_buf_
      payload_split_ = false;
      state_ = State::kPayload;
      return true;
    default:
      return bad("no arguments expected");
  }
}

}  // namespace pylon::proto
