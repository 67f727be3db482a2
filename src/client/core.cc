// client::Core: construction, threads, closing, events and introspection.
#include "client/core.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <openssl/crypto.h>

#include <fstream>
#include <iterator>

namespace pylon::client {

Transport::Transport(const Strand& ex)
    : socket(ex), resolver(ex), parser(proto::Role::kClient, proto::ParserLimits{-1, -1}), rbuf(kReadBufferBytes) {}

namespace {

std::unique_ptr<asio::io_context> own_context_if(bool own) {
  return own ? std::make_unique<asio::io_context>(1) : nullptr;
}

// The key pair of ClientOptions::nkey_seed (or the seed in nkey_seed_file).
nkeys::KeyPair load_nkey(const ClientOptions& o) {
  std::string text = o.nkey_seed;
  std::string where = "nkey_seed";
  if (text.empty()) {
    std::ifstream in(o.nkey_seed_file, std::ios::binary);
    if (!in) throw Exception(Error::kInvalidArgument, "nkey seed file " + o.nkey_seed_file + ": cannot be read");
    std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto seed = nkeys::find_seed(contents);
    OPENSSL_cleanse(contents.data(), contents.size());
    if (!seed) throw Exception(Error::kInvalidArgument, "nkey seed file " + o.nkey_seed_file + ": no seed in it");
    text = std::move(*seed);
    where = "nkey seed file " + o.nkey_seed_file;
  }
  std::string err;
  auto kp = nkeys::KeyPair::from_seed(text, &err);
  OPENSSL_cleanse(text.data(), text.size());
  if (!kp) throw Exception(Error::kInvalidArgument, where + ": " + err);
  return std::move(*kp);
}

}  // namespace

Core::Core(ClientOptions opts, asio::io_context* external)
    : opts_(std::move(opts)),
      tls_all_(opts_.tls.any() || [this] {
        for (const auto& s : opts_.servers) {
          for (const auto& u : split_urls(s)) {
            if (parse_server_url(u).tls) return true;
          }
        }
        return false;
      }()),
      own_io_(own_context_if(external == nullptr)),
      own_cb_(own_context_if(external == nullptr)),
      io_ctx_(external ? external : own_io_.get()),
      cb_ctx_(external ? external : own_cb_.get()),
      io_strand_(asio::make_strand(io_ctx_->get_executor())),
      cb_strand_(asio::make_strand(cb_ctx_->get_executor())),
      ping_timer_(io_strand_),
      reconnect_timer_(io_strand_),
      close_timer_(io_strand_),
      drain_timer_(io_strand_) {
  // Check the options in one place; a bad URL fails here, not at connect().
  if (opts_.max_pings_out < 0) throw Exception(Error::kInvalidArgument, "max_pings_out < 0");
  if (opts_.connect_timeout.count() <= 0) throw Exception(Error::kInvalidArgument, "connect_timeout must be > 0");
  if (opts_.ping_interval.count() <= 0) throw Exception(Error::kInvalidArgument, "ping_interval must be > 0");
  if (opts_.reconnect_wait.count() < 0 || opts_.reconnect_jitter.count() < 0) {
    throw Exception(Error::kInvalidArgument, "reconnect_wait and reconnect_jitter must be >= 0");
  }
  std::vector<std::string> urls;
  for (const auto& s : opts_.servers) {
    for (auto& u : split_urls(s)) urls.push_back(std::move(u));
  }
  if (urls.empty()) urls.emplace_back(client_defaults::kUrl);
  for (const auto& u : urls) {
    ServerUrl url = parse_server_url(u);
    url.tls = url.tls || tls_all_;  // as nats.go: one tls:// URL makes the whole pool TLS
    pool_.add(std::move(url), false);
  }
  if (opts_.tls.any() || opts_.tls.insecure_skip_verify) tls_ctx_.emplace(make_tls_context(opts_.tls));
  if (!opts_.nkey_seed.empty() || !opts_.nkey_seed_file.empty()) nkey_ = load_nkey(opts_);
  if (!opts_.no_randomize) pool_.shuffle(0);
}

Core::~Core() {
  // Normally shutdown() joined the threads. A thread that is this one was detached.
  if (io_thread_.joinable()) {
    if (io_thread_.get_id() == std::this_thread::get_id()) {
      io_thread_.detach();
    } else {
      io_work_.reset();
      if (own_io_) own_io_->stop();
      io_thread_.join();
    }
  }
  if (cb_thread_.joinable()) {
    if (cb_thread_.get_id() == std::this_thread::get_id()) {
      cb_thread_.detach();
    } else {
      cb_work_.reset();
      if (own_cb_) own_cb_->stop();
      cb_thread_.join();
    }
  }
}

void Core::start(Connection* owner) {
  {
    std::lock_guard lk(owner_mu_);
    owner_ = owner;
  }
  if (!own_io_) return;
  io_work_.emplace(own_io_->get_executor());
  cb_work_.emplace(own_cb_->get_executor());
  // When the Connection is destroyed from one of these threads, each of them holds a
  // reference (orphan_*) released only after its run() returned, so ~Core never runs
  // inside a handler of the io_context it destroys.
  io_thread_ = std::thread([this] {
    own_io_->run();
    std::shared_ptr<Core> keep;
    {
      std::lock_guard lk(threads_mu_);
      io_thread_done_ = true;
      keep = std::move(orphan_io_);
      threads_cv_.notify_all();  // under the lock: after it, this thread touches no member
    }
  });
  cb_thread_ = std::thread([this] {
    own_cb_->run();
    std::shared_ptr<Core> keep;
    {
      std::lock_guard lk(threads_mu_);
      keep = std::move(orphan_cb_);
    }
  });
}

void Core::detach_owner() {
  // A callback batch holds owner_mu_ across its handlers and lets go between two of them
  // when it sees a waiter here.
  owner_waiters_.fetch_add(1);
  {
    std::lock_guard lk(owner_mu_);
    owner_ = nullptr;
  }
  owner_waiters_.fetch_sub(1);
}

void Core::shutdown() {
  const bool on_io = own_io_ && std::this_thread::get_id() == io_thread_.get_id();
  const bool on_cb = own_cb_ && std::this_thread::get_id() == cb_thread_.get_id();
  {
    std::unique_lock lk(mu_);
    if (status_ != Status::kClosed) {
      lk.unlock();
      asio::post(io_strand_, [self = shared_from_this()] { self->begin_close(); });
      // Closing flushes what is buffered within connect_timeout; bound the wait in case
      // the caller's io_context is not running any more.
      if (!on_io && !(!own_io_ && io_ctx_->get_executor().running_in_this_thread())) {
        wait_closed(opts_.connect_timeout + std::chrono::seconds(2));
      }
    }
  }
  if (!own_io_) {
    detach_owner();  // waits for a callback in progress on another thread
    return;
  }
  if (on_io || on_cb) {
    // Destroyed from one of our own threads: they cannot join themselves. They finish
    // once idle and the last of them drops this Core.
    detach_owner();
    std::lock_guard lk(threads_mu_);
    orphan_io_ = shared_from_this();
    orphan_cb_ = shared_from_this();
    io_work_.reset();
    cb_work_.reset();
    io_thread_.detach();
    cb_thread_.detach();
    return;
  }
  // The callbacks queued so far (the closed event among them) still run, then the
  // callback thread ends.
  events_stopped_.store(true);
  cb_work_.reset();
  cb_thread_.join();
  detach_owner();
  // Every operation was cancelled by the close, so the I/O thread ends by itself; if
  // something still holds it after a grace period, stop it.
  io_work_.reset();
  {
    std::unique_lock lk(threads_mu_);
    if (!threads_cv_.wait_for(lk, std::chrono::seconds(5), [this] { return io_thread_done_; })) own_io_->stop();
  }
  io_thread_.join();
}

// ---- Closing ---------------------------------------------------------------------------

void Core::close() {
  {
    std::lock_guard lk(mu_);
    if (status_ == Status::kClosed) return;
  }
  asio::post(io_strand_, [self = shared_from_this()] { self->begin_close(); });
  if (io_ctx_->get_executor().running_in_this_thread()) return;  // cannot wait for ourselves
  // On the caller's io_context, nobody may be running it: wait within a bound.
  wait_closed(own_io_ ? std::nullopt : std::optional<milliseconds>(opts_.connect_timeout + std::chrono::seconds(2)));
}

void Core::wait_closed(std::optional<milliseconds> bound) {
  std::unique_lock lk(mu_);
  auto closed = [this] { return closed_done_; };
  if (bound) {
    state_cv_.wait_for(lk, *bound, closed);
  } else {
    state_cv_.wait(lk, closed);
  }
}

void Core::begin_close() {
  {
    std::lock_guard lk(mu_);
    if (status_ == Status::kClosed) return;
    if (status_ == Status::kDisconnected) {  // never connected: nothing to tell anyone
      status_ = Status::kClosed;
      closed_done_ = true;
      state_cv_.notify_all();
      return;
    }
    closing_ = true;
    direct_fd_ = -1;  // linger() shuts our side down
    wake_publishers_locked();
    // A WebSocket ends with a close frame after the last bytes, as nats.go's (1000, no reason).
    const bool ws_close = live_locked() && tr_ && tr_->ws;
    if (ws_close) tr_->ws->queue_close(websocket::kNormalClosure);
    // Write out what was published before close(), as the Go client does, then shut our side
    // down and read to the server's end (linger): bounded by one timer.
    if (live_locked() && tr_) {
      kick_locked();
      close_timer_.expires_after(opts_.connect_timeout);
      close_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) self->finalize_close({});
      });
      return;
    }
  }
  finalize_close({});
}

