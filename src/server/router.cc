#include "server/router.h"

#include <cstdint>

#include "server/client_conn.h"
#include "server/event_loop.h"
#include "server/server.h"

namespace pylon::server {

namespace {

// A small, fast per-thread generator for picking queue members (no lock, no syscalls).
uint64_t next_random() {
  thread_local uint64_t state = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ reinterpret_cast<uintptr_t>(&state);
  }();
  // xorshift64*
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

// Delivers to one subscription; false when it did not take the message.
bool deliver_to(EventLoop& loop, const Origin& origin, Subscription& sub, const Message& msg) {
  if (sub.closed.load(std::memory_order_relaxed)) return false;
  Connection* owner = sub.owner;
  if (owner == origin.conn && !origin.echo) return false;
  if (owner->kind() != Connection::Kind::kClient) return false;  // routes: cluster issue
  auto* client = static_cast<ClientConn*>(owner);
  if (!client->deliver(sub, msg.subject, msg.reply, msg.header_len, msg.payload)) return false;
  loop.touch(owner);
  return true;
}

}  // namespace

bool route_message(Server& server, EventLoop& loop, const Origin& origin, const Message& msg) {
  auto result = server.index().match(msg.subject);
  bool delivered = false;
  for (const auto& sub : result->plain) {
    delivered |= deliver_to(loop, origin, *sub, msg);
  }
  for (const auto& group : result->queues) {
    if (group.empty()) continue;
    // Start at a random member; if it cannot take the message (closed, echo), try the next.
    size_t n = group.size();
    size_t start = static_cast<size_t>(next_random() % n);
    for (size_t i = 0; i < n; ++i) {
      if (deliver_to(loop, origin, *group[(start + i) % n], msg)) {
        delivered = true;
        break;
      }
    }
  }
  return delivered;
}

}  // namespace pylon::server
