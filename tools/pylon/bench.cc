// `pylon bench`: see bench.h and docs/performance.md.
//
// Every publisher and subscriber is a pylon::Connection (its own socket, I/O thread and
// callback thread), so the benchmark measures the client library as users get it,
// against any NATS server. The run is bounded: at --timeout or on SIGINT/SIGTERM the
// main thread closes every connection, which wakes a publisher blocked on the
// library's backpressure, and the report shows what arrived.
//
// Timing, as `nats bench` does it:
//  - a publisher runs from the common start signal to the return of the flush() after
//    its last publish (the PONG to that PING: the server has processed every message);
//  - a subscriber runs from the delivery of its first message to that of its last one;
//  - "overall" runs from the start signal to the last flush or delivery, and counts each
//    published message once (end-to-end throughput of the system).
#include "bench.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "proto/subject.h"
#include "pylon/connection.h"

namespace pylon::tools {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Set on timeout or signal; the publishers' loops and the main thread watch it.
std::atomic<bool> g_stop{false};
volatile sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  g_signal = sig;
  g_stop.store(true, std::memory_order_relaxed);
}

bool stopping() { return g_stop.load(std::memory_order_relaxed); }
std::string stop_reason() { return g_signal != 0 ? "interrupted" : "timed out"; }

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// This process's CPU time (user + system, every thread) so far: with one publisher, what
// the client library spent per message (scripts/bench.sh's client rows).
double process_cpu_ms() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  return out + "\"";
}

// ---- the clients ----------------------------------------------------------------------

struct ClientResult {
  alignas(64) std::atomic<int64_t> msgs{0};  // progress, read by the main thread
  int64_t target = 0;
  Clock::time_point start{}, end{};  // written by the client's thread before `finished`
  bool started = false;
  bool complete = false;
  std::atomic<bool> finished{false};
  std::atomic<bool> failed{false};  // fail() was called: the client stops

  // The first thing that went wrong (an -ERR, the connection lost), from any thread.
  void fail(std::string why) {
    std::lock_guard lk(mu);
    if (error.empty()) error = std::move(why);
    failed.store(true, std::memory_order_release);
  }
  std::string why() const {
    std::lock_guard lk(mu);
    return error;
  }

 private:
  mutable std::mutex mu;
  std::string error;
};

// Errors recorded in the client's result.
ClientOptions bench_options(const BenchOptions& o, const std::string& server, std::string name, ClientResult& r,
                            Clock::time_point deadline) {
  ClientOptions c = bench_client_options(o, server, std::move(name), deadline);
  c.on_async_error = [&r](Connection&, const Subscription*, const ErrorInfo& e) { r.fail(e.message); };
  c.on_disconnected = [&r](Connection&, const ErrorInfo& e) {
    if (e != Error::kConnectionClosed) r.fail(e.message);
  };
  return c;
}

void run_publisher(Connection& c, const BenchOptions& o, int64_t count, std::latch& go, Clock::time_point deadline,
                   ClientResult& r) {
  const std::string payload(static_cast<size_t>(o.size), 'x');
  go.wait();
  r.start = Clock::now();
  r.started = true;
  int64_t sent = 0;
  try {
    // The library coalesces: publish() appends to the connection's outbound buffer and
    // its I/O thread writes many messages per send().
    // Any -ERR (permissions, payload, slow consumer) ends the run, as a lost connection does.
    while (sent < count && !stopping() && !r.failed.load(std::memory_order_relaxed)) {
      const int64_t n = std::min<int64_t>(1024, count - sent);
      for (int64_t i = 0; i < n; ++i) c.publish(o.subject, payload);
      sent += n;
      r.msgs.store(sent, std::memory_order_relaxed);
    }
    if (sent == count && !r.failed.load(std::memory_order_relaxed)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      c.flush(std::max<std::chrono::milliseconds>(left, 1ms));
      r.complete = true;
    }
  } catch (const Exception& e) {
    r.fail(stopping() ? stop_reason() : e.what());
  }
  r.end = Clock::now();
  if (!r.complete) r.fail(stop_reason());
  r.finished.store(true, std::memory_order_release);
}

