// The client's state machine across server failures: reconnect on the same port,
// replayed subscriptions, the reconnect buffer and its bound, flushes while away, and
// closing once every server used up its attempts. Runs against an embedded Pylon server
// and against nats-server (restarted on the same port).
#include <gtest/gtest.h>

#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "test_support.h"

namespace pylon::test {
namespace {

class ReconnectTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
    server_ = make_server(GetParam());
    server_->start();
    port_ = server_->port();
  }
  void restart() { server_->start(port_); }

  std::unique_ptr<TestServer> server_;
  int port_ = 0;
};

TEST_P(ReconnectTest, ReconnectsWhenTheServerComesBackAndReplaysSubscriptions) {
  ClientOptions o = client_options(server_->url());
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  Inbox inbox;
  auto sub = c.subscribe("after.restart", inbox.handler());
  auto sync_sub = c.subscribe_sync("sync.after");
  c.flush();

  server_->stop();
  ASSERT_TRUE(wait_for([&] { return ev.disconnected == 1; }));
  EXPECT_EQ(c.status(), Status::kReconnecting);
  EXPECT_TRUE(c.last_error()) << "why the connection was lost";
  restart();
  ASSERT_TRUE(wait_for([&] { return ev.reconnected == 1; }));
  EXPECT_EQ(c.status(), Status::kConnected);
  EXPECT_EQ(c.connected_url(), server_->url());
  EXPECT_EQ(c.stats().reconnects, 1u);

  // A second connection proves the server knows our subscriptions again.
  Connection pub(client_options(server_->url()));
  pub.connect();
  pub.publish("after.restart", "hello again");
  pub.publish("sync.after", "sync too");
  pub.flush();
  ASSERT_TRUE(inbox.wait_size(1));
  EXPECT_EQ(inbox.messages()[0].data, "hello again");
  EXPECT_EQ(sync_sub.next_msg(2s).data, "sync too");
  EXPECT_EQ(ev.log().at(1), "reconnected " + server_->url());
}

TEST_P(ReconnectTest, PublishesWhileDisconnectedAreSentAfterReconnect) {
  ClientOptions o = client_options(server_->url());
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  Inbox inbox;
  auto sub = c.subscribe("buffered", inbox.handler());
  c.flush();

  server_->stop();
  ASSERT_TRUE(wait_for([&] { return c.status() == Status::kReconnecting; }));
  for (int i = 0; i < 20; ++i) c.publish("buffered", "msg " + std::to_string(i));
  restart();
  // The subscription is replayed before the buffer, on the same connection, so every
  // buffered message comes back to us.
  ASSERT_TRUE(inbox.wait_size(20));
  auto msgs = inbox.messages();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(msgs[i].data, "msg " + std::to_string(i));
}

TEST_P(ReconnectTest, FlushWhileReconnectingCompletesAfterReconnect) {
  Connection c(client_options(server_->url()));
  c.connect();
  server_->stop();
  ASSERT_TRUE(wait_for([&] { return c.status() == Status::kReconnecting; }));
  c.publish("x", "y");
  // The flush is asked for while no server is up; it completes once one is back.
  std::future<void> flushed = c.async_flush(10s, boost::asio::use_future);
  EXPECT_EQ(flushed.wait_for(50ms), std::future_status::timeout);
  restart();
  EXPECT_NO_THROW(flushed.get());
  EXPECT_TRUE(c.is_connected());
}

TEST_P(ReconnectTest, PublishOverTheReconnectBufferFails) {
  ClientOptions o = client_options(server_->url());
  o.reconnect_buffer_size = 1024;
  Connection c(o);
  c.connect();
  server_->stop();
  ASSERT_TRUE(wait_for([&] { return c.status() == Status::kReconnecting; }));
  std::string body(100, 'x');
  int accepted = 0;
  try {
    for (int i = 0; i < 100; ++i) {
      c.publish("buf", body);
      ++accepted;
    }
    FAIL() << "the buffer has a bound";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kReconnectBufferExceeded) << e.what();
    EXPECT_NE(std::string(e.what()).find("1024"), std::string::npos) << e.what();
  }
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 10);
}

