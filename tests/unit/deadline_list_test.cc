// DeadlineList: a loop's deadlines of one kind (the clients' pings) on one timer. Entries fire
// in deadline order, no earlier than their deadline, once per schedule; cancelled ones never;
// an entry may reschedule itself or cancel another from its own on_deadline; an empty list
// leaves the io_context without work.
#include "server/core/deadline_list.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pylon::server {
namespace {

using namespace std::chrono_literals;
using Clock = DeadlineList::Clock;

// Runs `io` until `done` or the deadline (a bound for a broken list, not a speed claim).
constexpr auto kGiveUpAfter = 10s;

struct Probe final : DeadlineList::Entry {
  std::string name;
  std::vector<std::string>* log = nullptr;
  std::vector<Clock::time_point>* at = nullptr;
  std::function<void(Probe&)> then;
  explicit Probe(std::string n, std::vector<std::string>& l) : name(std::move(n)), log(&l) {}
  ~Probe() = default;
  void on_deadline() override {
    log->push_back(name);
    if (at != nullptr) at->push_back(Clock::now());
    if (then) then(*this);
  }
};

// Runs the io_context until it has no work left (every timer fired or was cancelled).
void run_dry(boost::asio::io_context& io) {
  const auto give_up = Clock::now() + kGiveUpAfter;
  while (Clock::now() < give_up) {
    io.restart();
    if (io.run_for(100ms) == 0 && io.stopped()) return;
  }
  FAIL() << "the io_context still had work after " << kGiveUpAfter.count() << " s";
}

TEST(DeadlineList, EntriesFireInDeadlineOrderNotBefore) {
  boost::asio::io_context io;
  DeadlineList list(io);
  std::vector<std::string> log;
  std::vector<Clock::time_point> at;
  Probe a("a", log), b("b", log), c("c", log);
  for (Probe* p : {&a, &b, &c}) p->at = &at;
  const auto t0 = Clock::now();
  // Scheduled out of order: c first, then a before it, then b in between (the walk from the tail).
  list.schedule(c, t0 + 60ms);
  list.schedule(a, t0 + 20ms);
  list.schedule(b, t0 + 40ms);
  EXPECT_EQ(list.size(), 3u);
  run_dry(io);
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(at.size(), 3u);
  EXPECT_GE(at[0], t0 + 20ms);
  EXPECT_GE(at[1], t0 + 40ms);
  EXPECT_GE(at[2], t0 + 60ms);
  EXPECT_EQ(list.size(), 0u);
  EXPECT_FALSE(a.scheduled());
}

TEST(DeadlineList, CancelledEntriesNeverFireAndAnEmptyListHoldsNoWork) {
  boost::asio::io_context io;
  DeadlineList list(io);
  std::vector<std::string> log;
  Probe a("a", log), b("b", log), c("c", log);
  const auto t0 = Clock::now();
  list.schedule(c, t0 + 1h);
  list.cancel(c);
  run_dry(io);  // fails if the timer armed for c were left waiting its hour
  EXPECT_TRUE(log.empty());
  list.schedule(a, t0 + 10ms);
  list.schedule(b, t0 + 20ms);
  list.schedule(c, t0 + 1h);
  list.cancel(a);  // the head
  list.cancel(a);  // idempotent
  list.cancel(c);  // the tail: with it gone, nothing keeps the io_context past b
  run_dry(io);     // fails if an hour-long timer were left armed
  EXPECT_EQ(log, (std::vector<std::string>{"b"}));
  EXPECT_EQ(list.size(), 0u);
}

TEST(DeadlineList, RescheduleMovesAnEntryAndAnEntryMayRescheduleItself) {
  boost::asio::io_context io;
  DeadlineList list(io);
  std::vector<std::string> log;
  Probe a("a", log), b("b", log);
  int rounds = 0;
  a.then = [&](Probe& self) {
    if (++rounds < 3) list.schedule(self, Clock::now() + 5ms);  // as a ping reschedules
  };
  const auto t0 = Clock::now();
  list.schedule(b, t0 + 30ms);
  list.schedule(a, t0 + 1h);
  list.schedule(a, t0 + 10ms);  // moved: from the tail to the head
  EXPECT_EQ(list.size(), 2u);
  run_dry(io);
  EXPECT_EQ(rounds, 3);
  EXPECT_EQ(std::count(log.begin(), log.end(), "a"), 3);
  EXPECT_EQ(std::count(log.begin(), log.end(), "b"), 1);
}

TEST(DeadlineList, AFiringEntryMayCancelAnotherDueOne) {
  boost::asio::io_context io;
  DeadlineList list(io);
  std::vector<std::string> log;
  Probe a("a", log), b("b", log), c("c", log);
  a.then = [&](Probe&) { list.cancel(b); };  // as a close of another client would
  const auto t0 = Clock::now();
  list.schedule(a, t0 + 10ms);
  list.schedule(b, t0 + 10ms);
  list.schedule(c, t0 + 10ms);
  run_dry(io);
  EXPECT_EQ(log, (std::vector<std::string>{"a", "c"}));
}

TEST(DeadlineList, AnEntryDueAgainAtOnceWaitsForTheNextTurn) {
  boost::asio::io_context io;
  DeadlineList list(io);
  std::vector<std::string> log;
  Probe a("a", log);
  int fired = 0;
  a.then = [&](Probe& self) {
    if (++fired < 5) list.schedule(self, Clock::now() - 1s);  // already past, every time
  };
  list.schedule(a, Clock::now());
  // One turn of the loop fires it once: the rescheduled entry waits for the next turn.
  io.run_one();
  EXPECT_EQ(fired, 1);
  run_dry(io);
  EXPECT_EQ(fired, 5);
}

}  // namespace
}  // namespace pylon::server