void Core::finalize_close(const ErrorInfo& why) {
  std::deque<std::shared_ptr<PongWaiter>> pongs;
  std::vector<std::shared_ptr<PongWaiter>> deferred;
  std::unordered_map<std::string, std::shared_ptr<ReplyWaiter>> requests;
  std::unordered_map<uint64_t, std::shared_ptr<SubState>> subs;
  bool was_live = false;
  {
    std::lock_guard lk(mu_);
    direct_fd_ = -1;  // before the sockets close, below
    if (status_ == Status::kClosed) return;
    was_live = live_locked();
    status_ = Status::kClosed;
    if (why) last_error_ = why;
    pongs.swap(pongs_);
    deferred.swap(deferred_pongs_);
    requests.swap(requests_);
    subs.swap(subs_);
    reply_sub_.reset();
    out_.clear();
    write_pending_ = false;
    wake_publishers_locked();
  }
  boost::system::error_code ignored;
  for (auto* tr : {&tr_, &attempt_tr_}) {
    if (*tr) {
      (*tr)->socket.close(ignored);
      (*tr)->resolver.cancel();
    }
  }
  tr_.reset();
  ping_timer_.cancel();
  reconnect_timer_.cancel();
  close_timer_.cancel();
  drain_timer_.cancel();

  const ErrorInfo closed(Error::kConnectionClosed, "");
  for (auto& [sid, s] : subs) s->end(closed, true);
  for (auto& w : pongs) {
    if (w) w->fire(closed);
  }
  for (auto& w : deferred) w->fire(closed);
  for (auto& [token, w] : requests) {
    if (w->timer) w->timer->cancel();
    w->fire(closed, Message{});
  }
  if (was_live) {
    ErrorInfo cause = why ? why : closed;
    post_event([cause](Connection& c) {
      if (c.options().on_disconnected) c.options().on_disconnected(c, cause);
    });
  }
  post_event([](Connection& c) {
    if (c.options().on_closed) c.options().on_closed(c);
  });
  // Only now may close()/the destructor return: the events above are queued.
  std::lock_guard lk(mu_);
  closed_done_ = true;
  state_cv_.notify_all();
}

