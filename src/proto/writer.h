// Writers for each protocol operation: they append the operation's exact bytes to a
// caller-owned buffer (an outbound buffer), reserving the room once, so appending an
// op costs at most one growth of the buffer and no temporary strings.
//
// Two levels:
//  - append_*_line(): the control line only (ending in "\r\n"), for the delivery hot path
//    where the payload is appended separately (append_payload) or written with writev;
//  - append_msg(), append_pub(), ...: the whole operation, payload and final "\r\n" included.
// The caller passes valid subjects/tokens; nothing is checked or escaped here.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace pylon::proto {

inline constexpr std::string_view kCrlf = "\r\n";
inline constexpr std::string_view kPingOp = "PING\r\n";
inline constexpr std::string_view kPongOp = "PONG\r\n";
inline constexpr std::string_view kOkOp = "+OK\r\n";

// Queue group names of a routed message, in the order they go on the wire.
using QueueList = std::span<const std::string_view>;

namespace detail {
// Copies `v` to `out` and returns the end. Hot path (every MSG to every subscriber): the
// parts are mostly a few bytes long, where a call to memcpy per part, as string::append
// makes, costs more than the copy. Parts up to 16 bytes are moved as two overlapping
// fixed-size pieces, which compile to plain loads and stores inside the part's bounds; a
// literal part's size is known here once inlined, so its branches fold away.
inline char* put_part(char* out, std::string_view v) noexcept {
  const size_t n = v.size();
  const char* s = v.data();
  if (n > 16) {
    std::memcpy(out, s, n);
  } else if (n >= 8) {
    uint64_t a, b;
    std::memcpy(&a, s, 8);
    std::memcpy(&b, s + n - 8, 8);
    std::memcpy(out, &a, 8);
    std::memcpy(out + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, s, 4);
    std::memcpy(&b, s + n - 4, 4);
    std::memcpy(out, &a, 4);
    std::memcpy(out + n - 4, &b, 4);
  } else if (n >= 2) {
    uint16_t a, b;
    std::memcpy(&a, s, 2);
    std::memcpy(&b, s + n - 2, 2);
    std::memcpy(out, &a, 2);
    std::memcpy(out + n - 2, &b, 2);
  } else if (n == 1) {
    *out = *s;
  }
  return out + n;
}

}  // namespace detail

// ---- Control lines ---------------------------------------------------------------

// "MSG <subject> <sid> [reply] <size>\r\n" (to a client)
void append_msg_line(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                     int64_t size);
// "HMSG <subject> <sid> [reply] <hdr_len> <total_len>\r\n" (to a client)
void append_hmsg_line(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                      int64_t hdr_len, int64_t total_len);
// "RMSG <account> <subject> <route-part> <size>\r\n" (to a route), where route-part is
// "" (no reply, no queues), "<reply>", "+ <reply> <q1> <q2>..." or "| <q1> <q2>...".
void append_rmsg_line(std::string& buf, std::string_view account, std::string_view subject, std::string_view reply,
                      QueueList queues, int64_t size);
// "HMSG <account> <subject> <route-part> <hdr_len> <total_len>\r\n" (to a route)
void append_routed_hmsg_line(std::string& buf, std::string_view account, std::string_view subject,
                             std::string_view reply, QueueList queues, int64_t hdr_len, int64_t total_len);
// "PUB <subject> [reply] <size>\r\n" (from a client)
void append_pub_line(std::string& buf, std::string_view subject, std::string_view reply, int64_t size);
// "HPUB <subject> [reply] <hdr_len> <total_len>\r\n" (from a client)
void append_hpub_line(std::string& buf, std::string_view subject, std::string_view reply, int64_t hdr_len,
                      int64_t total_len);
// "<payload>\r\n": the payload after any of the lines above.
void append_payload(std::string& buf, std::string_view payload);

// ---- Whole operations --------------------------------------------------------------

// A message to a client.
void append_msg(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                std::string_view payload);
// A message with headers to a client; `payload` is headers then body, hdr_len its header part.
void append_hmsg(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                 int64_t hdr_len, std::string_view payload);
// A message to a route.
void append_rmsg(std::string& buf, std::string_view account, std::string_view subject, std::string_view reply,
                 QueueList queues, std::string_view payload);
// A message with headers to a route.
void append_routed_hmsg(std::string& buf, std::string_view account, std::string_view subject,
                        std::string_view reply, QueueList queues, int64_t hdr_len, std::string_view payload);
// A client's publish.
void append_pub(std::string& buf, std::string_view subject, std::string_view reply, std::string_view payload);
void append_hpub(std::string& buf, std::string_view subject, std::string_view reply, int64_t hdr_len,
                 std::string_view payload);
