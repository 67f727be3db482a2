// Log lines as Go's standard `log` package prints them ("2006/01/02 15:04:05 msg"),
// flushed at once so a supervising script (or test) sees every line as it happens.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace examples {

template <typename... Args>
void logf(fmt::format_string<Args...> f, Args&&... args) {
  static std::mutex mu;
  std::string line = fmt::format(f, std::forward<Args>(args)...);
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S", &tm);
  std::lock_guard lk(mu);
  std::fprintf(stdout, "%s %s\n", stamp, line.c_str());
  std::fflush(stdout);
}

}  // namespace examples
