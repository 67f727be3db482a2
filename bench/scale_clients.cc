// scale_clients: what a NATS server's memory costs per idle connection and per subscription
// (issue 14 §3). Run against a server process whose PID is given; reads its RSS (VmRSS in
// /proc/PID/status) at three points:
//   baseline   before any client connects;
//   conns      once every client has connected (CONNECT + PING answered by PONG), no
//              subscription yet;
//   subs       once every client has sent its share of the subscriptions and the PONG to
//              the PING after them came back (the server has processed every SUB).
// per connection = (conns - baseline) / clients; per subscription = (subs - conns) / subs.
// Each RSS is read when the server has answered everything, then again after --settle ms,
// and the larger of the two is kept (an allocator or a garbage collector may still be at
// work). Also reports the subscribe rate: SUBs the server processed per second, from the
// first SUB written to the last PONG.
//
// The clients are raw Asio sockets on one thread (not the client library, whose thread pair
// per connection would need 30,000 threads for 15,000 clients). Each binds a source address
// of its own among 127.0.0.2.. (--src-addrs of them), so a run is not limited to one
// address's ephemeral ports. This process holds one descriptor per client: with the
// machine's limit of 20,000 descriptors per process, 15,000 clients fit in one process.
//
// Subscriptions: --subs in total, dealt round-robin over the clients; --queue-pct of them
// in the queue group "workers". Subjects are distinct: scale.<client>.<n> (plain),
// scale.q.<client>.<n> (queue).
//
// Usage: scale_clients --port P --server-pid PID [--clients 15000] [--subs 1000000]
//                      [--queue-pct 50] [--src-addrs 16] [--settle 1000] [--timeout 300]
//                      [--json] [--no-progress] [--hold S]
// --hold S keeps every connection open S seconds after the summary is printed (and flushed),
// so the server can be inspected in that state (a heap profiler's snapshot, gdb).
// Output: a summary (or one JSON object) on stdout; progress each second on stderr.
// Exit status: 0 every client connected and subscribed, 1 not, 2 bad usage.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct Options {
  int port = 0;
  int server_pid = 0;
  int clients = 15000;
  long subs = 1000000;
  int queue_pct = 50;
  int src_addrs = 16;
  int settle_ms = 1000;
  double timeout_s = 300;
  bool json = false;
  bool progress = true;
  double hold_s = 0;
};

struct Client {
  tcp::socket sock;
  asio::streambuf buf;
  explicit Client(asio::io_context& io) : sock(io) {}
};

// The server's resident set size in bytes (VmRSS), or -1 if it cannot be read.
long long server_rss(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long long kb = 0;
      in >> kb;
      return kb * 1024;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return -1;
}

// Reads lines until a PONG; answers the server's PINGs; an -ERR fails the client.
asio::awaitable<void> await_pong(Client& c) {
  for (;;) {
    std::size_t n = co_await asio::async_read_until(c.sock, c.buf, "\r\n", asio::use_awaitable);
    std::string line(asio::buffers_begin(c.buf.data()), asio::buffers_begin(c.buf.data()) + static_cast<std::ptrdiff_t>(n) - 2);
    c.buf.consume(n);
    if (line == "PONG") co_return;
    if (line.rfind("-ERR", 0) == 0) throw std::runtime_error(line);
    if (line == "PING") {
      static const std::string kPong = "PONG\r\n";
      co_await asio::async_write(c.sock, asio::buffer(kPong), asio::use_awaitable);
    }
  }
}

// After each phase the clients keep reading, so the server's PINGs are answered and
// nothing piles up in its outbound buffers while the RSS is read.
asio::awaitable<void> keep_reading(Client& c) {
  try {
    for (;;) co_await await_pong(c);
  } catch (const std::exception&) {
  }
}

struct Run {
  int connected = 0, subscribed = 0, failed = 0;
  std::string first_error;
  void fail(const std::string& why) {
    ++failed;
    if (first_error.empty()) {
      first_error = why;
      std::replace(first_error.begin(), first_error.end(), '"', '\'');  // it goes into JSON
    }
  }
};

