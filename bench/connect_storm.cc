// connect_storm: N TLS clients connecting to one NATS server at once (nats-server issue #988,
// the reconnect storm after a server restart), and how long until every one is in.
//
// Each client, all started together on one io_context:
//   TCP connect -> the server's INFO (plaintext, as 2.9 sends it; it must say tls_required)
//   -> TLS handshake (the server's chain verified against --cacert, and its name against
//   --host) -> CONNECT + PING -> the PONG.
// A client counts as connected when its PONG arrives: the server has accepted it and
// processed its CONNECT. Its setup time runs from the TCP connect of its successful attempt
// to that PONG. The connections stay open until the storm is over, so the server holds all
// of them at once. A failed attempt (the server's handshake timeout, a reset) is retried
// after --reconnect-wait plus up to --jitter, as nats.go's reconnect does (2 s, plus up to
// 1 s with TLS), at most --retries times: the storm users see is the retries too.
// Raw Asio + OpenSSL rather than the client library: the library's connect runs a thread
// pair per connection, and 2,000 of them would measure the scheduler, not the server.
//
// Usage: connect_storm --port P --cacert CA.pem [--host 127.0.0.1] [--clients 2000]
//                      [--timeout 60] [--retries 10] [--reconnect-wait 2000] [--jitter 1000]
//                      [--json] [--no-progress]
// The clients run on one thread: on a 2-core machine the server keeps the other core.
// Output: a summary (or one JSON object) on stdout; progress each second on stderr.
// Exit status: 0 every client connected, 1 some failed or timed out, 2 bad usage.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <istream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string cacert;
  int clients = 2000;
  double timeout_s = 60;
  int retries = 10;
  int reconnect_wait_ms = 2000;
  int jitter_ms = 1000;
  bool json = false;
  bool progress = true;
};

struct Client {
  std::unique_ptr<ssl::stream<tcp::socket>> stream;  // a new one for each attempt
  Clock::time_point start{}, done{};                  // of the last attempt
  int attempts = 0;
  bool ok = false;
  bool finished = false;  // connected, or gave up; guarded by Storm::mu
  std::string error;      // why the last attempt failed
};

struct Storm {
  std::mutex mu;
  int finished = 0;
  std::atomic<int> connected{0};
  std::atomic<int> failed{0};            // clients that gave up
  std::atomic<int> failed_attempts{0};   // attempts that failed, retried or not
  std::map<std::string, int> reasons;    // of the failed attempts; guarded by mu
};

// One line of the protocol (up to CRLF), without the CRLF.
asio::awaitable<std::string> read_line(auto& stream, asio::streambuf& buf) {
  std::size_t n = co_await asio::async_read_until(stream, buf, "\r\n", asio::use_awaitable);
  std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n) - 2);
  buf.consume(n);
  co_return line;
}

void finish(Storm& storm, Client& c, bool ok, std::string error) {
  std::lock_guard lk(storm.mu);
  if (c.finished) return;
  c.finished = true;
  c.done = Clock::now();
  c.ok = ok;
  c.error = std::move(error);
  ++storm.finished;
  (ok ? storm.connected : storm.failed).fetch_add(1);
}

