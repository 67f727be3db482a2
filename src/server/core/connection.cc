#include "server/core/connection.h"

#include <sys/socket.h>

#include <array>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include "server/config/config.h"
#include "server/core/check.h"
#include "server/core/event_loop.h"
#include "server/core/outbound_chunks.h"
#include "server/server.h"
#include "server/config/duration.h"
#include "server/core/tcp_info.h"
#include "server/errors.h"
#include "tls/channel.h"
#include "server/tls/tls_context.h"
#include "server/websocket/session.h"

namespace pylon::server {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
// An outbound buffer of at most this capacity is given back as soon as it is empty: an idle
// connection then holds none (its INFO's would otherwise stay for its life), and one that
// writes little allocates one small block per write. A busy connection keeps its two
// chunk-sized buffers (out_pending_ and out_writing_ swap), so the hot path neither allocates
// nor touches fresh pages per write; the chunks beyond them come from the pool.
constexpr size_t kKeepOutbound = 4 * 1024;
using outbound::kChunkSize;
}  // namespace

namespace {
std::atomic<int64_t> g_in_memory{0};  // Connection objects constructed and not yet destroyed
std::atomic<uint64_t> g_idle_buffers_released{0};
std::atomic<uint64_t> g_direct_writes{0};
}  // namespace

uint64_t Connection::direct_writes() noexcept { return g_direct_writes.load(std::memory_order_relaxed); }

int64_t Connection::in_memory() noexcept { return g_in_memory.load(std::memory_order_relaxed); }
uint64_t Connection::idle_buffers_released() noexcept {
  return g_idle_buffers_released.load(std::memory_order_relaxed);
}

Connection::Connection(Server& server, EventLoop& loop, asio::ip::tcp::socket socket, Kind kind, uint64_t cid,
                       const asio::ip::tcp::endpoint* accepted_peer)
    : server_(server), loop_(loop), socket_(std::move(socket)), kind_(kind), cid_(cid),
      started_at_(std::chrono::system_clock::now()), last_activity_(std::chrono::steady_clock::now()),
      write_timer_(loop.ctx()) {
  g_in_memory.fetch_add(1, std::memory_order_relaxed);
  error_code ec;
  auto ep = accepted_peer ? *accepted_peer : socket_.remote_endpoint(ec);
  if (!ec) {
    remote_ip_ = ep.address().to_string();
    remote_port_ = ep.port();
  }
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  // The reference's prefixes: "cid:" a client, "rid:" a route, "lid:" a leaf connection.
  const char* tag = kind == Kind::kClient ? "cid" : kind == Kind::kLeaf ? "lid" : "rid";
  log_prefix_ = fmt::format("{}:{} - {}:{}", remote_ip_, remote_port_, tag, cid_);
}

Connection::~Connection() {
  // Lifetimes: a connection that served is freed only after it closed (on_closed ran on its
  // loop and dropped its subscriptions). Then nothing in the index names it, and the last
  // holder — a match result, a posted handler — may let go of it on any thread.
  PYLON_DCHECK(!started_ || closed_);
  g_in_memory.fetch_sub(1, std::memory_order_relaxed);
}

void Connection::set_log_tag(std::string_view tag) {
  if (tag.empty() || tagged_prefix_.load(std::memory_order_relaxed) != nullptr) return;
  tagged_storage_ = log_prefix_ + " - ";
  config::append_go_quoted(tagged_storage_, tag);
  tagged_prefix_.store(&tagged_storage_, std::memory_order_release);
}

void Connection::attach_websocket(std::shared_ptr<const websocket::Settings> settings) {
  PYLON_DCHECK(!started_);
  ws_ = std::make_unique<websocket::Session>(std::move(settings));
  // The reference's prefix for a WebSocket client: "wid:" where a client has "cid:".
  if (auto p = log_prefix_.rfind(" - cid:"); p != std::string::npos) log_prefix_.replace(p, 7, " - wid:");
}

