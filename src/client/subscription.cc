// pylon::Subscription: a handle over client::SubState.
#include "client/core.h"

namespace pylon {

namespace {

const std::string kEmpty;

std::shared_ptr<client::Core> core_of(const std::shared_ptr<client::SubState>& s) {
  if (!s) throw Exception(Error::kInvalidSubscription, "empty subscription handle");
  auto core = s->core.lock();
  if (!core) throw Exception(Error::kConnectionClosed, "the connection is gone");
  return core;
}

}  // namespace

bool Subscription::valid() const noexcept { return state_ && state_->active.load(); }
const std::string& Subscription::subject() const { return state_ ? state_->subject : kEmpty; }
const std::string& Subscription::queue() const { return state_ ? state_->queue : kEmpty; }
uint64_t Subscription::sid() const noexcept { return state_ ? state_->sid : 0; }

void Subscription::unsubscribe() { core_of(state_)->unsubscribe(state_, 0); }

void Subscription::auto_unsubscribe(int64_t max) {
  if (max <= 0) throw Exception(Error::kInvalidArgument, "auto_unsubscribe needs max > 0");
  core_of(state_)->unsubscribe(state_, max);
}

void Subscription::drain() { core_of(state_)->drain_subscription(state_); }

Message Subscription::next_msg(std::chrono::milliseconds timeout) {
  if (!state_) throw Exception(Error::kInvalidSubscription, "empty subscription handle");
  if (!state_->is_sync()) throw Exception(Error::kSyncSubscriptionRequired, state_->subject);
  auto core = state_->core.lock();
  if (!core) {
    // The connection is gone; what was queued can still be read.
    std::lock_guard lk(state_->qmu);
    if (state_->q.empty()) throw Exception(Error::kConnectionClosed, "");
    Message m = std::move(state_->q.front());
    state_->q.pop_front();
    return m;
  }
  return core->next_msg(*state_, timeout);
}

uint64_t Subscription::delivered() const noexcept { return state_ ? state_->delivered.load() : 0; }
int64_t Subscription::pending_msgs() const noexcept { return state_ ? state_->pending_msgs.load() : 0; }
int64_t Subscription::pending_bytes() const noexcept { return state_ ? state_->pending_bytes.load() : 0; }
uint64_t Subscription::dropped() const noexcept { return state_ ? state_->dropped.load() : 0; }

void Subscription::set_pending_limits(int64_t msgs, int64_t bytes) {
  if (!state_) throw Exception(Error::kInvalidSubscription, "empty subscription handle");
  if (msgs == 0 || bytes == 0) throw Exception(Error::kInvalidArgument, "pending limits must be > 0 or -1");
  state_->limit_msgs.store(msgs);
  state_->limit_bytes.store(bytes);
}

}  // namespace pylon
