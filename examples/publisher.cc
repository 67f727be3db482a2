// publisher — the user's "client" program, in C++ with pylon::Connection.
//
// Publishes -count messages "<uuid> Golang <i>" to -subj, listing all three cluster
// nodes (no randomize, at most 10 reconnects per server), prints each publish and every
// connection event, and flushes before exiting. Exit status 1 if any publish or the
// final flush failed.
//
//   publisher -subj orders -count 100 [-interval 500ms]
#include <random>
#include <thread>

#include "go_flags.h"
#include "go_log.h"
#include "tls_flags.h"
#include "pylon/connection.h"

namespace {

using namespace std::chrono_literals;

std::string uuid4() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48,
                     lo & 0xFFFFFFFFFFFFULL);
}

std::string join(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  std::string subj = "foo";
  long count = 10;
  std::chrono::milliseconds interval = 0ms;
  std::string servers = "nats://ruser:T0pS3cr3t@127.0.0.1:4222,nats://ruser:T0pS3cr3t@127.0.0.1:5222,"
                        "nats://ruser:T0pS3cr3t@127.0.0.1:6222";
  long max_reconnects = 10;
  std::chrono::milliseconds reconnect_wait = 2s;
  examples::GoFlags flags("publisher");
  flags.string("subj", &subj, "Subject to publish to");
  flags.integer("count", &count, "Number of messages to publish");
  flags.integer("n", &count, "Same as -count");
  flags.duration("interval", &interval, "Pause between messages (e.g. 500ms)");
  flags.string("servers", &servers, "Comma-separated server URLs (nats://, tls://, or ws:// and wss:// for WebSocket ports)");
  flags.integer("maxreconnects", &max_reconnects, "Reconnect attempts per server (-1: forever)");
  flags.duration("reconnectwait", &reconnect_wait, "Wait between reconnect rounds");
  pylon::TlsOptions tls;
  examples::tls_flags(flags, &tls);
  flags.parse(argc, argv);

  pylon::ClientOptions opts;
  opts.tls = tls;
  opts.servers = examples::split_commas(servers);
  opts.name = "publisher";
  opts.no_randomize = true;
  opts.max_reconnects = static_cast<int>(max_reconnects);
  opts.reconnect_wait = reconnect_wait;
  opts.on_disconnected = [](pylon::Connection&, const pylon::ErrorInfo& why) {
    examples::logf("Disconnected: {}", why ? why.message : "no error");
  };
  opts.on_reconnected = [](pylon::Connection& c) { examples::logf("Reconnected to {}", c.connected_url()); };
  opts.on_closed = [](pylon::Connection& c) {
    pylon::ErrorInfo e = c.last_error();
    examples::logf("Connection closed. Last error: {}", e ? e.message : "none");
  };
  opts.on_discovered_servers = [](pylon::Connection& c) {
    examples::logf("Discovered servers: {} (known servers: {})", join(c.discovered_servers()), join(c.servers()));
  };
  opts.on_async_error = [](pylon::Connection&, const pylon::Subscription*, const pylon::ErrorInfo& e) {
    examples::logf("Error: {}", e.message);
  };

  int failures = 0;
  try {
    pylon::Connection conn(opts);
    conn.connect();
    examples::logf("Connected to {}", conn.connected_url());
    for (long i = 0; i < count; ++i) {
      std::string msg = uuid4() + " Golang " + std::to_string(i);
      try {
        conn.publish(subj, msg);
        examples::logf("Published [{}] : '{}'", subj, msg);
      } catch (const pylon::Exception& e) {
        ++failures;
        examples::logf("Error publishing [{}] : '{}': {}", subj, msg, e.what());
      }
      if (interval.count() > 0 && i + 1 < count) std::this_thread::sleep_for(interval);
    }
    try {
      conn.flush(10s);
      examples::logf("Flushed {} messages", count - failures);
    } catch (const pylon::Exception& e) {
      ++failures;
      examples::logf("Error flushing: {}", e.what());
    }
  } catch (const pylon::Exception& e) {
    examples::logf("Error: {}", e.what());
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