void Connection::arm_websocket_handshake_timer() {
  // As the reference's http.Server ReadTimeout: the TLS handshake and the upgrade request
  // together must arrive within handshake_timeout (0: no bound, the reference's default).
  auto timeout = ws_->settings().handshake_timeout;
  if (timeout <= Duration::zero()) return;
  ws_timer_ = std::make_unique<LoopTimer>(loop_.ctx(), timeout);
  ws_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->closing() || self->ws_->upgraded()) return;
    self->server_.log().debugf("{}:{} - websocket handshake timeout", self->remote_ip_, self->remote_port_);
    self->close(CloseReason::kReadError, false);
  });
}

bool Connection::read_websocket(char* data, size_t n) {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (!ws_->upgraded()) {
    const auto& up = ws_->on_request(std::string_view(data, n));
    using State = websocket::Upgrade::State;
    if (up.state == State::kIncomplete) return true;
    if (ws_timer_) ws_timer_->cancel();
    if (up.state == State::kRefused) {
      // The reference's line (wsReturnHTTPError): the peer's address, no connection id, since
      // no client was made. The HTTP error is queued; the close flushes it.
      server_.log().peer_error("{}:{} - websocket handshake error: {}", remote_ip_, remote_port_, up.reason);
      close(CloseReason::kProtocolViolation, true);
      return false;
    }
    start_write();  // the 101 goes out before anything the protocol queues
    on_websocket_upgraded();
    return !closing();
  }
  // Application bytes go straight to the protocol, as views into the read buffer.
  struct Sink final : websocket::FrameSink {
    Connection& c;
    bool delivered = false;
    explicit Sink(Connection& conn) : c(conn) {}
    bool on_payload(std::string_view bytes) override {
      delivered = true;
      return c.on_read(bytes) && !c.closing();
    }
    void on_ping(std::string_view payload) override { c.ws_->queue_pong(payload); }
    void on_close(uint16_t status, std::string_view body) override { c.ws_->queue_close(status, body); }
  } sink(*this);
  auto err = ws_->decode(data, n, sink);
  if (err) {
    // As the reference: the close frame says why (1002 and the words), the log says
    // "read error: <words>", and the connection closes as a Read Error, costing no other.
    server_.log().peer_error("{} - read error: {}", log_prefix(), err.text);
    ws_->queue_close(err.status, err.text);
    close(CloseReason::kReadError, true);
    return false;
  }
  if (ws_->close_queued() && !closing()) {
    // The peer's close frame, echoed: the reference closes as Client Closed.
    close(CloseReason::kClientClosed, true);
    return false;
  }
  if (ws_->has_output()) start_write();  // pongs
  // A read of control frames only (or a partial header) still ends a read for the protocol:
  // a client answers PINGs it deferred while more input was waiting (answer_pings), and that
  // input may have been just this.
  if (!sink.delivered && !closing()) return on_read(std::string_view(data, 0)) && !closing();
  return !closing();
}

void Connection::start() {
  asio::post(loop_.ctx(), [self = shared_from_this()] {
    self->started_ = true;
    if (self->ws_) self->arm_websocket_handshake_timer();
    try {
      self->on_start();
    } catch (const std::exception& e) {
      self->close_on_exception(e.what());
    }
    // A connection that goes TLS reads once its handshake is done (start_tls). A plaintext
    // one reads with non-blocking reads (read_ready); Asio's async operations are unaffected.
    if (!self->closing() && self->tls_state_ == TlsState::kNone) {
      error_code ec;
      self->socket_.non_blocking(true, ec);
      if (self->kind_ == Kind::kClient && !self->ws_) {
        // Plaintext for good: a client's TLS is decided in on_start (begin_protocol).
        self->direct_fd_ = self->socket_.native_handle();
        self->direct_write_ok_.store(true, std::memory_order_release);
      }
      self->do_read();
    }
    self->loop_.flush_touched();
  });
}

void Connection::close_on_exception(std::string_view what) {
  // The protocol code of this one connection failed (docs/architecture.md, "Exceptions"):
  // it alone closes; every other connection on the loop goes on.
  server_.log().peer_error("{} - Error processing input: {}", log_prefix(), what);
  close(CloseReason::kProtocolViolation, false);
}

void Connection::do_read() {
  PYLON_DCHECK_ON_LOOP(loop_);
  reading_ = true;
  // Posted, so a read into the loop's buffer never runs inside another connection's use of it.
  asio::post(loop_.ctx(), [self = shared_from_this()] { self->read_ready(); });
}

