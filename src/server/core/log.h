// The server's logger, in the reference server's line format:
//   [<pid>] 2026/11/24 20:15:00.123456 [INF] <message>
// (without the timestamp when logtime is off). Levels: FTL ERR WRN INF DBG TRC.
// Thread-safe; writes whole lines. Reopen (SIGUSR1, log rotation) and a size limit
// (log_size_limit: the file is renamed with a timestamp suffix and a new one started).
//
// We use a small logger of our own rather than spdlog: the exact reference line format,
// reopen-on-signal and size rotation are a few lines here and awkward to bend spdlog into.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace pylon::server {

enum class LogLevel { kFatal, kError, kWarn, kInfo, kDebug, kTrace };

class Logger {
 public:
  Logger();
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Log to `path` (appending), or to stderr when empty. Throws std::runtime_error.
  void open(const std::string& path);
  // Reopen the same file (after an external rotation). No-op for stderr.
  void reopen();
  void set_time(bool on) { time_.store(on, std::memory_order_relaxed); }
  void set_debug(bool on) { debug_.store(on, std::memory_order_relaxed); }
  void set_trace(bool on) { trace_.store(on, std::memory_order_relaxed); }
  void set_size_limit(int64_t bytes) { size_limit_.store(bytes, std::memory_order_relaxed); }
  bool debug() const { return debug_.load(std::memory_order_relaxed); }
  bool trace() const { return trace_.load(std::memory_order_relaxed); }

  void write(LogLevel level, std::string_view msg);

  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) {
    write(LogLevel::kInfo, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    write(LogLevel::kWarn, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void error(fmt::format_string<Args...> f, Args&&... args) {
    write(LogLevel::kError, fmt::format(f, std::forward<Args>(args)...));
  }
  // A line caused by what a peer sent: bad protocol, failed authentication, a violation. A
  // storm of bad peers must not flood the log or fill the disk, so these lines share one
  // budget of kPeerLinesPerSecond a second across the server; past it they are counted, not
  // formatted, and the count is logged as a warning once the second is over (by the next
  // line of any kind, or by the shutdown).
  static constexpr uint64_t kPeerLinesPerSecond = 100;
  template <typename... Args>
  void peer_error(fmt::format_string<Args...> f, Args&&... args) {
    if (admit_peer_line()) write(LogLevel::kError, fmt::format(f, std::forward<Args>(args)...));
  }
  // Peer lines left out by the budget since start (the /metrics counter).
  uint64_t peer_lines_suppressed() const { return peer_suppressed_total_.load(std::memory_order_relaxed); }
  // Logs the count of the lines left out since the last report, if any (shutdown).
  void report_suppressed();

  template <typename... Args>
  void fatal(fmt::format_string<Args...> f, Args&&... args) {
    write(LogLevel::kFatal, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void debugf(fmt::format_string<Args...> f, Args&&... args) {
    if (debug()) write(LogLevel::kDebug, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void tracef(fmt::format_string<Args...> f, Args&&... args) {
    if (trace()) write(LogLevel::kTrace, fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  void rotate_locked();
  bool admit_peer_line();
  // Starts a new one-second window when `now_s` is past the current one; logs the last
  // window's suppressed count. Returns false when the window is still current.
  void roll_peer_window(int64_t now_s);

  std::mutex mu_;
  FILE* file_ = nullptr;  // nullptr: stderr
  std::string path_;
  std::string pid_prefix_;
  // Set by a reload on the main thread while the loops write: atomics, as debug_ and trace_.
  std::atomic<bool> time_{true};
  std::atomic<bool> debug_{false}, trace_{false};
  std::atomic<int64_t> size_limit_{0};
  int64_t written_ = 0;
  // The peer-line budget: the current window's second (steady clock), lines admitted in it,
  // lines suppressed since the last report, and in total.
  std::atomic<int64_t> peer_window_{0};
  std::atomic<uint64_t> peer_admitted_{0};
  std::atomic<uint64_t> peer_suppressed_{0};
  std::atomic<uint64_t> peer_suppressed_total_{0};
};

}  // namespace pylon::server
