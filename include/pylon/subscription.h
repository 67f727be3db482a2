// A subscription handle returned by Connection::subscribe and friends.
//
// The handle is a cheap, copyable reference: dropping it does NOT unsubscribe (as in
// every NATS client, a subscription lives until unsubscribe(), its auto-unsubscribe
// limit, drain, or the connection's close). All calls are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "pylon/message.h"

namespace pylon {

namespace client {
class SubState;
}

// Called on the connection's callback thread for each message of an asynchronous
// subscription; calls for one connection never overlap.
using MessageHandler = std::function<void(Message&)>;

class Subscription {
 public:
  Subscription() = default;  // refers to nothing: valid() is false

  // True while the subscription receives messages (not unsubscribed, not drained,
  // limit not reached, connection not closed).
  bool valid() const noexcept;
  explicit operator bool() const noexcept { return valid(); }

  const std::string& subject() const;
  const std::string& queue() const;  // empty: not a queue subscription
  uint64_t sid() const noexcept;

  // Stops the subscription now: the server is told, and messages received but not yet
  // handled are dropped. Throws kInvalidSubscription if already gone.
  void unsubscribe();
  // Stops after `max` messages in total (counting those already received); messages
  // received before the limit are still handled. max must be > 0 (kInvalidArgument).
  // If `max` messages were received already, this unsubscribes now.
  void auto_unsubscribe(int64_t max);
  // Stops receiving, lets every message already received be handled, then ends.
  // Returns at once; valid() turns false when done. Use Connection::drain for all.
  void drain();

  // Synchronous subscriptions only: waits up to `timeout` for the next message.
  // Throws kTimeout, kInvalidSubscription (unsubscribed / connection closed, queue
  // empty), kMaxMessagesDelivered (limit reached, queue empty),
  // kSyncSubscriptionRequired (the subscription has a callback), kSlowConsumer (messages
  // were dropped since the last call; the next call goes on).
  Message next_msg(std::chrono::milliseconds timeout);

  // Messages handed to the application so far (callback returned / next_msg returned).
  uint64_t delivered() const noexcept;
  // Received but not yet handled. For a subscription with a callback these fall when the
  // handlers of one read's worth of messages are done (not after each handler).
  int64_t pending_msgs() const noexcept;
  int64_t pending_bytes() const noexcept;
  // Messages dropped because the pending limits were exceeded (slow consumer).
  uint64_t dropped() const noexcept;
  // -1: no limit.
  void set_pending_limits(int64_t msgs, int64_t bytes);

  bool operator==(const Subscription& o) const noexcept { return state_ == o.state_; }

 private:
  friend class client::SubState;
  explicit Subscription(std::shared_ptr<client::SubState> s) : state_(std::move(s)) {}
  std::shared_ptr<client::SubState> state_;
};

}  // namespace pylon
