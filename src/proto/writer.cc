#include "proto/writer.h"

#include <charconv>
#include <cstdint>
#include <cstring>

namespace pylon::proto {

namespace {

// A decimal number formatted on the stack (std::to_chars: no locale, no allocation).
class Num {
 public:
  explicit Num(int64_t v) noexcept { len_ = static_cast<uint8_t>(std::to_chars(d_, d_ + sizeof d_, v).ptr - d_); }
  operator std::string_view() const noexcept { return {d_, len_}; }

 private:
  char d_[20];
  uint8_t len_;
};

using detail::put_part;

// Appends all parts with one change of the string's size (string::append per part checks
// the capacity and writes the length and terminator each time), then plain copies. The
// resize zero-fills what the copies then overwrite: cheaper than the appends for an op of a
// few KiB (callgrind, pub->sub 1 KiB: 1700 instructions a message against 2058), not for
// a large payload, whose zero fill would double the memory traffic: that is appended.
// Always inlined: its callers' literal parts fold only then, and GCC stops inlining it into a
// writer reached from two callers (append_msg; docs/performance.md, the MSG formatted once).
template <typename... Parts>
[[gnu::always_inline]] inline void put(std::string& buf, const Parts&... parts) {
  constexpr size_t kInlineMax = 4096;
  const size_t n = (std::string_view(parts).size() + ...);
  const size_t at = buf.size();
  if (n > kInlineMax) {
    buf.reserve(at + n);
    (buf.append(std::string_view(parts)), ...);
    return;
  }
  buf.resize(at + n);
  char* out = buf.data() + at;
  ((out = put_part(out, std::string_view(parts))), ...);
}

// " <reply>" when there is a reply, else nothing.
inline std::string_view sep_if(std::string_view s) noexcept { return s.empty() ? std::string_view{} : " "; }

size_t queues_size(QueueList queues) noexcept {
  size_t n = 0;
  for (std::string_view q : queues) n += q.size() + 1;
  return n;
}

// "<op> <account> <subject>[ <reply> | + <reply> q.. | | q..]" — the shared head of
// RMSG and a routed HMSG. Reserves room for it and `tail` more bytes, which the caller
// then appends (sizes, payload).
void put_routed_head(std::string& buf, std::string_view op, std::string_view account, std::string_view subject,
                     std::string_view reply, QueueList queues, size_t tail) {
  // Exact size: op, account, ' ', subject, then " reply" | " + reply" | " |", then " q" each.
  size_t route_part = 0;
  if (queues.empty()) {
    route_part = reply.empty() ? 0 : 1 + reply.size();
  } else {
    route_part = (reply.empty() ? 2 : 3 + reply.size()) + queues_size(queues);
  }
  // A leaf connection is bound to one account: its LMSG/HMSG name none.
  buf.reserve(buf.size() + op.size() + account.size() + 1 + subject.size() + route_part + tail);
  buf.append(op);
  if (!account.empty()) {
    buf.append(account);
    buf += ' ';
  }
  buf.append(subject);
  if (queues.empty()) {
    if (!reply.empty()) {
      buf += ' ';
      buf.append(reply);
    }
    return;
  }
  if (reply.empty()) {
    buf.append(" |");
  } else {
    buf.append(" + ");
    buf.append(reply);
  }
  for (std::string_view q : queues) {
    buf += ' ';
    buf.append(q);
  }
}

}  // namespace

void append_msg_line(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                     int64_t size) {
  put(buf, "MSG ", subject, " ", sid, sep_if(reply), reply, " ", Num(size), kCrlf);
}

void append_hmsg_line(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                      int64_t hdr_len, int64_t total_len) {
  put(buf, "HMSG ", subject, " ", sid, sep_if(reply), reply, " ", Num(hdr_len), " ", Num(total_len), kCrlf);
}

void append_rmsg_line(std::string& buf, std::string_view account, std::string_view subject, std::string_view reply,
                      QueueList queues, int64_t size) {
  const Num sz(size);
  put_routed_head(buf, "RMSG ", account, subject, reply, queues, 1 + std::string_view(sz).size() + 2);
  buf += ' ';
  put(buf, sz, kCrlf);
}

void append_routed_hmsg_line(std::string& buf, std::string_view account, std::string_view subject,
                             std::string_view reply, QueueList queues, int64_t hdr_len, int64_t total_len) {
  const Num hdr(hdr_len), total(total_len);
  put_routed_head(buf, "HMSG ", account, subject, reply, queues,
                  std::string_view(hdr).size() + std::string_view(total).size() + 4);
  put(buf, " ", hdr, " ", total, kCrlf);
}

void append_pub_line(std::string& buf, std::string_view subject, std::string_view reply, int64_t size) {
  put(buf, "PUB ", subject, sep_if(reply), reply, " ", Num(size), kCrlf);
}

void append_hpub_line(std::string& buf, std::string_view subject, std::string_view reply, int64_t hdr_len,
                      int64_t total_len) {
  put(buf, "HPUB ", subject, sep_if(reply), reply, " ", Num(hdr_len), " ", Num(total_len), kCrlf);
}

void append_payload(std::string& buf, std::string_view payload) { put(buf, payload, kCrlf); }

// The whole operations reserve their exact size once: line, payload and final CRLF.

// Not inlined into ClientMsg::append_direct: inlined twice, put<> itself was no longer
// inlined into either, and the literal parts' branches stopped folding (callgrind: +57
// instructions a message on pub->sub 16 B).
[[gnu::noinline]] void append_msg(std::string& buf, std::string_view subject, std::string_view sid,
                                  std::string_view reply, std::string_view payload) {
  put(buf, "MSG ", subject, " ", sid, sep_if(reply), reply, " ", Num(static_cast<int64_t>(payload.size())), kCrlf,
      payload, kCrlf);
}

[[gnu::noinline]] void append_hmsg(std::string& buf, std::string_view subject, std::string_view sid,
                                   std::string_view reply, int64_t hdr_len, std::string_view payload) {
  put(buf, "HMSG ", subject, " ", sid, sep_if(reply), reply, " ", Num(hdr_len), " ",
      Num(static_cast<int64_t>(payload.size())), kCrlf, payload, kCrlf);
}

void append_rmsg(std::string& buf, std::string_view account, std::string_view subject, std::string_view reply,
                 QueueList queues, std::string_view payload) {
  const Num sz(static_cast<int64_t>(payload.size()));
  put_routed_head(buf, account.empty() ? "LMSG " : "RMSG ", account, subject, reply, queues,
                  1 + std::string_view(sz).size() + 2 + payload.size() + 2);
  buf += ' ';
  put(buf, sz, kCrlf, payload, kCrlf);
}

void append_routed_hmsg(std::string& buf, std::string_view account, std::string_view subject,
                        std::string_view reply, QueueList queues, int64_t hdr_len, std::string_view payload) {
  const Num hdr(hdr_len), total(static_cast<int64_t>(payload.size()));
  put_routed_head(buf, "HMSG ", account, subject, reply, queues,
                  std::string_view(hdr).size() + std::string_view(total).size() + 4 + payload.size() + 2);
  put(buf, " ", hdr, " ", total, kCrlf, payload, kCrlf);
}

void ClientMsg::format(size_t sid_len) {
  const bool hmsg = header_len_ >= 0;
  const Num size(static_cast<int64_t>(payload_.size()));
  const Num hdr(hmsg ? header_len_ : 0);
  inline_payload_ = payload_.size() <= kInlinePayload;
  head_ = (hmsg ? 5 : 4) + subject_.size() + 1;
  tail_ = (reply_.empty() ? 0 : 1 + reply_.size()) + 1 + (hmsg ? std::string_view(hdr).size() + 1 : 0) +
          std::string_view(size).size() + 2 + (inline_payload_ ? payload_.size() + 2 : 0);
  // The slot fits the first subscriber's sid; a sid of another length moves what follows.
  slot_ = sid_len;
  cap_ = head_ + slot_ + tail_ + 16;
  if (cap_ <= sizeof inline_) {
    buf_ = inline_;
    cap_ = sizeof inline_;
  } else {
    heap_ = std::make_unique<char[]>(cap_);
    buf_ = heap_.get();
  }
  char* out = buf_;
  out = put_part(out, hmsg ? std::string_view("HMSG ") : std::string_view("MSG "));
  out = put_part(out, subject_);
  *out++ = ' ';
  out += slot_;
  if (!reply_.empty()) {
    *out++ = ' ';
    out = put_part(out, reply_);
  }
  *out++ = ' ';
  if (hmsg) {
    out = put_part(out, hdr);
    *out++ = ' ';
  }
  out = put_part(out, size);
  out = put_part(out, kCrlf);
  if (inline_payload_) {
    out = put_part(out, payload_);
    put_part(out, kCrlf);
  }
}

void ClientMsg::resize_slot(size_t n) {
  if (head_ + n + tail_ > cap_) {
    size_t cap = head_ + n + tail_ + 16;
    auto grown = std::make_unique<char[]>(cap);
    std::memcpy(grown.get(), buf_, head_);
    std::memcpy(grown.get() + head_ + n, buf_ + head_ + slot_, tail_);
    heap_ = std::move(grown);
    buf_ = heap_.get();
    cap_ = cap;
  } else {
    std::memmove(buf_ + head_ + n, buf_ + head_ + slot_, tail_);
  }
  slot_ = n;
}

void ClientMsg::append_direct(std::string& out, std::string_view sid) {
  if (header_len_ < 0) [[likely]] {
    // append_msg's body, formatted here: one call less per delivery to a single receiver.
    put(out, "MSG ", subject_, " ", sid, sep_if(reply_), reply_, " ", Num(static_cast<int64_t>(payload_.size())), kCrlf,
        payload_, kCrlf);
  } else {
    append_hmsg(out, subject_, sid, reply_, header_len_, payload_);
  }
}

void ClientMsg::prepare(size_t sid_len) {
  if (buf_ == nullptr) {
    format(sid_len);
  } else {
    resize_slot(sid_len);
  }
}

namespace {

// put_part for parts up to 32 bytes without a call (a subject is often 17-32 bytes, where
// put_part calls memcpy): two overlapping 16-byte moves, inside the part's bounds.
inline char* put_part32(char* out, std::string_view v) noexcept {
  const size_t n = v.size();
  if (n <= 16 || n > 32) return detail::put_part(out, v);
  char a[16], b[16];
  std::memcpy(a, v.data(), 16);
  std::memcpy(b, v.data() + n - 16, 16);
  std::memcpy(out, a, 16);
  std::memcpy(out + n - 16, b, 16);
  return out + n;
}

}  // namespace

// The client library's hot path (every publish() under the connection's lock). put()
// grows the buffer with resize(), which zero-fills the new bytes through two calls
// (about 40 instructions a 16 B publish, callgrind); an operation of up to kStackOp bytes
// is formatted on the stack instead and appended with one copy, its parts moved by
// fixed-size loads and stores. A larger one goes through put(), whose copy of the payload
// dominates anyway.
void append_pub(std::string& buf, std::string_view subject, std::string_view reply, std::string_view payload) {
  constexpr size_t kStackOp = 256;
  constexpr size_t kMaxDigits = 20;
  const size_t bound = 4 + subject.size() + 1 + reply.size() + 1 + kMaxDigits + 2 + payload.size() + 2;
  if (bound > kStackOp) {
    put(buf, "PUB ", subject, sep_if(reply), reply, " ", Num(static_cast<int64_t>(payload.size())), kCrlf, payload,
        kCrlf);
    return;
  }
  char op[kStackOp];
  char* p = op;
  std::memcpy(p, "PUB ", 4);
  p = put_part32(p + 4, subject);
  if (!reply.empty()) {
    *p = ' ';
    p = put_part32(p + 1, reply);
  }
  *p++ = ' ';
  p = std::to_chars(p, p + kMaxDigits, payload.size()).ptr;
  std::memcpy(p, "\r\n", 2);
  p = put_part32(p + 2, payload);
  std::memcpy(p, "\r\n", 2);
  buf.append(op, static_cast<size_t>(p + 2 - op));
}

void append_hpub(std::string& buf, std::string_view subject, std::string_view reply, int64_t hdr_len,
                 std::string_view payload) {
  put(buf, "HPUB ", subject, sep_if(reply), reply, " ", Num(hdr_len), " ",
      Num(static_cast<int64_t>(payload.size())), kCrlf, payload, kCrlf);
}

void append_sub(std::string& buf, std::string_view subject, std::string_view queue, std::string_view sid) {
  put(buf, "SUB ", subject, sep_if(queue), queue, " ", sid, kCrlf);
}

void append_unsub(std::string& buf, std::string_view sid, int64_t max_msgs) {
  if (max_msgs < 0) {
    put(buf, "UNSUB ", sid, kCrlf);
  } else {
    put(buf, "UNSUB ", sid, " ", Num(max_msgs), kCrlf);
  }
}

void append_rs_sub(std::string& buf, std::string_view account, std::string_view subject, std::string_view queue,
                   int32_t weight) {
  if (queue.empty()) {
    put(buf, "RS+ ", account, " ", subject, kCrlf);
  } else {
    put(buf, "RS+ ", account, " ", subject, " ", queue, " ", Num(weight), kCrlf);
  }
}

void append_rs_unsub(std::string& buf, std::string_view account, std::string_view subject,
                     std::string_view queue) {
  put(buf, "RS- ", account, " ", subject, sep_if(queue), queue, kCrlf);
}

void append_lmsg(std::string& buf, std::string_view subject, std::string_view reply, QueueList queues,
                 std::string_view payload) {
  append_rmsg(buf, {}, subject, reply, queues, payload);
}

void append_leaf_hmsg(std::string& buf, std::string_view subject, std::string_view reply, QueueList queues,
                      int64_t hdr_len, std::string_view payload) {
  append_routed_hmsg(buf, {}, subject, reply, queues, hdr_len, payload);
}

void append_ls_sub(std::string& buf, std::string_view subject, std::string_view queue, int32_t weight) {
  if (queue.empty()) {
    put(buf, "LS+ ", subject, kCrlf);
  } else {
    put(buf, "LS+ ", subject, " ", queue, " ", Num(weight), kCrlf);
  }
}

void append_ls_unsub(std::string& buf, std::string_view subject, std::string_view queue) {
  put(buf, "LS- ", subject, sep_if(queue), queue, kCrlf);
}

void append_err(std::string& buf, std::string_view text) { put(buf, "-ERR '", text, "'\r\n"); }

void append_info(std::string& buf, std::string_view json) { put(buf, "INFO ", json, kCrlf); }

void append_connect(std::string& buf, std::string_view json) { put(buf, "CONNECT ", json, kCrlf); }

}  // namespace pylon::proto
