// Writes made by the calling thread (Core::write_now_locked, docs/client.md "Who writes the
// socket"): request() and flush() send from their own thread, and so does the first publish
// of the handler of a delivery batch's last message (a reply), when the connection is plain
// TCP and its I/O thread has nothing posted or in flight. These tests check that the path is
// taken where it should be and never over TLS or WebSocket, that what such a write carries
// of other threads' publishes keeps each thread's order, and that a socket lost or closed
// while threads make requests on it costs no message of another connection. Against an
// embedded Pylon server and against nats-server.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../common/test_certs.h"
#include "numbered_stream.h"
#include "test_support.h"

namespace pylon::test {
namespace {

// Answers every request on `subject` with its own payload.
Subscription echo_service(Connection& svc, const std::string& subject) {
  return svc.subscribe(subject, [&svc](Message& m) {
    if (!m.reply.empty()) svc.publish(m.reply, m.data);
  });
}

class WriteNowTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  }
  std::unique_ptr<TestServer> start(ServerSetup setup = {}) {
    auto s = make_server(GetParam(), std::move(setup));
    s->start();
    return s;
  }
};

// One request at a time on an idle connection: the requester's thread writes each request,
// and the service's callback thread each reply; a flush's PING likewise.
TEST_P(WriteNowTest, RequestsRepliesAndFlushesAreWrittenByTheirOwnThreadsOverPlainTcp) {
  constexpr int kRequests = 200;
  auto server = start();
  Connection svc(client_options(server->url()));
  svc.connect();
  auto sub = echo_service(svc, "wn.echo");
  svc.flush();
  Connection c(client_options(server->url()));
  c.connect();
  const uint64_t svc_before = svc.stats().direct_writes;
  for (int i = 0; i < kRequests; ++i) {
    const std::string data = "request " + std::to_string(i);
    ASSERT_EQ(c.request("wn.echo", data, 10s).data, data);
  }
  // The first request also subscribes the connection's inbox, which the I/O thread writes;
  // after it nothing else is written, so (nearly) every request goes out directly.
  EXPECT_GE(c.stats().direct_writes, static_cast<uint64_t>(kRequests / 2));
  EXPECT_GE(svc.stats().direct_writes - svc_before, static_cast<uint64_t>(kRequests / 2));
  const uint64_t before_flushes = c.stats().direct_writes;
  for (int i = 0; i < 50; ++i) c.flush(10s);
  EXPECT_GE(c.stats().direct_writes - before_flushes, 25u);
}

// Over TLS and WebSocket the I/O thread seals or frames every write: no direct write, and
// requests, replies and flushes work as before.
TEST_P(WriteNowTest, OverTlsAndWebsocketTheIoThreadWritesEverything) {
  const auto& certs = pylon::testing::test_certs();
  ServerSetup setup;
  setup.tls_cert = certs.server_cert();
  setup.tls_key = certs.server_key();
  setup.websocket = true;
  auto server = start(setup);
  ClientOptions tls = client_options(server->url("tls", "localhost"));
  tls.tls.ca_file = certs.ca();
  ClientOptions ws = client_options(server->ws_url());
  for (const ClientOptions& o : {tls, ws}) {
    SCOPED_TRACE(o.servers.front());
    Connection svc(o);
    svc.connect();
    auto sub = echo_service(svc, "wn.sealed");
    svc.flush();
    Connection c(o);
    c.connect();
    for (int i = 0; i < 50; ++i) {
      const std::string data = "sealed " + std::to_string(i);
      ASSERT_EQ(c.request("wn.sealed", data, 10s).data, data);
      c.flush(10s);
    }
    EXPECT_EQ(c.stats().direct_writes, 0u);
    EXPECT_EQ(svc.stats().direct_writes, 0u);
  }
}

