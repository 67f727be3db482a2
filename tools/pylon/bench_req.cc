// `pylon bench --req N`: request/reply latency, as users of a NATS service see it.
//
// --repliers connections (one queue group, so each request is answered once) echo every
// request's payload to its reply subject. --req requester connections each run one thread
// that calls request() in a loop: one request in flight per requester, so with --req 50
// there are 50 concurrent requests. Each round trip is timed on the requester's thread with
// steady_clock, from just before request() to its return: publish, the server's routing to
// a replier, the reply's routing back, and the client library's delivery, all included.
// Every requester makes one untimed request first, which sets up its inbox subscription.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"
#include "proto/subject.h"
#include "pylon/connection.h"

namespace pylon::tools {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::atomic<bool> g_stop{false};
volatile sig_atomic_t g_signal = 0;
void on_signal(int sig) {
  g_signal = sig;
  g_stop.store(true, std::memory_order_relaxed);
}

// No single request may wait longer than this (nor past the run's deadline): a lost
// request must not hang a benchmark that measures microseconds.
constexpr auto kRequestTimeout = 5s;

struct Requester {
  int64_t target = 0;
  std::vector<int64_t> latency_ns;  // one per completed request, written by its thread only
  alignas(64) std::atomic<int64_t> done{0};
  Clock::time_point start{}, end{};
  std::atomic<bool> finished{false};
  std::mutex mu;
  std::string error;  // the first failure
  void fail(std::string why) {
    std::lock_guard lk(mu);
    if (error.empty()) error = std::move(why);
  }
};

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::clamp<std::chrono::milliseconds>(left, 1ms, kRequestTimeout);
}

void run_requester(Connection& c, const BenchOptions& o, std::latch& go, Clock::time_point deadline, Requester& r) {
  const std::string payload(static_cast<size_t>(o.size), 'x');
  r.latency_ns.reserve(static_cast<size_t>(r.target));
  go.wait();
  r.start = Clock::now();
  try {
    for (int64_t i = 0; i < r.target && !g_stop.load(std::memory_order_relaxed); ++i) {
      const auto t0 = Clock::now();
      c.request(o.subject, payload, left_until(deadline));
      r.latency_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
      r.done.store(i + 1, std::memory_order_relaxed);
    }
  } catch (const Exception& e) {
    r.fail(g_stop.load() ? (g_signal != 0 ? "interrupted" : "timed out") : e.what());
  }
  r.end = Clock::now();
  if (r.done.load() < r.target) r.fail(g_signal != 0 ? "interrupted" : "timed out");
  r.finished.store(true, std::memory_order_release);
}

// Nearest rank: the smallest latency that at least `q` of all requests did not exceed.
double percentile_us(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1000.0;
}

}  // namespace

