// client::Core: draining a subscription or the whole connection.
//
// A subscription drains in three steps: UNSUB goes out (the server stops sending), a
// PING/PONG proves the server has processed it (nothing more is on its way), then a
// marker posted to the callback strand runs after every message already queued there.
// The connection drains all its subscriptions that way, then flushes its last
// publishes (kDrainingPubs) and closes.
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "client/core.h"
#include "proto/writer.h"

namespace pylon::client {

namespace {
constexpr auto kSyncPoll = std::chrono::milliseconds(5);
}

asio::awaitable<ErrorInfo> Core::ping_pong() {
  return asio::async_initiate<decltype(asio::use_awaitable), void(ErrorInfo)>(
      [this](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto w = std::make_shared<PongWaiter>([h](const ErrorInfo& e) {
          auto ex = asio::get_associated_executor(*h);
          asio::post(ex, [h, e]() mutable { std::move (*h)(e); });
        });
        try {
          register_pong(w, false);
        } catch (const Exception& e) {
          w->fire(e.info());
        }
      },
      asio::use_awaitable);
}

void Core::drain_subscription(const std::shared_ptr<SubState>& s) {
  {
    std::lock_guard lk(mu_);
    if (status_ == Status::kClosed) throw Exception(Error::kConnectionClosed, "");
    auto it = subs_.find(s->sid);
    if (it == subs_.end() || it->second != s) throw Exception(Error::kInvalidSubscription, s->subject);
    if (s->draining) return;
    s->draining = true;
    if (live_locked()) {
      proto::append_unsub(out_, s->sid_str);
      kick_locked();
    }
  }
  auto self = shared_from_this();
  spawn([](std::shared_ptr<Core> self, std::shared_ptr<SubState> s) -> asio::awaitable<void> {
    ErrorInfo e = co_await self->ping_pong();
    {
      std::lock_guard lk(self->mu_);
      auto it = self->subs_.find(s->sid);
      if (it != self->subs_.end() && it->second == s) self->subs_.erase(it);
    }
    if (e) {
      s->end(ErrorInfo(Error::kInvalidSubscription, s->subject + " (drain: " + e.message + ")"), true);
      co_return;
    }
    self->end_after_pending(s, ErrorInfo(Error::kInvalidSubscription, s->subject + " was drained"));
  }(self, s));
}

void Core::drain(milliseconds timeout) {
  if (timeout.count() <= 0) throw Exception(Error::kInvalidArgument, "drain timeout must be > 0");
  std::vector<std::shared_ptr<SubState>> subs;
  {
    std::lock_guard lk(mu_);
    switch (status_) {
      case Status::kClosed: throw Exception(Error::kConnectionClosed, "");
      case Status::kDisconnected: throw Exception(Error::kNotConnected, "");
      case Status::kConnecting:
      case Status::kReconnecting:
        throw Exception(Error::kDisconnected, "cannot drain while reconnecting (use close())");
      case Status::kDrainingSubs:
      case Status::kDrainingPubs: break;  // already draining: just wait below
      case Status::kConnected: {
        status_ = Status::kDrainingSubs;
        drain_error_ = {};
        for (auto& [sid, s] : subs_) {
          s->draining = true;
          proto::append_unsub(out_, s->sid_str);
          subs.push_back(s);
        }
        kick_locked();
        spawn(drain_flow(std::move(subs), timeout));
        break;
      }
    }
  }
  // From a callback (or the I/O thread) we cannot wait: on_closed tells the end.
  const bool on_cb = own_cb_ ? std::this_thread::get_id() == cb_thread_.get_id()
                             : cb_ctx_->get_executor().running_in_this_thread();
  if (on_cb || io_ctx_->get_executor().running_in_this_thread()) return;
  wait_closed(std::nullopt);
  std::lock_guard lk(mu_);
  if (drain_error_) throw Exception(drain_error_);
}

asio::awaitable<void> Core::drain_flow(std::vector<std::shared_ptr<SubState>> subs, milliseconds timeout) {
  auto self = shared_from_this();
  auto closed = [this] {
    std::lock_guard lk(mu_);
    return status_ == Status::kClosed;
  };
  auto fail = [this](ErrorInfo e) {
    {
      std::lock_guard lk(mu_);
      if (status_ == Status::kClosed) return;
      drain_error_ = e;
    }
    finalize_close(e);
  };
  drain_timer_.expires_after(timeout);
  drain_timer_.async_wait([self, timeout, fail](const boost::system::error_code& ec) {
    if (!ec) fail(ErrorInfo(Error::kDrainTimeout, "not done within " + std::to_string(timeout.count()) + " ms"));
  });

  // 1. The server has processed every UNSUB: nothing more arrives.
  if (ErrorInfo e = co_await ping_pong()) {
    fail(ErrorInfo(Error::kDisconnected, "drain: " + e.message));
    co_return;
  }
  if (closed()) co_return;
  {
    std::lock_guard lk(mu_);
    for (auto& s : subs) subs_.erase(s->sid);
    reply_sub_.reset();
  }
  // 2. Every message already queued for a callback has been handled...
  note_cb_post();
  co_await asio::post(cb_strand_, asio::use_awaitable);
  co_await asio::post(io_strand_, asio::use_awaitable);
  // ...and every synchronous subscription's queue has been read.
  for (;;) {
    if (closed()) co_return;
    bool busy = false;
    for (auto& s : subs) {
      if (s->is_sync() && s->pending_msgs.load() > 0) busy = true;
    }
    if (!busy) break;
    asio::steady_timer t(io_strand_, kSyncPoll);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  const ErrorInfo drained(Error::kInvalidSubscription, "drained");
  for (auto& s : subs) s->end(drained, false);

  // 3. The last publishes reach the server, then close.
  {
    std::lock_guard lk(mu_);
    if (status_ == Status::kClosed) co_return;
    status_ = Status::kDrainingPubs;
    state_cv_.notify_all();
  }
  if (ErrorInfo e = co_await ping_pong()) {
    fail(ErrorInfo(Error::kDisconnected, "drain: " + e.message));
    co_return;
  }
  drain_timer_.cancel();
  finalize_close({});
}

}  // namespace pylon::client
