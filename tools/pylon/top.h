// `pylon top`: a live terminal view of a NATS server's connections, in the spirit of
// nats-top (same flags and keys), reading the HTTP monitoring endpoints /varz and /connz.
// See docs/monitoring.md ("pylon top").
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "http_get.h"

namespace pylon::tools {

struct TopOptions {
  std::string server = "127.0.0.1";  // -s: host, host:port, http://host:port or https://host:port
  int http_port = 8222;              // -m
  int https_port = 0;                // -ms (nats-top's): the monitoring port is HTTPS
  HttpTls tls;                       // --tlscacert, --tlscert, --tlskey, --tlsinsecure (-cacert, -cert, -key, -k)
  int conns = 1024;                  // -n: connections shown (and asked for)
  double delay_s = 1;                // -d: seconds between refreshes
  std::string sort = "msgs_rate";    // -sort
  int max_refreshes = 0;             // -r: quit after this many refreshes (0: never)
  std::string output;                // -o FILE|-: one-shot snapshot, no screen
  bool raw_bytes = false;            // -b
  bool subs = false;                 // -u: start with the subscriptions column
  std::string account;               // --acc: only this account's connections
  double timeout_s = 2;              // per HTTP request
};

// Registers the `top` subcommand; its callback runs the view and stores the exit code:
// 0 quit (q, Ctrl-C, SIGTERM, -r reached, snapshot written), 1 server unreachable at
// start (as nats-top) or snapshot failed, 2 bad usage.
void add_top(CLI::App& app, int& rc);

// nats-top takes Go-style flags (`-sort subs`, `-ms 8223`); CLI11 wants two dashes for a
// long name. For `pylon top ...` this rewrites those single-dash long flags; any other
// command line is returned as it is.
std::vector<std::string> top_go_style_args(int argc, char** argv);

}  // namespace pylon::tools