// One attempt; returns "" when connected, else why it failed.
asio::awaitable<std::string> attempt(const Options& o, tcp::endpoint ep, ssl::stream<tcp::socket>& s) {
  const char* step = "connect";
  try {
    co_await s.next_layer().async_connect(ep, asio::use_awaitable);
    asio::streambuf buf;
    step = "INFO";
    std::string info = co_await read_line(s.next_layer(), buf);
    if (info.rfind("INFO ", 0) != 0) throw std::runtime_error("expected INFO, got: " + info.substr(0, 80));
    if (info.find("\"tls_required\":true") == std::string::npos)
      throw std::runtime_error("the server's INFO does not say tls_required");
    if (buf.size() != 0) {
      std::string extra(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
      throw std::runtime_error("plaintext after INFO: " + extra.substr(0, extra.find('\r')));
    }
    step = "TLS handshake";
    co_await s.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    step = "CONNECT";
    static const std::string kConnect =
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":true,\"name\":\"connect-storm\","
        "\"lang\":\"c++\",\"version\":\"0.1.0\",\"protocol\":1}\r\nPING\r\n";
    co_await asio::async_write(s, asio::buffer(kConnect), asio::use_awaitable);
    step = "PONG";
    for (;;) {
      std::string line = co_await read_line(s, buf);
      if (line == "PONG") break;
      if (line.rfind("-ERR", 0) == 0) throw std::runtime_error(line);
      if (line == "PING") {
        static const std::string kPong = "PONG\r\n";
        co_await asio::async_write(s, asio::buffer(kPong), asio::use_awaitable);
      }
      // INFO updates and +OK are fine; anything else before the PONG is too.
    }
    co_return std::string();
  } catch (const boost::system::system_error& e) {
    std::string why = e.code().message();
    if (e.code().category() == asio::error::get_ssl_category()) {
      long v = ::SSL_get_verify_result(s.native_handle());
      if (v != X509_V_OK) why = X509_verify_cert_error_string(v);
    }
    co_return std::string(step) + ": " + why;
  } catch (const std::exception& e) {
    co_return std::string(step) + ": " + e.what();
  }
}

asio::awaitable<void> connect_one(const Options& o, tcp::endpoint ep, ssl::context& ctx, Client& c, Storm& storm,
                                  unsigned seed) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    {
      std::lock_guard lk(storm.mu);
      if (c.finished) co_return;  // the deadline came during the wait
      c.stream = std::make_unique<ssl::stream<tcp::socket>>(ex, ctx);
      c.stream->set_verify_callback(ssl::host_name_verification(o.host));
      c.start = Clock::now();
      ++c.attempts;
    }
    std::string why = co_await attempt(o, ep, *c.stream);
    if (why.empty()) {
      finish(storm, c, true, {});
      co_return;
    }
    {
      std::lock_guard lk(storm.mu);
      if (c.finished) co_return;
      ++storm.reasons[why];
      storm.failed_attempts.fetch_add(1);
    }
    boost::system::error_code ignored;
    c.stream->lowest_layer().close(ignored);
    if (c.attempts > o.retries) {
      finish(storm, c, false, why);
      co_return;
    }
    seed = seed * 1103515245u + 12345u;
    const int jitter = o.jitter_ms > 0 ? static_cast<int>((seed >> 8) % static_cast<unsigned>(o.jitter_ms)) : 0;
    asio::steady_timer wait(ex, std::chrono::milliseconds(o.reconnect_wait_ms + jitter));
    co_await wait.async_wait(asio::use_awaitable);
  }
}