int usage(const char* why) {
  std::fprintf(stderr,
               "scale_clients: %s\nusage: scale_clients --port P --server-pid PID [--clients N] [--subs N] "
               "[--queue-pct P] [--src-addrs N] [--settle MS] [--timeout S] [--json] [--no-progress] [--hold S]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "scale_clients: %s needs a value\n", what);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") o.port = std::atoi(next("--port"));
    else if (a == "--server-pid") o.server_pid = std::atoi(next("--server-pid"));
    else if (a == "--clients") o.clients = std::atoi(next("--clients"));
    else if (a == "--subs") o.subs = std::atol(next("--subs"));
    else if (a == "--queue-pct") o.queue_pct = std::atoi(next("--queue-pct"));
    else if (a == "--src-addrs") o.src_addrs = std::atoi(next("--src-addrs"));
    else if (a == "--settle") o.settle_ms = std::atoi(next("--settle"));
    else if (a == "--timeout") o.timeout_s = std::atof(next("--timeout"));
    else if (a == "--json") o.json = true;
    else if (a == "--no-progress") o.progress = false;
    else if (a == "--hold") o.hold_s = std::atof(next("--hold"));
    else return usage(("unknown argument " + a).c_str());
  }
  if (o.port <= 0 || o.server_pid <= 0) return usage("--port and --server-pid are required");
  if (o.clients < 1 || o.subs < 0 || o.queue_pct < 0 || o.queue_pct > 100 || o.src_addrs < 1 || o.src_addrs > 250)
    return usage("bad --clients, --subs, --queue-pct or --src-addrs");

  asio::io_context io(1);
  // run_for() would stop the context for good whenever it ran out of work between phases.
  auto work = asio::make_work_guard(io);
  std::vector<std::unique_ptr<Client>> clients;
  clients.reserve(static_cast<size_t>(o.clients));
  for (int i = 0; i < o.clients; ++i) clients.push_back(std::make_unique<Client>(io));
  const tcp::endpoint server(asio::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(o.port));
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));
  Run run;

  // Runs the io_context until `done()` or the deadline, printing progress each second.
  auto run_until = [&](const char* phase, const std::function<bool()>& done, const std::function<int()>& count) {
    auto last = Clock::now();
    while (!done() && Clock::now() < deadline) {
      io.run_for(50ms);
      if (o.progress && Clock::now() - last >= 1s) {
        last = Clock::now();
        std::fprintf(stderr, "scale_clients: %s %d/%d, failed %d, server RSS %.1f MiB\n", phase, count(), o.clients,
                     run.failed, static_cast<double>(server_rss(o.server_pid)) / (1 << 20));
      }
    }
    return done();
  };
  // RSS once everything is answered, and again after --settle: the larger of the two.
  auto settled_rss = [&] {
    long long a = server_rss(o.server_pid);
    const auto until = Clock::now() + std::chrono::milliseconds(o.settle_ms);
    while (Clock::now() < until) io.run_for(20ms);
    return std::max(a, server_rss(o.server_pid));
  };

  const long long rss_baseline = settled_rss();

  // Phase 1: connect every client (no subscription).
  for (int i = 0; i < o.clients; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          Client& c = *clients[static_cast<size_t>(i)];
          try {
            c.sock.open(tcp::v4());
            const auto src = asio::ip::make_address_v4(0x7F000002u + static_cast<unsigned>(i % o.src_addrs));
            c.sock.bind(tcp::endpoint(src, 0));
            co_await c.sock.async_connect(server, asio::use_awaitable);
            std::size_t n = co_await asio::async_read_until(c.sock, c.buf, "\r\n", asio::use_awaitable);
            if (std::string(asio::buffers_begin(c.buf.data()), asio::buffers_begin(c.buf.data()) + 5) != "INFO ")
              throw std::runtime_error("expected INFO");
            c.buf.consume(n);
            static const std::string kConnect =
                "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"scale\",\"lang\":\"c++\",\"version\":\"0.1.0\","
                "\"protocol\":1}\r\nPING\r\n";
            co_await asio::async_write(c.sock, asio::buffer(kConnect), asio::use_awaitable);
            co_await await_pong(c);
            ++run.connected;
          } catch (const std::exception& e) {
            run.fail(std::string("connect: ") + e.what());
          }
        },
        asio::detached);
  }
  bool ok = run_until("connected", [&] { return run.connected + run.failed == o.clients; }, [&] { return run.connected; });
  ok = ok && run.failed == 0;
  const long long rss_conns = ok ? settled_rss() : -1;

  // Phase 2: every client sends its share of the subscriptions, then a PING.
  const auto sub_start = Clock::now();
  Clock::time_point sub_end{};
  if (ok) {
    for (int i = 0; i < o.clients; ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            Client& c = *clients[static_cast<size_t>(i)];
            try {
              std::string out;
              long sid = 0;
              for (long k = i; k < o.subs; k += o.clients) {
                const bool queue = (k % 100) < o.queue_pct;
                ++sid;
                out += queue ? "SUB scale.q." : "SUB scale.";
                out += std::to_string(i) + "." + std::to_string(sid);
                out += queue ? " workers " : " ";
                out += std::to_string(sid) + "\r\n";
              }
              out += "PING\r\n";
              co_await asio::async_write(c.sock, asio::buffer(out), asio::use_awaitable);
              co_await await_pong(c);
              if (++run.subscribed == o.clients) sub_end = Clock::now();
            } catch (const std::exception& e) {
              run.fail(std::string("subscribe: ") + e.what());
            }
            co_await keep_reading(c);
          },
          asio::detached);
    }
    ok = run_until("subscribed", [&] { return run.subscribed + run.failed == o.clients; },
                   [&] { return run.subscribed; }) &&
         run.failed == 0;
  }
  const long long rss_subs = ok ? settled_rss() : -1;
  const double sub_secs = ok ? std::chrono::duration<double>(sub_end - sub_start).count() : 0;

  const double per_conn = ok ? static_cast<double>(rss_conns - rss_baseline) / o.clients : 0;
  const double per_sub = ok && o.subs > 0 ? static_cast<double>(rss_subs - rss_conns) / static_cast<double>(o.subs) : 0;
  const double sub_rate = sub_secs > 0 ? static_cast<double>(o.subs) / sub_secs : 0;
  if (o.json) {
    std::printf(
        "{\"complete\":%s,\"clients\":%d,\"subs\":%ld,\"queue_pct\":%d,\"rss_baseline\":%lld,\"rss_conns\":%lld,"
        "\"rss_subs\":%lld,\"bytes_per_conn\":%.1f,\"bytes_per_sub\":%.1f,\"subs_per_sec\":%.0f,\"failed\":%d,"
        "\"error\":\"%s\"}\n",
        ok ? "true" : "false", o.clients, o.subs, o.queue_pct, rss_baseline, rss_conns, rss_subs, per_conn, per_sub,
        sub_rate, run.failed, run.first_error.c_str());
  } else {
    std::printf("clients %d, subscriptions %ld (%d%% in a queue group)\n", o.clients, o.subs, o.queue_pct);
    std::printf("server RSS: baseline %.1f MiB, with the clients %.1f MiB, with the subscriptions %.1f MiB\n",
                static_cast<double>(rss_baseline) / (1 << 20), static_cast<double>(rss_conns) / (1 << 20),
                static_cast<double>(rss_subs) / (1 << 20));
    std::printf("per idle connection %.0f B, per subscription %.0f B; %.0f SUBs/s\n", per_conn, per_sub, sub_rate);
    if (!ok) std::printf("INCOMPLETE: %d failed (first: %s)\n", run.failed, run.first_error.c_str());
  }
  std::fflush(stdout);
  if (o.hold_s > 0) {
    // The clients keep answering the server's PINGs meanwhile.
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.hold_s));
    while (Clock::now() < until) io.run_for(50ms);
  }
  for (auto& c : clients) {
    boost::system::error_code ignored;
    c->sock.close(ignored);
  }
  return ok ? 0 : 1;
}
