// `pylon sub SUBJECT`: print the messages of a subject (optionally in a queue group)
// until Ctrl-C or --count messages.
#include <iostream>
#include <mutex>
#include <thread>

#include "client_commands.h"
#include "client_common.h"

namespace pylon::tools {

namespace {

struct SubOptions {
  ConnectFlags conn;
  std::string subject;
  std::string queue;
  int64_t count = 0;  // 0: until Ctrl-C
  bool raw = false;
  bool headers = false;
  bool quiet = false;
};

void print(const Message& m, int64_t n, const SubOptions& o) {
  if (o.raw) {
    std::cout << m.data << "\n";
  } else {
    std::cout << "[#" << n << "] Received on \"" << m.subject << "\"";
    if (!m.reply.empty()) std::cout << " with reply \"" << m.reply << "\"";
    std::cout << "\n";
    if (o.headers) {
      for (const auto& [k, v] : m.headers) std::cout << k << ": " << v << "\n";
    }
    std::cout << m.data << "\n\n";
  }
  std::cout.flush();
}

int run_sub(const SubOptions& o) {
  install_stop_signals();
  auto conn = open_connection(o.conn, "pylon sub");
  auto sub = o.queue.empty() ? conn->subscribe_sync(o.subject) : conn->queue_subscribe_sync(o.subject, o.queue);
  if (o.count > 0) sub.auto_unsubscribe(o.count);
  conn->flush();
  {  // also with --quiet (it silences messages, not status): scripts wait for this line
    std::cerr << "Listening on \"" << o.subject << "\"" << (o.queue.empty() ? "" : " in queue group \"" + o.queue + "\"")
              << "\n";
  }
  Progress progress("received", o.count, o.quiet);
  int64_t n = 0;
  uint64_t bytes = 0;
  while (!stop_requested() && (o.count == 0 || n < o.count)) {
    Message m;
    try {
      m = sub.next_msg(std::chrono::milliseconds(200));
    } catch (const Exception& e) {
      if (e.code() == Error::kTimeout) {
        progress.tick(n, bytes);
        continue;
      }
      if (e.code() == Error::kSlowConsumer) {
        std::cerr << "pylon sub: " << e.what() << "\n";
        continue;
      }
      if (conn->is_closed() || e.code() == Error::kMaxMessagesDelivered) break;
      throw;
    }
    ++n;
    bytes += m.data.size();
    if (!o.quiet) print(m, n, o);
    progress.tick(n, bytes);
  }
  progress.finish(n, bytes);
  if (conn->is_closed()) return 1;
  return o.count == 0 || n == o.count ? 0 : 1;
}

}  // namespace

void add_sub(CLI::App& app, int& rc) {
  auto o = std::make_shared<SubOptions>();
  CLI::App* cmd = app.add_subcommand("sub", "Print the messages published to a subject (wildcards allowed)");
  cmd->add_option("subject", o->subject, "Subject to subscribe to")->required();
  add_connect_flags(cmd, o->conn);
  cmd->add_option("--queue", o->queue, "Queue group to join");
  cmd->add_option("--count", o->count, "Exit after this many messages (0: until Ctrl-C)")->capture_default_str();
  cmd->add_flag("--raw", o->raw, "Print only the message bodies");
  cmd->add_flag("--headers", o->headers, "Print the headers too");
  cmd->add_flag("-q,--quiet", o->quiet, "Do not print messages; show a rate/progress line instead");
  cmd->callback([o, &rc] { rc = run_command("sub", [o] { return run_sub(*o); }); });
}

}  // namespace pylon::tools
