// An event loop: one thread running one io_context. Each connection is owned by one
// loop and its socket I/O and timers run there (one exception: a small batch that another loop
// delivered may be sent by that loop, Connection::write_directly).
//
// Write coalescing lives here too: while a loop processes a read batch, every connection
// that received a message is "touched" once; at the end of the batch each touched
// connection gets one flush signal, so one write carries many messages.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "server/core/deadline_list.h"

namespace pylon::server {

class Connection;

// Loop-local state that an idle owner would otherwise keep for ever (a connection's cache of
// match results holds subscriptions, and through them their connections, until its next
// publish). While registered with its loop it is swept once every EventLoop::kSweepInterval.
class Sweepable {
 public:
  virtual ~Sweepable() = default;
  // Loop thread. Drops what went stale or idle; false when nothing is left (then the loop
  // forgets it until it registers again).
  virtual bool sweep() = 0;
};

// Message counters kept per loop: only the loop's own thread writes them (plain
// load+store, no locked instruction on the hot path); monitoring sums them.
struct LoopCounters {
  std::atomic<uint64_t> in_msgs{0}, in_bytes{0}, out_msgs{0}, out_bytes{0};
  static void bump(std::atomic<uint64_t>& c, uint64_t n) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// Exceptions: no exception may escape a handler (docs/architecture.md, "Exceptions"). What a
// peer sends is decoded without throwing, and a connection catches whatever its own protocol
// code throws and closes itself alone (Connection::do_read). The loop keeps one more net under
// everything else: an exception that still reaches run() is reported to `on_escape` and the
// loop runs on, so one bad handler can never take down the other connections of the process.
class EventLoop {
 public:
  using EscapeHandler = std::function<void(int loop_index, std::string_view what)>;
  explicit EventLoop(int index, EscapeHandler on_escape = {});
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& ctx() noexcept { return ctx_; }
  int index() const noexcept { return index_; }

  void start();
  // Lets the loop run out of work and joins its thread.
  void stop();
  // True when called from this loop's thread.
  bool in_loop() const noexcept { return std::this_thread::get_id() == tid_.load(std::memory_order_acquire); }

  // The loop whose thread is running now (nullptr outside loop threads).
  static EventLoop* current() noexcept;
  LoopCounters& counters() noexcept { return counters_; }
  // Exceptions that reached this loop's run() (each one a bug; see above).
  uint64_t escaped_exceptions() const noexcept { return escaped_.load(std::memory_order_relaxed); }
  const LoopCounters& counters() const noexcept { return counters_; }

  // Loop thread only. Remembers that `c` got data in this batch (once per batch).
  void touch(Connection* c);
  // Loop thread only. Signals every touched connection to write, and forgets them.
  // Returns the fullest touched connection when one is stalled (see Connection::stalled).
  std::shared_ptr<Connection> flush_touched();

  // Loop thread only. Sweeps `s` every kSweepInterval until its sweep() returns false or it
  // is gone; its owner registers it once for each such period. The loop holds it weakly: the
  // owner may drop it on any thread, and a sweep holds it strongly while it runs, so whoever
  // drops the last reference is the only one touching it.
  static constexpr std::chrono::milliseconds kSweepInterval{1000};
  void sweep_while_held(std::weak_ptr<Sweepable> s);

  // Loop thread only. The one read buffer of every plaintext connection on this loop
  // (Connection::read_ready): a connection reads into it only when its socket is readable
  // and hands what it read to its protocol at once, which keeps nothing of it past that call
  // (the parser copies an operation split across reads). So an idle connection holds no read
  // buffer at all, and a busy one reads up to its full size per read.
  static constexpr size_t kReadBufferSize = 64 * 1024;  // the reference's largest read buffer
  // Loop thread only. The clients' ping deadlines (ClientConn): one timer for the loop.
  DeadlineList& ping_deadlines() noexcept { return ping_deadlines_; }

  char* read_buffer() {
    if (!read_buf_) read_buf_ = std::make_unique<char[]>(kReadBufferSize);
    return read_buf_.get();
  }

 private:
  void run();  // the loop thread's body
  void arm_sweep();       // loop thread
  void on_sweep_timer();  // loop thread

  boost::asio::io_context ctx_;
  EscapeHandler on_escape_;
  std::atomic<uint64_t> escaped_{0};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::atomic<std::thread::id> tid_{};
  int index_;
  uint64_t batch_;  // unique per loop and batch: (index << 48) | counter
  std::vector<std::shared_ptr<Connection>> touched_;
  std::vector<std::pair<EventLoop*, int>> other_loops_;  // flush_touched's scratch: touched per other loop
  LoopCounters counters_;
  // Loop thread. The timer is armed only while something is registered, so an idle server
  // has no wake-ups from it; stop() drops its handler with the others.
  std::vector<std::weak_ptr<Sweepable>> sweepables_;
  boost::asio::steady_timer sweep_timer_;
  bool sweep_armed_ = false;
  std::unique_ptr<char[]> read_buf_;  // loop thread; see read_buffer()
  DeadlineList ping_deadlines_{ctx_};  // after ctx_, which it uses
};

}  // namespace pylon::server
