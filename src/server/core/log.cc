#include "server/core/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstring>
#include <stdexcept>

namespace pylon::server {

namespace {
const char* label(LogLevel l) {
  switch (l) {
    case LogLevel::kFatal: return "[FTL] ";
    case LogLevel::kError: return "[ERR] ";
    case LogLevel::kWarn: return "[WRN] ";
    case LogLevel::kInfo: return "[INF] ";
    case LogLevel::kDebug: return "[DBG] ";
    case LogLevel::kTrace: return "[TRC] ";
  }
  return "[INF] ";
}
}  // namespace

Logger::Logger() : pid_prefix_(fmt::format("[{}] ", ::getpid())) {}

Logger::~Logger() {
  if (file_) std::fclose(file_);
}

void Logger::open(const std::string& path) {
  std::lock_guard lk(mu_);
  if (file_) {
    std::fclose(file_);
    file_ = nullptr;
  }
  path_ = path;
  written_ = 0;
  if (path.empty()) return;
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw std::runtime_error(fmt::format("cannot open log file {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fileno(file_), &st) == 0) written_ = st.st_size;
}

void Logger::reopen() {
  if (path_.empty()) return;
  open(path_);
}

void Logger::rotate_locked() {
  // As the reference: rename the full file with a timestamp suffix, start a new one.
  std::fclose(file_);
  file_ = nullptr;
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y.%m.%d.%H.%M.%S", &tm);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::string rotated = fmt::format("{}.{}.{:06}", path_, stamp, us);
  std::rename(path_.c_str(), rotated.c_str());
  file_ = std::fopen(path_.c_str(), "a");
  written_ = 0;
}

namespace {
int64_t steady_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

void Logger::roll_peer_window(int64_t now_s) {
  int64_t w = peer_window_.load(std::memory_order_relaxed);
  if (now_s == w || !peer_window_.compare_exchange_strong(w, now_s, std::memory_order_relaxed)) return;
  // This thread opened the new window: it resets the budget and reports the old window.
  // Admissions racing with the reset may land in either window; the budget is approximate
  // by a few lines, never unbounded.
  peer_admitted_.store(0, std::memory_order_relaxed);
  report_suppressed();
}

void Logger::report_suppressed() {
  uint64_t n = peer_suppressed_.exchange(0, std::memory_order_relaxed);
  if (n == 0) return;
  write(LogLevel::kWarn, fmt::format("Log rate limit: {} peer error line{} suppressed (at most {} a second)", n,
                                     n == 1 ? "" : "s", kPeerLinesPerSecond));
}

bool Logger::admit_peer_line() {
  roll_peer_window(steady_seconds());
  if (peer_admitted_.fetch_add(1, std::memory_order_relaxed) < kPeerLinesPerSecond) return true;
  peer_suppressed_.fetch_add(1, std::memory_order_relaxed);
  peer_suppressed_total_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void Logger::write(LogLevel level, std::string_view msg) {
  // A line of any kind first reports the peer lines an ended window left out, so the count
  // comes out even when the storm has stopped.
  if (peer_suppressed_.load(std::memory_order_relaxed) != 0) roll_peer_window(steady_seconds());
  std::string line;
  line.reserve(64 + msg.size());
  line += pid_prefix_;
  if (time_.load(std::memory_order_relaxed)) {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
    fmt::format_to(std::back_inserter(line), "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06} ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
  }
  line += label(level);
  line += msg;
  line += '\n';
  std::lock_guard lk(mu_);
  FILE* out = file_ ? file_ : stderr;
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
  if (file_) {
    written_ += static_cast<int64_t>(line.size());
    int64_t limit = size_limit_.load(std::memory_order_relaxed);
    if (limit > 0 && written_ >= limit) rotate_locked();
  }
}

}  // namespace pylon::server