void Connection::read_ready() {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (closing()) {
    reading_ = false;
    return;
  }
  char* buf = loop_.read_buffer();
  // The transport, chosen once per connection: one predictable branch.
  if (tls_) {
    read_tls(buf);
    return;
  }
  error_code ec;
  // The socket is non-blocking (start()): this returns at once, with what the kernel holds.
  size_t n = socket_.read_some(asio::buffer(buf, EventLoop::kReadBufferSize), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    wait_readable();
    return;
  }
  on_read_done(ec, buf, n);
}

void Connection::read_tls(char* buf) {
  // The channel reads the socket (tls/channel.h) and opens every whole record there is.
  size_t n = 0;
  auto status = tls_->decrypt(buf, EventLoop::kReadBufferSize, &n);
  tls_more_ = status == tls::Channel::Status::kFull;
  // A TLS 1.3 post-handshake message may want an answer.
  if (tls_->has_output()) start_write();
  if (status == tls::Channel::Status::kClosed || status == tls::Channel::Status::kError) {
    // What came before a close_notify (or a bad record) is the peer's: it is taken first.
    if (n > 0) {
      last_activity_ = std::chrono::steady_clock::now();
      try {
        ws_ ? read_websocket(buf, n) : on_read(std::string_view(buf, n));
      } catch (const std::exception& e) {
        close_on_exception(e.what());
      }
      loop_.flush_touched();
    }
    on_read_done(status == tls::Channel::Status::kClosed ? error_code(asio::error::eof) : tls_->error(), nullptr, 0);
    return;
  }
  if (n == 0) {
    wait_readable();  // the socket said EAGAIN with no whole record
    return;
  }
  on_read_done({}, buf, n);
}

void Connection::wait_readable() {
  PYLON_DCHECK_ON_LOOP(loop_);
  reading_ = true;
  // A pending wait holds no buffer: an idle connection's whole read state is this handler.
  socket_.async_wait(asio::socket_base::wait_read, [self = shared_from_this()](const error_code& ec) {
    if (ec) {
      self->on_read_done(ec, nullptr, 0);
      return;
    }
    self->read_ready();
  });
}

void Connection::on_read_done(const error_code& ec, char* data, size_t n) {
  reading_ = false;
  if (ec) {
    if (!closing()) {
      // A TLS peer that closes without close_notify is a peer that closed, as in Go.
      bool eof = ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated;
      close(eof ? CloseReason::kClientClosed : CloseReason::kReadError, false);
    }
    return;
  }
  if (closing()) return;
  last_activity_ = std::chrono::steady_clock::now();
  bool more = false;
  try {
    // The WebSocket layer, chosen once per connection: one predictable branch.
    more = ws_ ? read_websocket(data, n) : on_read(std::string_view(data, n));
  } catch (const std::exception& e) {
    close_on_exception(e.what());
  }
  // One flush per read batch for every connection this batch delivered to.
  auto stalled = loop_.flush_touched();
  if (!more || closing()) return;
  if (stalled && stalled.get() != this && kind_ == Kind::kClient) {
    // A receiver is filling up: give it time to drain before reading more from this producer.
    read_paused_ = true;
    if (!stall_timer_) stall_timer_ = std::make_unique<LoopTimer>(loop_.ctx());
    stall_timer_->expires_after(stalled->stall_duration());
    stall_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) {
        self->server_.log().debugf("{} - Timed out of fast producer stall", self->log_prefix_);
        self->resume_read();
      }
    });
    stalled->add_stall_waiter(shared_from_this());
    return;
  }
  // A full buffer means more may wait (in the socket, or in OpenSSL's records): read again
  // after what else is queued on the loop. Else the socket is drained: wait for it.
  if (tls_ ? tls_more_ : n == EventLoop::kReadBufferSize) {
    do_read();
  } else {
    wait_readable();
  }
}

void Connection::resume_read() {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (!read_paused_ || closing()) return;
  read_paused_ = false;
  if (stall_timer_) stall_timer_->cancel();
  do_read();
}

bool Connection::stalled() const noexcept {
  int64_t mp = server_.options().max_pending;
  return mp > 0 && static_cast<int64_t>(pending_bytes()) > mp / 2;
}