// Three threads publish numbered 1 KiB messages and flush after every 8 (a flush's direct
// write carries what the other threads buffered), while two threads make requests on the
// same connection and the service publishes a numbered message of its own in each handler
// before it replies. Every message arrives, each thread's in order; every request is answered.
TEST_P(WriteNowTest, DirectWritesCarryOtherThreadsPublishesInTheirOrder) {
  constexpr int kPublishers = 3;
  constexpr int kPerPublisher = 3000;
  constexpr int kServiceThread = kPublishers;  // the service's stream in OrderCheck
  auto server = start();
  OrderCheck check(kPublishers + 1);  // outlives rx, whose handler uses it
  Connection rx(client_options(server->url()));
  rx.connect();
  auto rx_sub = rx.subscribe("wn.order.*", check.handler());
  rx.flush();
  Connection svc(client_options(server->url()));
  svc.connect();
  int svc_seq = 0;  // the service's handler runs on its callback thread only
  auto svc_sub = svc.subscribe("wn.svc.order", [&](Message& m) {
    svc.publish(m.reply, m.data);  // the first publish of a batch's last handler: direct
    svc.publish("wn.order." + std::to_string(kServiceThread), body(kServiceThread, svc_seq++));
  });
  svc.flush();
  Connection c(client_options(server->url()));
  c.connect();

  std::atomic<int> publishers_done{0}, failures{0}, answered{0};
  std::mutex err_mu;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    if (failures.fetch_add(1) == 0) {
      std::lock_guard lk(err_mu);
      first_failure = what;
    }
  };
  std::vector<std::jthread> threads;
  for (int t = 0; t < kPublishers; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int seq = 0; seq < kPerPublisher; ++seq) {
          c.publish("wn.order." + std::to_string(t), body(t, seq));
          if (seq % 8 == 7) c.flush(30s);
        }
        c.flush(30s);
      } catch (const Exception& e) {
        fail(std::string("publisher: ") + e.what());
      }
      publishers_done.fetch_add(1);
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      try {
        for (int i = 0; publishers_done.load() < kPublishers; ++i) {
          const std::string data = std::to_string(r) + "/" + std::to_string(i);
          Message reply = c.request("wn.svc.order", data, 30s);
          if (reply.data != data) fail("reply '" + reply.data + "' to '" + data + "'");
          answered.fetch_add(1);
        }
      } catch (const Exception& e) {
        fail(std::string("requester: ") + e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_GT(answered.load(), 0);
  svc.flush(30s);
  const int service_msgs = answered.load();  // one per request answered
  EXPECT_TRUE(wait_for([&] { return check.total() == kPublishers * kPerPublisher + service_msgs; }, 60s))
      << check.total() << " of " << kPublishers * kPerPublisher + service_msgs;
  for (int t = 0; t < kPublishers; ++t) EXPECT_EQ(check.last(t), kPerPublisher - 1) << t;
  EXPECT_EQ(check.count(kServiceThread), service_msgs);
  EXPECT_EQ(check.gaps(), 0);
  EXPECT_EQ(check.bad(), "");
  EXPECT_GT(c.stats().direct_writes, 0u);
  EXPECT_GT(svc.stats().direct_writes, 0u);
}

// Rounds in which four threads make requests and flush on a connection while its server is
// restarted (the socket lost under them) and then while it is closed, and a fifth thread
// opens, flushes and closes short-lived connections meanwhile, which take the descriptor
// numbers the closed sockets free. A write through a descriptor after its socket closed
// would land in one of those connections (or another of the process's) as garbage: their
// flushes must all succeed and none may be closed by its server. The requests fail only
// with the errors of a lost or closed connection, and succeed again after each reconnect.
TEST_P(WriteNowTest, ThreadsWriteWhileTheirSocketIsLostAndClosedAndItsNumberReused) {
  constexpr int kRounds = 6;
  const int port = free_port();
  auto server = make_server(GetParam());
  server->start(port);
  const std::string url = server->url();  // the same across restarts; read here, not by the threads
  ClientOptions so = client_options(url);
  so.max_reconnects = -1;
  so.reconnect_wait = 50ms;
  Connection svc(so);
  svc.connect();
  auto sub = echo_service(svc, "wn.churn");
  svc.flush();

  std::atomic<bool> stop_churn{false};
  std::atomic<int> restarts{0};  // odd while the server is down: +1 before it stops, +1 once it is back
  std::atomic<int> churn_failures{0}, churned{0};
  std::string churn_error;
  std::jthread churn([&] {
    while (!stop_churn.load()) {
      const int r0 = restarts.load();
      // A connection that lived through a restart loses its socket: that is not a finding.
      auto restarted = [&] { return r0 % 2 == 1 || restarts.load() != r0; };
      try {
        ClientOptions o = client_options(url);
        o.allow_reconnect = false;
        Events ev;
        ev.attach(o);
        Connection x(o);
        x.connect();
        for (int i = 0; i < 3; ++i) x.flush(10s);
        x.close();
        if (ev.async_errors.load() > 0 && !restarted() && churn_failures.fetch_add(1) == 0) {
          churn_error = "an async error";
        }
        churned.fetch_add(1);
      } catch (const Exception& e) {
        if (restarted()) continue;
        if (churn_failures.fetch_add(1) == 0) churn_error = e.what();
      }
    }
  });
  OnExit stop_on_exit{[&] { stop_churn.store(true); }};

  // The errors of a lost or closed connection, and of a service not yet back after it.
  auto expected = [](const Exception& e) {
    for (Error c : {Error::kTimeout, Error::kDisconnected, Error::kNotConnected, Error::kConnectionClosed,
                    Error::kNoResponders, Error::kReconnectBufferExceeded}) {
      if (e.code() == c) return true;
    }
    return false;
  };
  for (int round = 0; round < kRounds; ++round) {
    ClientOptions o = client_options(url);
    o.max_reconnects = -1;
    o.reconnect_wait = 50ms;
    Connection c(o);
    c.connect();
    std::atomic<int> ok{0}, unexpected{0};
    std::string first_unexpected;
    std::mutex mu;
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0;; ++i) {
          try {
            const std::string data = std::to_string(t) + "." + std::to_string(i);
            if (i % 4 == 3) {
              c.flush(2s);
            } else if (c.request("wn.churn", data, 2s).data != data) {
              unexpected.fetch_add(1);
            }
            ok.fetch_add(1);
          } catch (const Exception& e) {
            if (e.code() == Error::kConnectionClosed && c.status() == Status::kClosed) return;
            if (!expected(e) && unexpected.fetch_add(1) == 0) {
              std::lock_guard lk(mu);
              first_unexpected = e.what();
            }
          }
        }
      });
    }
    OnExit close_on_exit{[&] { c.close(); }};
    ASSERT_TRUE(wait_for([&] { return ok.load() > 200; }, 30s)) << "round " << round;
    if (round % 2 == 0) {
      // The socket is lost under the threads; they go on once the connection is back.
      restarts.fetch_add(1);
      server->stop();
      server->start(port);
      restarts.fetch_add(1);
      const int before = ok.load();
      ASSERT_TRUE(wait_for([&] { return ok.load() > before + 200; }, 30s)) << "round " << round;
    }
    c.close();
    for (auto& t : threads) t.join();
    EXPECT_EQ(unexpected.load(), 0) << "round " << round << ": " << first_unexpected;
  }
  stop_churn.store(true);
  churn.join();
  EXPECT_GT(churned.load(), 0);
  EXPECT_EQ(churn_failures.load(), 0) << churn_error;
}

INSTANTIATE_TEST_SUITE_P(Servers, WriteNowTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

}  // namespace
}  // namespace pylon::test
