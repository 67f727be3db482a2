// The state of one subscription, shared by the connection (which routes messages to
// it) and the application's Subscription handles.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "pylon/error.h"
#include "pylon/subscription.h"

namespace pylon::client {

class Core;

class SubState {
 public:
  SubState(std::weak_ptr<Core> core, uint64_t sid, std::string subject, std::string queue, MessageHandler handler,
           int64_t limit_msgs, int64_t limit_bytes)
      : core(std::move(core)),
        sid(sid),
        sid_str(std::to_string(sid)),
        subject(std::move(subject)),
        queue(std::move(queue)),
        handler(std::move(handler)),
        limit_msgs(limit_msgs),
        limit_bytes(limit_bytes) {}

  static Subscription handle(std::shared_ptr<SubState> s) { return Subscription(std::move(s)); }

  bool is_sync() const noexcept { return !handler && !internal; }

  // Ends the subscription: valid() turns false, next_msg() reports `why` once the queue
  // is empty. discard_queue: drop what is queued (unsubscribe, close).
  void end(const ErrorInfo& why, bool discard_queue) {
    std::lock_guard lk(qmu);
    if (!active.load()) {
      if (discard_queue) discard_locked();
      return;
    }
    end_reason = why;
    active.store(false);
    if (discard_queue) discard_locked();
    qcv.notify_all();
  }

  const std::weak_ptr<Core> core;
  const uint64_t sid;
  const std::string sid_str;
  const std::string subject;
  const std::string queue;
  const MessageHandler handler;             // empty: synchronous (or internal)
  std::function<void(Message&)> internal;   // the reply subscription: runs on the I/O strand

  // The members below are grouped by the thread that writes them per message, each group
  // on its own cache line: the I/O strand's (batch_*, read with the limits and pending
  // counts per message) apart from the callback strand's (delivered). Sharing a line, the
  // two threads took it from each other for every message (false sharing).

  // Guarded by Core::mu_.
  alignas(64) int64_t max = 0;  // auto-unsubscribe limit; 0: none
  uint64_t received = 0;   // messages that arrived (counted against max)
  bool draining = false;

  // I/O strand only: what this subscription has in the delivery batch being filled.
  alignas(64) int64_t batch_msgs = 0;
  int64_t batch_bytes = 0;
  bool in_batch = false;

  // Read and written without the core lock.
  std::atomic<bool> active{true};
  std::atomic<bool> discard{false};  // handlers skip what is still queued
  std::atomic<uint64_t> dropped{0};
  // Received, not yet handled. An async subscription's counts move once per delivery
  // batch (see delivery_batch.h); a sync one's per message.
  std::atomic<int64_t> pending_msgs{0};
  std::atomic<int64_t> pending_bytes{0};
  std::atomic<int64_t> limit_msgs;
  std::atomic<int64_t> limit_bytes;
  std::atomic<bool> slow{false};     // in a slow-consumer episode (reported once per episode)
  // Written by the callback strand (or next_msg) per message handed out.
  alignas(64) std::atomic<uint64_t> delivered{0};

  // Synchronous subscriptions: the queue next_msg() reads.
  alignas(64) std::mutex qmu;
  std::condition_variable qcv;
  std::deque<Message> q;             // [qmu]
  bool slow_report = false;          // [qmu] next_msg() owes a kSlowConsumer
  ErrorInfo end_reason;              // [qmu]

 private:
  void discard_locked() {
    discard.store(true);
    if (is_sync()) {  // an async subscription's counters fall as its queued handlers are skipped
      pending_msgs.store(0);
      pending_bytes.store(0);
      q.clear();
    }
  }
};

}  // namespace pylon::client