std::chrono::milliseconds Connection::stall_duration() const noexcept {
  // The reference's stallDuration: 100ms, growing with how far past half full we are, 1s when full.
  using namespace std::chrono;
  int64_t mp = server_.options().max_pending;
  int64_t pb = static_cast<int64_t>(pending_bytes());
  milliseconds ttl(100);
  if (pb >= mp) return milliseconds(1000);
  int64_t half = mp / 2;
  if (pb > half) {
    int64_t step = std::max<int64_t>(half / 10, 1);
    ttl += milliseconds(100 * ((pb - half) / step));
  }
  return std::min(ttl, milliseconds(1000));
}

void Connection::add_stall_waiter(const std::shared_ptr<Connection>& producer) {
  {
    std::lock_guard lk(out_mu_);
    if (!closing_.load(std::memory_order_relaxed) && stalled()) {
      stall_waiters_.push_back(producer);
      return;
    }
  }
  // Drained (or gone) meanwhile: the producer goes on at once.
  asio::post(producer->loop_.ctx(), [producer] { producer->resume_read(); });
}

void Connection::notify_stall_waiters() {
  std::vector<std::weak_ptr<Connection>> waiters;
  {
    std::lock_guard lk(out_mu_);
    if (stall_waiters_.empty()) return;
    waiters.swap(stall_waiters_);
  }
  for (auto& w : waiters) {
    if (auto p = w.lock()) asio::post(p->loop_.ctx(), [p] { p->resume_read(); });
  }
}

bool Connection::enqueue(std::string_view bytes) {
  return enqueue_with(bytes.size(), [&](std::string& out) { out.append(bytes); });
}

void Connection::grow_locked(size_t size_hint) {
  const size_t size = out_pending_.size();
  if (size + size_hint <= kChunkSize) {
    if (size == 0 && pending_bytes_.load(std::memory_order_relaxed) > 0) {
      // A write is in flight, so more will follow: a whole chunk at once, from the pool.
      out_pending_ = outbound::take_chunk();
      return;
    }
    // Idle, or the tail is still small: grow in place (doubling), as a string does. What is
    // copied is less than a chunk, once per chunk at most.
    out_pending_.reserve(std::max(size + size_hint, std::min(2 * out_pending_.capacity(), kChunkSize)));
    return;
  }
  // The tail would outgrow a chunk: seal it, and append to a fresh one (or, for one operation
  // larger than a chunk, a block of its own size).
  if (size > 0) out_chunks_.push_back(std::move(out_pending_));
  if (size_hint <= kChunkSize) {
    out_pending_ = outbound::take_chunk();
  } else {
    out_pending_ = std::string();
    out_pending_.reserve(size_hint);
  }
}

bool Connection::account_appended_locked(std::unique_lock<std::mutex>& lk, size_t n) {
  // Every writer of pending_bytes_ holds out_mu_: no locked instruction for it.
  size_t pending = pending_bytes_.load(std::memory_order_relaxed) + n;
  int64_t max_pending = server_.options().max_pending;
  if (max_pending > 0 && static_cast<int64_t>(pending) > max_pending) {
    // Slow consumer: drop this data, cut the connection, never block the publisher. The
    // data is all in the tail (make_room_locked sealed before it was appended).
    out_pending_.resize(out_pending_.size() - n);
    lk.unlock();
    if (!closing()) {
      server_.count_slow_consumer();
      server_.log().info("{} - Slow Consumer Detected: MaxPending of {} Exceeded", log_prefix_, max_pending);
      close(CloseReason::kSlowConsumerPendingBytes, false);
    }
    return false;
  }
  pending_bytes_.store(pending, std::memory_order_relaxed);
  return true;
}

void Connection::flush_signal(bool direct) {
  if (loop_.in_loop()) {
    start_write();
    return;
  }
  if (direct && direct_write_ok_.load(std::memory_order_acquire) && write_directly()) return;
  if (!flush_posted_.exchange(true, std::memory_order_acq_rel)) {
    asio::post(loop_.ctx(), [self = shared_from_this()] {
      self->flush_posted_.store(false, std::memory_order_release);
      self->start_write();
    });
  }
}

