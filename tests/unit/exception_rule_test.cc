// The rule for exceptions on an event loop (docs/architecture.md, "Exceptions"): whatever a
// peer makes a connection's protocol code throw closes that connection alone, and an exception
// that still reaches a loop's run() is reported while the loop goes on serving the rest.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/test_ports.h"
#include "server/core/connection.h"
#include "server/core/event_loop.h"
#include "server/core/log.h"
#include "server/server.h"

namespace pylon::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

TEST(ExceptionRule, AnExceptionThatReachesTheLoopIsReportedAndTheLoopGoesOn) {
  std::mutex mu;
  std::vector<std::string> reported;
  EventLoop loop(7, [&](int index, std::string_view what) {
    std::lock_guard lk(mu);
    reported.push_back(std::to_string(index) + ": " + std::string(what));
  });
  loop.start();
  asio::post(loop.ctx(), [] { throw std::runtime_error("a handler's bug"); });
  std::promise<void> after;
  asio::post(loop.ctx(), [&] { after.set_value(); });
  ASSERT_EQ(after.get_future().wait_for(10s), std::future_status::ready)
      << "the loop stopped running handlers after one threw";
  EXPECT_EQ(loop.escaped_exceptions(), 1u);
  std::lock_guard lk(mu);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0], "7: a handler's bug");
  loop.stop();
}

// A connection whose protocol code throws on the input "boom".
class Fragile final : public Connection {
 public:
  Fragile(Server& s, EventLoop& l, tcp::socket sock, uint64_t cid)
      : Connection(s, l, std::move(sock), Kind::kClient, cid) {}
  std::promise<CloseReason> closed;
  std::promise<void> got_data;

 protected:
  void on_start() override {}
  bool on_read(std::string_view data) override {
    if (data.find("boom") != std::string_view::npos) throw std::runtime_error("boom from the protocol code");
    if (!data_seen_) {
      data_seen_ = true;
      got_data.set_value();
    }
    return true;
  }
  void on_closed(CloseReason reason) override { closed.set_value(reason); }

 private:
  bool data_seen_ = false;
};

TEST(ExceptionRule, WhatAPeerMakesTheProtocolCodeThrowClosesThatConnectionAlone) {
  std::string log_path = ::testing::TempDir() + "exception_rule_" + std::to_string(::getpid()) + ".log";
  auto log = std::make_shared<Logger>();
  log->open(log_path);
  Options opts;
  opts.host = "127.0.0.1";
  opts.port = pylon::testing::lease_port();
  opts.event_loops = 1;  // both connections on one loop: the survivor shares the loop that caught
  Server server(opts, log);
  server.start();
  EventLoop& loop = server.loop(0);

  tcp::acceptor acceptor(loop.ctx(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto pair = [&](std::shared_ptr<Fragile>& conn, tcp::socket& peer, uint64_t cid) {
    peer.connect(acceptor.local_endpoint());
    tcp::socket accepted(loop.ctx());
    acceptor.accept(accepted);
    conn = std::make_shared<Fragile>(server, loop, std::move(accepted), cid);
    conn->start();
  };
  asio::io_context client_ctx;
  tcp::socket bad_peer(client_ctx), good_peer(client_ctx);
  std::shared_ptr<Fragile> bad, good;
  pair(bad, bad_peer, 9001);
  pair(good, good_peer, 9002);
  auto bad_closed = bad->closed.get_future();
  auto good_closed = good->closed.get_future();
  auto good_data = good->got_data.get_future();

  asio::write(bad_peer, asio::buffer(std::string("boom")));
  ASSERT_EQ(bad_closed.wait_for(10s), std::future_status::ready) << "the throwing connection was not closed";
  EXPECT_EQ(bad_closed.get(), CloseReason::kProtocolViolation);
  // The peer sees the connection end.
  char c;
  boost::system::error_code ec;
  asio::read(bad_peer, asio::buffer(&c, 1), ec);
  EXPECT_TRUE(ec) << "the throwing connection's socket stayed open";

  // The other connection on the same loop is untouched and still served.
  asio::write(good_peer, asio::buffer(std::string("hello")));
  EXPECT_EQ(good_data.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(good_closed.wait_for(0s), std::future_status::timeout);
  // Caught at the connection, not at the loop.
  EXPECT_EQ(loop.escaped_exceptions(), 0u);

  good->close(CloseReason::kServerShutdown, false);
  EXPECT_EQ(good_closed.wait_for(10s), std::future_status::ready);
  server.shutdown();
  std::ifstream in(log_path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("cid:9001 - Error processing input: boom from the protocol code"), std::string::npos)
      << text.str();
  std::remove(log_path.c_str());
}

}  // namespace
}  // namespace pylon::server
