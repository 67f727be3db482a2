// `pylon bench`: a throughput benchmark in the spirit of `nats bench`.
//
// N publishers and M subscribers, each its own pylon::Connection (the client library:
// one socket, an I/O thread and a callback thread each; a publisher also has its own
// thread calling publish()). Publishers share --msgs messages of --size bytes; every
// subscriber waits for all of them, or, in a queue group (--queue), the group does.
// With --req, request/reply latency instead (bench_req.cc). See docs/performance.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "client_common.h"

namespace pylon::tools {

struct BenchOptions {
  std::string subject;
  std::string server = "nats://127.0.0.1:4222";  // or a comma-separated list, tried in order
  int pubs = 1;              // publisher connections (threads)
  int subs = 0;              // subscriber connections (threads)
  int64_t msgs = 100000;     // messages published in total (split over publishers)
  int64_t size = 128;        // payload bytes per message
  std::string csv_file;      // per-client and aggregate rows, when non-empty
  bool json = false;         // report as one JSON object on stdout
  double timeout_s = 60;     // whole run, connecting included; then report and fail
  bool progress = true;      // progress line on stderr (only once a run passes ~1 s)
  std::string nkey_file;     // --nkey: an nkey user's seed file
  TlsFlags tls;              // --tlscert, --tlskey, --tlscacert, --tlsfirst, --tlsinsecure
  std::string queue;         // subscribers join this queue group: each message reaches one of them
  std::string sub_server;    // subscribers connect here (another node of a cluster) when non-empty
  int requesters = 0;        // --req: request/reply mode with this many requesters
  int repliers = 1;          // --repliers: reply connections (one queue group) in --req mode
};

// Runs the benchmark and prints its report. Returns the process exit code:
// 0 all messages published and received, 1 incomplete (timeout, interrupted,
// connection lost), 2 bad options or cannot connect.
int run_bench(const BenchOptions& options);

// --req: `requesters` connections, each a thread calling request() in turn (one request in
// flight per requester), against `repliers` connections that echo the payload. Reports
// requests/s and each request's round trip (steady_clock, client side) as p50/p90/p99/
// p99.9/max. Same exit codes as run_bench.
int run_bench_req(const BenchOptions& options);

// The options every benchmark connection shares: no reconnecting (a lost server ends the
// run, as incomplete), the connect timeout bounded by what is left of the run.
ClientOptions bench_client_options(const BenchOptions& o, const std::string& server, std::string name,
                                   std::chrono::steady_clock::time_point deadline);

}  // namespace pylon::tools
