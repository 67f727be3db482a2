// pylon::Connection against a live server: the same suite runs against an embedded
// Pylon server and against the reference nats-server (skipped when not installed).
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <thread>

#include "test_support.h"

namespace pylon::test {
namespace {

class ConnectionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
    server_ = make_server(GetParam());
    server_->start();
  }

  std::unique_ptr<Connection> connect(ClientOptions o) {
    auto c = std::make_unique<Connection>(std::move(o));
    c->connect();
    return c;
  }
  std::unique_ptr<Connection> connect() { return connect(client_options(server_->url())); }

  std::unique_ptr<TestServer> server_;
};

TEST_P(ConnectionTest, ConnectsAndDescribesTheServer) {
  auto c = connect();
  EXPECT_EQ(c->status(), Status::kConnected);
  EXPECT_EQ(c->connected_url(), server_->url());
  ServerInfo info = c->server_info();
  EXPECT_FALSE(info.server_id.empty());
  EXPECT_GT(info.max_payload, 0);
  EXPECT_TRUE(info.headers);
  EXPECT_EQ(c->servers(), std::vector<std::string>{server_->url()});
  EXPECT_TRUE(c->discovered_servers().empty());
  EXPECT_FALSE(c->last_error());
  c->close();
  EXPECT_EQ(c->status(), Status::kClosed);
  EXPECT_TRUE(c->connected_url().empty());
}

TEST_P(ConnectionTest, PublishedMessagesReachSubscribersInOrder) {
  auto c = connect();
  Inbox inbox;
  auto sub = c->subscribe("orders.*", inbox.handler());
  c->flush();
  for (int i = 0; i < 100; ++i) c->publish("orders.new", "order " + std::to_string(i));
  ASSERT_TRUE(inbox.wait_size(100));
  auto msgs = inbox.messages();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(msgs[i].data, "order " + std::to_string(i));
    EXPECT_EQ(msgs[i].subject, "orders.new");
  }
  EXPECT_TRUE(wait_for([&] { return sub.delivered() == 100; }));
  Statistics st = c->stats();
  EXPECT_EQ(st.out_msgs, 100u);
  EXPECT_EQ(st.in_msgs, 100u);
  EXPECT_GT(st.in_bytes, 0u);
  EXPECT_EQ(st.in_bytes, st.out_bytes);
}

TEST_P(ConnectionTest, MessagesFromAnotherConnectionArrive) {
  auto sub_conn = connect();
  auto pub_conn = connect();
  Inbox inbox;
  auto sub = sub_conn->subscribe("a.>", inbox.handler());
  sub_conn->flush();
  pub_conn->publish("a.b.c", "deep");
  pub_conn->publish("x.y", "elsewhere");
  pub_conn->flush();
  ASSERT_TRUE(inbox.wait_size(1));
  EXPECT_FALSE(wait_for([&] { return inbox.size() > 1; }, 100ms));
  EXPECT_EQ(inbox.messages()[0].data, "deep");
}

TEST_P(ConnectionTest, AQueueGroupGetsEachMessageOnce) {
  auto c = connect();
  Inbox w1, w2, all;
  auto s1 = c->queue_subscribe("jobs", "workers", w1.handler());
  auto s2 = c->queue_subscribe("jobs", "workers", w2.handler());
  auto s3 = c->subscribe("jobs", all.handler());
  c->flush();
  for (int i = 0; i < 200; ++i) c->publish("jobs", std::to_string(i));
  ASSERT_TRUE(all.wait_size(200));
  ASSERT_TRUE(wait_for([&] { return w1.size() + w2.size() == 200; }));
  EXPECT_FALSE(wait_for([&] { return w1.size() + w2.size() > 200; }, 100ms));
  EXPECT_EQ(s1.queue(), "workers");
  EXPECT_TRUE(s3.queue().empty());
}

TEST_P(ConnectionTest, RequestGetsTheReply) {
  auto svc = connect();
  auto cli = connect();
  auto sub = svc->subscribe("time.now", [&](Message& m) { svc->publish(m.reply, "reply to " + m.data); });
  svc->flush();
  for (int i = 0; i < 20; ++i) {
    Message r = cli->request("time.now", "q" + std::to_string(i), 2s);
    EXPECT_EQ(r.data, "reply to q" + std::to_string(i));
  }
}