// A message to clients, formatted once per published message (the reference's msgHeader in
// client.go): every subscriber's MSG or HMSG differs only in its sid, so what comes before
// and after the sid is written once, at the first size() or append(), into one buffer with
// the sid's slot between the two; each append() writes the sid into its slot and copies the
// op with one memcpy, instead of formatting the line again and zero-filling the room first
// (string::resize). A payload up to kInlinePayload bytes sits in that buffer too; a larger one
// is appended from where it is, so it is copied once per subscriber, as before. A message
// for at most one subscriber is formatted straight into the output instead (append_msg):
// the buffer would cost one more copy and save nothing. One thread, one message: the views
// must outlive the object.
class ClientMsg {
 public:
  // header_len >= 0: an HMSG, `payload` being headers then body. `receivers`: how many
  // subscribers may get it (a hint: any number of append()s is right).
  ClientMsg(std::string_view subject, std::string_view reply, int64_t header_len, std::string_view payload,
            size_t receivers = 1) noexcept
      : subject_(subject), reply_(reply), payload_(payload), header_len_(header_len), direct_(receivers <= 1) {}
  ClientMsg(const ClientMsg&) = delete;
  ClientMsg& operator=(const ClientMsg&) = delete;

  std::string_view subject() const noexcept { return subject_; }
  std::string_view reply() const noexcept { return reply_; }
  std::string_view payload() const noexcept { return payload_; }
  int64_t header_len() const noexcept { return header_len_; }

  // The room append() needs for `sid`: at least the bytes it adds (exactly, unless direct).
  size_t size(std::string_view sid) {
    if (direct_) return subject_.size() + sid.size() + reply_.size() + payload_.size() + kDirectExtra;
    if (buf_ == nullptr) prepare(sid.size());
    return head_ + sid.size() + tail_ + (inline_payload_ ? 0 : payload_.size() + 2);
  }
  // Appends "MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n" (or the HMSG).
  void append(std::string& out, std::string_view sid) {
    if (direct_) {
      append_direct(out, sid);
      return;
    }
    if (buf_ == nullptr || sid.size() != slot_) [[unlikely]] prepare(sid.size());
    detail::put_part(buf_ + head_, sid);
    out.append(buf_, head_ + slot_ + tail_);
    if (!inline_payload_) {
      out.append(payload_);
      out.append(kCrlf);
    }
  }

  static constexpr size_t kInlinePayload = 256;

 private:
  // "HMSG", the spaces, two sizes of up to 20 digits, two CRLFs.
  static constexpr size_t kDirectExtra = 5 + 4 + 2 * 20 + 4;
  void append_direct(std::string& out, std::string_view sid);
  // Formats the message with a slot for a sid of `sid_len` bytes, or moves what follows the
  // slot so that one fits.
  void prepare(size_t sid_len);
  void format(size_t sid_len);
  void resize_slot(size_t n);

  std::string_view subject_, reply_, payload_;
  int64_t header_len_;
  // "MSG <subject> " (head_ bytes), the sid's slot (slot_ bytes), then " [reply ]<size>\r\n"
  // and an inline payload with its "\r\n" (tail_ bytes). In inline_ unless it does not fit.
  char* buf_ = nullptr;
  size_t cap_ = 0, head_ = 0, slot_ = 0, tail_ = 0;
  bool direct_;
  bool inline_payload_ = false;
  std::unique_ptr<char[]> heap_;
  char inline_[384];
};

// "SUB <subject> [queue] <sid>\r\n"
void append_sub(std::string& buf, std::string_view subject, std::string_view queue, std::string_view sid);
// "UNSUB <sid>[ <max_msgs>]\r\n"; max_msgs < 0 leaves it out.
void append_unsub(std::string& buf, std::string_view sid, int64_t max_msgs = -1);
// "RS+ <account> <subject>\r\n", or with a queue "RS+ <account> <subject> <queue> <weight>\r\n".
void append_rs_sub(std::string& buf, std::string_view account, std::string_view subject, std::string_view queue,
                   int32_t weight);
// "RS- <account> <subject>[ <queue>]\r\n"
void append_rs_unsub(std::string& buf, std::string_view account, std::string_view subject,
                     std::string_view queue);
// To a leaf connection (bound to one account, so no account is named): "LMSG <subject>
// <route-part> <size>\r\n<payload>\r\n", and with headers "HMSG <subject> <route-part>
// <hdr_len> <total_len>\r\n...", route-part as for RMSG.
void append_lmsg(std::string& buf, std::string_view subject, std::string_view reply, QueueList queues,
                 std::string_view payload);
void append_leaf_hmsg(std::string& buf, std::string_view subject, std::string_view reply, QueueList queues,
                      int64_t hdr_len, std::string_view payload);
// "LS+ <subject>\r\n", or "LS+ <subject> <queue> <weight>\r\n"; "LS- <subject>[ <queue>]\r\n".
void append_ls_sub(std::string& buf, std::string_view subject, std::string_view queue, int32_t weight);
void append_ls_unsub(std::string& buf, std::string_view subject, std::string_view queue);
// "-ERR '<text>'\r\n"
void append_err(std::string& buf, std::string_view text);
// "INFO <json>\r\n" and "CONNECT <json>\r\n"
void append_info(std::string& buf, std::string_view json);
void append_connect(std::string& buf, std::string_view json);

}  // namespace pylon::proto
