#include "server/core/connection.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "server/config/config.h"
#include "server/core/check.h"
#include "server/core/event_loop.h"
#include "server/server.h"
#include "server/config/duration.h"

namespace pylon::server {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
// The reference's read-buffer bounds: start small, grow to 64 KiB under load.
constexpr size_t kStartReadBuf = 512;
constexpr size_t kMaxReadBuf = 64 * 1024;
constexpr size_t kMinReadBuf = 64;
// An outbound buffer larger than this is given back after a small write.
constexpr size_t kShrinkOutbound = 1024 * 1024;
}  // namespace

Connection::Connection(Server& server, EventLoop& loop, asio::ip::tcp::socket socket, Kind kind, uint64_t cid)
    : server_(server), loop_(loop), socket_(std::move(socket)), kind_(kind), cid_(cid),
      started_at_(std::chrono::system_clock::now()), last_activity_(std::chrono::steady_clock::now()),
      write_timer_(loop.ctx()),
      stall_timer_(loop.ctx()) {
  error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    remote_ip_ = ep.address().to_string();
    remote_port_ = ep.port();
  }
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  log_prefix_ = fmt::format("{}:{} - {}:{}", remote_ip_, remote_port_, kind == Kind::kClient ? "cid" : "rid", cid_);
}

Connection::~Connection() {
  // Lifetimes: a connection that served is freed only after it closed (on_closed ran on its
  // loop and dropped its subscriptions). Then nothing in the index names it, and the last
  // holder — a match result, a posted handler — may let go of it on any thread.
  PYLON_DCHECK(!started_ || closed_);
}

void Connection::set_log_tag(std::string_view tag) {
  if (tag.empty() || tagged_prefix_.load(std::memory_order_relaxed) != nullptr) return;
  tagged_storage_ = log_prefix_ + " - ";
  config::append_go_quoted(tagged_storage_, tag);
  tagged_prefix_.store(&tagged_storage_, std::memory_order_release);
}

