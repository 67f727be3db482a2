// client::Core as the parser's handler: what the server sends (on the I/O strand).
#include <charconv>

#include "client/core.h"
#include "client/handshake_json.h"
#include "client/headers_codec.h"
#include "proto/writer.h"

namespace pylon::client {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool Core::on_info(std::string_view json) {
  if (phase_ != Phase::kRunning) {
    hs_info_.assign(json);
    if (phase_ == Phase::kInfo) {
      hs_step_done_ = true;
      return false;  // the handshake goes on with CONNECT
    }
    return true;
  }
  // An asynchronous INFO: cluster membership changed, or the server enters lame-duck mode.
  ServerInfo info;
  try {
    info = parse_info(json);
  } catch (const Exception& e) {
    post_async_error(nullptr, e.info());
    return true;
  }
  bool has_new = false;
  {
    std::lock_guard lk(mu_);
    apply_info_locked(info, &has_new);
  }
  if (has_new) {
    post_event([](Connection& c) {
      if (c.options().on_discovered_servers) c.options().on_discovered_servers(c);
    });
  }
  if (info.lame_duck) {
    post_event([](Connection& c) {
      if (c.options().on_lame_duck) c.options().on_lame_duck(c);
    });
  }
  return true;
}

bool Core::on_ping() {
  std::lock_guard lk(mu_);
  out_.append(proto::kPongOp);
  kick_locked();  // before CONNECT is done this waits in out_ and goes out right after
  return true;
}

bool Core::on_pong() {
  if (phase_ == Phase::kPong) {
    hs_step_done_ = true;
    return false;  // connected: the rest of the buffer is the read loop's
  }
  if (phase_ != Phase::kRunning) return true;
  std::shared_ptr<PongWaiter> w;
  {
    std::lock_guard lk(mu_);
    pings_out_ = 0;
    if (!pongs_.empty()) {
      w = std::move(pongs_.front());
      pongs_.pop_front();
    }
  }
  if (w) w->fire({});
  return true;
}

bool Core::on_err(std::string_view text) {
  if (phase_ != Phase::kRunning) {
    hs_err_.assign(text);
    hs_step_done_ = true;
    return false;
  }
  const std::string l = lower(text);
  const std::string quoted = "'" + std::string(text) + "'";
  if (l.find("stale connection") != std::string::npos) {
    on_transport_error(parsing_tr_, ErrorInfo(Error::kStaleConnection, quoted));
    return false;
  }
  if (l.rfind("permissions violation", 0) == 0) {
    post_async_error(nullptr, ErrorInfo(Error::kPermissionsViolation, quoted));
    return true;
  }
  if (l.find("authorization") != std::string::npos || l.find("authentication") != std::string::npos) {
    // The server closes the connection after this; record why, then reconnect.
    on_transport_error(parsing_tr_, ErrorInfo(Error::kAuthorization, quoted));
    return false;
  }
  // Anything else: tell the application; if the server closes, the read loop follows.
  post_async_error(nullptr, ErrorInfo(Error::kServerError, quoted));
  return true;
}

void fill_message(Message& m, const proto::MsgArgs& a, uint64_t sid, std::string_view payload) {
  m.subject.assign(a.subject);
  m.reply.assign(a.reply);
  m.sid = sid;
  if (!m.headers.empty() || m.status != 0 || !m.status_description.empty()) {
    m.headers = Headers{};
    m.status = 0;
    m.status_description.clear();
  }
  if (a.header_len >= 0 && static_cast<size_t>(a.header_len) <= payload.size()) {
    decode_headers(payload.substr(0, static_cast<size_t>(a.header_len)), m);
    m.data.assign(payload.substr(static_cast<size_t>(a.header_len)));
  } else {
    m.data.assign(payload);
  }
}

bool Core::on_msg(const proto::MsgArgs& a, std::string_view payload) {
  if (phase_ != Phase::kRunning) return true;
  // Single writer (the I/O strand): a plain load+store, no locked increment, and the
  // count is up to date before the message is handed out.
  in_msgs_.store(in_msgs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  in_bytes_.store(in_bytes_.load(std::memory_order_relaxed) + payload.size(), std::memory_order_relaxed);
  uint64_t sid = 0;
  std::from_chars(a.sid.data(), a.sid.data() + a.sid.size(), sid);
  // hot_sub_ keeps the subscription alive while its message is handed on: a copy of the
  // shared_ptr per message moved its reference count, a cache line the callback thread
  // writes too, for every message; this moves it once per read and subscription.
  const std::shared_ptr<SubState>& s = hot_sub_;
  bool limit_reached = false;
  {
    std::lock_guard lk(mu_);
    auto it = subs_.find(sid);
    if (it == subs_.end()) return true;  // unsubscribed while the message was on its way
    if (it->second != hot_sub_) hot_sub_ = it->second;
    if (s->max > 0) {
      if (s->received >= static_cast<uint64_t>(s->max)) return true;
      if (++s->received == static_cast<uint64_t>(s->max)) {
        subs_.erase(it);  // the server drops it too
        limit_reached = true;
      }
    } else {
      ++s->received;
    }
  }
  // The one copy of the message: it leaves the read buffer for another thread.
  if (s->internal) {
    Message m;
    fill_message(m, a, sid, payload);
    s->internal(m);
  } else if (s->is_sync()) {
    Message m;
    fill_message(m, a, sid, payload);
    enqueue_sync(s, std::move(m));
  } else {
    deliver_async(s, a, sid, payload);
  }
  if (limit_reached) end_after_pending(s, ErrorInfo(Error::kMaxMessagesDelivered, s->subject));
  return true;
}

}  // namespace pylon::client
