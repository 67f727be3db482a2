// The code of docs/client.md, compiled and run. Every ```cpp block of the guide must
// appear here line for line (indentation aside): DocsTest.EveryGuideSnippetIsHere checks
// that, so the guide cannot drift from code that builds and works.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "../common/test_certs.h"
#include "pylon/connection.h"
#include "test_support.h"

#ifndef PYLON_SOURCE_DIR
#define PYLON_SOURCE_DIR "."
#endif

namespace {

using namespace std::chrono_literals;

void connect_and_publish(const std::string& url) {
  pylon::ClientOptions opts;
  opts.servers = {url};          // or {"nats://a:4222", "nats://b:4222", ...}
  opts.name = "order-service";
  pylon::Connection conn(opts);
  conn.connect();                // throws pylon::Exception (kNoServers, kAuthorization, ...)

  conn.publish("orders.new", "order 42");
  conn.flush();                  // the server has it (PING/PONG round trip)
}

// Returns how many messages the callback saw before the unsubscribe.
int subscribe_with_callback(const std::string& url) {
  pylon::ClientOptions opts;
  opts.servers = {url};
  pylon::Connection conn(opts);
  conn.connect();

  std::atomic<int> seen{0};
  pylon::Subscription sub = conn.subscribe("orders.*", [&](pylon::Message& m) {
    std::cout << m.subject << ": " << m.data << "\n";  // on the callback thread
    ++seen;
  });
  conn.publish("orders.new", "order 43");
  conn.flush();
  // Between the guide's two blocks: the callback has had its message.
  pylon::test::wait_for([&] { return seen.load() == 1; }, 5s);

  // ... later
  sub.unsubscribe();
  return seen.load();
}

void queue_and_sync(const std::string& url) {
  pylon::ClientOptions opts;
  opts.servers = {url};
  pylon::Connection conn(opts);
  conn.connect();

  // Workers in one queue group share the messages: each goes to one of them.
  auto worker = conn.queue_subscribe("jobs", "workers", [](pylon::Message& m) { /* work */ });

  // A synchronous subscription is read when you want.
  pylon::Subscription sub = conn.subscribe_sync("events");
  sub.auto_unsubscribe(2);       // stop after two messages
  conn.publish("events", "one");
  conn.publish("events", "two");
  pylon::Message first = sub.next_msg(1s);   // throws kTimeout when nothing comes
  pylon::Message second = sub.next_msg(1s);

  EXPECT_EQ(first.data, "one");
  EXPECT_EQ(second.data, "two");
  try {
    sub.next_msg(1s);
    ADD_FAILURE() << "a third message after auto_unsubscribe(2)";
  } catch (const pylon::Exception& e) {
    EXPECT_EQ(e.code(), pylon::Error::kMaxMessagesDelivered) << e.what();
  }
}

void request_reply(const std::string& url) {
  pylon::ClientOptions opts;
  opts.servers = {url};
  pylon::Connection conn(opts);
  conn.connect();

  // A service answers on the request's reply subject.
  auto svc = conn.subscribe("time.now", [&](pylon::Message& req) {
    conn.publish(req.reply, "12:00");
  });

  pylon::Message reply = conn.request("time.now", "", 2s);
  std::cout << reply.data << "\n";

  try {
    conn.request("nobody.listens", "", 2s);
  } catch (const pylon::Exception& e) {
    if (e.code() == pylon::Error::kNoResponders) std::cout << "no such service\n";
  }
}

void headers(const std::string& url) {
  pylon::ClientOptions opts;
  opts.servers = {url};
  pylon::Connection conn(opts);
  conn.connect();
  auto sub = conn.subscribe_sync("traced");

  pylon::Headers h;
  h.add("Trace-Id", "abc-123");
  conn.publish("traced", "body", h);

  pylon::Message m = sub.next_msg(1s);
  std::cout << m.headers.get("Trace-Id").value_or("none") << "\n";   // abc-123
}

void typed_errors(const std::string& url) {
  pylon::ClientOptions opts;
  opts.servers = {url};
  pylon::Connection conn(opts);
  conn.connect();

  try {
    conn.publish("bad subject", "x");
  } catch (const pylon::Exception& e) {
    if (e.code() == pylon::Error::kInvalidSubject) {   // typed: compare with the enum
      std::cerr << e.what() << "\n";                    // "invalid subject: 'bad subject'"
    }
  }
}

void cluster_client(const std::string& url) {
  pylon::ClientOptions opts;
  opts.servers = {url};                     // list every node you know
  opts.no_randomize = true;                 // try them in this order
  opts.max_reconnects = 5;                  // per server; -1: forever
  opts.reconnect_wait = 2s;
  opts.reconnect_buffer_size = 8 << 20;     // publishes kept while disconnected
  opts.on_disconnected = [](pylon::Connection&, const pylon::ErrorInfo& why) {
    std::cerr << "disconnected: " << why.message << "\n";
  };
  opts.on_reconnected = [](pylon::Connection& c) {
    std::cerr << "reconnected to " << c.connected_url() << "\n";
  };
  opts.on_discovered_servers = [](pylon::Connection& c) {
    for (const auto& s : c.discovered_servers()) std::cerr << "learnt " << s << "\n";
  };
  opts.on_closed = [](pylon::Connection& c) {
    std::cerr << "closed: " << c.last_error().message << "\n";
  };
  opts.on_async_error = [](pylon::Connection&, const pylon::Subscription* sub, const pylon::ErrorInfo& e) {
    std::cerr << "error: " << e.message << "\n";   // e.g. kSlowConsumer
  };
  pylon::Connection conn(opts);
  conn.connect();
}

void drain_and_close(const std::string& url) {
  pylon::ClientOptions opts;
  opts.servers = {url};
  pylon::Connection conn(opts);
  conn.connect();
  auto sub = conn.subscribe("work", [](pylon::Message&) { /* slow work */ });

  // Stop taking new messages, finish the ones received, flush, close.
  conn.drain(10s);
}

boost::asio::awaitable<void> ask(pylon::Connection& conn) {
  pylon::Message r = co_await conn.async_request("time.now", "", 2s, boost::asio::use_awaitable);
  std::cout << r.data << "\n";
  co_await conn.async_flush(2s, boost::asio::use_awaitable);
}

void coroutines(const std::string& url) {
  pylon::ClientOptions opts;
  opts.servers = {url};
  pylon::Connection conn(opts);
  conn.connect();
  auto svc = conn.subscribe("time.now", [&](pylon::Message& req) { conn.publish(req.reply, "12:00"); });

  boost::asio::io_context io;
  boost::asio::co_spawn(io, ask(conn), boost::asio::detached);
  io.run();
}

void on_your_io_context(const std::string& url) {
  boost::asio::io_context io;
  pylon::ClientOptions opts;
  opts.servers = {url};
  pylon::Connection conn(io, opts);         // no threads of its own

  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    co_await conn.async_connect(boost::asio::use_awaitable);
    conn.publish("hello", "from the caller's thread");
    co_await conn.async_flush(2s, boost::asio::use_awaitable);
    conn.close();
  }, boost::asio::detached);
  io.run();                                 // all I/O and callbacks run here
}