void Core::ensure_not_io_thread(const char* what) const {
  if (io_ctx_->get_executor().running_in_this_thread()) {
    throw Exception(Error::kWouldBlock, std::string(what) + " would wait for the thread calling it; use the async form");
  }
}

// ---- Events ------------------------------------------------------------------------------

void Core::post_event(std::function<void(Connection&)> fn) {
  if (events_stopped_.load()) return;
  // Events keep their place after the messages that came before them.
  if (io_strand_.running_in_this_thread()) flush_callback_batch();
  note_cb_post();
  asio::post(cb_strand_, [self = shared_from_this(), fn = std::move(fn)] {
    std::lock_guard lk(self->owner_mu_);
    if (!self->owner_) return;
    try {
      fn(*self->owner_);
    } catch (...) {
      // An event callback that throws must not take the callback thread down.
    }
  });
}

void Core::post_async_error(std::shared_ptr<SubState> s, ErrorInfo e) {
  {
    std::lock_guard lk(mu_);
    last_error_ = e;
  }
  post_event([s = std::move(s), e = std::move(e)](Connection& c) {
    if (!c.options().on_async_error) return;
    if (s) {
      Subscription h = SubState::handle(s);
      c.options().on_async_error(c, &h, e);
    } else {
      c.options().on_async_error(c, nullptr, e);
    }
  });
}

// ---- Introspection ------------------------------------------------------------------------

Status Core::status() const {
  std::lock_guard lk(mu_);
  return status_;
}

std::string Core::connected_url() const {
  std::lock_guard lk(mu_);
  if (!live_locked() || !pool_.current()) return {};
  return pool_.current()->url.str();
}

std::string Core::connected_server_id() const {
  std::lock_guard lk(mu_);
  return live_locked() ? info_.server_id : std::string();
}

ServerInfo Core::server_info() const {
  std::lock_guard lk(mu_);
  return info_;
}

int64_t Core::max_payload() const {
  std::lock_guard lk(mu_);
  return info_.max_payload;
}

std::vector<std::string> Core::servers() const {
  std::lock_guard lk(mu_);
  return pool_.urls(false);
}

std::vector<std::string> Core::discovered_servers() const {
  std::lock_guard lk(mu_);
  return pool_.urls(true);
}

ErrorInfo Core::last_error() const {
  std::lock_guard lk(mu_);
  return last_error_;
}

Statistics Core::stats() const {
  Statistics s;
  s.in_msgs = in_msgs_.load(std::memory_order_relaxed);
  s.in_bytes = in_bytes_.load(std::memory_order_relaxed);
  {
    std::lock_guard lk(mu_);
    s.out_msgs = out_msgs_;
    s.out_bytes = out_bytes_;
    s.direct_writes = direct_writes_;
  }
  s.reconnects = reconnects_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace pylon::client