// The members of a queue group (--queue) share one target: each message reaches one of
// them, so the group, not a member, knows when all arrived.
struct QueueGroup {
  int64_t target = 0;
  alignas(64) std::atomic<int64_t> received{0};
  std::atomic<bool> done{false};
  Clock::time_point end{};  // written by the member that took the last message, before `done`
};

// A subscriber is its connection's message handler: it runs on the callback thread.
struct Subscriber {
  ClientResult* r = nullptr;
  QueueGroup* group = nullptr;
  int64_t count = 0;
  void operator()(Message&) {
    if (++count == 1) {
      r->start = Clock::now();
      r->started = true;
    }
    r->msgs.store(count, std::memory_order_relaxed);
    if (group != nullptr) {
      if (group->received.fetch_add(1, std::memory_order_acq_rel) + 1 == group->target) {
        group->end = Clock::now();
        group->done.store(true, std::memory_order_release);
      }
      return;
    }
    if (count == r->target) {
      r->end = Clock::now();
      r->complete = true;
      r->finished.store(true, std::memory_order_release);
    }
  }
};

// ---- reporting ------------------------------------------------------------------------

std::string commas(double v) {
  auto n = static_cast<long long>(std::llround(v));
  std::string s = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return n < 0 ? "-" + s : s;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

struct Stat {
  int64_t msgs = 0;
  double secs = 0;
  int64_t size = 0;
  double rate() const { return secs > 0 ? static_cast<double>(msgs) / secs : 0; }
  double mb() const { return rate() * static_cast<double>(size) / (1024.0 * 1024.0); }  // MiB, as nats bench
};

Stat client_stat(const ClientResult& r, int64_t size) {
  Stat s;
  s.msgs = r.msgs.load();
  s.size = size;
  s.secs = r.started ? seconds(r.end - r.start) : 0;
  return s;
}

// All clients of one side as one: their messages over earliest start to latest end.
Stat side_stat(const std::vector<std::unique_ptr<ClientResult>>& rs, int64_t size) {
  Stat s;
  s.size = size;
  std::optional<Clock::time_point> first, last;
  for (const auto& r : rs) {
    s.msgs += r->msgs.load();
    if (!r->started) continue;
    if (!first || r->start < *first) first = r->start;
    if (!last || r->end > *last) last = r->end;
  }
  if (first) s.secs = seconds(*last - *first);
  return s;
}

std::string stat_line(const Stat& s) {
  return commas(s.rate()) + " msgs/sec ~ " + fmt("%.2f", s.mb()) + " MB/sec";
}

std::string stat_json(const Stat& s) {
  return "\"msgs\":" + std::to_string(s.msgs) + ",\"bytes\":" + std::to_string(s.msgs * s.size) +
         ",\"seconds\":" + fmt("%.6f", s.secs) + ",\"msgs_per_sec\":" + fmt("%.1f", s.rate()) +
         ",\"mb_per_sec\":" + fmt("%.3f", s.mb());
}

void print_side(const char* label, const std::vector<std::unique_ptr<ClientResult>>& rs, int64_t size) {
  if (rs.empty()) return;
  std::printf(" %s stats: %s\n", label, stat_line(side_stat(rs, size)).c_str());
  if (rs.size() < 2) return;
  std::vector<double> rates;
  for (size_t i = 0; i < rs.size(); ++i) {
    Stat s = client_stat(*rs[i], size);
    rates.push_back(s.rate());
    std::printf("  [%zu] %s (%s msgs)%s\n", i + 1, stat_line(s).c_str(), commas(static_cast<double>(s.msgs)).c_str(),
                rs[i]->complete ? "" : " INCOMPLETE");
  }
  double sum = 0, sq = 0;
  for (double r : rates) sum += r;
  double avg = sum / static_cast<double>(rates.size());
  for (double r : rates) sq += (r - avg) * (r - avg);
  std::printf("  min %s | avg %s | max %s | stddev %s msgs/sec\n",
              commas(*std::min_element(rates.begin(), rates.end())).c_str(), commas(avg).c_str(),
              commas(*std::max_element(rates.begin(), rates.end())).c_str(),
              commas(std::sqrt(sq / static_cast<double>(rates.size()))).c_str());
}

std::string side_json(const std::vector<std::unique_ptr<ClientResult>>& rs, int64_t size) {
  std::string j = "{" + stat_json(side_stat(rs, size)) + ",\"clients\":[";
  for (size_t i = 0; i < rs.size(); ++i) {
    if (i > 0) j += ",";
    j += "{" + stat_json(client_stat(*rs[i], size)) + ",\"target\":" + std::to_string(rs[i]->target) +
         ",\"complete\":" + (rs[i]->complete ? "true" : "false") + ",\"error\":" + json_string(rs[i]->why()) + "}";
  }
  return j + "]}";
}

bool write_csv(const std::string& path, const BenchOptions& o, const Stat& overall,
               const std::vector<std::unique_ptr<ClientResult>>& pubs,
               const std::vector<std::unique_ptr<ClientResult>>& subs) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "pylon bench: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  std::fprintf(f, "side,client,msgs,bytes,seconds,msgs_per_sec,mb_per_sec,complete\n");
  auto row = [&](const char* side, const std::string& client, const Stat& s, bool complete) {
    std::fprintf(f, "%s,%s,%lld,%lld,%.6f,%.1f,%.3f,%s\n", side, client.c_str(), static_cast<long long>(s.msgs),
                 static_cast<long long>(s.msgs * s.size), s.secs, s.rate(), s.mb(), complete ? "true" : "false");
  };
  auto all_complete = [](const auto& rs) {
    return std::all_of(rs.begin(), rs.end(), [](const auto& r) { return r->complete; });
  };
  row("overall", "all", overall, all_complete(pubs) && all_complete(subs));
  if (!pubs.empty()) row("pub", "all", side_stat(pubs, o.size), all_complete(pubs));
  if (!subs.empty()) row("sub", "all", side_stat(subs, o.size), all_complete(subs));
  for (size_t i = 0; i < pubs.size(); ++i) row("pub", std::to_string(i + 1), client_stat(*pubs[i], o.size), pubs[i]->complete);
  for (size_t i = 0; i < subs.size(); ++i) row("sub", std::to_string(i + 1), client_stat(*subs[i], o.size), subs[i]->complete);
  bool ok = std::fclose(f) == 0;
  if (!ok) std::fprintf(stderr, "pylon bench: cannot write %s\n", path.c_str());
  return ok;
}

}  // namespace