void tls_client(const std::string& url, const std::string& ca_file, const std::string& cert_file,
                const std::string& key_file) {
  pylon::ClientOptions opts;
  opts.servers = {url};                     // e.g. "tls://nats.example.com:4222"
  opts.tls.ca_file = ca_file;               // the CA that signs the servers' certificates
  opts.tls.cert_file = cert_file;           // mutual TLS: our certificate and its key
  opts.tls.key_file = key_file;
  pylon::Connection conn(opts);
  try {
    conn.connect();
  } catch (const pylon::Exception& e) {
    if (e.code() == pylon::Error::kTlsVerification) std::cerr << "refused: " << e.what() << "\n";
    throw;
  }
  conn.publish("secure.greeting", "hello over TLS");
  conn.flush();
}

void websocket_client(const std::string& url) {
  pylon::ClientOptions opts;
  opts.servers = {url};                     // e.g. "ws://127.0.0.1:8080": a websocket {} listener
  pylon::Connection conn(opts);
  conn.connect();
  conn.publish("ws.greeting", "hello over WebSocket");
  conn.flush();
}

// What a snippet prints to std::cout or std::cerr while this is alive. The snippets print
// what they found out (a reply, a header, which error it was), so that is what is checked.
class Printed {
 public:
  explicit Printed(std::ostream& stream) : stream_(stream), saved_(stream.rdbuf(text_.rdbuf())) {}
  ~Printed() { stream_.rdbuf(saved_); }
  Printed(const Printed&) = delete;
  Printed& operator=(const Printed&) = delete;
  std::string text() const { return text_.str(); }