bool Connection::write_directly() {
  PYLON_DCHECK(!loop_.in_loop());
  bool notify = false;
  {
    std::lock_guard lk(out_mu_);
    // The socket stays open while we hold the lock: it is closed (finish_close) only after
    // close() set closing_ under this lock.
    if (closing_.load(std::memory_order_relaxed)) return false;
    if (out_busy_) return true;  // the write in flight ends in start_write, which takes it
    if (out_chunks_.empty() && out_pending_.empty()) return true;
    if (!out_chunks_.empty() || out_pending_.size() > kDirectWriteMax) return false;
    ssize_t n = ::send(direct_fd_, out_pending_.data(), out_pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n <= 0) return false;  // full (or an error, which our loop's write then meets)
    const size_t sent = static_cast<size_t>(n);
    pending_bytes_.store(pending_bytes_.load(std::memory_order_relaxed) - sent, std::memory_order_relaxed);
    g_direct_writes.fetch_add(1, std::memory_order_relaxed);
    if (sent < out_pending_.size()) {
      out_pending_.erase(0, sent);  // at most kDirectWriteMax moved, and only when the socket filled
      return false;
    }
    out_pending_.clear();
    notify = !stall_waiters_.empty() && !stalled();
  }
  if (notify) notify_stall_waiters();
  return true;
}

