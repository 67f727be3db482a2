// `pylon reply SUBJECT [RESPONSE]`: answer requests on a subject (optionally in a queue
// group) with RESPONSE, or with the request itself (--echo), until Ctrl-C or --count.
#include <atomic>
#include <iostream>
#include <thread>

#include "client_commands.h"
#include "client_common.h"

namespace pylon::tools {

namespace {

struct ReplyOptions {
  ConnectFlags conn;
  std::string subject;
  std::string response;
  std::string queue;
  int64_t count = 0;  // 0: until Ctrl-C
  bool echo = false;
  bool quiet = false;
};

int run_reply(const ReplyOptions& o) {
  install_stop_signals();
  auto conn = open_connection(o.conn, "pylon reply");
  auto sub = o.queue.empty() ? conn->subscribe_sync(o.subject) : conn->queue_subscribe_sync(o.subject, o.queue);
  if (o.count > 0) sub.auto_unsubscribe(o.count);
  conn->flush();
  if (!o.quiet) std::cerr << "Answering requests on \"" << o.subject << "\"\n";
  Progress progress("answered", o.count, o.quiet);
  int64_t n = 0;
  uint64_t bytes = 0;
  while (!stop_requested() && (o.count == 0 || n < o.count)) {
    Message req;
    try {
      req = sub.next_msg(std::chrono::milliseconds(200));
    } catch (const Exception& e) {
      if (e.code() == Error::kTimeout || e.code() == Error::kSlowConsumer) {
        progress.tick(n, bytes);
        continue;
      }
      if (conn->is_closed() || e.code() == Error::kMaxMessagesDelivered) break;
      throw;
    }
    ++n;
    if (req.reply.empty()) {
      if (!o.quiet) std::cerr << "[#" << n << "] message on \"" << req.subject << "\" has no reply subject\n";
      continue;
    }
    Message answer;
    answer.subject = req.reply;
    answer.data = o.echo ? req.data : expand(o.response, n);
    conn->publish(answer);
    bytes += answer.data.size();
    if (!o.quiet) std::cout << "[#" << n << "] Received on \"" << req.subject << "\": " << req.data << "\n" << std::flush;
    progress.tick(n, bytes);
  }
  conn->flush();
  progress.finish(n, bytes);
  return conn->is_closed() ? 1 : 0;
}

}  // namespace

void add_reply(CLI::App& app, int& rc) {
  auto o = std::make_shared<ReplyOptions>();
  CLI::App* cmd = app.add_subcommand("reply", "Answer requests on a subject");
  cmd->add_option("subject", o->subject, "Subject to serve")->required();
  cmd->add_option("response", o->response, "Reply body; {{count}} becomes the request number");
  add_connect_flags(cmd, o->conn);
  cmd->add_option("--queue", o->queue, "Queue group to join (share the load with other repliers)");
  cmd->add_option("--count", o->count, "Exit after this many requests (0: until Ctrl-C)")->capture_default_str();
  cmd->add_flag("--echo", o->echo, "Reply with the request's own body");
  cmd->add_flag("-q,--quiet", o->quiet, "Do not print requests; show a rate/progress line instead");
  cmd->callback([o, &rc] { rc = run_command("reply", [o] { return run_reply(*o); }); });
}

}  // namespace pylon::tools