 private:
  std::ostream& stream_;
  std::ostringstream text_;
  std::streambuf* saved_;
};

class DocsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = pylon::test::make_pylon();
    server_->start();
    url_ = server_->url();
    pylon::ClientOptions o;
    o.servers = {url_};
    watcher_ = std::make_unique<pylon::Connection>(o);
    watcher_->connect();
  }
  // A subscription of the test's own connection, registered before the snippet runs:
  // what the snippet published reaches it.
  pylon::Subscription watch(const std::string& subject) {
    pylon::Subscription sub = watcher_->subscribe_sync(subject);
    watcher_->flush();
    return sub;
  }
  std::unique_ptr<pylon::test::TestServer> server_;
  std::string url_;
  std::unique_ptr<pylon::Connection> watcher_;
};

TEST_F(DocsTest, ConnectAndPublish) {
  auto orders = watch("orders.new");
  EXPECT_NO_THROW(connect_and_publish(url_));
  EXPECT_EQ(orders.next_msg(5s).data, "order 42");
}

TEST_F(DocsTest, SubscribeWithCallback) {
  auto orders = watch("orders.new");
  Printed out(std::cout);
  int seen = 0;
  EXPECT_NO_THROW(seen = subscribe_with_callback(url_));
  EXPECT_EQ(seen, 1) << "the snippet's callback never ran for its own message";
  EXPECT_EQ(out.text(), "orders.new: order 43\n");
  EXPECT_EQ(orders.next_msg(5s).data, "order 43");
}

TEST_F(DocsTest, QueueAndSync) { EXPECT_NO_THROW(queue_and_sync(url_)); }

TEST_F(DocsTest, RequestReplyAndNoResponders) {
  Printed out(std::cout);
  EXPECT_NO_THROW(request_reply(url_));
  // The reply, then the kNoResponders branch of the catch (and only it) printed.
  EXPECT_EQ(out.text(), "12:00\nno such service\n");
}

TEST_F(DocsTest, Headers) {
  Printed out(std::cout);
  EXPECT_NO_THROW(headers(url_));
  EXPECT_EQ(out.text(), "abc-123\n");
}

TEST_F(DocsTest, TypedErrors) {
  Printed err(std::cerr);
  EXPECT_NO_THROW(typed_errors(url_));
  // Printed only in the kInvalidSubject branch.
  EXPECT_EQ(err.text(), "invalid subject: 'bad subject'\n");
}

TEST_F(DocsTest, ClusterClient) { EXPECT_NO_THROW(cluster_client(url_)); }

TEST_F(DocsTest, DrainAndClose) { EXPECT_NO_THROW(drain_and_close(url_)); }

TEST_F(DocsTest, Coroutines) {
  Printed out(std::cout);
  EXPECT_NO_THROW(coroutines(url_));
  EXPECT_EQ(out.text(), "12:00\n");
}