double percentile_ms(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int usage(const char* why) {
  std::fprintf(stderr,
               "connect_storm: %s\nusage: connect_storm --port P --cacert CA.pem [--host H] [--clients N] "
               "[--timeout S] [--retries N] [--reconnect-wait MS] [--jitter MS] [--json] [--no-progress]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--host") o.host = value();
      else if (a == "--port") o.port = std::stoi(value());
      else if (a == "--cacert") o.cacert = value();
      else if (a == "--clients") o.clients = std::stoi(value());
      else if (a == "--timeout") o.timeout_s = std::stod(value());
      else if (a == "--retries") o.retries = std::stoi(value());
      else if (a == "--reconnect-wait") o.reconnect_wait_ms = std::stoi(value());
      else if (a == "--jitter") o.jitter_ms = std::stoi(value());
      else if (a == "--json") o.json = true;
      else if (a == "--no-progress") o.progress = false;
      else if (a == "-h" || a == "--help") return usage("a TLS connect storm against one NATS server"), 0;
      else return usage(("unknown argument " + a).c_str());
    } catch (const std::exception& e) {
      return usage(e.what());
    }
  }
  if (o.port <= 0 || o.port > 65535) return usage("--port is required");
  if (o.cacert.empty()) return usage("--cacert is required (the server's certificate is verified)");
  if (o.clients <= 0 || o.timeout_s <= 0) return usage("--clients and --timeout must be > 0");
  if (o.retries < 0 || o.reconnect_wait_ms < 0 || o.jitter_ms < 0) return usage("--retries, --reconnect-wait, --jitter >= 0");

  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  try {
    ctx.load_verify_file(o.cacert);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "connect_storm: cannot read --cacert %s: %s\n", o.cacert.c_str(), e.what());
    return 2;
  }
  ctx.set_verify_mode(ssl::verify_peer);

  boost::system::error_code ec;
  auto addr = asio::ip::make_address(o.host, ec);
  if (ec) return usage(("--host must be an IP address: " + o.host).c_str());
  const tcp::endpoint ep(addr, static_cast<unsigned short>(o.port));

  asio::io_context io(1);
  Storm storm;
  std::vector<std::unique_ptr<Client>> clients;
  clients.reserve(static_cast<size_t>(o.clients));
  for (int i = 0; i < o.clients; ++i) clients.push_back(std::make_unique<Client>());

  // At the deadline every unfinished client is closed, which ends its coroutine.
  asio::steady_timer deadline(io, std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s)));
  std::atomic<bool> timed_out{false};
  deadline.async_wait([&](boost::system::error_code e) {
    if (e) return;
    timed_out = true;
    for (auto& c : clients) {
      bool open;
      {
        std::lock_guard lk(storm.mu);
        open = !c->finished;
      }
      if (open) {
        finish(storm, *c, false, "timed out (--timeout)");
        boost::system::error_code ignored;
        if (c->stream) c->stream->lowest_layer().close(ignored);
      }
    }
  });
  const auto start = Clock::now();
  unsigned seed = 1;
  for (auto& c : clients) asio::co_spawn(io, connect_one(o, ep, ctx, *c, storm, seed++), asio::detached);

  std::atomic<bool> all_done{false};
  std::thread watcher([&] {
    auto next = start + 1s;
    while (!all_done.load()) {
      std::this_thread::sleep_for(20ms);
      int finished;
      {
        std::lock_guard lk(storm.mu);
        finished = storm.finished;
      }
      if (finished == o.clients) {
        asio::post(io, [&] { deadline.cancel(); });
        break;
      }
      if (o.progress && Clock::now() >= next) {
        next += 1s;
        std::fprintf(stderr, "connect_storm: %.1fs  connected %d/%d, failed attempts %d, gave up %d\n",
                     std::chrono::duration<double>(Clock::now() - start).count(), storm.connected.load(), o.clients,
                     storm.failed_attempts.load(), storm.failed.load());
      }
    }
  });
  // Connected clients keep their sockets open (no read pending), so the io_context runs
  // out of work only once every coroutine has ended and the deadline timer is cancelled.
  io.run();
  all_done = true;
  watcher.join();

  std::vector<double> setup_ms, after_ms;  // the successful attempt; since the storm began
  Clock::time_point last = start;
  std::map<std::string, int> reasons = storm.reasons;
  int retried = 0;
  for (auto& c : clients) {
    if (c->ok) {
      setup_ms.push_back(std::chrono::duration<double, std::milli>(c->done - c->start).count());
      after_ms.push_back(std::chrono::duration<double, std::milli>(c->done - start).count());
      last = std::max(last, c->done);
      if (c->attempts > 1) ++retried;
    } else if (c->error.rfind("timed out", 0) == 0) {
      ++reasons[c->error];
    }
  }
  std::sort(setup_ms.begin(), setup_ms.end());
  std::sort(after_ms.begin(), after_ms.end());
  const double a50 = percentile_ms(after_ms, 0.5), a99 = percentile_ms(after_ms, 0.99);
  const int connected = static_cast<int>(setup_ms.size());
  const int failed = o.clients - connected;
  const double all_s = std::chrono::duration<double>(last - start).count();
  // The storm's own CPU: on a shared 2-core machine it says whether the clients, not the
  // server, were the limit.
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const double client_cpu_ms = (static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                                static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
  const double p50 = percentile_ms(setup_ms, 0.5), p99 = percentile_ms(setup_ms, 0.99),
               max = setup_ms.empty() ? 0 : setup_ms.back();

  if (o.json) {
    std::string r;
    for (auto& [why, n] : reasons) {
      std::string esc;
      for (char ch : why) {
        if (ch == '"' || ch == '\\') esc += '\\';
        esc += (static_cast<unsigned char>(ch) < 0x20) ? ' ' : ch;
      }
      r += (r.empty() ? "" : ",") + ("\"" + esc + "\":" + std::to_string(n));
    }
    std::printf("{\"clients\":%d,\"connected\":%d,\"failed\":%d,\"failed_attempts\":%d,\"retried\":%d,"
                "\"timed_out\":%s,\"all_connected_s\":%.3f,\"setup_ms\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
                "\"connected_after_ms\":{\"p50\":%.1f,\"p99\":%.1f},\"client_cpu_ms\":%.0f,\"failures\":{%s}}\n",
                o.clients, connected, failed, storm.failed_attempts.load(), retried, timed_out ? "true" : "false",
                failed == 0 ? all_s : -1.0, p50, p99, max, a50, a99, client_cpu_ms, r.c_str());
  } else {
    if (failed == 0) std::printf("all %d TLS clients connected in %.3f s\n", o.clients, all_s);
    else std::printf("%d of %d TLS clients connected (last at %.3f s), %d failed\n", connected, o.clients, all_s, failed);
    std::printf("setup (TCP connect to PONG): p50 %.1f ms | p99 %.1f ms | max %.1f ms\n", p50, p99, max);
    std::printf("connected after (since the storm began): p50 %.1f ms | p99 %.1f ms\n", a50, a99);
    std::printf("CPU of these clients: %.0f ms\n", client_cpu_ms);
    std::printf("failed attempts: %d (%d clients connected only after a retry)\n", storm.failed_attempts.load(), retried);
    for (auto& [why, n] : reasons) std::printf("  %d x %s\n", n, why.c_str());
  }
  return failed == 0 ? 0 : 1;
}