TEST_P(ConnectionTest, RequestsFromManyThreadsShareOneInbox) {
  auto svc = connect();
  auto cli = connect();
  auto sub = svc->subscribe("echo", [&](Message& m) { svc->publish(m.reply, m.data); });
  svc->flush();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string body = std::to_string(t) + "/" + std::to_string(i);
        if (cli->request("echo", body, 5s).data == body) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(cli->stats().in_msgs, 100u) << "every reply came back on the shared inbox, once";
}

TEST_P(ConnectionTest, RequestWithoutRespondersFailsAtOnce) {
  auto c = connect();
  // The error code is the proof it did not wait for the timeout: running out the
  // timeout ends in kTimeout, only the server's 503 status gives kNoResponders.
  try {
    c->request("nobody.home", "hello?", 30s);
    FAIL() << "expected kNoResponders";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kNoResponders) << e.what();
    EXPECT_NE(std::string(e.what()).find("nobody.home"), std::string::npos) << e.what();
  }
}

TEST_P(ConnectionTest, WithNoRespondersOffARequestToNobodyTimesOut) {
  ClientOptions o = client_options(server_->url());
  o.no_responders = false;  // the server sends no 503 status: only the timeout ends it
  auto c = connect(o);
  try {
    c->request("nobody.home", "hello?", 200ms);
    FAIL() << "expected kTimeout";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kTimeout) << e.what();
  }
}

TEST_P(ConnectionTest, RequestTimesOutWhenTheResponderIsSilent) {
  auto c = connect();
  auto sub = c->subscribe("silent", [](Message&) {});
  c->flush();
  try {
    c->request("silent", "x", 100ms);
    FAIL() << "expected kTimeout";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kTimeout) << e.what();
    EXPECT_EQ(e.code(), std::errc::timed_out) << "maps to the generic condition";
  }
}

TEST_P(ConnectionTest, HeadersTravelWithTheMessage) {
  auto c = connect();
  auto sub = c->subscribe_sync("with.headers");
  c->flush();
  Headers h;
  h.add("Trace-Id", "abc-123").add("Multi", "one").add("Multi", "two");
  c->publish("with.headers", "body", h);
  Message m = sub.next_msg(2s);
  EXPECT_EQ(m.data, "body");
  EXPECT_EQ(m.headers.get("Trace-Id"), "abc-123");
  EXPECT_EQ(m.headers.values("Multi"), (std::vector<std::string_view>{"one", "two"}));
  EXPECT_EQ(m.status, 0);

  // A request carrying headers, answered with headers.
  auto svc = c->subscribe("hdr.svc", [&](Message& req) {
    Message reply;
    reply.subject = req.reply;
    reply.data = "ok";
    reply.headers.set("Echo", std::string(req.headers.get("Ask").value_or("?")));
    c->publish(reply);
  });
  c->flush();
  Message req;
  req.subject = "hdr.svc";
  req.headers.set("Ask", "42");
  Message r = c->request(req, 2s);
  EXPECT_EQ(r.headers.get("Echo"), "42");
}

TEST_P(ConnectionTest, AutoUnsubscribeStopsAfterN) {
  auto c = connect();
  Inbox inbox;
  auto sub = c->subscribe("limited", inbox.handler());
  sub.auto_unsubscribe(3);
  c->flush();
  for (int i = 0; i < 10; ++i) c->publish("limited", std::to_string(i));
  c->flush();
  ASSERT_TRUE(inbox.wait_size(3));
  EXPECT_FALSE(wait_for([&] { return inbox.size() > 3; }, 100ms));
  EXPECT_TRUE(wait_for([&] { return !sub.valid(); }));
  EXPECT_THROW(sub.unsubscribe(), Exception);
}

TEST_P(ConnectionTest, SyncSubscriptionReadsWithTimeout) {
  auto c = connect();
  auto sub = c->subscribe_sync("sync.subj");
  c->flush();
  try {
    sub.next_msg(50ms);
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kTimeout);
  }
  c->publish("sync.subj", "one");
  c->publish("sync.subj", "two");
  EXPECT_EQ(sub.next_msg(2s).data, "one");
  EXPECT_EQ(sub.next_msg(2s).data, "two");
  sub.unsubscribe();
  EXPECT_FALSE(sub.valid());
  try {
    sub.next_msg(10ms);
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kInvalidSubscription);
  }
  auto async_sub = c->subscribe("async", [](Message&) {});
  EXPECT_THROW(async_sub.next_msg(1ms), Exception);
}