void Connection::start_write() {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (writing_ || closed_) return;
  {
    std::lock_guard lk(out_mu_);
    if (out_chunks_.empty() && out_pending_.empty()) {
      // A small buffer goes back (idle connections hold none); a busy connection's chunk
      // stays for what comes next: the write's kept buffer becomes the tail, so the next
      // batch appends into a whole chunk instead of growing a small one (copies, and fresh
      // pages to fault in, every batch).
      if (out_pending_.capacity() <= kKeepOutbound) {
        std::string().swap(out_pending_);
        out_pending_.swap(out_writing_);
      }
      // Nothing to write. Go on below, outside the lock, when closing or when a TLS
      // handshake waited for the plaintext before it (a client's INFO) to go out, or when
      // the WebSocket layer has frames of its own (the 101, pongs, the close).
      if (!flush_on_close_ && tls_state_ != TlsState::kAwaitingFlush && !(ws_ && ws_->has_output()) &&
          !(tls_ && tls_->has_output())) {
        return;
      }
    } else if (out_chunks_.empty()) {
      out_pending_.swap(out_writing_);  // out_writing_ was empty: its buffer is the next tail
      out_busy_ = true;
    } else {
      out_writing_chunks_.swap(out_chunks_);
      if (!out_pending_.empty()) out_writing_chunks_.push_back(std::move(out_pending_));
      out_pending_.clear();
      out_pending_.swap(out_writing_);
      out_busy_ = true;
    }
  }
  writing_counted_ = out_writing_.size();
  for (const auto& c : out_writing_chunks_) writing_counted_ += c.size();
  if (ws_) {
    // Framed here, on the loop, once per write: every enqueue path stays a plain append. One
    // uncompressed frame goes out around the protocol's bytes where they lie, out_writing_ and
    // the chunks (frame_in_place): joining a lagging subscriber's chunks into one buffer
    // first copied every byte again, into megabytes of freshly mapped pages (their faults
    // doubled the server's system time on WebSocket pub->sub 16 B, docs/performance.md).
    ws_frames_.clear();
    if (!ws_->frame_in_place(writing_counted_, ws_frames_)) {
      if (!out_writing_chunks_.empty()) {
        // Compressed, or a browser's frames: the codec wants the protocol's bytes in one piece.
        out_writing_.reserve(writing_counted_);
        for (const auto& c : out_writing_chunks_) out_writing_.append(c);
        outbound::give_back(out_writing_chunks_);
      }
      ws_->take_output(out_writing_, ws_frames_);
      out_writing_.swap(ws_frames_);
    }
  }
  bool ws_in_place = ws_ && ws_->in_place();
  bool tls_ready = tls_state_ == TlsState::kEstablished;
  if (tls_ready) {
    // The batch in wire order, sealed one slice at a time (seal_tls_slice).
    tls_batch_.clear();
    tls_piece_ = tls_piece_off_ = 0;
    auto add = [this](std::string_view b) {
      if (!b.empty()) tls_batch_.push_back(b);
    };
    if (ws_in_place) add(ws_frames_);
    add(out_writing_);
    for (const auto& c : out_writing_chunks_) add(c);
    if (ws_in_place) add(ws_->in_place_tail());
    // The last batch of a flushed close: close_notify after it, as Go's tls.Conn.Close.
    tls_close_after_ = false;
    if (flush_on_close_ && closing()) {
      std::lock_guard lk(out_mu_);
      tls_close_after_ = out_pending_.empty() && out_chunks_.empty();
    }
    if (tls_close_after_ && tls_batch_.empty()) {
      tls_->close_notify();  // nothing to seal first (a no-op when already sent)
      tls_close_after_ = false;
    }
  }
  if (out_writing_.empty() && out_writing_chunks_.empty() && !(tls_ready && tls_->has_output())) {
    if (flush_on_close_) {
      finish_close();  // closing with nothing left to write
    } else {
      begin_tls_handshake();
    }
    return;
  }
  writing_ = true;
  // Only a route's deadline asks how much the peer took (a getsockopt); a client's never does.
  arm_write_deadline(kind_ == Kind::kRoute ? delivered() : 0);
  auto on_written = [self = shared_from_this()](const error_code& ec, size_t n) { self->on_write_done(ec, n); };
  // The transport, chosen once per connection: one predictable branch.
  if (tls_) {
    send_tls_slice();  // sealed here, on the loop, a slice at a time
  } else if (ws_in_place && out_writing_chunks_.empty()) {
    std::string_view tail = ws_->in_place_tail();
    const std::array<asio::const_buffer, 3> frame{asio::buffer(ws_frames_), asio::buffer(out_writing_),
                                                  asio::buffer(tail.data(), tail.size())};
    asio::async_write(socket_, frame, std::move(on_written));
  } else if (ws_in_place) {
    // The frame's header, the protocol's bytes where they lie, the close frame: one writev.
    std::string_view tail = ws_->in_place_tail();
    out_iov_.clear();
    out_iov_.push_back(asio::buffer(ws_frames_));
    if (!out_writing_.empty()) out_iov_.push_back(asio::buffer(out_writing_));
    for (const auto& c : out_writing_chunks_) out_iov_.push_back(asio::buffer(c));
    if (!tail.empty()) out_iov_.push_back(asio::buffer(tail.data(), tail.size()));
    asio::async_write(socket_, out_iov_, std::move(on_written));
  } else if (out_writing_chunks_.empty()) {
    asio::async_write(socket_, asio::buffer(out_writing_), std::move(on_written));
  } else {
    // One writev for the whole batch (Asio sends up to 64 buffers a call).
    out_iov_.clear();
    if (!out_writing_.empty()) out_iov_.push_back(asio::buffer(out_writing_));
    for (const auto& c : out_writing_chunks_) out_iov_.push_back(asio::buffer(c));
    asio::async_write(socket_, out_iov_, std::move(on_written));
  }
}

void Connection::send_tls_slice() {
  if (!seal_tls_slice()) {
    writing_ = false;
    {
      std::lock_guard lk(out_mu_);
      out_busy_ = false;
    }
    write_timer_.cancel();
    close(CloseReason::kWriteError, false);
    finish_close();
    return;
  }
  // One send for every record of the slice.
  asio::async_write(socket_, asio::buffer(tls_->begin_send()),
                    [self = shared_from_this()](const error_code& ec, size_t n) { self->on_write_done(ec, n); });
}