ClientOptions bench_client_options(const BenchOptions& o, const std::string& server, std::string name,
                                   Clock::time_point deadline) {
  ClientOptions c;
  c.servers = {server};
  apply_tls_flags(o.tls, c.tls);
  c.nkey_seed_file = o.nkey_file;
  c.no_randomize = true;
  c.allow_reconnect = false;
  c.name = std::move(name);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  c.connect_timeout = std::clamp<std::chrono::milliseconds>(left, 1ms, 5s);
  // nats bench does the same: a benchmark subscriber keeps every message it was sent.
  c.sub_pending_msgs_limit = -1;
  c.sub_pending_bytes_limit = -1;
  return c;
}

int run_bench(const BenchOptions& o) {
  if (o.requesters > 0) return run_bench_req(o);
  if (o.subject.empty() || !(o.pubs > 0 ? proto::valid_publish_subject(o.subject, true)
                                        : proto::valid_subscribe_subject(o.subject))) {
    std::fprintf(stderr, "pylon bench: invalid subject '%s'%s\n", o.subject.c_str(),
                 o.pubs > 0 ? " (publishers need a literal subject, no wildcards)" : "");
    return 2;
  }
  if (o.pubs <= 0 && o.subs <= 0) {
    std::fprintf(stderr, "pylon bench: need at least one publisher or subscriber\n");
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

  // Connect everyone first, subscribers subscribed (their flush proves the server has
  // the interest), so publishing starts on a ready system.
  std::vector<std::unique_ptr<ClientResult>> pubs, subs;
  std::vector<std::unique_ptr<Connection>> pub_conns, sub_conns;
  std::string server;  // host:port actually connected to
  auto open = [&](const char* side, int i, std::vector<std::unique_ptr<ClientResult>>& results,
                  std::vector<std::unique_ptr<Connection>>& conns) -> Connection* {
    results.push_back(std::make_unique<ClientResult>());
    std::string name = std::string("pylon-bench-") + side + "-" + std::to_string(i + 1);
    try {
      const std::string& url = std::strcmp(side, "sub") == 0 && !o.sub_server.empty() ? o.sub_server : o.server;
      auto c = std::make_unique<Connection>(bench_options(o, url, name, *results.back(), deadline));
      c->connect();
      if (server.empty() && std::strcmp(side, "pub") == 0) {
        server = c->connected_url();
        if (auto p = server.find("://"); p != std::string::npos) server.erase(0, p + 3);
      }
      conns.push_back(std::move(c));
      return conns.back().get();
    } catch (const Exception& e) {
      std::fprintf(stderr, "pylon bench: %s %d: %s\n", std::strcmp(side, "pub") == 0 ? "publisher" : "subscriber", i + 1,
                   e.what());
      return nullptr;
    }
  };
  QueueGroup group;
  group.target = o.msgs;
  QueueGroup* in_group = o.queue.empty() ? nullptr : &group;
  // With subscribers on another node, a probe subscribed after the subject tells when that
  // node's interest has reached the publishers' node: a route carries one node's
  // subscriptions in order, so the probe arrives only once the subject's interest has.
  std::string probe;
  std::vector<std::unique_ptr<std::atomic<bool>>> probed;
  for (int i = 0; i < o.subs; ++i) {
    Connection* c = open("sub", i, subs, sub_conns);
    if (c == nullptr) return 2;
    ClientResult& r = *subs.back();
    r.target = o.msgs;
    try {
      if (in_group != nullptr) {
        c->queue_subscribe(o.subject, o.queue, Subscriber{&r, in_group, 0});
      } else {
        c->subscribe(o.subject, Subscriber{&r, nullptr, 0});
      }
      if (!o.sub_server.empty()) {
        if (probe.empty()) probe = c->new_inbox();
        auto& flag = *probed.emplace_back(std::make_unique<std::atomic<bool>>(false));
        c->subscribe(probe, [&flag](Message&) { flag.store(true, std::memory_order_release); });
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      c->flush(std::max<std::chrono::milliseconds>(left, 1ms));
    } catch (const Exception& e) {
      std::fprintf(stderr, "pylon bench: subscriber %d: %s\n", i + 1, e.what());
      return 2;
    }
  }
  for (int i = 0; i < o.pubs; ++i) {
    Connection* c = open("pub", i, pubs, pub_conns);
    if (c == nullptr) return 2;
    if (int64_t mp = c->max_payload(); mp > 0 && o.size > mp) {
      std::fprintf(stderr, "pylon bench: --size %lld exceeds the server's max_payload %lld\n",
                   static_cast<long long>(o.size), static_cast<long long>(mp));
      return 2;
    }
    pubs.back()->target = o.msgs / o.pubs + (i < o.msgs % o.pubs ? 1 : 0);
  }
  if (!probe.empty() && !pub_conns.empty()) {
    auto all_probed = [&] {
      return std::all_of(probed.begin(), probed.end(), [](auto& f) { return f->load(std::memory_order_acquire); });
    };
    try {
      while (!all_probed() && Clock::now() < deadline && !stopping()) {
        pub_conns.front()->publish(probe, "");
        pub_conns.front()->flush(std::chrono::duration_cast<std::chrono::milliseconds>(
            std::max<Clock::duration>(deadline - Clock::now(), 1ms)));
        for (int k = 0; k < 10 && !all_probed(); ++k) std::this_thread::sleep_for(5ms);
      }
    } catch (const Exception& e) {
      std::fprintf(stderr, "pylon bench: probing the subscribers' interest: %s\n", e.what());
      return 2;
    }
    if (!all_probed()) {
      std::fprintf(stderr, "pylon bench: the subscribers' interest did not reach %s within --timeout (no route?)\n",
                   server.c_str());
      return 1;
    }
  }

  if (server.empty() && !sub_conns.empty()) {
    server = sub_conns.front()->connected_url();
    if (auto p = server.find("://"); p != std::string::npos) server.erase(0, p + 3);
  }
  std::string where = server;
  if (!o.sub_server.empty() && !sub_conns.empty()) {
    std::string s = sub_conns.front()->connected_url();
    if (auto p = s.find("://"); p != std::string::npos) s.erase(0, p + 3);
    where += ", sub-server=" + s;
  }
  std::fprintf(stderr, "Starting pylon bench [server=%s, subject=%s, msgs=%s, size=%lld B, pubs=%d, subs=%d%s]\n",
               where.c_str(), o.subject.c_str(), commas(static_cast<double>(o.msgs)).c_str(),
               static_cast<long long>(o.size), o.pubs, o.subs, o.queue.empty() ? "" : (", queue=" + o.queue).c_str());

  std::latch go(1);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < pub_conns.size(); ++i) {
    threads.emplace_back(run_publisher, std::ref(*pub_conns[i]), std::cref(o), pubs[i]->target, std::ref(go), deadline,
                         std::ref(*pubs[i]));
  }
  const auto start = Clock::now();
  go.count_down();

  // Watch: progress once a second, the deadline, signals, lost connections.
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  bool progress_shown = false;
  auto next_progress = start + 1s;
  bool timed_out = false;
  auto all_finished = [&] {
    for (auto& r : pubs)
      if (!r->finished.load(std::memory_order_acquire)) return false;
    if (in_group != nullptr) {
      if (group.done.load(std::memory_order_acquire)) return true;
      // The group is stuck once every member is gone.
      return std::all_of(subs.begin(), subs.end(), [&](auto& r) { return r->failed.load(std::memory_order_acquire); }) ||
             std::all_of(sub_conns.begin(), sub_conns.end(), [](auto& c) { return c->is_closed(); });
    }
    for (size_t i = 0; i < subs.size(); ++i) {
      // A subscriber whose connection is gone (or that got an -ERR) will get nothing more.
      if (!subs[i]->finished.load(std::memory_order_acquire) && !subs[i]->failed.load(std::memory_order_acquire) &&
          !sub_conns[i]->is_closed()) {
        return false;
      }
    }
    return true;
  };
  while (!all_finished()) {
    std::this_thread::sleep_for(20ms);
    auto now = Clock::now();
    if (now >= deadline && !stopping()) {
      timed_out = true;
      g_stop.store(true);
    }
    if (stopping()) break;
    if (o.progress && now >= next_progress) {
      next_progress += 1s;
      int64_t p = 0, s = 0;
      for (auto& r : pubs) p += r->msgs.load(std::memory_order_relaxed);
      for (auto& r : subs) s += r->msgs.load(std::memory_order_relaxed);
      std::string line = fmt("%5.1fs", seconds(now - start));
      if (!pubs.empty()) line += "  published " + commas(static_cast<double>(p)) + "/" + commas(static_cast<double>(o.msgs));
      if (!subs.empty()) {
        line += "  received " + commas(static_cast<double>(s)) + "/" +
                commas(static_cast<double>(o.msgs) * (in_group != nullptr ? 1.0 : static_cast<double>(subs.size())));
      }
      std::fprintf(stderr, tty ? "\r%s\033[K" : "%s\n", line.c_str());
      progress_shown = true;
    }
  }
  const auto stopped_at = Clock::now();
  // Closing wakes a publisher blocked on backpressure and stops every delivery; what a
  // subscriber has not finished by now stays incomplete.
  if (stopping()) {
    for (auto& c : pub_conns) c->close();
    for (auto& c : sub_conns) c->close();
  }
  for (auto& t : threads) t.join();
  // Why each unfinished subscriber stopped; then destroying the connections joins their
  // callback threads, so no handler touches a result from here on.
  // The group's members finish together, when the group has every message.
  if (in_group != nullptr && group.done.load(std::memory_order_acquire)) {
    for (auto& r : subs) {
      if (r->failed.load(std::memory_order_acquire)) continue;
      r->end = group.end;
      r->complete = true;
      r->finished.store(true, std::memory_order_release);
    }
  }
  std::vector<std::string> sub_stop(subs.size());
  for (size_t i = 0; i < subs.size(); ++i) {
    if (!subs[i]->finished.load(std::memory_order_acquire)) {
      sub_stop[i] = stopping() ? stop_reason() : sub_conns[i]->last_error().message;
    }
  }
  sub_conns.clear();
  pub_conns.clear();
  for (size_t i = 0; i < subs.size(); ++i) {
    ClientResult& r = *subs[i];
    if (r.complete) continue;
    r.end = stopped_at;
    r.fail(sub_stop[i].empty() ? "connection closed" : sub_stop[i]);
  }
  if (progress_shown && tty) std::fprintf(stderr, "\r\033[K");

  // Overall: from the start signal (or, with no publishers here, the first delivery)
  // to the last flush or delivery; each published message counted once.
  Stat overall;
  overall.size = o.size;
  {
    std::optional<Clock::time_point> first, last;
    auto take = [&](const std::vector<std::unique_ptr<ClientResult>>& rs) {
      for (auto& r : rs) {
        if (!r->started) continue;
        if (!first || r->start < *first) first = r->start;
        if (!last || r->end > *last) last = r->end;
      }
    };
    take(pubs);
    take(subs);
    if (!pubs.empty()) first = start;
    if (first && last) overall.secs = seconds(*last - *first);
    if (!pubs.empty()) {
      overall.msgs = side_stat(pubs, o.size).msgs;
    } else if (in_group != nullptr) {  // a queue group only: what the group received
      overall.msgs = group.received.load();
    } else {  // subscribers only: messages that reached every subscriber
      overall.msgs = subs.front()->msgs.load();
      for (auto& r : subs) overall.msgs = std::min(overall.msgs, r->msgs.load());
    }
  }

  bool complete = true;
  for (auto* side : {&pubs, &subs})
    for (auto& r : *side) complete = complete && r->complete;
  // A client may have hit the deadline in its own wait before this thread noticed it.
  if (!complete && g_signal == 0 && Clock::now() >= deadline) timed_out = true;

  if (o.json) {
    std::string j = "{\"overall\":{" + stat_json(overall) + "},\"complete\":" + (complete ? "true" : "false") +
                    ",\"timed_out\":" + (timed_out ? "true" : "false") + ",\"server\":" + json_string(server) +
                    ",\"subject\":" + json_string(o.subject) + ",\"pubs\":" + std::to_string(o.pubs) +
                    ",\"subs\":" + std::to_string(o.subs) + ",\"msgs\":" + std::to_string(o.msgs) +
                    ",\"size\":" + std::to_string(o.size) + ",\"client_cpu_ms\":" + fmt("%.1f", process_cpu_ms());
    if (!pubs.empty()) j += ",\"pub\":" + side_json(pubs, o.size);
    if (!subs.empty()) j += ",\"sub\":" + side_json(subs, o.size);
    j += "}";
    std::printf("%s\n", j.c_str());
  } else {
    std::printf("\nOverall: %s (%s msgs in %.3f s%s)\n", stat_line(overall).c_str(),
                commas(static_cast<double>(overall.msgs)).c_str(), overall.secs,
                subs.empty() ? "" : pubs.empty() ? ", to every subscriber" : ", first publish to last delivery");
    print_side("Pub", pubs, o.size);
    print_side("Sub", subs, o.size);
  }
  std::fflush(stdout);

  bool csv_ok = o.csv_file.empty() || write_csv(o.csv_file, o, overall, pubs, subs);

  if (!complete) {
    std::fprintf(stderr, "pylon bench: INCOMPLETE%s\n",
                 timed_out ? fmt(" (timed out after %g s)", o.timeout_s).c_str()
                           : g_signal != 0 ? " (interrupted)" : "");
    for (size_t i = 0; i < pubs.size(); ++i) {
      if (pubs[i]->complete) continue;
      std::fprintf(stderr, "  publisher %zu: sent %s/%s msgs: %s\n", i + 1,
                   commas(static_cast<double>(pubs[i]->msgs.load())).c_str(),
                   commas(static_cast<double>(pubs[i]->target)).c_str(), pubs[i]->why().c_str());
    }
    for (size_t i = 0; i < subs.size(); ++i) {
      if (subs[i]->complete) continue;
      std::fprintf(stderr, "  subscriber %zu: received %s/%s msgs: %s\n", i + 1,
                   commas(static_cast<double>(subs[i]->msgs.load())).c_str(),
                   commas(static_cast<double>(subs[i]->target)).c_str(), subs[i]->why().c_str());
    }
    return 1;
  }
  return csv_ok ? 0 : 1;
}

}  // namespace pylon::tools
