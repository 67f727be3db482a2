// An event loop: one thread running one io_context. Each connection is owned by one
// loop and all its socket I/O and timers run there.
//
// Write coalescing lives here too: while a loop processes a read batch, every connection
// that received a message is "touched" once; at the end of the batch each touched
// connection gets one flush signal, so one write carries many messages.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

namespace pylon::server {

class Connection;

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

 private:
  void run();  // the loop thread's body

  boost::asio::io_context ctx_;
  EscapeHandler on_escape_;
  std::atomic<uint64_t> escaped_{0};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::atomic<std::thread::id> tid_{};
  int index_;
  uint64_t batch_;  // unique per loop and batch: (index << 48) | counter
  std::vector<std::shared_ptr<Connection>> touched_;
  LoopCounters counters_;
};

}  // namespace pylon::server