TEST_P(ConnectionTest, SyncAutoUnsubscribeReportsTheLimit) {
  auto c = connect();
  auto sub = c->queue_subscribe_sync("two.only", "q");
  sub.auto_unsubscribe(2);
  c->flush();
  for (int i = 0; i < 5; ++i) c->publish("two.only", std::to_string(i));
  EXPECT_EQ(sub.next_msg(2s).data, "0");
  EXPECT_EQ(sub.next_msg(2s).data, "1");
  try {
    sub.next_msg(200ms);
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kMaxMessagesDelivered) << e.what();
  }
}

TEST_P(ConnectionTest, UnsubscribeStopsDelivery) {
  auto c = connect();
  Inbox inbox;
  auto sub = c->subscribe("stop.me", inbox.handler());
  c->flush();
  c->publish("stop.me", "1");
  ASSERT_TRUE(inbox.wait_size(1));
  sub.unsubscribe();
  c->publish("stop.me", "2");
  c->flush();
  EXPECT_FALSE(wait_for([&] { return inbox.size() > 1; }, 100ms));
}

TEST_P(ConnectionTest, FlushConfirmsAndFailsWhenClosed) {
  auto c = connect();
  for (int i = 0; i < 1000; ++i) c->publish("flush.me", "x");
  c->flush(5s);
  c->close();
  try {
    c->flush(1s);
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kConnectionClosed);
  }
  EXPECT_THROW(c->publish("x", "y"), Exception);
  EXPECT_THROW(c->subscribe("x", [](Message&) {}), Exception);
}

TEST_P(ConnectionTest, EverythingPublishedBeforeCloseArrives) {
  expect_every_publish_before_close_arrives(client_options(server_->url()));
}

TEST_P(ConnectionTest, DrainHandlesEverythingReceivedThenCloses) {
  ClientOptions o = client_options(server_->url());
  Events ev;
  ev.attach(o);
  auto c = connect(o);
  auto pub = connect();
  std::atomic<int> handled{0};
  auto sub = c->subscribe("drain.me", [&](Message&) {
    std::this_thread::sleep_for(1ms);  // a slow handler: messages queue up
    ++handled;
  });
  c->flush();
  for (int i = 0; i < 200; ++i) pub->publish("drain.me", "x");
  pub->flush();
  ASSERT_TRUE(wait_for([&] { return c->stats().in_msgs == 200; }));
  c->drain(10s);
  EXPECT_EQ(handled.load(), 200);
  EXPECT_EQ(c->status(), Status::kClosed);
  EXPECT_FALSE(sub.valid());
  EXPECT_TRUE(wait_for([&] { return ev.closed == 1; }));
}

TEST_P(ConnectionTest, SubscriptionDrainKeepsTheConnection) {
  auto c = connect();
  Inbox inbox;
  auto sub = c->subscribe("sub.drain", inbox.handler());
  c->flush();
  for (int i = 0; i < 50; ++i) c->publish("sub.drain", "x");
  sub.drain();
  ASSERT_TRUE(wait_for([&] { return !sub.valid(); }));
  EXPECT_EQ(inbox.size(), 50u) << "everything published before the drain arrives";
  EXPECT_TRUE(c->is_connected());
}

TEST_P(ConnectionTest, InvalidArgumentsAreTypedErrors) {
  auto c = connect();
  auto code_of = [](auto&& f) -> std::error_code {
    try {
      f();
    } catch (const Exception& e) {
      return e.code();
    }
    return {};
  };
  EXPECT_EQ(code_of([&] { c->publish("", "x"); }), Error::kInvalidSubject);
  EXPECT_EQ(code_of([&] { c->publish("has space", "x"); }), Error::kInvalidSubject);
  EXPECT_EQ(code_of([&] { c->publish("a..b", "x"); }), Error::kInvalidSubject);
  EXPECT_EQ(code_of([&] { (void)c->subscribe("a..b", [](Message&) {}); }), Error::kInvalidSubject);
  EXPECT_EQ(code_of([&] { (void)c->queue_subscribe("a", "bad queue", [](Message&) {}); }), Error::kInvalidQueueName);
  EXPECT_EQ(code_of([&] { c->flush(0ms); }), Error::kInvalidArgument);
  std::string big(static_cast<size_t>(c->max_payload()) + 1, 'x');
  EXPECT_EQ(code_of([&] { c->publish("big", big); }), Error::kMaxPayload);
  EXPECT_TRUE(c->is_connected()) << "a refused publish leaves the connection alone";
}

