#include "server/router.h"

#include <cstdint>
#include <random>
#include <vector>

#include "proto/parser.h"
#include "server/account/account.h"
#include "server/client/client_conn.h"
#include "server/core/check.h"
#include "server/core/event_loop.h"
#include "server/route/route_conn.h"
#include "server/server.h"

namespace pylon::server {

namespace {

// A small, fast per-thread generator for picking queue members (no lock, no syscalls).
uint64_t next_random() {
  thread_local uint64_t state = [] {
    std::random_device rd;
    uint64_t s = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    return s ? s : 0x9E3779B97F4A7C15ULL;
  }();
  // xorshift64*
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

// Every raw Connection* below comes from a Subscription in a match result the caller holds:
// the subscription holds its owner (Subscription::owner), so the pointer stays valid until
// route_message returns, on whichever loop runs it, whatever the owner's own loop does meanwhile.
bool is_client(const Subscription& s) { return !s.remote; }
ClientConn* client_of(const Subscription& s) { return static_cast<ClientConn*>(s.owner.get()); }
RouteConn* route_of(const Subscription& s) { return static_cast<RouteConn*>(s.owner.get()); }
// A route takes messages from its registration until it starts closing: a closing route may
// wait out the write deadline flushing to a peer that is gone (a stale route), and anything
// sent its way then is lost, a queue group's message included, where another member would
// have taken it.
bool takes_routed(const RouteConn* r) { return r->registered() && !r->closing(); }

// Delivers to one local client subscription; false when it did not take the message.
bool deliver_local(EventLoop& loop, const Origin& origin, Subscription& sub, const Message& msg) {
  if (sub.closed.load(std::memory_order_relaxed)) return false;
  ClientConn* client = client_of(sub);
  PYLON_DCHECK(client != nullptr && client->kind() == Connection::Kind::kClient);
  if (client == origin.conn && !origin.echo) return false;
  if (!client->deliver(sub, msg.subject, msg.reply, msg.header_len, msg.payload)) return false;
  loop.touch(client);
  return true;
}

// Tries local client members of a queue group, starting at a random one.
bool deliver_to_local_member(EventLoop& loop, const Origin& origin, const std::vector<SubPtr>& group,
                             const Message& msg) {
  size_t n = group.size();
  size_t start = static_cast<size_t>(next_random() % n);
  for (size_t i = 0; i < n; ++i) {
    Subscription& s = *group[(start + i) % n];
    if (is_client(s) && deliver_local(loop, origin, s, msg)) return true;
  }
  return false;
}

// One outgoing copy per route, with the queue groups it was chosen for.
struct RouteTarget {
  RouteConn* route;
  std::vector<std::string_view> queues;
};

RouteTarget& target_for(std::vector<RouteTarget>& targets, RouteConn* r) {
  for (auto& t : targets) {
    if (t.route == r) return t;
  }
  targets.push_back(RouteTarget{r, {}});
  return targets.back();
}

}  // namespace

bool route_message(Server& server, Account& account, EventLoop& loop, const Origin& origin, const Message& msg) {
  auto result = account.index().match(msg.subject);
  return route_message(server, account, *result, loop, origin, msg);
}

bool route_message(Server& server, Account& account, const MatchResult& result, EventLoop& loop,
                   const Origin& origin, const Message& msg) {
  bool delivered = false;
  std::vector<RouteTarget> targets;  // allocates only when a route is interested

  for (const auto& sub : result.plain) {
    if (is_client(*sub)) {
      delivered |= deliver_local(loop, origin, *sub, msg);
    } else if (sub->internal) {
      if (!sub->closed.load(std::memory_order_relaxed)) delivered |= sub->internal->deliver(server, loop, origin, msg, false);
    } else if (!sub->closed.load(std::memory_order_relaxed)) {
      RouteConn* r = route_of(*sub);
      if (takes_routed(r)) target_for(targets, r);
    }
  }
  for (const auto& group : result.queues) {
    if (group.empty()) continue;
    if (deliver_to_local_member(loop, origin, group, msg)) {
      delivered = true;
      continue;
    }
    // No local member: pick a route by the peers' queue weights (member counts).
    int64_t total = 0;
    for (const auto& s : group) {
      if (!is_client(*s) && !s->closed.load(std::memory_order_relaxed) && takes_routed(route_of(*s)))
        total += s->weight.load(std::memory_order_relaxed);
    }
    if (total <= 0) continue;
    int64_t pick = static_cast<int64_t>(next_random() % static_cast<uint64_t>(total));
    for (const auto& s : group) {
      if (is_client(*s) || s->closed.load(std::memory_order_relaxed)) continue;
      RouteConn* r = route_of(*s);
      if (!takes_routed(r)) continue;
      pick -= s->weight.load(std::memory_order_relaxed);
      if (pick < 0) {
        target_for(targets, r).queues.push_back(s->queue);
        break;
      }
    }
  }
  for (auto& t : targets) {
    if (t.route->send_message(account.name(), msg.subject, msg.reply, msg.header_len, msg.payload, t.queues)) {
      loop.touch(t.route);
      delivered = true;
    }
  }
  return delivered;
}

bool route_inbound_message(Server& server, Account& account, const MatchResult& result, EventLoop& loop,
                           RouteConn* from, const Message& msg, std::string_view queues) {
  bool delivered = false;
  Origin origin{from, true};
  for (const auto& sub : result.plain) {
    if (is_client(*sub)) {
      delivered |= deliver_local(loop, origin, *sub, msg);
    } else if (sub->internal && !sub->closed.load(std::memory_order_relaxed)) {
      delivered |= sub->internal->deliver(server, loop, origin, msg, true);
    }
  }
  if (queues.empty()) return delivered;
  for (const auto& group : result.queues) {
    if (group.empty()) continue;
    // Only the groups the sender chose us for.
    std::string_view name = group.front()->queue;
    bool listed = false;
    std::string_view rest = queues, q;
    while (!listed && proto::next_queue(rest, q)) listed = q == name;
    if (listed) delivered |= deliver_to_local_member(loop, origin, group, msg);
  }
  return delivered;
}

}  // namespace pylon::server
