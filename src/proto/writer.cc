#include "proto/writer.h"

#include <charconv>
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

// Appends all parts after making room for them once.
template <typename... Parts>
void put(std::string& buf, const Parts&... parts) {
  buf.reserve(buf.size() + (std::string_view(parts).size() + ...));
  (buf.append(std::string_view(parts)), ...);
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
  buf.reserve(buf.size() + op.size() + account.size() + 1 + subject.size() + route_part + tail);
  buf.append(op);
  buf.append(account);
  buf += ' ';
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

void append_msg(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                std::string_view payload) {
  put(buf, "MSG ", subject, " ", sid, sep_if(reply), reply, " ", Num(static_cast<int64_t>(payload.size())), kCrlf,
      payload, kCrlf);
}

void append_hmsg(std::string& buf, std::string_view subject, std::string_view sid, std::string_view reply,
                 int64_t hdr_len, std::string_view payload) {
  put(buf, "HMSG ", subject, " ", sid, sep_if(reply), reply, " ", Num(hdr_len), " ",
      Num(static_cast<int64_t>(payload.size())), kCrlf, payload, kCrlf);
}

void append_rmsg(std::string& buf, std::string_view account, std::string_view subject, std::string_view reply,
                 QueueList queues, std::string_view payload) {
  const Num sz(static_cast<int64_t>(payload.size()));
  put_routed_head(buf, "RMSG ", account, subject, reply, queues,
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

// Every publish of the client library goes through here, so it makes room once and
// copies into it, instead of put()'s append per part (each with its own capacity check):
// the line and, when it is small, the payload too (resize() fills what it adds before it
// is overwritten, which costs nothing at that size; a large payload is appended).
void append_pub(std::string& buf, std::string_view subject, std::string_view reply, std::string_view payload) {
  constexpr size_t kFillAtMost = 256;
  const Num sz(static_cast<int64_t>(payload.size()));
  const std::string_view size(sz);
  const size_t line = 4 + subject.size() + (reply.empty() ? 0 : 1 + reply.size()) + 1 + size.size() + 2;
  const size_t total = line + payload.size() + 2;
  const size_t old = buf.size();
  buf.reserve(old + total);
  const bool whole = payload.size() <= kFillAtMost;
  buf.resize(old + (whole ? total : line));
  char* p = buf.data() + old;
  auto copy = [&p](std::string_view part) {
    std::memcpy(p, part.data(), part.size());
    p += part.size();
  };
  copy("PUB ");
  copy(subject);
  if (!reply.empty()) {
    *p++ = ' ';
    copy(reply);
  }
  *p++ = ' ';
  copy(size);
  copy(kCrlf);
  if (whole) {
    copy(payload);
    copy(kCrlf);
  } else {
    buf.append(payload);
    buf.append(kCrlf);
  }
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

void append_err(std::string& buf, std::string_view text) { put(buf, "-ERR '", text, "'\r\n"); }

void append_info(std::string& buf, std::string_view json) { put(buf, "INFO ", json, kCrlf); }

void append_connect(std::string& buf, std::string_view json) { put(buf, "CONNECT ", json, kCrlf); }

}  // namespace pylon::proto