TEST_P(ConnectionTest, EchoOffSkipsOwnMessages) {
  ClientOptions o = client_options(server_->url());
  o.echo = false;
  auto c = connect(o);
  auto other = connect();
  Inbox inbox;
  auto sub = c->subscribe("echo.test", inbox.handler());
  c->flush();
  c->publish("echo.test", "mine");
  other->publish("echo.test", "theirs");
  other->flush();
  ASSERT_TRUE(inbox.wait_size(1));
  c->flush();
  EXPECT_FALSE(wait_for([&] { return inbox.size() > 1; }, 100ms));
  EXPECT_EQ(inbox.messages()[0].data, "theirs");
}

TEST_P(ConnectionTest, LargeMessagesArriveWhole) {
  auto c = connect();
  auto sub = c->subscribe_sync("large");
  c->flush();
  std::string big(static_cast<size_t>(c->max_payload()), '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  for (int i = 0; i < 3; ++i) c->publish("large", big);
  // 3 MB through the server and back: a deadline a sanitizer build at load 19 can meet.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sub.next_msg(30s).data, big);
}

TEST_P(ConnectionTest, VerboseAndPedanticModesWork) {
  ClientOptions o = client_options(server_->url());
  o.verbose = true;  // the server acknowledges every operation with +OK
  o.pedantic = true;
  auto c = connect(o);
  auto sub = c->subscribe_sync("verbose.subj");
  c->publish("verbose.subj", "acked");
  EXPECT_EQ(sub.next_msg(2s).data, "acked");
  c->flush();
  EXPECT_FALSE(c->last_error());
}

TEST_P(ConnectionTest, SlowConsumerDropsAndReports) {
  ClientOptions o = client_options(server_->url());
  Events ev;
  ev.attach(o);
  auto c = connect(o);
  auto sub = c->subscribe_sync("slow");
  sub.set_pending_limits(10, -1);
  c->flush();
  for (int i = 0; i < 30; ++i) c->publish("slow", std::to_string(i));
  c->flush();
  ASSERT_TRUE(wait_for([&] { return sub.dropped() == 20; }));
  EXPECT_TRUE(wait_for([&] { return ev.async_errors >= 1; }));
  EXPECT_EQ(ev.errors().at(0), Error::kSlowConsumer);
  try {
    sub.next_msg(1s);
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kSlowConsumer);
  }
  EXPECT_EQ(sub.next_msg(1s).data, "0") << "the queued messages are still there";
  EXPECT_EQ(c->last_error(), Error::kSlowConsumer);
}

TEST_P(ConnectionTest, AsyncSlowConsumerDropsOverTheLimitAndReportsOnce) {
  ClientOptions o = client_options(server_->url());
  Events ev;
  ev.attach(o);
  auto c = connect(o);
  // The handler holds on to the first message until released: everything else waits
  // in the subscription's pending queue, bounded at 10 messages.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> handled{0};
  auto sub = c->subscribe("slow.async", [&](Message&) {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return release; });
    ++handled;
  });
  sub.set_pending_limits(10, -1);
  c->flush();
  for (int i = 0; i < 30; ++i) c->publish("slow.async", std::to_string(i));
  c->flush();
  ASSERT_TRUE(wait_for([&] { return sub.dropped() == 20; })) << sub.dropped();
  EXPECT_EQ(sub.pending_msgs(), 10);
  EXPECT_EQ(sub.pending_bytes(), 10) << "ten one-byte bodies";
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(wait_for([&] { return handled == 10; }));
  // Events run on the callback thread too: the report comes once the handler lets go.
  ASSERT_TRUE(wait_for([&] { return ev.async_errors == 1; }));
  EXPECT_EQ(ev.errors().at(0), Error::kSlowConsumer);
  EXPECT_TRUE(wait_for([&] { return sub.pending_msgs() == 0 && sub.pending_bytes() == 0; }));
  EXPECT_EQ(sub.delivered(), 10u);
  // The episode is over: the next message is delivered, and nothing more is reported.
  c->publish("slow.async", "after");
  c->flush();
  ASSERT_TRUE(wait_for([&] { return handled == 11; }));
  EXPECT_EQ(sub.dropped(), 20u);
  EXPECT_EQ(ev.async_errors, 1);
}