TEST_F(DocsTest, OnYourIoContext) {
  auto hello = watch("hello");
  EXPECT_NO_THROW(on_your_io_context(url_));
  EXPECT_EQ(hello.next_msg(5s).data, "from the caller's thread");
}

// The TLS snippet against nats-server 2.9 verifying client certificates (Pylon's TLS is
// not on this branch yet).
TEST(DocsTls, MutualTlsClient) {
  if (!pylon::test::have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  const auto& certs = pylon::testing::test_certs();
  pylon::test::ServerSetup s;
  s.tls_cert = certs.server_cert();
  s.tls_key = certs.server_key();
  s.tls_ca = certs.ca();
  s.tls_verify = true;
  auto server = pylon::test::make_nats_server(s);
  server->start();
  const std::string url = server->url("tls", "localhost");

  pylon::ClientOptions o;
  o.servers = {url};
  o.tls.ca_file = certs.ca();
  o.tls.cert_file = certs.client2_cert();
  o.tls.key_file = certs.client2_key();
  pylon::Connection watcher(o);
  watcher.connect();
  pylon::Subscription greeting = watcher.subscribe_sync("secure.greeting");
  watcher.flush();

  EXPECT_NO_THROW(tls_client(url, certs.ca(), certs.client_cert(), certs.client_key()));
  EXPECT_EQ(greeting.next_msg(5s).data, "hello over TLS");

  // Trusting another CA: the snippet's kTlsVerification branch prints, then rethrows.
  Printed err(std::cerr);
  try {
    tls_client(url, certs.other_ca(), certs.client_cert(), certs.client_key());
    ADD_FAILURE() << "connected to a server whose CA it does not trust";
  } catch (const pylon::Exception& e) {
    EXPECT_EQ(e.code(), pylon::Error::kTlsVerification) << e.what();
  }
  EXPECT_EQ(err.text().rfind("refused: TLS certificate verification failed: " + url, 0), 0u) << err.text();
}

// The WebSocket snippet against a Pylon server's websocket {} listener; a subscriber on the
// client port gets what it published.
TEST(DocsWebsocket, WsClient) {
  pylon::test::ServerSetup s;
  s.websocket = true;
  auto server = pylon::test::make_pylon(s);
  server->start();
  pylon::ClientOptions o;
  o.servers = {server->url()};
  pylon::Connection watcher(o);
  watcher.connect();
  pylon::Subscription greeting = watcher.subscribe_sync("ws.greeting");
  watcher.flush();
  EXPECT_NO_THROW(websocket_client(server->ws_url()));
  EXPECT_EQ(greeting.next_msg(5s).data, "hello over WebSocket");
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> lines_of(std::istream& in) {
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(trim(line));
  return out;
}

TEST(DocsGuide, EveryGuideSnippetIsHere) {
  std::ifstream guide(std::string(PYLON_SOURCE_DIR) + "/docs/client.md");
  std::ifstream self(std::string(PYLON_SOURCE_DIR) + "/tests/client/docs_snippets_test.cc");
  ASSERT_TRUE(guide && self);
  std::vector<std::string> code = lines_of(self);
  std::vector<std::string> doc = lines_of(guide);
  int blocks = 0;
  for (size_t i = 0; i < doc.size(); ++i) {
    if (doc[i] != "```cpp") continue;
    std::vector<std::string> block;
    for (++i; i < doc.size() && doc[i] != "```"; ++i) block.push_back(doc[i]);
    ++blocks;
    auto it = std::search(code.begin(), code.end(), block.begin(), block.end());
    EXPECT_NE(it, code.end()) << "docs/client.md snippet #" << blocks << " is not in this file:\n"
                              << testing::PrintToString(block);
  }
  EXPECT_GE(blocks, 8) << "the guide's snippets were found";
}

}  // namespace
