#include "server/monitor/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pylon::server::monitor {

namespace {
// /proc/self/stat's fields after the command name (which may hold spaces and parentheses),
// so that fields[0] is field 3 ("state") of man proc(5).
std::vector<std::string> stat_fields() {
  std::ifstream f("/proc/self/stat");
  std::string line;
  if (!f || !std::getline(f, line)) return {};
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 > line.size()) return {};
  std::istringstream in(line.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string x; in >> x;) fields.push_back(x);
  return fields;
}

// 1-based field number of proc(5) -> index into stat_fields().
constexpr size_t field(size_t n) { return n - 3; }

double ticks_per_second() { return static_cast<double>(::sysconf(_SC_CLK_TCK)); }

// The system's boot time in seconds since the epoch ("btime" of /proc/stat).
double boot_time() {
  std::ifstream f("/proc/stat");
  for (std::string key; f >> key;) {
    if (key == "btime") {
      double t = 0;
      f >> t;
      return t;
    }
    f.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

double to_double(const std::string& s) {
  try {
    return std::stod(s);
  } catch (const std::exception&) {
    return 0;
  }
}
}  // namespace

CpuSample sample_cpu() {
  CpuSample s;
  auto fields = stat_fields();
  if (fields.size() <= field(22)) return s;
  double ticks = ticks_per_second();
  double utime = to_double(fields[field(14)]), stime = to_double(fields[field(15)]);
  double start = to_double(fields[field(22)]);
  std::ifstream up("/proc/uptime");
  double uptime_secs = 0;
  if (!(up >> uptime_secs)) return s;
  s.cpu_seconds = (utime + stime) / ticks;
  s.wall_seconds = uptime_secs - start / ticks;
  s.ok = true;
  return s;
}

int64_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

ProcessStats read_process_stats() {
  ProcessStats p;
  auto fields = stat_fields();
  if (fields.size() > field(24)) {
    double ticks = ticks_per_second();
    p.cpu_seconds = (to_double(fields[field(14)]) + to_double(fields[field(15)])) / ticks;
    p.start_time_seconds = boot_time() + to_double(fields[field(22)]) / ticks;
    p.virtual_bytes = static_cast<int64_t>(to_double(fields[field(23)]));
    p.resident_bytes =
        static_cast<int64_t>(to_double(fields[field(24)])) * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
    p.ok = true;
  }
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) {
    ++p.open_fds;
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    p.max_fds = lim.rlim_cur == RLIM_INFINITY ? -1 : static_cast<int64_t>(lim.rlim_cur);
  }
  return p;
}

ProcessUsage UsageSampler::sample() {
  ProcessUsage u;
  u.rss_bytes = resident_bytes();
  std::lock_guard lk(mu_);
  CpuSample now = sample_cpu();
  if (!started_ && now.ok) {
    // The first reading: the average since the process started.
    started_ = true;
    last_ = now;
    if (now.wall_seconds > 0) cpu_percent_ = 100.0 * now.cpu_seconds / now.wall_seconds;
  } else if (now.ok && last_.ok && now.wall_seconds - last_.wall_seconds >= 1.0) {
    cpu_percent_ = 100.0 * (now.cpu_seconds - last_.cpu_seconds) / (now.wall_seconds - last_.wall_seconds);
    last_ = now;
  }
  u.cpu_percent = std::round(std::max(cpu_percent_, 0.0) * 10.0) / 10.0;
  return u;
}

}  // namespace pylon::server::monitor
