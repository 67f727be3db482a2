// Message routing: given a published message, find the interested subscriptions and
// deliver it — every plain subscriber once, one member of each queue group cluster-wide —
// appending to receivers' outbound buffers and touching them for the end-of-batch flush.
//
// Cluster rules: a queue group prefers a local member (see docs/architecture.md); only when none
// can take the message does it go to a route or a leaf connection, picked by the peers' queue
// weights, with the group's name on that RMSG/LMSG. Each route gets at most one copy of a message. A message
// that arrived from a route is delivered to local clients only (full mesh, one hop), and to a
// queue group only if the sender named the group.
//
// Hot path: the publishing connection's own MatchCache (no lock; see match_cache.h), then per
// receiver one small locked append. The payload is copied once, into the receiver's outbound
// buffer.
#pragma once

#include <cstdint>
#include <string_view>

namespace pylon::server {

class Account;
class Connection;
struct MatchResult;
class EventLoop;
class LeafConn;
class RouteConn;
class Server;

struct Message {
  std::string_view subject;
  std::string_view reply;
  int64_t header_len = -1;   // -1: no headers
  std::string_view payload;  // headers then body
};

// Where a message came from, for echo suppression.
struct Origin {
  Connection* conn = nullptr;  // the publishing connection
  bool echo = true;            // false: never deliver to origin's own subscriptions
};

// A subscriber inside the server (account/service_import.h): gets a matched message on the
// publishing loop and passes it on (into another account). `from_route`: the message came
// from a route, not from a local client.
class InternalSubscriber {
 public:
  virtual ~InternalSubscriber() = default;
  virtual bool deliver(Server& server, EventLoop& loop, const Origin& origin, const Message& msg, bool from_route) = 0;
};

// Delivers a client's message, published in `account`, to that account's local subscribers
// and to the routes with interest in it there. Runs on `loop` (the origin's loop). True when
// anyone (local or a route) was given it. `result` is `account`'s match for msg.subject, which
// the caller keeps alive for the call (its connection's MatchCache, pinned).
bool route_message(Server& server, Account& account, const MatchResult& result, EventLoop& loop,
                   const Origin& origin, const Message& msg);
// The same, matching in `account`'s index itself: for a delivery that publishes again (service
// imports), which may not use its connection's MatchCache while that is pinned.
bool route_message(Server& server, Account& account, EventLoop& loop, const Origin& origin, const Message& msg);

// Delivers a message that arrived on route `from` to local clients. `queues` is the
// space-separated list of queue groups the sender chose us for. `result` as above (the route's
// MatchCache, pinned).
bool route_inbound_message(Server& server, Account& account, const MatchResult& result, EventLoop& loop,
                           RouteConn* from, const Message& msg, std::string_view queues);

// Delivers a message that arrived on leaf connection `from`: to local clients, to the other
// leaf connections with interest, and, when the leaf connected to us (we are its hub), to the
// routes: to our cluster a leaf's messages are ours. From our hub (a connection we dialled)
// it stays on this side. `queues` as for a route: only the groups the sender named.
bool route_leaf_message(Server& server, Account& account, const MatchResult& result, EventLoop& loop, LeafConn* from,
                        const Message& msg, std::string_view queues);

}  // namespace pylon::server
