// `pylon bench`: a throughput benchmark in the spirit of `nats bench`.
//
// N publisher threads and M subscriber threads, each on its own TCP connection,
// speak the NATS client protocol directly (CONNECT/PING, batched PUBs, SUB, and
// pylon::proto::Parser to read MSGs). Publishers share --msgs messages of --size
// bytes; every subscriber waits for all of them. See docs/performance.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pylon::tools {

struct BenchOptions {
  std::string subject;
  std::string server = "nats://127.0.0.1:4222";
  int pubs = 1;              // publisher connections (threads)
  int subs = 0;              // subscriber connections (threads)
  int64_t msgs = 100000;     // messages published in total (split over publishers)
  int64_t size = 128;        // payload bytes per message
  std::string csv_file;      // per-client and aggregate rows, when non-empty
  bool json = false;         // report as one JSON object on stdout
  double timeout_s = 60;     // whole run, connecting included; then report and fail
  bool progress = true;      // progress line on stderr (only once a run passes ~1 s)
  size_t batch_bytes = 64 * 1024;  // bytes of PUBs per write
};

// Runs the benchmark and prints its report. Returns the process exit code:
// 0 all messages published and received, 1 incomplete (timeout, interrupted,
// connection lost), 2 bad options or cannot connect.
int run_bench(const BenchOptions& options);

}  // namespace pylon::tools
