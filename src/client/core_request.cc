// client::Core: request/reply over one shared inbox subscription ("new style"):
// "<inbox_prefix>.<nuid>.*" is subscribed once; each request gets its own last token,
// and its waiter is found by that token when the reply arrives.
#include <boost/asio/post.hpp>
#include <future>

#include "client/core.h"
#include "client/headers_codec.h"
#include "client/nuid.h"
#include "proto/subject.h"
#include "proto/writer.h"

namespace pylon::client {

std::string Core::new_inbox() const { return opts_.inbox_prefix + "." + Nuid::global_next(); }

void Core::ensure_reply_subscription_locked() {
  if (reply_sub_) return;
  reply_prefix_ = new_inbox() + ".";
  const uint64_t sid = next_sid_++;
  auto s = std::make_shared<SubState>(weak_from_this(), sid, reply_prefix_ + "*", std::string(), MessageHandler{},
                                      -1, -1);
  std::weak_ptr<Core> weak = weak_from_this();
  s->internal = [weak](Message& m) {
    if (auto self = weak.lock()) self->on_reply(m);
  };
  subs_.emplace(sid, s);
  reply_sub_ = s;
  if (live_locked()) {
    append_sub_locked(out_, *s);
    kick_locked();
  }
}

std::shared_ptr<ReplyWaiter> Core::register_request(Message& msg,
                                                    std::function<void(const ErrorInfo&, Message)> done, bool now) {
  if (msg.subject.empty() || !proto::valid_publish_subject(msg.subject, opts_.pedantic)) {
    throw Exception(Error::kInvalidSubject, "'" + msg.subject + "'");
  }
  auto w = std::make_shared<ReplyWaiter>(std::move(done));
  w->subject = msg.subject;
  {
    std::lock_guard lk(mu_);
    if (status_ == Status::kClosed || closing_) throw Exception(Error::kConnectionClosed, "");
    if (status_ == Status::kDisconnected) throw Exception(Error::kNotConnected, "");
    ensure_reply_subscription_locked();
    w->token.clear();
    append_base62(w->token, next_token_++);
    requests_.emplace(w->token, w);
    msg.reply = reply_prefix_ + w->token;
  }
  try {
    publish(msg.subject, msg.reply, &msg.headers, msg.status, msg.status_description, msg.data, now);
  } catch (...) {
    forget_request(w->token);
    throw;
  }
  return w;
}

void Core::forget_request(const std::string& token) {
  std::lock_guard lk(mu_);
  requests_.erase(token);
}

Message Core::request(Message msg, milliseconds timeout) {
  if (timeout.count() <= 0) throw Exception(Error::kInvalidArgument, "request timeout must be > 0");
  ensure_not_io_thread("request()");
  std::promise<std::pair<ErrorInfo, Message>> answer;
  auto result = answer.get_future();
  auto w = register_request(msg, [&answer](const ErrorInfo& e, Message m) {
    answer.set_value({e, std::move(m)});
  }, /*now=*/true);
  if (result.wait_for(timeout) == std::future_status::timeout) {
    if (w->fire(ErrorInfo(Error::kTimeout, "no reply on " + msg.subject + " within " +
                                               std::to_string(timeout.count()) + " ms"),
                Message{})) {
      forget_request(w->token);
    }
  }
  auto [e, m] = result.get();
  if (e) throw Exception(e);
  return std::move(m);
}

void Core::start_request(Message msg, milliseconds timeout, std::function<void(const ErrorInfo&, Message)> done) {
  if (timeout.count() <= 0) throw Exception(Error::kInvalidArgument, "request timeout must be > 0");
  auto w = register_request(msg, std::move(done), /*now=*/false);
  // The timer lives in the waiter; it is armed on the I/O strand, which also runs
  // on_reply(), so arming and cancelling never race.
  asio::post(io_strand_, [self = shared_from_this(), w, timeout, subject = msg.subject] {
    if (w->fired()) return;
    w->timer = std::make_unique<asio::steady_timer>(self->io_strand_, timeout);
    w->timer->async_wait([self, w, timeout, subject](const boost::system::error_code& ec) {
      if (ec) return;
      if (w->fire(ErrorInfo(Error::kTimeout,
                            "no reply on " + subject + " within " + std::to_string(timeout.count()) + " ms"),
                  Message{})) {
        self->forget_request(w->token);
      }
    });
  });
}

void Core::on_reply(Message& m) {
  std::string_view token(m.subject);
  std::shared_ptr<ReplyWaiter> w;
  {
    std::lock_guard lk(mu_);
    if (token.size() <= reply_prefix_.size()) return;
    token.remove_prefix(reply_prefix_.size());
    auto it = requests_.find(std::string(token));
    if (it == requests_.end()) return;  // a late or duplicate reply
    w = std::move(it->second);
    requests_.erase(it);
  }
  if (w->timer) w->timer->cancel();
  if (m.status == kStatusNoResponders && m.data.empty()) {
    w->fire(ErrorInfo(Error::kNoResponders, w->subject), Message{});
    return;
  }
  w->fire({}, std::move(m));
}

}  // namespace pylon::client
