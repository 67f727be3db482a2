// The client's parts on their own: server URLs, the server pool, headers on the wire,
// NUIDs, error codes.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "client/delivery_batch.h"
#include "client/futex_mutex.h"
#include "client/handshake_json.h"
#include "client/headers_codec.h"
#include "client/nuid.h"
#include "client/server_pool.h"
#include "pylon/error.h"

namespace pylon::client {
namespace {

TEST(ServerUrl, ParsesTheFormsUsersWrite) {
  auto u = parse_server_url("nats://alice:p%40ss@example.com:5222");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 5222);
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "p@ss");
  EXPECT_TRUE(u.has_password);
  EXPECT_EQ(u.str(), "nats://example.com:5222") << "never the credentials";

  auto t = parse_server_url("nats://s3cr3t@localhost");
  EXPECT_EQ(t.user, "s3cr3t");
  EXPECT_FALSE(t.has_password);
  EXPECT_EQ(t.port, 4222);

  EXPECT_EQ(parse_server_url("localhost:4333").port, 4333);
  EXPECT_EQ(parse_server_url("127.0.0.1").host_port(), "127.0.0.1:4222");
  EXPECT_EQ(parse_server_url("[::1]:6222").host_port(), "[::1]:6222");
  EXPECT_EQ(parse_server_url(" nats://h:1/ ").host_port(), "h:1");
}

TEST(ServerUrl, RefusesWhatItCannotUse) {
  auto code = [](const char* s) -> std::error_code {
    try {
      parse_server_url(s);
    } catch (const Exception& e) {
      return e.code();
    }
    return {};
  };
  EXPECT_EQ(code(""), Error::kInvalidUrl);
  EXPECT_EQ(code("http://h:1"), Error::kInvalidUrl);
  EXPECT_EQ(code("nats://h:notaport"), Error::kInvalidUrl);
  EXPECT_EQ(code("nats://h:70000"), Error::kInvalidUrl);
  EXPECT_EQ(code("nats://:4222"), Error::kInvalidUrl);
  EXPECT_EQ(code("tls://h:4222"), std::error_code()) << "tls:// is a URL like nats://";
}

TEST(ServerUrl, TlsSchemeIsKeptAndShown) {
  auto u = parse_server_url("tls://alice:pw@localhost:4443");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "localhost");
  EXPECT_EQ(u.port, 4443);
  EXPECT_EQ(u.str(), "tls://localhost:4443");
  EXPECT_FALSE(parse_server_url("nats://h:1").tls);
  EXPECT_FALSE(parse_server_url("h:1").tls);
}

TEST(ServerUrl, SplitsCommaSeparatedLists) {
  EXPECT_EQ(split_urls("nats://a:1, nats://b:2,,c:3"),
            (std::vector<std::string>{"nats://a:1", "nats://b:2", "c:3"}));
}

ServerPool pool_of(std::initializer_list<const char*> urls) {
  ServerPool p;
  for (auto* u : urls) p.add(parse_server_url(u), false);
  return p;
}

TEST(ServerPool, WalksInOrderMovingTheFailedServerToTheEnd) {
  ServerPool p = pool_of({"a:1", "b:2", "c:3"});
  p.set_current(p.entries()[0]);
  EXPECT_EQ(p.select_next(-1)->url.host, "b");
  EXPECT_EQ(p.urls(false), (std::vector<std::string>{"nats://b:2", "nats://c:3", "nats://a:1"}));
  EXPECT_EQ(p.select_next(-1)->url.host, "c");
  EXPECT_EQ(p.select_next(-1)->url.host, "a");
}

TEST(ServerPool, DropsAServerThatUsedUpItsAttempts) {
  ServerPool p = pool_of({"a:1", "b:2"});
  p.set_current(p.entries()[0]);
  p.entries()[0]->reconnects = 2;
  EXPECT_EQ(p.select_next(2)->url.host, "b");
  EXPECT_EQ(p.size(), 1u);
  p.current()->reconnects = 2;
  EXPECT_EQ(p.select_next(2), nullptr);
  EXPECT_TRUE(p.empty());
}

