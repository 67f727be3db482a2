// `pylon pub SUBJECT [DATA]`: publish DATA (or stdin with --stdin) --count times.
#include <iostream>
#include <iterator>
#include <thread>

#include "client_commands.h"
#include "client_common.h"

namespace pylon::tools {

namespace {

struct PubOptions {
  ConnectFlags conn;
  std::string subject;
  std::string data;
  std::string reply;
  std::vector<std::string> headers;
  int64_t count = 1;
  double interval_ms = 0;
  bool from_stdin = false;
  bool quiet = false;
};

int run_pub(const PubOptions& o) {
  Headers headers = parse_headers(o.headers);
  std::string data = o.data;
  if (o.from_stdin) data.assign(std::istreambuf_iterator<char>(std::cin), {});
  install_stop_signals();
  auto conn = open_connection(o.conn, "pylon pub");
  Progress progress("published", o.count, o.count > 1);
  int64_t sent = 0;
  uint64_t bytes = 0;
  for (int64_t i = 1; i <= o.count && !stop_requested(); ++i) {
    Message m;
    m.subject = o.subject;
    m.reply = o.reply;
    m.data = expand(data, i);
    m.headers = headers;
    conn->publish(m);
    ++sent;
    bytes += m.data.size();
    if (o.count == 1 && !o.quiet) {
      std::cout << "Published " << m.data.size() << " bytes to \"" << o.subject << "\"\n";
    }
    progress.tick(sent, bytes);
    if (o.interval_ms > 0 && i < o.count) {
      std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(o.interval_ms * 1000)));
    }
  }
  conn->flush(std::chrono::seconds(30));
  progress.finish(sent, bytes);
  if (o.count > 1 && !o.quiet) std::cout << "Published " << sent << " messages to \"" << o.subject << "\"\n";
  return sent == o.count ? 0 : 1;
}

}  // namespace

void add_pub(CLI::App& app, int& rc) {
  auto o = std::make_shared<PubOptions>();
  CLI::App* cmd = app.add_subcommand("pub", "Publish a message (or --count messages) to a subject");
  cmd->add_option("subject", o->subject, "Subject to publish to")->required();
  cmd->add_option("data", o->data, "Message body; {{count}} becomes the message number");
  add_connect_flags(cmd, o->conn);
  cmd->add_option("--reply", o->reply, "Reply subject");
  cmd->add_option("-H,--header", o->headers, "Header Key:Value (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--count", o->count, "Messages to publish")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--interval", o->interval_ms, "Milliseconds between messages")->capture_default_str();
  cmd->add_flag("--stdin", o->from_stdin, "Read the body from standard input");
  cmd->add_flag("-q,--quiet", o->quiet, "Print nothing but errors");
  cmd->callback([o, &rc] { rc = run_command("pub", [o] { return run_pub(*o); }); });
}

}  // namespace pylon::tools
