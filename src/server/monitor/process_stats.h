// This process's resource usage, read from Linux /proc: for /varz (`mem`, `cpu`) and for
// /metrics (the process_* families, as Prometheus' own process collector computes them).
// Elsewhere every reading is zero and `ok` false.
#pragma once

#include <cstdint>
#include <mutex>

namespace pylon::server::monitor {

// CPU time used and wall time lived, for /varz's CPU share between two samples.
struct CpuSample {
  double cpu_seconds = 0;   // user + system
  double wall_seconds = 0;  // since the process started
  bool ok = false;
};
CpuSample sample_cpu();
int64_t resident_bytes();

struct ProcessStats {
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch (boot time + start ticks)
  int64_t resident_bytes = 0;
  int64_t virtual_bytes = 0;
  int64_t open_fds = 0;
  int64_t max_fds = 0;  // the soft RLIMIT_NOFILE
  bool ok = false;      // /proc/self/stat was read
};
ProcessStats read_process_stats();

// /varz's and STATSZ's `mem` and `cpu`.
struct ProcessUsage {
  int64_t rss_bytes = 0;
  double cpu_percent = 0;
};

// The share of one core used, as the reference reports it: sampled at most once a second, over
// the last interval, in tenths of a percent. One per server, shared by /varz, $SYS VARZ and
// STATSZ, so each reader sees the same interval. Thread-safe.
class UsageSampler {
 public:
  ProcessUsage sample();

 private:
  std::mutex mu_;
  CpuSample last_;  // guarded by mu_
  double cpu_percent_ = 0;  // guarded by mu_
  bool started_ = false;    // guarded by mu_
};

}  // namespace pylon::server::monitor