TEST_P(ConnectionTest, AHandlerThatThrowsIsReportedAndDeliveryGoesOn) {
  ClientOptions o = client_options(server_->url());
  Events ev;
  ev.attach(o);
  auto c = connect(o);
  std::atomic<int> calls{0};
  auto sub = c->subscribe("throws", [&](Message& m) {
    ++calls;
    if (m.data == "bad") throw std::runtime_error("cannot handle it");
  });
  c->publish("throws", "bad");
  c->publish("throws", "good");
  c->flush();
  ASSERT_TRUE(wait_for([&] { return calls == 2 && ev.async_errors == 1; }));
  EXPECT_EQ(ev.errors().at(0), Error::kHandlerException);
  EXPECT_NE(ev.errors().at(0).message.find("cannot handle it"), std::string::npos) << ev.errors().at(0).message;
  EXPECT_TRUE(c->is_connected());
}

TEST_P(ConnectionTest, ConnectFailsWithNoServers) {
  ClientOptions o = client_options("nats://127.0.0.1:" + std::to_string(free_port()));
  Connection c(o);
  try {
    c.connect();
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kNoServers) << e.what();
    EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c.status(), Status::kDisconnected);
  EXPECT_THROW(c.publish("a", "b"), Exception);
}

TEST_P(ConnectionTest, FirstReachableServerOfThePoolIsUsed) {
  const std::string dead = "nats://127.0.0.1:" + std::to_string(free_port());
  ClientOptions o = client_options(dead);
  o.servers.push_back(server_->url());
  auto c = connect(o);
  EXPECT_EQ(c->connected_url(), server_->url());
  EXPECT_EQ(c->servers(), (std::vector<std::string>{dead, server_->url()})) << "no_randomize keeps the order";
}

// Stress: subscriptions come and go (unsubscribe, auto-unsubscribe, drain) on subjects
// that a publisher floods meanwhile, so the I/O thread's view of a subscription (the one
// it keeps across a read, Core::hot_sub_) changes under it many times per read. Every
// message must reach the subscription it was sent to (its sid and subject), no
// auto-unsubscribed subscription may get more than its limit, and delivery to a
// subscription made afterwards is whole and in order.
TEST_P(ConnectionTest, SubscriptionChurnWhileMessagesArrive) {
  constexpr int kSubjects = 4;
  constexpr int kRounds = 300;
  auto pub = connect();
  auto c = connect();
  struct Probe {
    std::string subject;
    std::atomic<uint64_t> sid{0};  // 0 until subscribe() returned
    std::atomic<int64_t> count{0};
    std::atomic<int> misrouted{0};
    int64_t max = 0;
    Subscription sub;
  };
  std::atomic<int64_t> published{0};
  // An auto-unsubscribed probe counts every message it received before its limit was set
  // (Subscription::auto_unsubscribe), so while one is made the flood pauses (`gate`), until
  // the server has both its SUB and its UNSUB: then at most `max` reach it.
  std::shared_mutex gate;
  // A jthread: an assertion that ends the test early still stops and joins it.
  std::jthread flood([&](std::stop_token stop) {
    std::string payload(200, 'x');
    try {
      for (int64_t i = 0; !stop.stop_requested(); ++i) {
        std::shared_lock open(gate);
        pub->publish("churn." + std::to_string(i % kSubjects), payload);
        published.fetch_add(1, std::memory_order_relaxed);
      }
    } catch (const Exception&) {
      // The test ends by closing; a publish that raced the close is not a failure.
    }
  });
  std::vector<std::shared_ptr<Probe>> probes;
  for (int i = 0; i < kRounds; ++i) {
    auto p = std::make_shared<Probe>();
    p->subject = "churn." + std::to_string(i % kSubjects);
    Probe* raw = p.get();
    auto subscribe = [&] {
      p->sub = c->subscribe(p->subject, [raw](Message& m) {
        const uint64_t want = raw->sid.load();
        if ((want != 0 && m.sid != want) || m.subject != raw->subject) raw->misrouted.fetch_add(1);
        raw->count.fetch_add(1);
      });
      p->sid.store(p->sub.sid());
    };
    switch (i % 3) {
      case 0: {
        std::unique_lock closed(gate);
        pub->flush();  // every publish so far is through the server, before our SUB
        subscribe();
        p->max = 1 + i % 17;
        p->sub.auto_unsubscribe(p->max);
        c->flush();  // the server has the SUB and the UNSUB
        break;
      }
      case 1:
        subscribe();
        wait_for([&] { return raw->count.load() > 0; }, 20ms);
        p->sub.unsubscribe();
        break;
      default:
        subscribe();
        wait_for([&] { return raw->count.load() > 0; }, 20ms);
        p->sub.drain();
        break;
    }
    probes.push_back(std::move(p));
  }
  ASSERT_GT(published.load(), kRounds) << "the publisher must have run during the churn";
  flood.request_stop();
  flood.join();
  c->flush();

  Inbox inbox;
  auto last = c->subscribe("churn.after", inbox.handler());
  c->flush();
  for (int i = 0; i < 500; ++i) pub->publish("churn.after", std::to_string(i));
  ASSERT_TRUE(inbox.wait_size(500));
  auto msgs = inbox.messages();
  for (int i = 0; i < 500; ++i) ASSERT_EQ(msgs[i].data, std::to_string(i));

  int64_t delivered = 0;
  for (auto& p : probes) {
    EXPECT_EQ(p->misrouted.load(), 0) << p->subject << " sid " << p->sid.load();
    if (p->max > 0) {
      EXPECT_LE(p->count.load(), p->max) << p->subject << " sid " << p->sid.load();
    }
    delivered += p->count.load();
  }
  EXPECT_GT(delivered, 0);
  EXPECT_TRUE(wait_for([&] {
    for (auto& p : probes) {
      if (p->max > 0 && p->count.load() == p->max && p->sub.valid()) return false;
      if (p->max == 0 && p->sub.valid()) return false;  // unsubscribed or drained
    }
    return true;
  })) << "every subscription that reached its end reports it";
}