TEST(ServerPool, ConnectUrlsAddAndPruneImplicitServers) {
  ServerPool p = pool_of({"127.0.0.1:4222"});
  p.set_current(p.entries()[0]);
  EXPECT_TRUE(p.apply_connect_urls({"127.0.0.1:4222", "127.0.0.1:5222"}, false));
  EXPECT_EQ(p.urls(true), std::vector<std::string>{"nats://127.0.0.1:5222"});
  EXPECT_FALSE(p.apply_connect_urls({"127.0.0.1:4222", "127.0.0.1:5222"}, false)) << "nothing new";
  // 5222 leaves the cluster, 6222 joins.
  EXPECT_TRUE(p.apply_connect_urls({"127.0.0.1:4222", "127.0.0.1:6222"}, false));
  EXPECT_EQ(p.urls(true), std::vector<std::string>{"nats://127.0.0.1:6222"});
  // 5222 comes back: it was seen before, so no "new server" event.
  EXPECT_FALSE(p.apply_connect_urls({"127.0.0.1:4222", "127.0.0.1:5222"}, false));
  // An empty list (advertising off) changes nothing.
  EXPECT_FALSE(p.apply_connect_urls({}, false));
  EXPECT_EQ(p.size(), 2u);
  // An explicit server is never pruned.
  p.apply_connect_urls({"127.0.0.1:7222"}, false);
  EXPECT_EQ(p.urls(false).front(), "nats://127.0.0.1:4222");
}

TEST(ServerPool, LearntServersBorrowTheCurrentServersCredentials) {
  ServerPool p;
  p.add(parse_server_url("nats://u:p@127.0.0.1:4222"), false);
  p.set_current(p.entries()[0]);
  p.apply_connect_urls({"127.0.0.1:5222"}, false);
  const auto& learnt = p.entries()[1]->url;
  EXPECT_EQ(learnt.user, "u");
  EXPECT_EQ(learnt.password, "p");
  EXPECT_TRUE(learnt.has_password);
  EXPECT_EQ(learnt.str(), "nats://127.0.0.1:5222");
}

TEST(ServerPool, LearntServersOfATlsServerUseTls) {
  ServerPool p;
  p.add(parse_server_url("tls://localhost:4222"), false);
  p.set_current(p.entries()[0]);
  p.apply_connect_urls({"127.0.0.1:5222"}, false);
  EXPECT_TRUE(p.entries()[1]->url.tls);
  EXPECT_EQ(p.urls(true), std::vector<std::string>{"tls://127.0.0.1:5222"});
}

TEST(ServerUrl, WebsocketSchemesAreKeptWithTheirDefaultPorts) {
  auto ws = parse_server_url("ws://alice:pw@localhost");
  EXPECT_TRUE(ws.websocket);
  EXPECT_FALSE(ws.tls);
  EXPECT_EQ(ws.port, 80) << "nats.go's default for ws://";
  EXPECT_EQ(ws.user, "alice");
  EXPECT_EQ(ws.str(), "ws://localhost:80");
  auto wss = parse_server_url("wss://localhost");
  EXPECT_TRUE(wss.websocket);
  EXPECT_TRUE(wss.tls) << "wss:// is TLS, checked as tls:// is";
  EXPECT_EQ(wss.port, 443);
  EXPECT_EQ(parse_server_url("wss://[::1]:8443").str(), "wss://[::1]:8443");
  EXPECT_FALSE(parse_server_url("nats://h:1").websocket);
}

TEST(ServerPool, LearntServersOfAWebsocketServerUseWebsocket) {
  ServerPool p;
  p.add(parse_server_url("ws://127.0.0.1:8080"), false);
  p.set_current(p.entries()[0]);
  // A server gives a WebSocket client its cluster's WebSocket "host:port"s.
  p.apply_connect_urls({"127.0.0.1:8081"}, false);
  EXPECT_TRUE(p.entries()[1]->url.websocket);
  EXPECT_EQ(p.entries()[1]->url.port, 8081);
  EXPECT_EQ(p.urls(true), std::vector<std::string>{"ws://127.0.0.1:8081"});
}

