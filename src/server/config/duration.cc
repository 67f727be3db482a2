#include "server/config/duration.h"

#include <fmt/format.h>

namespace pylon::server {

std::string format_duration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  if (ns < 0) ns = -ns;
  if (ns < 1000) return fmt::format("{}{}ns", sign, ns);
  if (ns < 1000000) return fmt::format("{}{}µs", sign, static_cast<double>(ns) / 1e3);
  if (ns < 1000000000) return fmt::format("{}{}ms", sign, static_cast<double>(ns) / 1e6);
  int64_t h = ns / 3600000000000LL;
  ns -= h * 3600000000000LL;
  int64_t m = ns / 60000000000LL;
  ns -= m * 60000000000LL;
  double s = static_cast<double>(ns) / 1e9;
  std::string out = sign;
  if (h) out += fmt::format("{}h", h);
  if (h || m) out += fmt::format("{}m", m);
  out += fmt::format("{}s", s);
  return out;
}

}  // namespace pylon::server
