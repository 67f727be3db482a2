// queue_worker — the user's "server" program, in C++ with pylon::Connection.
//
// Joins queue group -group on subject -subj and prints every message it gets, with its
// worker name (-servername). It lists all three cluster nodes, does not randomize them,
// reconnects at most 5 times per server, 2 s apart, and prints every connection event:
// disconnect, reconnect (with the URL), close (with the last error), discovered servers
// and async errors. Ctrl-C drains the subscription and exits; once the connection is
// closed for good (every node gone, reconnects used up) it exits with status 1.
//
//   queue_worker -servername worker-1 -group workers -subj orders
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "go_flags.h"
#include "go_log.h"
#include "tls_flags.h"
#include "pylon/connection.h"

namespace {

using namespace std::chrono_literals;

std::string join(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
  return out + "]";
}

std::mutex g_mu;
std::condition_variable g_cv;
bool g_closed = false;  // [g_mu] the connection closed for good

// Ctrl-C / SIGTERM: only async-signal-safe work here; the main thread polls it.
volatile sig_atomic_t g_stop_signal = 0;
void on_stop_signal(int) { g_stop_signal = 1; }

}  // namespace

int main(int argc, char** argv) {
  std::string servername = "worker";
  std::string group = "workers";
  std::string subj = "foo";
  std::string servers = "nats://ruser:T0pS3cr3t@127.0.0.1:4222,nats://ruser:T0pS3cr3t@127.0.0.1:5222,"
                        "nats://ruser:T0pS3cr3t@127.0.0.1:6222";
  long max_reconnects = 5;
  std::chrono::milliseconds reconnect_wait = 2s;
  examples::GoFlags flags("queue_worker");
  flags.string("servername", &servername, "Name of this worker (printed with each message)");
  flags.string("group", &group, "Queue group to join");
  flags.string("subj", &subj, "Subject to subscribe to");
  flags.string("servers", &servers, "Comma-separated server URLs (nats://, tls://, or ws:// and wss:// for WebSocket ports)");
  flags.integer("maxreconnects", &max_reconnects, "Reconnect attempts per server (-1: forever)");
  flags.duration("reconnectwait", &reconnect_wait, "Wait between reconnect rounds");
  pylon::TlsOptions tls;
  examples::tls_flags(flags, &tls);
  flags.parse(argc, argv);

  pylon::ClientOptions opts;
  opts.tls = tls;
  opts.servers = examples::split_commas(servers);
  opts.name = servername;
  opts.no_randomize = true;
  opts.max_reconnects = static_cast<int>(max_reconnects);
  opts.reconnect_wait = reconnect_wait;
  opts.on_disconnected = [&](pylon::Connection&, const pylon::ErrorInfo& why) {
    examples::logf("[{}] Disconnected: {}", servername, why ? why.message : "no error");
  };
  opts.on_reconnected = [&](pylon::Connection& c) {
    examples::logf("[{}] Reconnected to {}", servername, c.connected_url());
  };
  opts.on_closed = [&](pylon::Connection& c) {
    pylon::ErrorInfo e = c.last_error();
    examples::logf("[{}] Connection closed. Last error: {}", servername, e ? e.message : "none");
    std::lock_guard lk(g_mu);
    g_closed = true;
    g_cv.notify_all();
  };
  opts.on_discovered_servers = [&](pylon::Connection& c) {
    examples::logf("[{}] Discovered servers: {} (known servers: {})", servername, join(c.discovered_servers()),
                   join(c.servers()));
  };
  opts.on_async_error = [&](pylon::Connection&, const pylon::Subscription* sub, const pylon::ErrorInfo& e) {
    examples::logf("[{}] Error{}: {}", servername, sub ? " on " + sub->subject() : std::string(), e.message);
  };
  opts.on_lame_duck = [&](pylon::Connection& c) {
    examples::logf("[{}] Server {} entered lame duck mode", servername, c.connected_url());
  };

  signal(SIGINT, on_stop_signal);
  signal(SIGTERM, on_stop_signal);

  try {
    pylon::Connection conn(opts);
    conn.connect();
    examples::logf("[{}] Connected to {}", servername, conn.connected_url());
    auto sub = conn.queue_subscribe(subj, group, [&](pylon::Message& m) {
      examples::logf("[{}] Received on [{}] queue {}: '{}'", servername, m.subject, group, m.data);
    });
    conn.flush();
    examples::logf("[{}] Listening on [{}] in queue group [{}]", servername, subj, group);

    // Wait for Ctrl-C or the end of the connection.
    std::unique_lock lk(g_mu);
    while (!g_closed && !g_stop_signal) g_cv.wait_for(lk, 100ms);
    const bool closed = g_closed;
    lk.unlock();
    if (closed) return 1;
    examples::logf("[{}] Draining...", servername);
    try {
      conn.drain(5s);
    } catch (const pylon::Exception& e) {
      examples::logf("[{}] Drain: {}", servername, e.what());
    }
    examples::logf("[{}] Exiting", servername);
    return 0;
  } catch (const pylon::Exception& e) {
    examples::logf("[{}] Error: {}", servername, e.what());
    return 1;
  }
}