void Connection::start() {
  asio::post(loop_.ctx(), [self = shared_from_this()] {
    self->started_ = true;
    self->read_buf_.resize(kStartReadBuf);
    try {
      self->on_start();
    } catch (const std::exception& e) {
      self->close_on_exception(e.what());
    }
    if (!self->closing()) self->do_read();
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
  socket_.async_read_some(asio::buffer(read_buf_), [self = shared_from_this()](const error_code& ec, size_t n) {
    self->reading_ = false;
    if (ec) {
      if (!self->closing()) {
        bool eof = ec == asio::error::eof || ec == asio::error::connection_reset;
        self->close(eof ? CloseReason::kClientClosed : CloseReason::kReadError, false);
      }
      return;
    }
    if (self->closing()) return;
    self->last_activity_ = std::chrono::steady_clock::now();
    bool more = false;
    try {
      more = self->on_read(std::string_view(self->read_buf_.data(), n));
    } catch (const std::exception& e) {
      self->close_on_exception(e.what());
    }
    // One flush per read batch for every connection this batch delivered to.
    auto stalled = self->loop_.flush_touched();
    if (!more || self->closing()) return;
    // Adapt the buffer: double when a read fills it, halve after repeated short reads.
    size_t cap = self->read_buf_.size();
    if (n == cap && cap < kMaxReadBuf) {
      self->read_buf_.resize(cap * 2);
      self->short_reads_ = 0;
    } else if (n < cap / 2 && cap > kMinReadBuf) {
      if (++self->short_reads_ > 2) {
        self->read_buf_.resize(cap / 2);
        self->read_buf_.shrink_to_fit();
        self->short_reads_ = 0;
      }
    } else {
      self->short_reads_ = 0;
    }
    if (stalled && stalled.get() != self.get() && self->kind_ == Kind::kClient) {
      // A receiver is filling up: give it time to drain before reading more from this producer.
      self->read_paused_ = true;
      self->stall_timer_.expires_after(stalled->stall_duration());
      self->stall_timer_.async_wait([self](const error_code& ec) {
        if (!ec) {
          self->server_.log().debugf("{} - Timed out of fast producer stall", self->log_prefix_);
          self->resume_read();
        }
      });
      stalled->add_stall_waiter(self);
      return;
    }
    self->do_read();
  });
}

void Connection::resume_read() {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (!read_paused_ || closing()) return;
  read_paused_ = false;
  stall_timer_.cancel();
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

bool Connection::account_appended_locked(std::unique_lock<std::mutex>& lk, size_t n) {
  size_t pending = pending_bytes_.fetch_add(n, std::memory_order_relaxed) + n;
  int64_t max_pending = server_.options().max_pending;
  if (max_pending > 0 && static_cast<int64_t>(pending) > max_pending) {
    // Slow consumer: drop this data, cut the connection, never block the publisher.
    out_pending_.resize(out_pending_.size() - n);
    pending_bytes_.fetch_sub(n, std::memory_order_relaxed);
    lk.unlock();
    if (!closing()) {
      server_.count_slow_consumer();
      server_.log().info("{} - Slow Consumer Detected: MaxPending of {} Exceeded", log_prefix_, max_pending);
      close(CloseReason::kSlowConsumerPendingBytes, false);
    }
    return false;
  }
  return true;
}

void Connection::flush_signal() {
  if (loop_.in_loop()) {
    start_write();
    return;
  }
  if (!flush_posted_.exchange(true, std::memory_order_acq_rel)) {
    asio::post(loop_.ctx(), [self = shared_from_this()] {
      self->flush_posted_.store(false, std::memory_order_release);
      self->start_write();
    });
  }
}

void Connection::start_write() {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (writing_ || closed_) return;
  {
    std::lock_guard lk(out_mu_);
    if (out_pending_.empty()) {
      if (flush_on_close_) {
        // fallthrough below, outside the lock
      } else {
        return;
      }
    } else {
      out_pending_.swap(out_writing_);
    }
  }
  if (out_writing_.empty()) {
    finish_close();  // closing with nothing left to write
    return;
  }
  writing_ = true;
  written_ = 0;
  // Only a route's deadline asks how much the peer took (an ioctl); a client's never does.
  arm_write_deadline(kind_ == Kind::kRoute ? delivered() : 0);
  // The completion condition sees the bytes written so far, for delivered(); 64 KiB a step,
  // as Asio's transfer_all.
  asio::async_write(
      socket_, asio::buffer(out_writing_),
      [self = shared_from_this()](const error_code& ec, size_t n) -> size_t {
        self->written_ = n;
        return ec ? 0 : 65536;
      },
      [self = shared_from_this()](const error_code& ec, size_t n) { self->on_write_done(ec, n); });
}

uint64_t Connection::delivered() {
  // What the peer has taken: everything handed to the kernel, less what still sits in the
  // socket's send queue (not sent yet, or sent and not acknowledged).
  int queued = 0;
  if (::ioctl(socket_.native_handle(), SIOCOUTQ, &queued) != 0) queued = 0;
  return handed_ + written_ - static_cast<uint64_t>(queued);
}

void Connection::arm_write_deadline(uint64_t delivered_before) {
  PYLON_DCHECK_ON_LOOP(loop_);
  write_timer_.expires_after(server_.options().write_deadline);
  write_timer_.async_wait([self = shared_from_this(), delivered_before](const error_code& ec) {
    if (ec || !self->writing_ || self->closed_) return;
    // The peer did not take our data within write_deadline: a slow consumer.
    if (!self->closing()) {
      self->server_.count_slow_consumer();
      // The reference's words; its write is a writev of `chunks` buffers, ours is one buffer.
      self->server_.log().info(
          "{} - Slow Consumer Detected: WriteDeadline of {} exceeded with 1 chunks of {} total bytes.",
          self->log_prefix_, format_duration(self->server_.options().write_deadline), self->out_writing_.size());
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

void Connection::on_write_done(const error_code& ec, size_t n) {
  PYLON_DCHECK_ON_LOOP(loop_);
  writing_ = false;
  handed_ += n;
  written_ = 0;
  write_timer_.cancel();
  pending_bytes_.fetch_sub(out_writing_.size(), std::memory_order_relaxed);
  if (out_writing_.capacity() > kShrinkOutbound && n < kShrinkOutbound / 4) {
    std::string().swap(out_writing_);
  } else {
    out_writing_.clear();
  }
  if (!stalled()) notify_stall_waiters();
  if (closed_) return;
  if (ec) {
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
  if (flush) {
    flush_on_close_ = true;
    if (!writing_) start_write();
    return;  // finish_close runs when the last write completes (or the deadline cuts it)
  }
  finish_close();
}

void Connection::finish_close() {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (closed_) return;
  closed_ = true;
  error_code ec;
  write_timer_.cancel();
  stall_timer_.cancel();
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