int run_bench_req(const BenchOptions& o) {
  if (!proto::valid_publish_subject(o.subject, true)) {
    std::fprintf(stderr, "pylon bench: invalid subject '%s' (requests need a literal subject, no wildcards)\n",
                 o.subject.c_str());
    return 2;
  }
  if (o.repliers <= 0) {
    std::fprintf(stderr, "pylon bench: --req needs at least one replier\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));
  std::atomic<bool> replier_failed{false};
  std::mutex err_mu;
  std::string replier_error;

  // Repliers first, each flushed, so the server holds their interest before any request.
  std::vector<std::unique_ptr<Connection>> repliers;
  std::vector<Subscription> replier_subs;
  const std::string& replier_server = o.sub_server.empty() ? o.server : o.sub_server;
  for (int i = 0; i < o.repliers; ++i) {
    ClientOptions co = bench_client_options(o, replier_server, "pylon-bench-replier-" + std::to_string(i + 1), deadline);
    co.on_async_error = [&](Connection&, const Subscription*, const ErrorInfo& e) {
      std::lock_guard lk(err_mu);
      if (replier_error.empty()) replier_error = e.message;
      replier_failed.store(true);
    };
    try {
      auto c = std::make_unique<Connection>(std::move(co));
      c->connect();
      Connection* self = c.get();
      replier_subs.push_back(c->queue_subscribe(o.subject, "pylon-bench-repliers", [self](Message& m) {
        if (!m.reply.empty()) self->publish(m.reply, m.data);
      }));
      c->flush(left_until(deadline));
      repliers.push_back(std::move(c));
    } catch (const Exception& e) {
      std::fprintf(stderr, "pylon bench: replier %d: %s\n", i + 1, e.what());
      return 2;
    }
  }

  std::vector<std::unique_ptr<Requester>> reqs;
  std::vector<std::unique_ptr<Connection>> conns;
  std::string server;
  for (int i = 0; i < o.requesters; ++i) {
    auto& r = *reqs.emplace_back(std::make_unique<Requester>());
    r.target = o.msgs / o.requesters + (i < o.msgs % o.requesters ? 1 : 0);
    ClientOptions co = bench_client_options(o, o.server, "pylon-bench-req-" + std::to_string(i + 1), deadline);
    co.on_async_error = [&r](Connection&, const Subscription*, const ErrorInfo& e) { r.fail(e.message); };
    try {
      auto c = std::make_unique<Connection>(std::move(co));
      c->connect();
      if (int64_t mp = c->max_payload(); mp > 0 && o.size > mp) {
        std::fprintf(stderr, "pylon bench: --size %lld exceeds the server's max_payload %lld\n",
                     static_cast<long long>(o.size), static_cast<long long>(mp));
        return 2;
      }
      // Untimed: the first request subscribes the connection's inbox. With repliers on
      // another node this also waits until their interest has crossed the route.
      for (;;) {
        try {
          c->request(o.subject, std::string(static_cast<size_t>(o.size), 'x'), left_until(deadline));
          break;
        } catch (const Exception& e) {
          if (e.code() != Error::kNoResponders && e.code() != Error::kTimeout) throw;
          if (Clock::now() >= deadline) throw;
          std::this_thread::sleep_for(10ms);
        }
      }
      if (server.empty()) {
        server = c->connected_url();
        if (auto p = server.find("://"); p != std::string::npos) server.erase(0, p + 3);
      }
      conns.push_back(std::move(c));
    } catch (const Exception& e) {
      std::fprintf(stderr, "pylon bench: requester %d: %s\n", i + 1, e.what());
      return 2;
    }
  }

  std::fprintf(stderr, "Starting pylon bench [server=%s, subject=%s, requests=%lld, size=%lld B, requesters=%d, "
               "repliers=%d]\n", server.c_str(), o.subject.c_str(), static_cast<long long>(o.msgs),
               static_cast<long long>(o.size), o.requesters, o.repliers);

  std::latch go(1);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < conns.size(); ++i)
    threads.emplace_back(run_requester, std::ref(*conns[i]), std::cref(o), std::ref(go), deadline, std::ref(*reqs[i]));
  const auto start = Clock::now();
  go.count_down();

  auto next_progress = start + 1s;
  bool timed_out = false;
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  bool progress_shown = false;
  auto all_finished = [&] {
    return std::all_of(reqs.begin(), reqs.end(), [](auto& r) { return r->finished.load(std::memory_order_acquire); });
  };
  while (!all_finished()) {
    std::this_thread::sleep_for(20ms);
    auto now = Clock::now();
    if (now >= deadline && !g_stop.load()) {
      timed_out = true;
      g_stop.store(true);
    }
    if (replier_failed.load()) g_stop.store(true);
    if (g_stop.load()) break;
    if (o.progress && now >= next_progress) {
      next_progress += 1s;
      int64_t d = 0;
      for (auto& r : reqs) d += r->done.load(std::memory_order_relaxed);
      std::fprintf(stderr, tty ? "\r%5.1fs  requests %lld/%lld\033[K" : "%5.1fs  requests %lld/%lld\n",
                   std::chrono::duration<double>(now - start).count(), static_cast<long long>(d),
                   static_cast<long long>(o.msgs));
      progress_shown = true;
    }
  }
  // Closing wakes a requester waiting for its reply.
  if (g_stop.load())
    for (auto& c : conns) c->close();
  for (auto& t : threads) t.join();
  if (progress_shown && tty) std::fprintf(stderr, "\r\033[K");
  conns.clear();
  replier_subs.clear();
  repliers.clear();

  std::vector<int64_t> all;
  int64_t done = 0;
  Clock::time_point last = start;
  bool complete = !replier_failed.load();
  for (auto& r : reqs) {
    all.insert(all.end(), r->latency_ns.begin(), r->latency_ns.end());
    done += r->done.load();
    last = std::max(last, r->end);
    complete = complete && r->done.load() == r->target;
  }
  std::sort(all.begin(), all.end());
  const double secs = std::chrono::duration<double>(last - start).count();
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  const double p50 = percentile_us(all, 0.50), p90 = percentile_us(all, 0.90), p99 = percentile_us(all, 0.99),
               p999 = percentile_us(all, 0.999), max = all.empty() ? 0 : static_cast<double>(all.back()) / 1000.0;

  if (o.json) {
    std::printf("{\"overall\":{\"msgs\":%lld,\"seconds\":%.6f,\"msgs_per_sec\":%.1f},\"complete\":%s,\"timed_out\":%s,"
                "\"requesters\":%d,\"repliers\":%d,\"size\":%lld,\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,"
                "\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}}\n",
                static_cast<long long>(done), secs, rate, complete ? "true" : "false", timed_out ? "true" : "false",
                o.requesters, o.repliers, static_cast<long long>(o.size), p50, p90, p99, p999, max);
  } else {
    std::printf("\nRequests: %lld in %.3f s, %.0f requests/sec (%d requesters, %d repliers)\n",
                static_cast<long long>(done), secs, rate, o.requesters, o.repliers);
    std::printf(" Round trip (us): p50 %.1f | p90 %.1f | p99 %.1f | p99.9 %.1f | max %.1f\n", p50, p90, p99, p999, max);
  }
  std::fflush(stdout);

  if (!complete) {
    std::fprintf(stderr, "pylon bench: INCOMPLETE%s\n",
                 timed_out ? " (timed out)" : g_signal != 0 ? " (interrupted)" : "");
    if (replier_failed.load()) std::fprintf(stderr, "  replier: %s\n", replier_error.c_str());
    for (size_t i = 0; i < reqs.size(); ++i) {
      if (reqs[i]->done.load() == reqs[i]->target) continue;
      std::lock_guard lk(reqs[i]->mu);
      std::fprintf(stderr, "  requester %zu: %lld/%lld requests: %s\n", i + 1,
                   static_cast<long long>(reqs[i]->done.load()), static_cast<long long>(reqs[i]->target),
                   reqs[i]->error.c_str());
    }
    return 1;
  }
  return 0;
}

}  // namespace pylon::tools
