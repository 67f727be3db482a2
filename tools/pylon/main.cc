// `pylon`: the command-line tool for Pylon and any NATS server.
// Subcommands: bench, mkpasswd, nkey, pub, sub, req, reply, top.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "bench.h"
#include "client_commands.h"
#include "mkpasswd.h"
#include "nkey.h"
#include "top.h"

#ifndef PYLON_VERSION
#define PYLON_VERSION "0.0.0"
#endif

namespace {

void add_bench(CLI::App& app, pylon::tools::BenchOptions& o, int& rc) {
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Measure publish/subscribe throughput: --pub publisher and --sub subscriber connections,\n"
      "--msgs messages of --size bytes in total; every subscriber must receive all of them\n"
      "(with --queue, the group together). With --req, request/reply round-trip latency.");
  cmd->add_option("subject", o.subject, "Subject to publish to and subscribe on")->required();
  cmd->add_option("-s,--server", o.server,
                  "Server URL (nats://[user:pass@|token@]host:port, tls://..., or ws:// or wss://... for a WebSocket port), or a comma-separated list tried "
                  "in order")
      ->capture_default_str();
  cmd->add_option("--pub", o.pubs, "Number of publishers (each its own connection and thread)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--sub", o.subs, "Number of subscribers (each its own connection and thread)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--msgs", o.msgs, "Messages to publish in total, split over the publishers")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 50));
  cmd->add_option("--size", o.size, "Payload size of each message in bytes")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{64} << 20));
  cmd->add_option("--queue", o.queue, "Subscribers join this queue group: each message reaches one of them");
  cmd->add_option("--sub-server", o.sub_server,
                  "Subscribers (and --req's repliers) connect to this server, e.g. another node of the cluster; "
                  "publishing starts once their interest has reached --server");
  cmd->add_option("--req", o.requesters,
                  "Request/reply mode: this many requesters (each its own connection, one request in flight), "
                  "--msgs requests in total; reports the round trip's p50/p90/p99/p99.9/max")
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--repliers", o.repliers, "With --req: reply connections (one queue group) echoing each request")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--nkey", o.nkey_file, "An nkey user's seed file: signs the server's nonce");
  cmd->add_option("--csv", o.csv_file, "Also write per-client and aggregate results to this CSV file");
  cmd->add_flag("--json", o.json, "Print the report as one JSON object on stdout");
  cmd->add_option("--timeout", o.timeout_s,
                  "Seconds the whole run may take; then report what arrived and exit 1")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag_callback("--no-progress", [&o] { o.progress = false; }, "Do not print the progress line on stderr");
  pylon::tools::add_tls_flags(cmd, o.tls);
  cmd->callback([&o, &rc] {
    if (o.requesters > 0 && (o.subs > 0 || !o.queue.empty() || !o.csv_file.empty()))
      throw CLI::ValidationError("--req", "cannot be combined with --sub, --queue or --csv");
    if (o.requesters == 0 && o.pubs == 0 && o.subs == 0) throw CLI::ValidationError("--pub/--sub", "need at least one publisher or subscriber");
    rc = pylon::tools::run_bench(o);
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pylon: command-line tool for Pylon and NATS servers"};
  app.set_version_flag("-v,--version", std::string("pylon ") + PYLON_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);

  int rc = 0;
  pylon::tools::BenchOptions bench;
  add_bench(app, bench, rc);
  pylon::tools::add_mkpasswd(app, rc);
  pylon::tools::add_nkey(app, rc);
  pylon::tools::add_pub(app, rc);
  pylon::tools::add_sub(app, rc);
  pylon::tools::add_req(app, rc);
  pylon::tools::add_reply(app, rc);
  pylon::tools::add_top(app, rc);

  // `pylon top` also takes nats-top's single-dash long flags (-sort subs).
  std::vector<std::string> args = pylon::tools::top_go_style_args(argc, argv);
  std::vector<char*> arg_ptrs;
  for (auto& a : args) arg_ptrs.push_back(a.data());
  try {
    app.parse(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    // CLI11 uses 0 for --help/--version and 1.. for errors; keep "bad usage" at 2
    // so scripts can tell it from an incomplete benchmark (1).
    return code == 0 ? 0 : 2;
  }
  return rc;
}
