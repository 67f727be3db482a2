// client::Core: publishing, flushing, subscriptions and message delivery.
#include <algorithm>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>

#include "client/core.h"
#include "client/headers_codec.h"
#include "proto/subject.h"
#include "proto/writer.h"

namespace pylon::client {

namespace {

bool has_whitespace(std::string_view s) {
  return s.find_first_of(" \t\r\n") != std::string_view::npos;
}

}  // namespace

// ---- Publishing ----------------------------------------------------------------------------

namespace {
// The Core whose handler runs on this thread for the last message of its delivery batch:
// that handler's first publish that finds the I/O strand idle (a reply, typically) is
// written at once, as a request's is (write_now_locked), since no other message of the
// batch waits to join its write. One per handler call, so a handler that publishes in a
// loop still hands its messages to the I/O thread in batches.
thread_local const Core* t_write_now_core = nullptr;
}  // namespace

void Core::publish(std::string_view subject, std::string_view reply, const Headers* headers, int status,
                   std::string_view status_description, std::string_view data, bool now) {
  if (subject.empty() || !proto::valid_publish_subject(subject, opts_.pedantic)) {
    throw Exception(Error::kInvalidSubject, "'" + std::string(subject) + "'");
  }
  if (has_whitespace(reply)) throw Exception(Error::kInvalidSubject, "reply '" + std::string(reply) + "'");
  static const Headers kNoHeaders;
  if (!headers) headers = &kNoHeaders;
  const bool with_headers = !headers->empty() || status != 0;
  size_t hdr_len = 0;
  if (with_headers) {
    for (const auto& [k, v] : *headers) {
      if (!valid_header_key(k) || !valid_header_value(v)) {
        throw Exception(Error::kInvalidArgument, "header '" + k + "' cannot be sent");
      }
    }
    hdr_len = encoded_headers_size(*headers, status, status_description);
  }
  const size_t total = hdr_len + data.size();

  std::unique_lock lk(mu_);
  for (;;) {
    switch (status_) {
      case Status::kDisconnected: throw Exception(Error::kNotConnected, "");
      case Status::kClosed: throw Exception(Error::kConnectionClosed, "");
      case Status::kDrainingPubs: throw Exception(Error::kConnectionDraining, "");
      default: break;
    }
    if (closing_) throw Exception(Error::kConnectionClosed, "");
    if (info_.max_payload > 0 && static_cast<int64_t>(total) > info_.max_payload) {
      throw Exception(Error::kMaxPayload, std::to_string(total) + " bytes > " + std::to_string(info_.max_payload) +
                                              " (publishing to " + std::string(subject) + ")");
    }
    if (with_headers && connected_once_ && !info_.headers) throw Exception(Error::kHeadersNotSupported, "");

    if (!live_locked()) {
      // Reconnecting: the publish waits in the reconnect buffer, within its bound.
      const size_t op = subject.size() + reply.size() + total + 40;
      if (opts_.reconnect_buffer_size < 0 ||
          out_.size() + op > static_cast<size_t>(opts_.reconnect_buffer_size)) {
        throw Exception(Error::kReconnectBufferExceeded,
                        "disconnected, and the reconnect buffer (" + std::to_string(opts_.reconnect_buffer_size) +
                            " bytes) cannot take " + std::to_string(op) + " more bytes");
      }
      break;
    }
    if (out_.size() <= kMaxOutboundBytes || io_ctx_->get_executor().running_in_this_thread()) break;
    // Backpressure: the socket is behind; wait for it rather than grow without bound,
    // then look at the state again (it may have changed meanwhile).
    ++out_waiters_;
    out_cv_.wait(lk, [this] { return out_.size() <= kMaxOutboundBytes || !live_locked() || closing_; });
    --out_waiters_;
  }

  if (with_headers) {
    proto::append_hpub_line(out_, subject, reply, static_cast<int64_t>(hdr_len), static_cast<int64_t>(total));
    encode_headers(out_, *headers, status, status_description);
    proto::append_payload(out_, data);
  } else {
    proto::append_pub(out_, subject, reply, data);
  }
  ++out_msgs_;
  out_bytes_ += total;
  // While a write is posted or in flight (a busy publisher's steady state) it takes this
  // message with the rest: tested first, so such a publish pays for nothing more.
  if (!write_pending_) {
    if (now || t_write_now_core == this) {
      t_write_now_core = nullptr;
      write_now_locked();
    } else {
      kick_locked();
    }
  }
}

// ---- Flush ---------------------------------------------------------------------------------

void Core::register_pong(std::shared_ptr<PongWaiter> w, bool now) {
  std::lock_guard lk(mu_);
  if (status_ == Status::kClosed || closing_) throw Exception(Error::kConnectionClosed, "");
  if (status_ == Status::kDisconnected) throw Exception(Error::kNotConnected, "");
  if (live_locked()) {
    out_.append(proto::kPingOp);
    pongs_.push_back(std::move(w));
    if (now) {
      write_now_locked();
    } else {
      kick_locked();
    }
  } else {
    deferred_pongs_.push_back(std::move(w));  // sent after the reconnect's replay
  }
}

void Core::flush(milliseconds timeout) {
  if (timeout.count() <= 0) throw Exception(Error::kInvalidArgument, "flush timeout must be > 0");
  ensure_not_io_thread("flush()");
  std::promise<ErrorInfo> answer;
  auto result = answer.get_future();
  auto w = std::make_shared<PongWaiter>([&answer](const ErrorInfo& e) { answer.set_value(e); });
  register_pong(w, true);
  if (result.wait_for(timeout) == std::future_status::timeout) {
    w->fire(ErrorInfo(Error::kTimeout, "flush: no PONG within " + std::to_string(timeout.count()) + " ms"));
  }
  ErrorInfo e = result.get();
  if (e) throw Exception(e);
}

void Core::start_flush(milliseconds timeout, std::function<void(const ErrorInfo&)> done) {
  if (timeout.count() <= 0) throw Exception(Error::kInvalidArgument, "flush timeout must be > 0");
  auto timer = std::make_shared<asio::steady_timer>(io_strand_);
  auto w = std::make_shared<PongWaiter>([timer, done = std::move(done)](const ErrorInfo& e) {
    asio::post(timer->get_executor(), [timer] { timer->cancel(); });
    done(e);
  });
  register_pong(w, false);
  timer->expires_after(timeout);
  timer->async_wait([w, timeout](const boost::system::error_code& ec) {
    if (!ec) w->fire(ErrorInfo(Error::kTimeout, "flush: no PONG within " + std::to_string(timeout.count()) + " ms"));
  });
}

// ---- Subscriptions --------------------------------------------------------------------------

void Core::append_sub_locked(std::string& buf, const SubState& s) const {
  proto::append_sub(buf, s.subject, s.queue, s.sid_str);
  if (s.max > 0 && s.received < static_cast<uint64_t>(s.max)) {
    proto::append_unsub(buf, s.sid_str, s.max - static_cast<int64_t>(s.received));
  }
}

Subscription Core::subscribe(std::string_view subject, std::string_view queue, MessageHandler handler, bool sync) {
  if (subject.empty() || !proto::valid_subscribe_subject(subject, opts_.pedantic)) {
    throw Exception(Error::kInvalidSubject, "'" + std::string(subject) + "'");
  }
  if (!queue.empty() && !proto::valid_queue_name(queue)) {
    throw Exception(Error::kInvalidQueueName, "'" + std::string(queue) + "'");
  }
  if (!sync && !handler) throw Exception(Error::kInvalidArgument, "subscribe needs a message handler");
  std::lock_guard lk(mu_);
  switch (status_) {
    case Status::kDisconnected: throw Exception(Error::kNotConnected, "");
    case Status::kClosed: throw Exception(Error::kConnectionClosed, "");
    case Status::kDrainingSubs:
    case Status::kDrainingPubs: throw Exception(Error::kConnectionDraining, "");
    default: break;
  }
  if (closing_) throw Exception(Error::kConnectionClosed, "");
  const uint64_t sid = next_sid_++;
  auto s = std::make_shared<SubState>(weak_from_this(), sid, std::string(subject), std::string(queue),
                                      sync ? MessageHandler{} : std::move(handler), opts_.sub_pending_msgs_limit,
                                      opts_.sub_pending_bytes_limit);
  subs_.emplace(sid, s);
  if (live_locked()) {  // else the reconnect replays it
    append_sub_locked(out_, *s);
    kick_locked();
  }
  return SubState::handle(std::move(s));
}

void Core::unsubscribe(const std::shared_ptr<SubState>& s, int64_t max) {
  bool ended_now = false;
  {
    std::lock_guard lk(mu_);
    if (status_ == Status::kClosed) throw Exception(Error::kConnectionClosed, "");
    auto it = subs_.find(s->sid);
    if (it == subs_.end() || it->second != s) throw Exception(Error::kInvalidSubscription, s->subject);
    if (max > 0 && s->received < static_cast<uint64_t>(max)) {
      s->max = max;
      if (live_locked()) {
        proto::append_unsub(out_, s->sid_str, max);
        kick_locked();
      }
      return;
    }
    subs_.erase(it);
    if (live_locked()) {
      proto::append_unsub(out_, s->sid_str);
      kick_locked();
    }
    ended_now = max <= 0;
  }
  if (ended_now) {
    s->end(ErrorInfo(Error::kInvalidSubscription, s->subject + " was unsubscribed"), true);
  } else {
    // The limit was reached already: what arrived is still handled.
    asio::post(io_strand_, [self = shared_from_this(), s] {
      self->end_after_pending(s, ErrorInfo(Error::kMaxMessagesDelivered, s->subject));
    });
  }
}

// ---- Delivery --------------------------------------------------------------------------------

void Core::enqueue_sync(const std::shared_ptr<SubState>& s, Message&& m) {
  const int64_t bytes = static_cast<int64_t>(m.data.size());
  const int64_t lm = s->limit_msgs.load(std::memory_order_relaxed);
  const int64_t lb = s->limit_bytes.load(std::memory_order_relaxed);
  std::lock_guard lk(s->qmu);
  if (!s->active.load()) return;
  if ((lm >= 0 && s->pending_msgs.load(std::memory_order_relaxed) + 1 > lm) ||
      (lb >= 0 && s->pending_bytes.load(std::memory_order_relaxed) + bytes > lb)) {
    s->dropped.fetch_add(1, std::memory_order_relaxed);
    if (!s->slow.exchange(true)) {
      s->slow_report = true;
      s->qcv.notify_all();
      post_async_error(s, ErrorInfo(Error::kSlowConsumer, "subject " + s->subject));
    }
    return;
  }
  if (s->slow.load(std::memory_order_relaxed)) s->slow.store(false);
  s->pending_msgs.fetch_add(1);
  s->pending_bytes.fetch_add(bytes);
  s->q.push_back(std::move(m));
  s->qcv.notify_one();
}

void Core::deliver_async(const std::shared_ptr<SubState>& s, const proto::MsgArgs& a, uint64_t sid,
                         std::string_view payload) {
  // Hot path: no lock, no allocation once the batch is warm, no locked increment per
  // message (the pending counts move once per batch, in flush_callback_batch).
  const int64_t bytes = static_cast<int64_t>(payload.size()) - std::max<int64_t>(a.header_len, 0);
  const int64_t lm = s->limit_msgs.load(std::memory_order_relaxed);
  const int64_t lb = s->limit_bytes.load(std::memory_order_relaxed);
  if ((lm >= 0 && s->pending_msgs.load(std::memory_order_relaxed) + s->batch_msgs + 1 > lm) ||
      (lb >= 0 && s->pending_bytes.load(std::memory_order_relaxed) + s->batch_bytes + bytes > lb)) {
    s->dropped.fetch_add(1, std::memory_order_relaxed);
    if (!s->slow.exchange(true)) post_async_error(s, ErrorInfo(Error::kSlowConsumer, "subject " + s->subject));
    return;
  }
  if (s->slow.load(std::memory_order_relaxed)) s->slow.store(false);
  // A large read (up to 1 MB) goes out in several batches of at most kKeepItems messages
  // and about kMaxBytes of bodies, the size whose strings a recycled batch keeps.
  if (cb_batch_ && (cb_batch_->size >= DeliveryBatchPool::kKeepItems ||
                    cb_batch_->bytes + payload.size() > DeliveryBatchPool::kMaxBytes)) {
    flush_callback_batch();
  }
  if (!cb_batch_) cb_batch_ = batch_pool_.take();
  DeliveryBatch& b = *cb_batch_;
  if (b.size == b.items.size()) b.items.emplace_back();
  DeliveryBatch::Item& item = b.items[b.size++];
  item.sub = s.get();
  fill_message(item.msg, a, sid, payload);
  if (!s->in_batch) {
    s->in_batch = true;
    b.subs.push_back({s, 0, 0});
  }
  b.bytes += payload.size();
  ++s->batch_msgs;
  s->batch_bytes += bytes;
}

namespace {

// A joined batch stays below these, so one post's handlers stay bounded and a recycled
// batch keeps all its items and their bodies' capacity.
constexpr size_t kMaxJoinedItems = DeliveryBatchPool::kKeepItems;
constexpr size_t kMaxJoinedBytes = DeliveryBatchPool::kMaxJoinedBytes;

// Moves src's messages to the end of dst (swapping Message objects: both keep their
// strings' capacity) and adds up the per-subscription counts; src is left empty.
void join_batch(DeliveryBatch& dst, DeliveryBatch& src) {
  for (size_t i = 0; i < src.size; ++i) {
    if (dst.size == dst.items.size()) dst.items.emplace_back();
    DeliveryBatch::Item& d = dst.items[dst.size++];
    DeliveryBatch::Item& from = src.items[i];
    d.sub = from.sub;
    from.sub = nullptr;
    std::swap(d.msg, from.msg);
  }
  for (auto& ps : src.subs) {
    auto it = std::find_if(dst.subs.begin(), dst.subs.end(), [&](const auto& x) { return x.sub == ps.sub; });
    if (it != dst.subs.end()) {
      it->msgs += ps.msgs;
      it->bytes += ps.bytes;
    } else {
      dst.subs.push_back(std::move(ps));
    }
  }
  dst.bytes += src.bytes;
  src.size = 0;
  src.bytes = 0;
  src.subs.clear();
}

}  // namespace

void Core::flush_callback_batch() {
  if (!cb_batch_ || cb_batch_->size == 0) return;
  for (auto& ps : cb_batch_->subs) {
    SubState& s = *ps.sub;
    ps.msgs = s.batch_msgs;
    ps.bytes = s.batch_bytes;
    s.pending_msgs.fetch_add(ps.msgs, std::memory_order_relaxed);
    s.pending_bytes.fetch_add(ps.bytes, std::memory_order_relaxed);
    s.batch_msgs = s.batch_bytes = 0;
    s.in_batch = false;
  }
  {
    std::lock_guard lk(handoff_mu_);
    const uint64_t posts = cb_posts_.load(std::memory_order_acquire);
    if (!handoff_.empty() && tail_seq_ == posts && handoff_.back()->size + cb_batch_->size <= kMaxJoinedItems &&
        handoff_.back()->bytes + cb_batch_->bytes <= kMaxJoinedBytes) {
      join_batch(*handoff_.back(), *cb_batch_);  // cb_batch_ stays ours, empty, for the next read
      return;
    }
    handoff_.push_back(std::move(cb_batch_));
    tail_seq_ = posts;
  }
  asio::post(cb_strand_, [self = shared_from_this()] { self->run_next_batch(); });
}

void Core::run_next_batch() {
  std::unique_ptr<DeliveryBatch> b;
  {
    std::lock_guard lk(handoff_mu_);
    if (handoff_.empty()) return;
    b = std::move(handoff_.front());
    handoff_.pop_front();
  }
  run_batch(*b);
  batch_pool_.give_back(std::move(b));
}

void Core::run_batch(DeliveryBatch& b) {
  auto owner_of = [&b](const SubState* p) {
    for (auto& ps : b.subs) {
      if (ps.sub.get() == p) return ps.sub;
    }
    return std::shared_ptr<SubState>{};
  };
  // owner_mu_ is held across the handlers (not taken per message) and let go between two
  // of them when detach_owner() waits for it.
  std::unique_lock<std::recursive_mutex> lk(owner_mu_, std::defer_lock);
  for (size_t i = 0; i < b.size; ++i) {
    SubState& s = *b.items[i].sub;
    if (s.discard.load(std::memory_order_relaxed)) continue;
    if (!lk.owns_lock()) lk.lock();
    if (!owner_) break;  // the connection is being destroyed: no more handlers
    if (i + 1 == b.size) t_write_now_core = this;
    try {
      s.handler(b.items[i].msg);
    } catch (const std::exception& e) {
      post_async_error(owner_of(&s), ErrorInfo(Error::kHandlerException, s.subject + ": " + e.what()));
    } catch (...) {
      post_async_error(owner_of(&s), ErrorInfo(Error::kHandlerException, s.subject));
    }
    t_write_now_core = nullptr;
    s.delivered.fetch_add(1, std::memory_order_relaxed);
    if (owner_waiters_.load(std::memory_order_relaxed) > 0) lk.unlock();
  }
  if (lk.owns_lock()) lk.unlock();
  for (auto& ps : b.subs) {
    ps.sub->pending_msgs.fetch_sub(ps.msgs, std::memory_order_relaxed);
    ps.sub->pending_bytes.fetch_sub(ps.bytes, std::memory_order_relaxed);
  }
}

void Core::end_after_pending(const std::shared_ptr<SubState>& s, ErrorInfo why) {
  if (s->is_sync() || s->internal) {
    s->end(why, false);  // next_msg() still returns what is queued
    return;
  }
  // Runs after every message already queued for the callback strand.
  flush_callback_batch();
  note_cb_post();
  asio::post(cb_strand_, [s, why = std::move(why)] { s->end(why, false); });
}

Message Core::next_msg(SubState& s, milliseconds timeout) {
  if (!s.is_sync()) throw Exception(Error::kSyncSubscriptionRequired, s.subject);
  ensure_not_io_thread("next_msg()");
  std::unique_lock lk(s.qmu);
  if (s.slow_report) {
    s.slow_report = false;
    throw Exception(Error::kSlowConsumer, "subject " + s.subject + ": " + std::to_string(s.dropped.load()) +
                                              " messages dropped so far");
  }
  s.qcv.wait_for(lk, timeout, [&] { return !s.q.empty() || !s.active.load() || s.slow_report; });
  if (!s.q.empty()) {
    Message m = std::move(s.q.front());
    s.q.pop_front();
    s.pending_msgs.fetch_sub(1);
    s.pending_bytes.fetch_sub(static_cast<int64_t>(m.data.size()));
    s.delivered.fetch_add(1, std::memory_order_relaxed);
    return m;
  }
  if (s.slow_report) {
    s.slow_report = false;
    throw Exception(Error::kSlowConsumer, "subject " + s.subject);
  }
  if (!s.active.load()) throw Exception(s.end_reason);
  throw Exception(Error::kTimeout, "no message on " + s.subject + " within " + std::to_string(timeout.count()) + " ms");
}

}  // namespace pylon::client