// publish() checks its subject 16 bytes at a time (src/proto/subject.cc): a valid subject
// does not vouch for the next one, even in the same buffer, at any length.
TEST_P(ConnectionTest, EveryPublishedSubjectIsCheckedEvenInAReusedBuffer) {
  auto c = connect();
  Inbox inbox;
  auto sub = c->subscribe(">", inbox.handler());
  c->flush();
  auto code_of = [&](const std::string& subject) -> std::error_code {
    try {
      c->publish(subject, "x");
    } catch (const Exception& e) {
      return e.code();
    }
    return {};
  };
  int valid = 0;
  for (size_t len : {5, 16, 17, 31, 33, 40}) {
    std::string subject(len, 'a');
    subject[len / 2] = '.';
    ASSERT_EQ(code_of(subject), std::error_code()) << subject;
    ++valid;
    for (size_t at : {size_t{0}, len / 2 + 1, len - 1}) {  // an empty first, middle or last token
      std::string bad = subject;
      bad[at] = '.';
      EXPECT_EQ(code_of(bad), Error::kInvalidSubject) << "'" << bad << "'";
    }
    for (char space : {' ', '\t', '\r', '\n', '\f'}) {
      std::string bad = subject;
      bad[len - 1] = space;
      EXPECT_EQ(code_of(bad), Error::kInvalidSubject) << len;
    }
    subject[len - 1] = '\v';  // other control bytes are allowed, as the reference allows them
    ASSERT_EQ(code_of(subject), std::error_code()) << len;
    ++valid;
  }
  c->flush();
  ASSERT_TRUE(inbox.wait_size(valid));
  EXPECT_TRUE(c->is_connected()) << "a refused publish leaves the connection alone";
  EXPECT_EQ(c->stats().out_msgs, static_cast<uint64_t>(valid)) << "a refused publish sends nothing";
}