TEST(Headers, RoundTripWithStatusAndRepeatedKeys) {
  Headers h{{"A", "1"}, {"B", "two words"}};
  h.add("A", "again");
  std::string wire;
  encode_headers(wire, h, 0, "");
  EXPECT_EQ(wire, "NATS/1.0\r\nA: 1\r\nB: two words\r\nA: again\r\n\r\n");
  EXPECT_EQ(encoded_headers_size(h), wire.size());
  Message m;
  ASSERT_TRUE(decode_headers(wire, m));
  EXPECT_EQ(m.headers, h);
  EXPECT_EQ(m.status, 0);

  Message s;
  ASSERT_TRUE(decode_headers("NATS/1.0 503\r\n\r\n", s));
  EXPECT_EQ(s.status, 503);
  EXPECT_TRUE(s.headers.empty());
  Message d;
  ASSERT_TRUE(decode_headers("NATS/1.0 408 Request Timeout\r\nX: y\r\n\r\n", d));
  EXPECT_EQ(d.status, 408);
  EXPECT_EQ(d.status_description, "Request Timeout");
  EXPECT_EQ(d.headers.get("X"), "y");

  Message bad;
  EXPECT_FALSE(decode_headers("HTTP/1.1 200\r\n\r\n", bad));
  EXPECT_FALSE(valid_header_key("a b"));
  EXPECT_FALSE(valid_header_value("x\r\ny"));
}

TEST(Headers, SetReplacesEveryValue) {
  Headers h;
  h.add("K", "1").add("K", "2").set("K", "3");
  EXPECT_EQ(h.values("K"), std::vector<std::string_view>{"3"});
  EXPECT_EQ(h.erase("K"), 1u);
  EXPECT_FALSE(h.get("K"));
}

TEST(Nuid, IsUniqueAndWellFormed) {
  Nuid n;
  std::set<std::string> seen;
  for (int i = 0; i < 100000; ++i) {
    std::string id = n.next();
    ASSERT_EQ(id.size(), Nuid::kTotalLen);
    ASSERT_TRUE(seen.insert(id).second);
  }
  EXPECT_NE(Nuid::global_next(), Nuid::global_next());
  std::string b;
  append_base62(b, 0);
  append_base62(b, 61);
  append_base62(b, 62);
  EXPECT_EQ(b, "0z10");
}

TEST(Errors, AreTypedWithMessages) {
  Exception e(Error::kNoResponders, "svc.time");
  EXPECT_EQ(e.code(), Error::kNoResponders);
  EXPECT_STREQ(e.what(), "no responders available for request: svc.time");
  EXPECT_EQ(e.code().category().name(), std::string("pylon.client"));
  EXPECT_EQ(make_error_code(Error::kTimeout), std::errc::timed_out);
  ErrorInfo none;
  EXPECT_FALSE(none);
}

TEST(Handshake, ConnectCarriesCredentialsFromTheUrlFirst) {
  ClientOptions o;
  o.user = "opt-user";
  o.password = "opt-pass";
  o.name = "me";
  std::string from_opts = connect_json(o, parse_server_url("h:1"));
  EXPECT_NE(from_opts.find(R"("user":"opt-user")"), std::string::npos) << from_opts;
  EXPECT_NE(from_opts.find(R"("headers":true)"), std::string::npos);
  EXPECT_NE(from_opts.find(R"("no_responders":true)"), std::string::npos);
  EXPECT_NE(from_opts.find(R"("name":"me")"), std::string::npos);
  std::string from_url = connect_json(o, parse_server_url("nats://u:p@h:1"));
  EXPECT_NE(from_url.find(R"("user":"u")"), std::string::npos) << from_url;
  std::string token = connect_json(ClientOptions{}, parse_server_url("nats://tok@h:1"));
  EXPECT_NE(token.find(R"("auth_token":"tok")"), std::string::npos) << token;
  EXPECT_NE(token.find(R"("tls_required":false)"), std::string::npos) << token;
  std::string over_tls = connect_json(ClientOptions{}, parse_server_url("h:1"), true);
  EXPECT_NE(over_tls.find(R"("tls_required":true)"), std::string::npos) << over_tls;

  ServerInfo info = parse_info(R"({"server_id":"X","max_payload":1048576,"headers":true,
                                   "connect_urls":["10.0.0.1:4222"],"ldm":true})");
  EXPECT_EQ(info.server_id, "X");
  EXPECT_EQ(info.max_payload, 1048576);
  EXPECT_TRUE(info.lame_duck);
  EXPECT_EQ(info.connect_urls, std::vector<std::string>{"10.0.0.1:4222"});
  EXPECT_FALSE(info.tls_required);
  bool required = false;
  ServerInfo tls = parse_info(R"({"server_id":"X","tls_required":true,"tls_verify":true})", &required);
  EXPECT_TRUE(required);
  EXPECT_TRUE(tls.tls_required);
  EXPECT_TRUE(tls.tls_verify);
  EXPECT_FALSE(tls.tls_available);
  EXPECT_THROW(parse_info("not json"), Exception);
  // client_info_fuzz: a number no int64 holds was undefined behaviour (UBSan), now a protocol error.
  EXPECT_THROW(parse_info(R"({"server_id":"X","max_payload":-1e300})"), Exception);
  EXPECT_THROW(parse_info(R"({"server_id":"X","port":1e19})"), Exception);
  EXPECT_EQ(parse_info(R"({"server_id":"X","max_payload":1024.0})").max_payload, 1024);
}

