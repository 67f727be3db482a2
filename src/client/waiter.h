// One-shot completions for flushes (PONG) and requests (reply). The answer, a timeout
// and the connection's close may race: fire() lets the first one through.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/steady_timer.hpp>

#include "pylon/error.h"
#include "pylon/message.h"

namespace pylon::client {

template <typename... Args>
class Waiter {
 public:
  using Fn = std::function<void(const ErrorInfo&, Args...)>;
  explicit Waiter(Fn fn) : fn_(std::move(fn)) {}
  // Runs the completion unless it already ran; returns whether it ran. Call without locks.
  bool fire(const ErrorInfo& e, Args... args) {
    if (fired_.exchange(true, std::memory_order_acq_rel)) return false;
    Fn fn = std::move(fn_);
    fn(e, std::move(args)...);
    return true;
  }
  bool fired() const noexcept { return fired_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> fired_{false};
  Fn fn_;
};

using PongWaiter = Waiter<>;

struct ReplyWaiter : Waiter<Message> {
  using Waiter<Message>::Waiter;
  std::string subject;  // the request's subject (for error messages)
  std::string token;    // the last token of its reply subject
  std::unique_ptr<boost::asio::steady_timer> timer;  // async requests: the timeout [io]
};

}  // namespace pylon::client
