// `pylon req SUBJECT [DATA]`: send a request and print the reply (--count times).
#include <iostream>

#include "client_commands.h"
#include "client_common.h"

namespace pylon::tools {

namespace {

struct ReqOptions {
  ConnectFlags conn;
  std::string subject;
  std::string data;
  std::vector<std::string> headers;
  double timeout_s = 2;
  int64_t count = 1;
  bool raw = false;
  bool quiet = false;
};

int run_req(const ReqOptions& o) {
  Headers headers = parse_headers(o.headers);
  install_stop_signals();
  auto conn = open_connection(o.conn, "pylon req");
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  Progress progress("answered", o.count, o.count > 1);
  int64_t ok = 0;
  uint64_t bytes = 0;
  for (int64_t i = 1; i <= o.count && !stop_requested(); ++i) {
    Message m;
    m.subject = o.subject;
    m.data = expand(o.data, i);
    m.headers = headers;
    auto start = std::chrono::steady_clock::now();
    Message r = conn->request(m, timeout);
    auto rtt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++ok;
    bytes += r.data.size();
    if (!o.quiet && o.count == 1) {
      if (o.raw) {
        std::cout << r.data << "\n";
      } else {
        std::cout << "Received reply in " << rtt << " ms\n";
        for (const auto& [k, v] : r.headers) std::cout << k << ": " << v << "\n";
        std::cout << r.data << "\n";
      }
    } else if (!o.quiet && o.count > 1 && o.raw) {
      std::cout << r.data << "\n";
    }
    progress.tick(ok, bytes);
  }
  progress.finish(ok, bytes);
  if (o.count > 1 && !o.quiet) std::cout << ok << " replies\n";
  return ok == o.count ? 0 : 1;
}

}  // namespace

void add_req(CLI::App& app, int& rc) {
  auto o = std::make_shared<ReqOptions>();
  CLI::App* cmd = app.add_subcommand("req", "Send a request and print the reply");
  cmd->add_option("subject", o->subject, "Subject to send the request to")->required();
  cmd->add_option("data", o->data, "Request body; {{count}} becomes the request number");
  add_connect_flags(cmd, o->conn);
  cmd->add_option("-H,--header", o->headers, "Header Key:Value (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--timeout", o->timeout_s, "Seconds to wait for each reply")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--count", o->count, "Requests to send, one after the other")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--raw", o->raw, "Print only the reply bodies");
  cmd->add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
  cmd->callback([o, &rc] { rc = run_command("req", [o] { return run_req(*o); }); });
}

}  // namespace pylon::tools
