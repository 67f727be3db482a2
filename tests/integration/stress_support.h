// What the stress tests share (stress_test.cc, stress_order_test.cc): the bounded churn of
// connections that come and go while other loops deliver to them, its canary, and the checks
// every stress test makes once the churn is over. stress_test.cc's header says what a test
// proves.
#pragma once

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "cluster_harness.h"
#include "harness.h"

namespace pylon::it {


inline constexpr auto kChurnFor = 4s;       // each test's churn; the tests are bounded by time
inline constexpr int kChurners = 3;         // threads that connect, subscribe and reset
inline constexpr int kFloodPublishers = 2;  // threads publishing to the churned subject
inline constexpr int kEventLoops = 4;       // so churners, publishers and the canary share no loop

// Closes with a reset instead of a FIN: the server sees ECONNRESET at any point of its work.
inline void reset_close(RawClient& c) {
  if (!c.connected()) return;
  linger l{1, 0};
  ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  c.close();
}

// Numbered messages from one publisher connection to one subscriber connection.
class Canary {
 public:
  explicit Canary(int port) : port_(port) {}
  ~Canary() { join(); }

  // Subscribes, then publishes one message per millisecond until stop().
  bool start(std::string* why) {
    sub_ = raw_connect(port_);
    if (!sub_.handshake() || !sub_.send("SUB canary 1\r\n") || !sub_.ping_pong()) {
      *why = "canary subscriber could not subscribe";
      return false;
    }
    pub_ = raw_connect(port_);
    if (!pub_.handshake()) {
      *why = "canary publisher could not connect";
      return false;
    }
    reader_ = std::thread([this] { read_loop(); });
    writer_ = std::thread([this] {
      while (!stop_.load()) {
        std::string n = std::to_string(++sent_);
        if (!pub_.send("PUB canary " + std::to_string(n.size()) + "\r\n" + n + "\r\n")) {
          pub_failed_ = true;
          return;
        }
        std::this_thread::sleep_for(1ms);
      }
    });
    return true;
  }

  // Stops publishing and waits (with a deadline) for the last message. Empty when every
  // message arrived in order; otherwise what went wrong.
  std::string stop_and_check() {
    stop_ = true;
    if (writer_.joinable()) writer_.join();
    if (pub_failed_) return "the canary publisher's connection failed";
    // PONG: the server has processed every PUB, so each is in the subscriber's buffer or on the wire.
    if (!pub_.ping_pong(10s)) return "the canary publisher got no PONG";
    int64_t last = sent_.load();
    wait_for([&] { return received_.load() >= last || failed_.load(); }, 15s, 5ms);
    done_ = true;  // the reader sees it within one read_line timeout
    join();
    sub_.close();  // only now: closing a descriptor another thread reads is a race (TSan)
    if (!error_.empty()) return error_;
    if (received_.load() != last) {
      return "canary: received " + std::to_string(received_.load()) + " of " + std::to_string(last);
    }
    return {};
  }

  int64_t sent() const { return sent_.load(); }

 private:
  void join() {
    stop_ = true;
    if (writer_.joinable()) writer_.join();
    if (reader_.joinable()) reader_.join();
  }

  void read_loop() {
    while (!done_.load()) {
      auto line = sub_.read_line(200ms);
      if (!line) {
        if (sub_.peer_closed() && !done_.load()) fail("the canary subscriber was disconnected");
        if (sub_.peer_closed()) return;
        continue;
      }
      if (*line == "PING") {
        sub_.send("PONG\r\n");
        continue;
      }
      if (line->rfind("MSG canary ", 0) != 0) continue;
      size_t size = std::stoul(line->substr(line->rfind(' ') + 1));
      auto payload = sub_.read_exact(size + 2, 5s);
      if (!payload) {
        fail("canary: a message's payload never arrived");
        return;
      }
      int64_t n = std::stoll(payload->substr(0, size));
      int64_t want = received_.load() + 1;
      if (n != want) {
        fail("canary: got message " + std::to_string(n) + " where " + std::to_string(want) +
             " was due (lost or reordered)");
        return;
      }
      received_ = n;
    }
  }