bool Connection::seal_tls_slice() {
  PYLON_DCHECK_ON_LOOP(loop_);
  // Count the slice first, so the output grows once (reserve) for all its records.
  size_t plain = 0, pieces = 0;
  for (size_t i = tls_piece_, off = tls_piece_off_; i < tls_batch_.size() && plain < tls::Channel::kSealSlice;
       ++i, off = 0) {
    plain += std::min(tls_batch_[i].size() - off, tls::Channel::kSealSlice - plain);
    ++pieces;
  }
  tls_->reserve(plain, pieces);
  tls_slice_plain_ = plain;
  while (plain > 0) {
    std::string_view piece = tls_batch_[tls_piece_].substr(tls_piece_off_);
    size_t take = std::min(piece.size(), plain);
    if (!tls_->encrypt(piece.substr(0, take))) return false;
    plain -= take;
    tls_piece_off_ += take;
    if (tls_piece_off_ == tls_batch_[tls_piece_].size()) {
      ++tls_piece_;
      tls_piece_off_ = 0;
    }
  }
  if (tls_close_after_ && tls_piece_ == tls_batch_.size()) {
    tls_->close_notify();
    tls_close_after_ = false;
  }
  return true;
}

void Connection::release_idle_buffers() {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (writing_ || closed_) return;
  uint64_t released = 0;
  auto release = [&](std::string& buf) {
    if (buf.capacity() <= kKeepOutbound) return;
    outbound::give_back(buf);  // to the pool when chunk-sized, else freed
    ++released;
  };
  {
    std::lock_guard lk(out_mu_);  // appenders on other loops hold it
    if (!out_chunks_.empty() || !out_pending_.empty()) return;
    release(out_pending_);
  }
  // Not writing: the rest are this loop's alone, and empty.
  if (out_writing_.empty()) release(out_writing_);
  release(ws_frames_);
  if (tls_ && tls_state_ == TlsState::kEstablished) released += tls_->release_idle();
  if (released > 0) g_idle_buffers_released.fetch_add(released, std::memory_order_relaxed);
}

uint64_t Connection::delivered() { return tcp_bytes_acked(socket_.native_handle()); }

void Connection::arm_write_deadline(uint64_t delivered_before) {
  PYLON_DCHECK_ON_LOOP(loop_);
  write_timer_.expires_after(server_.options().write_deadline);
  write_timer_.async_wait([self = shared_from_this(), delivered_before](const error_code& ec) {
    if (ec || !self->writing_ || self->closed_) return;
    // The peer did not take our data within write_deadline: a slow consumer.
    if (!self->closing()) {
      self->server_.count_slow_consumer();
      // The reference's words; its write is a writev of `chunks` buffers, ours is one buffer.
      size_t chunks = self->out_writing_chunks_.empty() ? 1 : self->out_iov_.size();
      size_t bytes = self->out_writing_.size();
      for (const auto& c : self->out_writing_chunks_) bytes += c.size();
      self->server_.log().info(
          "{} - Slow Consumer Detected: WriteDeadline of {} exceeded with {} chunks of {} total bytes.",
          self->log_prefix_, format_duration(self->server_.options().write_deadline), chunks, bytes);
    }
    // As the reference (handleWriteTimeout): a route whose peer took some of the data within
    // the deadline is slow but alive, and cutting it would lose every message in flight to it;
    // a client, or a route that took nothing, is cut.
    if (self->kind_ == Kind::kRoute && !self->closing()) {
      uint64_t now = self->delivered();
      if (now > delivered_before) {
        self->arm_write_deadline(now);
        return;
      }
    }
    self->close(CloseReason::kSlowConsumerWriteDeadline, false);
    self->finish_close();
  });
}