// publish() from many threads at once, beside flushes, subscribes and unsubscribes on
// the same connection: each thread's messages arrive complete and in its order, and the
// connection's lock (client::FutexMutex) keeps every operation whole.
TEST_P(ConnectionTest, ManyThreadsPublishingKeepEachThreadsOrder) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  auto c = connect();
  auto rx = connect();
  std::mutex mu;
  std::vector<int> next(kThreads, 0);
  std::atomic<int> received{0}, out_of_order{0};
  auto sub = rx->subscribe("mt.*", [&](Message& m) {
    const int t = m.subject.back() - '0';
    const int seq = std::stoi(m.data.substr(0, m.data.find(' ')));
    std::lock_guard lk(mu);
    if (t < 0 || t >= kThreads || seq != next[t]) out_of_order.fetch_add(1);
    if (t >= 0 && t < kThreads) next[t] = seq + 1;
    received.fetch_add(1);
  });
  rx->flush();
  // A flush waits behind everything published before it: generous for a sanitizer build.
  constexpr auto kFlushTimeout = 120s;
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::string failure;  // the first one, written once before `failed` moves from 0
  auto fail = [&](const Exception& e) {
    if (failed.fetch_add(1) == 0) failure = e.what();
  };
  std::jthread churn([&] {  // other operations taking the same lock meanwhile
    try {
      for (int i = 0; !stop.load(); ++i) {
        auto s = c->subscribe("mt.churn." + std::to_string(i % 8), [](Message&) {});
        c->flush(kFlushTimeout);
        s.unsubscribe();
      }
    } catch (const Exception& e) {
      fail(e);
    }
  });
  std::vector<std::jthread> pubs;
  for (int t = 0; t < kThreads; ++t) {
    pubs.emplace_back([&, t] {
      const std::string subject = "mt." + std::to_string(t);
      const std::string pad(t * 40, 'p');  // differing sizes: a torn operation would not parse
      try {
        for (int i = 0; i < kPerThread; ++i) c->publish(subject, std::to_string(i) + " " + pad);
        c->flush(kFlushTimeout);
      } catch (const Exception& e) {
        fail(e);
      }
    });
  }
  for (auto& p : pubs) p.join();
  stop = true;
  churn.join();
  ASSERT_EQ(failed.load(), 0) << failure;
  EXPECT_TRUE(wait_for([&] { return received.load() == kThreads * kPerThread; }, kFlushTimeout))
      << received.load() << " of " << kThreads * kPerThread;
  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_TRUE(c->is_connected());
  EXPECT_EQ(c->stats().out_msgs, static_cast<uint64_t>(kThreads * kPerThread));
}

INSTANTIATE_TEST_SUITE_P(Servers, ConnectionTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

// ---- Authorization ----------------------------------------------------------------------------

class AuthTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  }
};

TEST_P(AuthTest, UserAndPasswordFromTheUrlOrTheOptions) {
  ServerSetup s;
  s.user = "alice";
  s.password = "s3cret";
  auto server = make_server(GetParam(), s);
  server->start();
  const std::string hostport = "127.0.0.1:" + std::to_string(server->port());
  {
    Connection c(client_options("nats://alice:s3cret@" + hostport));
    c.connect();
    EXPECT_TRUE(c.is_connected());
    EXPECT_EQ(c.connected_url(), "nats://" + hostport) << "credentials never show in URLs";
  }
  {
    ClientOptions o = client_options("nats://" + hostport);
    o.user = "alice";
    o.password = "s3cret";
    Connection c(o);
    c.connect();
    EXPECT_TRUE(c.is_connected());
  }
  {
    Connection c(client_options("nats://alice:wrong@" + hostport));
    try {
      c.connect();
      FAIL();
    } catch (const Exception& e) {
      EXPECT_EQ(e.code(), Error::kAuthorization) << e.what();
    }
  }
}

TEST_P(AuthTest, TokenFromTheUrlOrTheOptions) {
  ServerSetup s;
  s.token = "t0ken";
  auto server = make_server(GetParam(), s);
  server->start();
  const std::string hostport = "127.0.0.1:" + std::to_string(server->port());
  {
    Connection c(client_options("nats://t0ken@" + hostport));
    c.connect();
    EXPECT_TRUE(c.is_connected());
  }
  {
    ClientOptions o = client_options("nats://" + hostport);
    o.token = "t0ken";
    Connection c(o);
    c.connect();
    EXPECT_TRUE(c.is_connected());
  }
  {
    Connection c(client_options("nats://" + hostport));
    EXPECT_THROW(c.connect(), Exception);
  }
}

INSTANTIATE_TEST_SUITE_P(Servers, AuthTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

}  // namespace
}  // namespace pylon::test