  int port_;
  RawClient sub_, pub_;
  std::thread reader_, writer_;
  std::atomic<bool> stop_{false}, done_{false}, pub_failed_{false};
  std::atomic<int64_t> sent_{0}, received_{0};
  // Reader thread: what went wrong, then failed_ (the main thread reads error_ after the join).
  void fail(std::string why) {
    error_ = std::move(why);
    failed_ = true;
  }
  std::atomic<bool> failed_{false};
  std::string error_;
};

// The churn every test runs: flood publishers, churning subscribers and a canary.
class Churn {
 public:
  explicit Churn(int port) : port_(port), canary_(port) {}
  ~Churn() { join(); }

  bool start(std::string* why) {
    if (!canary_.start(why)) return false;
    end_ = Clock::now() + kChurnFor;
    for (int i = 0; i < kFloodPublishers; ++i) threads_.emplace_back([this] { flood(); });
    for (int i = 0; i < kChurners; ++i) threads_.emplace_back([this, i] { churn(i); });
    return true;
  }

  // Runs `fn` repeatedly on a thread of its own until the churn ends.
  void also(std::function<void()> fn) {
    threads_.emplace_back([this, fn = std::move(fn)] {
      while (Clock::now() < end_) fn();
    });
  }

  bool over() const { return Clock::now() >= end_; }

  // Waits for the churn to end and checks the canary (empty: all well).
  std::string finish() {
    join();
    return canary_.stop_and_check();
  }

  int cycles() const { return cycles_.load(); }
  int deliveries() const { return deliveries_.load(); }
  int64_t canary_sent() const { return canary_.sent(); }

 private:
  void join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  void flood() {
    RawClient c;
    if (!c.connect(port_) || !c.read_info() || !c.handshake()) return;
    std::string batch;
    for (int i = 0; i < 50; ++i) batch += "PUB churn 5\r\nhello\r\n";
    for (int n = 0; Clock::now() < end_; ++n) {
      if (!c.send(batch)) return;
      // A PING now and then keeps this publisher from running far ahead of the server.
      if (n % 20 == 19 && !c.ping_pong(10s)) return;
    }
  }

  void churn(int who) {
    for (int n = 0; Clock::now() < end_; ++n) {
      RawClient c;
      if (!c.connect(port_, 2s) || !c.read_info(2s)) continue;
      c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB churn 1\r\nSUB churn q 2\r\nPING\r\n");
      if (!c.read_until("PONG\r\n", 2s)) {
        reset_close(c);
        continue;
      }
      if (c.read_until("MSG churn ", 2s)) deliveries_.fetch_add(1);
      // Sometimes the subscriptions go before the connection does, sometimes with it.
      if ((n + who) % 3 == 0) c.send("UNSUB 1\r\nUNSUB 2\r\n");
      reset_close(c);
      cycles_.fetch_add(1);
    }
  }

  int port_;
  Canary canary_;
  Clock::time_point end_;
  std::vector<std::thread> threads_;
  std::atomic<int> cycles_{0}, deliveries_{0};
};

// What every stress test checks once its churn is over.
inline void expect_survived(ServerProcess& server, Churn& churn, const std::string& canary) {
  std::printf("churn: %d subscriber cycles, %d deliveries to churned subscribers, %lld canary messages\n",
              churn.cycles(), churn.deliveries(), static_cast<long long>(churn.canary_sent()));
  EXPECT_EQ(canary, "") << server.log().substr(0, 4000);
  EXPECT_TRUE(server.running()) << "the server died under churn; log:\n" << server.log();
  // The churn really ran: subscribers came and went, and messages reached them meanwhile.
  EXPECT_GE(churn.cycles(), kChurners * 5) << "too few churn cycles to prove anything";
  EXPECT_GT(churn.deliveries(), 0) << "no churned subscriber ever got a message";
  EXPECT_GT(churn.canary_sent(), 100);
  EXPECT_EQ(server.log().find("Unexpected exception"), std::string::npos) << server.log();
  // Still serving: a fresh client completes a round trip.
  RawClient after;
  ASSERT_TRUE(after.connect(server.port()));
  ASSERT_TRUE(after.read_info());
  EXPECT_TRUE(after.handshake());
}

inline ServerOptions churn_server(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--event_loops", std::to_string(kEventLoops)};
  args.insert(args.end(), extra.begin(), extra.end());
  return with_args(std::move(args));
}

}  // namespace pylon::it
