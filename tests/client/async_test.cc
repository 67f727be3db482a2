// The asynchronous forms: C++20 coroutines (co_await conn.async_request(...)), plain
// callbacks and futures, and a connection running on the caller's io_context.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "test_support.h"

namespace pylon::test {
namespace {

namespace asio = boost::asio;

class AsyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = make_pylon();
    server_->start();
  }
  std::unique_ptr<TestServer> server_;
};

TEST_F(AsyncTest, CoroutinesAwaitRequestsOnTheirOwnExecutor) {
  Connection c(client_options(server_->url()));
  c.connect();
  auto svc = c.subscribe("co.svc", [&](Message& m) { c.publish(m.reply, "co:" + m.data); });
  c.flush();

  asio::io_context io;
  std::vector<std::string> replies;
  std::error_code no_responders;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
          Message r = co_await c.async_request("co.svc", std::to_string(i), 2s, asio::use_awaitable);
          replies.push_back(r.data);
        }
        co_await c.async_flush(2s, asio::use_awaitable);
        try {
          co_await c.async_request("co.nobody", "x", 2s, asio::use_awaitable);
        } catch (const Exception& e) {
          no_responders = e.code();
        }
      },
      asio::detached);
  io.run();  // returns when the coroutine is done: the completions came back to `io`
  EXPECT_EQ(replies, (std::vector<std::string>{"co:0", "co:1", "co:2"}));
  EXPECT_EQ(no_responders, Error::kNoResponders);
}

TEST_F(AsyncTest, CallbacksAndFutures) {
  Connection c(client_options(server_->url()));
  c.connect();
  auto svc = c.subscribe("cb.svc", [&](Message& m) { c.publish(m.reply, "cb"); });
  c.flush();

  std::promise<std::string> got;
  c.async_request("cb.svc", "x", 2s, [&](std::exception_ptr e, Message m) {
    EXPECT_FALSE(e);
    got.set_value(m.data);
  });
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), "cb");

  std::future<Message> timed_out = c.async_request("cb.silent.none", "x", 50ms, asio::use_future);
  try {
    timed_out.get();
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kNoResponders);
  }
  auto silent = c.subscribe("cb.silent", [](Message&) {});
  c.flush();
  std::future<Message> slow = c.async_request("cb.silent", "x", 50ms, asio::use_future);
  try {
    slow.get();
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kTimeout);
  }
}

TEST_F(AsyncTest, RunsOnTheCallersIoContext) {
  asio::io_context io;
  ClientOptions o = client_options(server_->url());
  Events ev;
  ev.attach(o);
  Connection c(io, o);
  std::vector<std::string> log;
  std::error_code would_block;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await c.async_connect(asio::use_awaitable);
        log.push_back(to_string(c.status()));
        auto svc = c.subscribe("io.svc", [&](Message& m) { c.publish(m.reply, "served on the caller's thread"); });
        Message r = co_await c.async_request("io.svc", "x", 2s, asio::use_awaitable);
        log.push_back(r.data);
        try {
          c.flush();  // blocking on the thread that must do the work
        } catch (const Exception& e) {
          would_block = e.code();
        }
        c.close();  // from the io_context's own thread: starts closing, returns
      },
      asio::detached);
  io.run();  // every operation, callback and the close ran here
  EXPECT_EQ(log, (std::vector<std::string>{"connected", "served on the caller's thread"}));
  EXPECT_EQ(would_block, Error::kWouldBlock);
  EXPECT_EQ(c.status(), Status::kClosed);
  EXPECT_EQ(ev.closed, 1);
}

TEST_F(AsyncTest, BlockingCallsFromCallbacksWork) {
  // Requests and flushes are answered on the I/O thread, so a handler may block on them
  // (as long as what answers is not another handler of the same connection, which runs
  // on the same callback thread).
  Connection backend_conn(client_options(server_->url()));
  backend_conn.connect();
  auto backend = backend_conn.subscribe("backend", [&](Message& m) { backend_conn.publish(m.reply, "backend says hi"); });
  backend_conn.flush();
  Connection c(client_options(server_->url()));
  c.connect();
  auto front = c.subscribe("front", [&](Message& m) {
    Message inner = c.request("backend", "", 2s);
    c.flush();
    c.publish(m.reply, "front relays: " + inner.data);
  });
  c.flush();
  EXPECT_EQ(c.request("front", "", 5s).data, "front relays: backend says hi");
}

TEST_F(AsyncTest, TheConnectionMayBeDestroyedInItsOwnCallback) {
  auto c = std::make_unique<Connection>(client_options(server_->url()));
  c->connect();
  std::atomic<bool> destroyed{false};
  auto sub = c->subscribe("bye", [&](Message&) {
    c.reset();
    destroyed = true;
  });
  c->publish("bye", "");
  EXPECT_TRUE(wait_for([&] { return destroyed.load(); }));
}

}  // namespace
}  // namespace pylon::test