TEST_P(ReconnectTest, NoReconnectBufferMeansPublishFailsAtOnce) {
  ClientOptions o = client_options(server_->url());
  o.reconnect_buffer_size = -1;
  Connection c(o);
  c.connect();
  server_->stop();
  ASSERT_TRUE(wait_for([&] { return c.status() == Status::kReconnecting; }));
  try {
    c.publish("buf", "x");
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kReconnectBufferExceeded);
  }
}

TEST_P(ReconnectTest, ClosesWithTheLastErrorAfterMaxReconnects) {
  ClientOptions o = client_options(server_->url());
  o.max_reconnects = 3;
  o.reconnect_wait = 20ms;
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  std::atomic<bool> got_request_error{false};
  std::thread requester([&] {
    try {
      c.request("never", "x", 30s);
    } catch (const Exception& e) {
      got_request_error = true;
    }
  });
  server_->stop();
  ASSERT_TRUE(wait_for([&] { return ev.closed == 1; }));
  requester.join();
  EXPECT_TRUE(got_request_error) << "a pending request fails when the connection closes";
  EXPECT_EQ(c.status(), Status::kClosed);
  ErrorInfo last = c.last_error();
  EXPECT_EQ(last, Error::kNoServers) << last.message;
  EXPECT_NE(last.message.find("127.0.0.1"), std::string::npos) << last.message;
  EXPECT_EQ(ev.disconnected, 1);
  EXPECT_EQ(ev.reconnected, 0);
  EXPECT_TRUE(c.servers().empty()) << "every server left the pool";
  try {
    c.publish("x", "y");
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kConnectionClosed);
  }
}

TEST_P(ReconnectTest, NoReconnectClosesAtOnce) {
  ClientOptions o = client_options(server_->url());
  o.allow_reconnect = false;
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  server_->stop();
  ASSERT_TRUE(wait_for([&] { return ev.closed == 1; }));
  EXPECT_EQ(ev.disconnected, 1);
  EXPECT_EQ(c.last_error(), Error::kIo);
}

TEST_P(ReconnectTest, RetryOnFailedConnectWaitsForTheServer) {
  server_->stop();
  ClientOptions o = client_options(server_->url());
  o.retry_on_failed_connect = true;
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();  // returns at once: keeps trying in the background
  EXPECT_EQ(c.status(), Status::kReconnecting);
  Inbox inbox;
  auto sub = c.subscribe("early", inbox.handler());
  c.publish("early", "queued before the server was up");
  restart();
  ASSERT_TRUE(inbox.wait_size(1));
  EXPECT_EQ(c.status(), Status::kConnected);
}

TEST_P(ReconnectTest, CloseDuringReconnectStopsTheAttempts) {
  ClientOptions o = client_options(server_->url());
  o.max_reconnects = -1;
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  server_->stop();
  ASSERT_TRUE(wait_for([&] { return c.status() == Status::kReconnecting; }));
  c.close();
  EXPECT_EQ(c.status(), Status::kClosed);
  EXPECT_TRUE(wait_for([&] { return ev.closed == 1; }));
}

TEST_P(ReconnectTest, LameDuckModeIsReported) {
  ClientOptions o = client_options(server_->url());
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  server_->enter_lame_duck();
  ASSERT_TRUE(wait_for([&] { return ev.lame_duck == 1; }));
  EXPECT_TRUE(c.server_info().lame_duck);
}