// A subscriber of 1 KiB messages copies each body into a string a recycled batch kept:
// every body of the largest batch the I/O strand hands over (joined) keeps its capacity.
TEST(DeliveryBatchPool, ARecycledBatchKeepsItsBodies) {
  DeliveryBatchPool pool;
  auto b = pool.take();
  const size_t n = DeliveryBatchPool::kMaxJoinedBytes / 1024;
  b->items.resize(n);
  for (auto& it : b->items) it.msg.data.assign(1024, 'x');
  b->size = n;
  b->bytes = n * 1024;
  pool.give_back(std::move(b));
  auto again = pool.take();
  EXPECT_EQ(again->size, 0u);
  EXPECT_EQ(again->bytes, 0u);
  ASSERT_EQ(again->items.size(), n);
  size_t kept = 0;
  for (auto& it : again->items) kept += it.msg.data.capacity() >= 1024 ? 1 : 0;
  EXPECT_EQ(kept, n);
}

// ...but the memory a batch keeps stays bounded: large bodies beyond the bound are freed.
TEST(DeliveryBatchPool, LargeBodiesAreNotKept) {
  DeliveryBatchPool pool;
  auto b = pool.take();
  b->items.resize(8);
  for (auto& it : b->items) it.msg.data.assign(1024 * 1024, 'x');
  b->size = 8;
  pool.give_back(std::move(b));
  auto again = pool.take();
  size_t capacity = 0;
  for (auto& it : again->items) capacity += it.msg.data.capacity();
  EXPECT_LE(capacity, 2 * (DeliveryBatchPool::kMaxJoinedBytes + DeliveryBatchPool::kMaxBytes));
}

// The connection's lock (Core::mu_). More threads than cores, so holders are preempted
// inside the section and lockers go past the spin to sleep on the futex: still one holder
// at a time, and every increment made under it is seen by the next holder.
TEST(FutexMutex, OneHolderAtATimeUnderContention) {
  FutexMutex mu;
  uint64_t counter = 0;  // plain: only the lock orders the threads' writes
  std::atomic<bool> inside{false};
  std::atomic<int> overlaps{0};
  constexpr int kThreads = 6;
  constexpr int kRounds = 100000;
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kRounds; ++i) {
          std::lock_guard lk(mu);
          if (inside.exchange(true, std::memory_order_relaxed)) overlaps.fetch_add(1);
          ++counter;
          inside.store(false, std::memory_order_relaxed);
        }
      });
    }
  }
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(counter, static_cast<uint64_t>(kThreads) * kRounds);
  EXPECT_TRUE(mu.try_lock()) << "free again after the last unlock";
  EXPECT_FALSE(mu.try_lock()) << "held";
  mu.unlock();
}

// The backpressure and state waits use it with std::condition_variable_any.
TEST(FutexMutex, WorksWithAConditionVariable) {
  FutexMutex mu;
  std::condition_variable_any cv;
  int stage = 0;
  std::jthread other([&] {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return stage == 1; });
    stage = 2;
    cv.notify_all();
  });
  std::unique_lock lk(mu);
  stage = 1;
  cv.notify_all();
  EXPECT_TRUE(cv.wait_for(lk, std::chrono::seconds(30), [&] { return stage == 2; }));
}

}  // namespace
}  // namespace pylon::client