void Connection::on_write_done(const error_code& ec, size_t /*n*/) {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (tls_ && tls_piece_ < tls_batch_.size() && !ec && !closed_ && (!closing() || flush_on_close_)) {
    // The next slice of a TLS batch. What the last one carried is out of pending now, so a
    // stalled producer may go on before the whole batch is written (WebSocket counts its
    // protocol bytes, not the frames it seals: its batch leaves pending whole, below).
    tls_->sent();
    if (!ws_) {
      std::lock_guard lk(out_mu_);
      pending_bytes_.store(pending_bytes_.load(std::memory_order_relaxed) - tls_slice_plain_,
                           std::memory_order_relaxed);
      writing_counted_ -= tls_slice_plain_;
    }
    if (!stalled()) notify_stall_waiters();
    arm_write_deadline(kind_ == Kind::kRoute ? delivered() : 0);
    send_tls_slice();
    return;
  }
  tls_batch_.clear();
  writing_ = false;
  write_timer_.cancel();
  {
    std::lock_guard lk(out_mu_);  // every writer of pending_bytes_ holds it (appends don't lock-add)
    pending_bytes_.store(pending_bytes_.load(std::memory_order_relaxed) - writing_counted_, std::memory_order_relaxed);
    out_busy_ = false;
  }
  writing_counted_ = 0;
  if (tls_state_ == TlsState::kEstablished) tls_->sent();
  if (!out_writing_chunks_.empty() && out_writing_.capacity() <= kKeepOutbound) {
    // The last chunk stays as the next tail (the swap in start_write), the rest go to the pool.
    out_writing_.swap(out_writing_chunks_.back());
    out_writing_chunks_.pop_back();
  }
  outbound::give_back(out_writing_chunks_);
  if (out_writing_.capacity() <= kKeepOutbound || out_writing_.capacity() > 2 * kChunkSize) {
    std::string().swap(out_writing_);  // small, or one large operation's block: not kept
  } else {
    out_writing_.clear();  // the next swap's tail
  }
  if (!stalled()) notify_stall_waiters();
  if (closed_) return;
  if (ec) {
    // The reference's flushOutbound: a client's at debug level, a route's or a leaf's as an
    // error (its peer is a server, whose loss an operator must see).
    if (kind_ == Kind::kClient) {
      server_.log().debugf("{} - Error flushing: {}", log_prefix_, ec.message());
    } else {
      server_.log().error("{} - Error flushing: {}", log_prefix_, ec.message());
    }
    close(CloseReason::kWriteError, false);
    finish_close();
    return;
  }
  if (closing() && !flush_on_close_) {
    finish_close();
    return;
  }
  start_write();
}

void Connection::close(CloseReason reason, bool flush) {
  {
    std::lock_guard lk(out_mu_);
    if (closing_.load(std::memory_order_relaxed)) return;
    close_reason_ = reason;
    closing_.store(true, std::memory_order_release);
  }
  if (loop_.in_loop()) {
    close_in_loop(reason, flush);
  } else {
    asio::post(loop_.ctx(), [self = shared_from_this(), reason, flush] { self->close_in_loop(reason, flush); });
  }
}

void Connection::close_in_loop(CloseReason reason, bool flush) {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (closed_) return;
  on_closing();
  if (ws_ && ws_->upgraded()) {
    // The reference's wsEnqueueCloseMessage: a close frame with the status for the reason,
    // written after what is queued; only where the reference flushes on close at all.
    bool skip_flush = reason == CloseReason::kReadError || reason == CloseReason::kWriteError ||
                      reason == CloseReason::kSlowConsumerPendingBytes ||
                      reason == CloseReason::kSlowConsumerWriteDeadline || reason == CloseReason::kTlsHandshakeError;
    if (!ws_->close_queued() && !skip_flush) {
      ws_->queue_close(websocket::close_status_for(reason), to_string(reason));
      flush = true;
    }
    if (ws_->close_queued() && reason != CloseReason::kWriteError) flush = true;
  }
  // Mid-handshake there is no channel to flush into: close at once.
  if (flush && tls_state_ != TlsState::kAwaitingFirstByte && tls_state_ != TlsState::kHandshaking) {
    flush_on_close_ = true;
    if (!writing_) start_write();
    return;  // finish_close runs when the last write completes (or the deadline cuts it)
  }
  finish_close();
}

void Connection::finish_close() {
  PYLON_DCHECK_ON_LOOP(loop_);
  // close() set closing_ under out_mu_ first, so no other loop sends on the socket now
  // (write_directly) and none will.
  PYLON_DCHECK(closing());
  if (closed_) return;
  closed_ = true;
  error_code ec;
  write_timer_.cancel();
  if (stall_timer_) stall_timer_->cancel();
  notify_stall_waiters();
  // Discard unread input first: closing with unread bytes makes the kernel send a reset,
  // which can destroy our final -ERR in the peer's receive buffer before it reads it.
  for (size_t avail = socket_.available(ec); !ec && avail > 0; avail = socket_.available(ec)) {
    char sink[4096];
    socket_.non_blocking(true, ec);
    socket_.read_some(asio::buffer(sink), ec);
  }
  ec.clear();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  on_closed(close_reason_);
}

}  // namespace pylon::server