TEST_P(ReconnectTest, CallbacksKeepTheirOrderAcrossAReconnectWhileHandlersLag) {
  // The callback thread is held up by the first message, so everything after it queues:
  // the rest of the first burst, the disconnected and reconnected events, then a second
  // burst. They must come out in that order (messages of a later read must not overtake
  // an event queued before them).
  ClientOptions o = client_options(server_->url());
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, blocked = false;
  std::vector<std::string> order;
  auto note = [&](std::string what) {
    std::lock_guard lk(mu);
    order.push_back(std::move(what));
  };
  o.on_disconnected = [&](Connection&, const ErrorInfo&) { note("disconnected"); };
  o.on_reconnected = [&](Connection&) { note("reconnected"); };
  Connection c(o);
  c.connect();
  auto sub = c.subscribe("ordered", [&](Message& m) {
    if (m.data == "a0") {
      std::unique_lock lk(mu);
      blocked = true;
      cv.wait(lk, [&] { return release; });
    }
    note(m.data);
  });
  c.flush();
  // a0 first, so the rest arrives while its handler is blocked: a batch that waits.
  c.publish("ordered", "a0");
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard lk(mu);
    return blocked;
  }));
  for (int i = 1; i < 50; ++i) c.publish("ordered", "a" + std::to_string(i));
  c.flush();
  server_->stop();
  ASSERT_TRUE(wait_for([&] { return c.status() == Status::kReconnecting; }));
  restart();
  ASSERT_TRUE(wait_for([&] { return c.status() == Status::kConnected; }));
  c.flush();  // the subscription is back on the server
  Connection pub(client_options(server_->url()));
  pub.connect();
  for (int i = 0; i < 50; ++i) pub.publish("ordered", "b" + std::to_string(i));
  pub.flush();
  ASSERT_TRUE(wait_for([&] { return sub.pending_msgs() >= 99; })) << "the second burst is queued too";
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard lk(mu);
    return order.size() == 102;
  }));
  std::vector<std::string> want;
  for (int i = 0; i < 50; ++i) want.push_back("a" + std::to_string(i));
  want.push_back("disconnected");
  want.push_back("reconnected");
  for (int i = 0; i < 50; ++i) want.push_back("b" + std::to_string(i));
  std::lock_guard lk(mu);
  EXPECT_EQ(order, want);
}

TEST_P(ReconnectTest, ReconnectWalksThePoolInOrderWithNoRandomize) {
  // Three servers in the options; the first is connected. When it goes, the client tries
  // the next one in the order given (the third would do as well were the pool shuffled).
  auto second = make_server(GetParam());
  second->start();
  auto third = make_server(GetParam());
  third->start();
  ClientOptions o = client_options(server_->url());
  o.servers.push_back(second->url());
  o.servers.push_back(third->url());
  o.no_randomize = true;
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  EXPECT_EQ(c.connected_url(), server_->url());
  server_->stop();
  ASSERT_TRUE(wait_for([&] { return ev.reconnected == 1; }));
  EXPECT_EQ(c.connected_url(), second->url());
  // The lost server went to the end of the pool.
  EXPECT_EQ(c.servers(), (std::vector<std::string>{second->url(), third->url(), server_->url()}));
  second->stop();
  ASSERT_TRUE(wait_for([&] { return ev.reconnected == 2; }));
  EXPECT_EQ(c.connected_url(), third->url());
}

TEST_P(ReconnectTest, ReconnectWaitPacesTheAttempts) {
  // One server, three attempts, each after a 150 ms pause: closing takes at least 450 ms
  // after the loss (a lower bound on a wait the client must make, not a speed claim).
  ClientOptions o = client_options(server_->url());
  o.max_reconnects = 3;
  o.reconnect_wait = 150ms;
  o.reconnect_jitter = 0ms;
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  const auto lost = Clock::now();
  server_->stop();
  ASSERT_TRUE(wait_for([&] { return ev.closed == 1; }, 15s));
  EXPECT_GE(Clock::now() - lost, 450ms);
  EXPECT_EQ(c.last_error(), Error::kNoServers);
}

TEST_P(ReconnectTest, ReconnectJitterAddsToTheWait) {
  // No fixed wait, a jitter of up to 200 ms before each of 10 attempts: the sum is
  // below 200 ms with a probability of 1/10! (about 3e-7); without jitter it is ~0.
  ClientOptions o = client_options(server_->url());
  o.max_reconnects = 10;
  o.reconnect_wait = 0ms;
  o.reconnect_jitter = 200ms;
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  const auto lost = Clock::now();
  server_->stop();
  ASSERT_TRUE(wait_for([&] { return ev.closed == 1; }, 15s));
  EXPECT_GE(Clock::now() - lost, 200ms);
}

INSTANTIATE_TEST_SUITE_P(Servers, ReconnectTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

}  // namespace
}  // namespace pylon::test
