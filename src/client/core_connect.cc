// client::Core: connecting, the handshake, reading, writing, keepalive and reconnecting.
// Everything here runs on the I/O strand unless it says otherwise.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <cstring>
#include <sys/socket.h>
#include <future>
#include <random>

#include "client/core.h"
#include "client/handshake_json.h"
#include "proto/writer.h"

namespace pylon::client {

namespace {

inline auto use_nothrow(boost::system::error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

}  // namespace

void Core::spawn(asio::awaitable<void> coroutine) {
  // Posted, never run inline: a coroutine started from a parser callback must not run
  // inside the parse. The completion handler keeps the Core alive as long as the
  // coroutine (which uses `this`) exists.
  asio::post(io_strand_, [self = shared_from_this(), c = std::move(coroutine)]() mutable {
    asio::co_spawn(self->io_strand_, std::move(c), [self](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);  // a bug: the coroutines handle their own errors
    });
  });
}

// ---- Initial connect ------------------------------------------------------------------------

void Core::connect() {
  ensure_not_io_thread("connect()");
  std::promise<ErrorInfo> done;
  auto result = done.get_future();
  start_connect([&done](const ErrorInfo& e) { done.set_value(e); });
  ErrorInfo e = result.get();
  if (e) throw Exception(e);
}

void Core::start_connect(std::function<void(const ErrorInfo&)> done) {
  {
    std::lock_guard lk(mu_);
    if (status_ == Status::kClosed) throw Exception(Error::kConnectionClosed, "");
    if (status_ != Status::kDisconnected) throw Exception(Error::kInvalidArgument, "connect() called twice");
    status_ = Status::kConnecting;
  }
  spawn(initial_connect(std::move(done)));
}

asio::awaitable<void> Core::initial_connect(std::function<void(const ErrorInfo&)> done) {
  std::vector<ServerPool::EntryPtr> order;
  {
    std::lock_guard lk(mu_);
    order = pool_.entries();
  }
  ErrorInfo last;
  for (const auto& srv : order) {
    {
      std::lock_guard lk(mu_);
      if (status_ == Status::kClosed) break;
      pool_.set_current(srv);
    }
    TransportPtr tr;
    ServerInfo info;
    ErrorInfo e = co_await attempt(srv, &tr, &info);
    if (!e) {
      on_connected(tr, std::move(info), false);
      done({});
      co_return;
    }
    std::lock_guard lk(mu_);
    srv->last_error = e;
    last_error_ = e;
    last = std::move(e);
  }
  bool closed = false;
  bool retry = false;
  {
    std::lock_guard lk(mu_);
    closed = status_ == Status::kClosed;
    retry = !closed && opts_.retry_on_failed_connect && opts_.allow_reconnect;
    if (retry) {
      status_ = Status::kReconnecting;
    } else if (!closed) {
      status_ = Status::kDisconnected;  // connect() may be called again
      out_.clear();
    }
    state_cv_.notify_all();
  }
  if (closed) {
    done(ErrorInfo(Error::kConnectionClosed, "closed while connecting"));
  } else if (retry) {
    done({});
    spawn(reconnect_loop());
  } else if (last == Error::kAuthorization || last == Error::kTlsNotSupported || last == Error::kTlsHandshake ||
             last == Error::kTlsVerification || last == Error::kWebsocketUpgrade) {
    // Typed: a bad credential, certificate or WebSocket endpoint says so, not "no servers".
    done(last);
  } else {
    done(ErrorInfo(Error::kNoServers, last.message));
  }
}

// ---- One attempt: TCP, INFO, CONNECT+PING, PONG ---------------------------------------------

asio::awaitable<ErrorInfo> Core::attempt(ServerPool::EntryPtr srv, TransportPtr* out, ServerInfo* info_out) {
  auto tr = std::make_shared<Transport>(io_strand_);
  tr->server = srv;
  attempt_tr_ = tr;
  const std::string url = srv->url.str();

  asio::steady_timer deadline(io_strand_);
  deadline.expires_after(opts_.connect_timeout);
  deadline.async_wait([tr](const boost::system::error_code& ec) {
    if (ec) return;
    tr->timed_out = true;
    boost::system::error_code ignored;
    tr->socket.close(ignored);
    tr->resolver.cancel();
  });
  struct Done {  // whatever way we leave, the deadline goes and the attempt ends
    asio::steady_timer& t;
    TransportPtr& a;
    ~Done() {
      t.cancel();
      a.reset();
    }
  } done_guard{deadline, attempt_tr_};

  auto closed = [this] {
    std::lock_guard lk(mu_);
    return status_ == Status::kClosed;
  };
  auto fail = [&](const boost::system::error_code& ec) -> ErrorInfo {
    if (tr->timed_out) return ErrorInfo(Error::kTimeout, "connecting to " + url);
    if (closed()) return ErrorInfo(Error::kConnectionClosed, "");
    return io_error(ec, *tr);
  };

  boost::system::error_code ec;
  auto endpoints =
      co_await tr->resolver.async_resolve(srv->url.host, std::to_string(srv->url.port), use_nothrow(ec));
  if (ec || tr->timed_out || closed()) co_return fail(ec);
  co_await asio::async_connect(tr->socket, endpoints, use_nothrow(ec));
  if (ec || tr->timed_out || closed()) co_return fail(ec);
  tr->socket.set_option(tcp::no_delay(true), ec);

  // handshake_first (nats-server 2.10+): TLS before the server says anything. wss://: TLS
  // first too, then the WebSocket upgrade inside it (as nats.go).
  const bool websocket = srv->url.websocket;
  if (opts_.tls.handshake_first || (websocket && srv->url.tls)) {
    if (ErrorInfo e = co_await tls_handshake(tr)) {
      if (e == Error::kTlsHandshake && !websocket) e.message += " (does the server have handshake_first?)";
      co_return e;
    }
  }
  if (websocket) {
    if (ErrorInfo e = co_await websocket_upgrade(tr)) co_return e;
  }

  // The server speaks first: INFO.
  phase_ = Phase::kInfo;
  hs_info_.clear();
  hs_err_.clear();
  if (ErrorInfo e = co_await read_handshake_step(tr)) co_return e;
  if (!hs_err_.empty()) co_return ErrorInfo(Error::kServerError, "'" + hs_err_ + "' from " + url);
  ServerInfo info;
  try {
    info = parse_info(hs_info_);
  } catch (const Exception& e) {
    co_return ErrorInfo(e.info().code, e.info().message + " from " + url);
  }
  // The upgrade after INFO, as nats-server 2.9 and the official clients do it: when the
  // server requires TLS, or we want it and the server offers it. Never on a WebSocket:
  // wss:// did TLS before the upgrade, and the INFO a WebSocket client gets may carry the
  // client port's tls_required (nats.go ignores it there too).
  if (!tr->tls && !websocket && (info.tls_required || srv->url.tls)) {
    if (!info.tls_required && !info.tls_available) {
      co_return ErrorInfo(Error::kTlsNotSupported, url + " does not offer TLS");
    }
    // The server sends nothing more until our ClientHello, so no plaintext byte is left.
    tr->left_begin = tr->left_end = 0;
    if (ErrorInfo e = co_await tls_handshake(tr)) co_return e;
  }

  std::string hello;
  std::string nkey, sig;
  if (nkey_) {  // as nats.go: the nonce signed, even an empty one
    nkey = nkey_->public_key();
    sig = nkeys::base64url_encode(nkey_->sign(info.nonce));
  }
  proto::append_connect(hello, connect_json(opts_, srv->url, tr->tls.has_value(), nkey, sig));
  hello.append(proto::kPingOp);
  if (tr->ws) {
    std::string head, tail;
    std::string_view payload = tr->ws->frame(hello, head, tail);
    const std::array<asio::const_buffer, 3> framed{asio::buffer(head), asio::buffer(payload), asio::buffer(tail)};
    co_await with_stream(*tr, [&](auto& s) { return asio::async_write(s, framed, use_nothrow(ec)); });
  } else {
    co_await with_stream(*tr, [&](auto& s) { return asio::async_write(s, asio::buffer(hello), use_nothrow(ec)); });
  }
  if (ec && tr->tls && !tr->timed_out && !closed()) co_return refused_after_tls(ec, *tr);
  if (ec || tr->timed_out || closed()) co_return fail(ec);

  // PONG: the server accepted CONNECT (authorization included).
  phase_ = Phase::kPong;
  if (ErrorInfo e = co_await read_handshake_step(tr)) co_return e;
  if (!hs_err_.empty()) {
    std::string lower = hs_err_;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    Error code = lower.find("authorization") != std::string::npos || lower.find("authentication") != std::string::npos
                     ? Error::kAuthorization
                     : Error::kServerError;
    co_return ErrorInfo(code, "'" + hs_err_ + "' from " + url);
  }
  if (!hs_info_.empty()) {  // an INFO that came while we waited for the PONG is newer
    try {
      info = parse_info(hs_info_);
    } catch (const Exception&) {
    }
  }
  *out = tr;
  *info_out = std::move(info);
  co_return ErrorInfo{};
}

asio::awaitable<ErrorInfo> Core::read_handshake_step(const TransportPtr& tr) {
  hs_step_done_ = false;
  const std::string url = tr->server->url.str();
  ErrorInfo ws_err;
  for (;;) {
    std::string_view data;
    if (tr->left_end > tr->left_begin) {
      data = {tr->rbuf.data() + tr->left_begin, tr->left_end - tr->left_begin};
    } else {
      boost::system::error_code ec;
      size_t n = co_await with_stream(
          *tr, [&](auto& s) { return s.async_read_some(asio::buffer(tr->rbuf), use_nothrow(ec)); });
      if (tr->timed_out) co_return ErrorInfo(Error::kTimeout, "connecting to " + url);
      {
        std::lock_guard lk(mu_);
        if (status_ == Status::kClosed) co_return ErrorInfo(Error::kConnectionClosed, "");
      }
      // With TLS 1.3 the server checks our certificate after the handshake has ended on
      // our side: its refusal (an alert) arrives here, as the first read's error. When
      // our CONNECT reached the server after it had closed, its RST may have discarded
      // the alert: a reset before any reply to CONNECT is that refusal too.
      if (ec && tr->tls && phase_ == Phase::kPong && !tr->parser_saw_input) co_return refused_after_tls(ec, *tr);
      if (ec) co_return io_error(ec, *tr);
      // A WebSocket's frames are unframed first; the server's close frame or a bad frame
      // ends the attempt once what came before it is parsed (an -ERR says more).
      if (tr->ws) ws_err = unframe_in_place(*tr, {tr->rbuf.data(), n}, &n);
      tr->left_begin = 0;
      tr->left_end = n;
      data = {tr->rbuf.data(), n};
      if (phase_ == Phase::kPong) tr->parser_saw_input = true;
    }
    parsing_tr_ = tr;
    proto::ParseResult r = tr->parser.parse(data, *this);
    parsing_tr_.reset();
    tr->left_begin += r.consumed;
    if (r.error != proto::ParseError::kNone) {
      co_return ErrorInfo(Error::kProtocol, r.detail + " (from " + url + ")");
    }
    if (hs_step_done_) co_return ErrorInfo{};
    if (ws_err) co_return ws_err;
    tr->left_begin = tr->left_end = 0;  // everything was consumed; read more
  }
}

ErrorInfo Core::refused_after_tls(const boost::system::error_code& ec, Transport& tr) const {
  const std::string url = tr.server->url.str();
  if (is_tls_error(ec)) return tls_handshake_error(ec, *tr.tls, url);
  // The server's alert was lost: our CONNECT reached it after it had closed, and its
  // reset discarded what it had sent. Closing before answering CONNECT is what a server
  // does when it refuses the client's certificate.
  if (ec == asio::error::connection_reset || ec == asio::error::eof || ec == asio::error::broken_pipe) {
    return ErrorInfo(Error::kTlsHandshake, url + ": the server closed the connection after the handshake (" +
                                               ec.message() + "); did it refuse our certificate?");
  }
  return io_error(ec, tr);
}

asio::ssl::context& Core::tls_context() {
  if (!tls_ctx_) tls_ctx_.emplace(make_tls_context(opts_.tls));
  return *tls_ctx_;
}

asio::awaitable<ErrorInfo> Core::websocket_upgrade(const TransportPtr& tr) {
  const std::string url = tr->server->url.str();
  tr->ws = std::make_unique<WsLayer>(opts_.websocket_compression);
  const std::string request = tr->ws->upgrade_request(tr->server->url);
  auto stopped = [&](const boost::system::error_code& ec) -> ErrorInfo {
    if (tr->timed_out) return ErrorInfo(Error::kTimeout, "WebSocket upgrade with " + url);
    {
      std::lock_guard lk(mu_);
      if (status_ == Status::kClosed) return ErrorInfo(Error::kConnectionClosed, "");
    }
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      return ErrorInfo(Error::kWebsocketUpgrade, url + ": the server closed the connection without answering the upgrade");
    }
    return ec ? io_error(ec, *tr) : ErrorInfo{};
  };
  boost::system::error_code ec;
  co_await with_stream(*tr, [&](auto& s) { return asio::async_write(s, asio::buffer(request), use_nothrow(ec)); });
  if (ErrorInfo e = stopped(ec)) co_return e;
  for (;;) {
    size_t n = co_await with_stream(
        *tr, [&](auto& s) { return s.async_read_some(asio::buffer(tr->rbuf), use_nothrow(ec)); });
    if (ErrorInfo e = stopped(ec)) co_return e;
    WsLayer::Answer a = tr->ws->read_answer({tr->rbuf.data(), n}, url);
    if (a.state == WsLayer::Answer::State::kIncomplete) continue;
    if (a.state == WsLayer::Answer::State::kRefused) co_return a.error;
    size_t m = 0;
    ErrorInfo e = unframe_in_place(*tr, a.rest, &m);
    tr->left_begin = 0;
    tr->left_end = m;
    co_return e;
  }
}

ErrorInfo Core::unframe_in_place(Transport& tr, std::string_view frames, size_t* out) {
  // Only the handshake comes here (a few hundred bytes): a copy keeps it simple when the
  // frames and their payload share rbuf.
  std::string raw(frames), app;
  ErrorInfo e = tr.ws->decode(raw.data(), raw.size(), tr.server->url, [&](std::string_view b) {
    app.append(b);
    return true;
  });
  if (app.size() > tr.rbuf.size()) tr.rbuf.resize(app.size());
  if (!app.empty()) std::memcpy(tr.rbuf.data(), app.data(), app.size());
  *out = app.size();
  return e;
}

asio::awaitable<ErrorInfo> Core::tls_handshake(const TransportPtr& tr) {
  const std::string url = tr->server->url.str();
  try {
    tr->tls.emplace(tr->socket, tls_context().native_handle());
  } catch (const Exception& e) {
    co_return e.info();
  } catch (const std::runtime_error& e) {  // OpenSSL could not make the session
    co_return ErrorInfo(Error::kTlsHandshake, url + ": " + e.what());
  }
  prepare_tls_stream(*tr->tls, tr->server->url.host, opts_.tls.insecure_skip_verify);
  boost::system::error_code ec;
  // Bounded by the attempt's deadline (connect_timeout), which closes the socket.
  co_await tr->tls->async_handshake(use_nothrow(ec));
  if (tr->timed_out) co_return ErrorInfo(Error::kTimeout, "TLS handshake with " + url);
  {
    std::lock_guard lk(mu_);
    if (status_ == Status::kClosed) co_return ErrorInfo(Error::kConnectionClosed, "");
  }
  if (ec) co_return tls_handshake_error(ec, *tr->tls, url);
  co_return ErrorInfo{};
}

// ---- Connected -------------------------------------------------------------------------------

void Core::on_connected(const TransportPtr& tr, ServerInfo info, bool reconnect) {
  bool has_new = false;
  bool lame_duck = info.lame_duck;
  {
    std::lock_guard lk(mu_);
    tr_ = tr;
    phase_ = Phase::kRunning;
    pool_.set_current(tr->server);
    tr->server->reconnects = 0;
    tr->server->did_connect = true;
    apply_info_locked(info, &has_new);
    // Replay the subscriptions, then what was published meanwhile, then the flushes
    // that were asked for while disconnected.
    std::string replay;
    for (const auto& [sid, s] : subs_) {
      if (!s->draining) append_sub_locked(replay, *s);  // a draining one must not come back
    }
    if (!replay.empty()) out_.insert(0, replay);
    for (auto& w : deferred_pongs_) {
      out_.append(proto::kPingOp);
      pongs_.push_back(std::move(w));
    }
    deferred_pongs_.clear();
    pings_out_ = 0;
    status_ = Status::kConnected;
    connected_once_ = true;
    // A write of a lost transport may still be in flight; do_write() hands over then.
    write_pending_ = true;
    direct_fd_ = (tr->tls || tr->ws) ? -1 : tr->socket.native_handle();
    asio::post(io_strand_, [self = shared_from_this()] { self->do_write(); });
    state_cv_.notify_all();
    wake_publishers_locked();
  }
  start_ping_timer();
  spawn(read_loop(tr));
  if (reconnect) {
    reconnects_.fetch_add(1, std::memory_order_relaxed);
    post_event([](Connection& c) {
      if (c.options().on_reconnected) c.options().on_reconnected(c);
    });
    if (has_new) {
      post_event([](Connection& c) {
        if (c.options().on_discovered_servers) c.options().on_discovered_servers(c);
      });
    }
    if (lame_duck) {
      post_event([](Connection& c) {
        if (c.options().on_lame_duck) c.options().on_lame_duck(c);
      });
    }
  }
}

void Core::apply_info_locked(const ServerInfo& info, bool* has_new) {
  std::vector<std::string> urls = info.connect_urls;
  info_ = info;
  *has_new = pool_.apply_connect_urls(urls, !opts_.no_randomize);
}

// ---- Reading ----------------------------------------------------------------------------------

asio::awaitable<void> Core::read_loop(TransportPtr tr) {
  if (tr->left_end > tr->left_begin) {
    if (!feed(tr, {tr->rbuf.data() + tr->left_begin, tr->left_end - tr->left_begin})) co_return;
  }
  // The stream is chosen here, once per connection (see Transport).
  if (tr->tls) {
    co_await read_from(tr, *tr->tls);
  } else {
    co_await read_from(tr, tr->socket);
  }
}

template <class Stream>
asio::awaitable<void> Core::read_from(TransportPtr tr, Stream& stream) {
  for (;;) {
    boost::system::error_code ec;
    size_t n = co_await stream.async_read_some(asio::buffer(tr->rbuf), use_nothrow(ec));
    if (tr != tr_) co_return;  // dropped meanwhile
    if (lingering_) {
      // close(): what the server still sends is dropped, up to its end of the stream.
      if (ec) finalize_close({});
      if (ec) co_return;
      continue;
    }
    if (ec) {
      on_transport_error(tr, io_error(ec, *tr));
      co_return;
    }
    // A WebSocket's frames are unframed as they are parsed: one test per read.
    if (!(tr->ws ? feed_frames(tr, tr->rbuf.data(), n) : feed(tr, {tr->rbuf.data(), n}))) co_return;
    // A full read: the server is sending fast; read more per call (up to a bound).
    if (n == tr->rbuf.size() && tr->rbuf.size() < kMaxReadBufferBytes) tr->rbuf.resize(tr->rbuf.size() * 2);
  }
}

bool Core::feed(const TransportPtr& tr, std::string_view data) {
  parsing_tr_ = tr;
  proto::ParseResult r = tr->parser.parse(data, *this);
  parsing_tr_.reset();
  hot_sub_.reset();
  flush_callback_batch();
  if (r.error != proto::ParseError::kNone) {
    on_transport_error(tr, ErrorInfo(Error::kProtocol, r.detail + " (from " + tr->server->url.str() + ")"));
    return false;
  }
  return !r.stopped && tr == tr_;
}

bool Core::feed_frames(const TransportPtr& tr, char* data, size_t n) {
  // The frames' payloads go to the parser as views of rbuf (no copy): one NATS operation
  // may span frames and one frame may hold many, the parser keeps its state across calls.
  proto::ParserHandler& handler = *this;
  proto::ParseResult r;
  parsing_tr_ = tr;
  ErrorInfo ws_err = tr->ws->decode(data, n, tr->server->url, [&](std::string_view bytes) {
    r = tr->parser.parse(bytes, handler);
    return r.error == proto::ParseError::kNone && !r.stopped && tr == tr_;
  });
  parsing_tr_.reset();
  hot_sub_.reset();
  flush_callback_batch();
  if (r.error != proto::ParseError::kNone) {
    on_transport_error(tr, ErrorInfo(Error::kProtocol, r.detail + " (from " + tr->server->url.str() + ")"));
    return false;
  }
  if (r.stopped || tr != tr_) return false;
  if (ws_err) {
    on_transport_error(tr, ws_err);
    return false;
  }
  if (tr->ws->has_output()) {  // a pong for the server's ping
    std::lock_guard lk(mu_);
    kick_locked();
  }
  return true;
}

ErrorInfo Core::io_error(const boost::system::error_code& ec, const Transport& tr) const {
  const std::string url = tr.server ? tr.server->url.str() : std::string("server");
  // A TLS peer that closes without close_notify (a killed server) truncates the stream.
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    return ErrorInfo(Error::kIo, url + " closed the connection");
  }
  return ErrorInfo(Error::kIo, url + ": " + ec.message());
}

// ---- Writing ----------------------------------------------------------------------------------

void Core::post_write_locked() {
  write_pending_ = true;
  asio::post(io_strand_, [self = shared_from_this()] { self->do_write(); });
}

void Core::write_now_locked() {
  if (write_pending_ || direct_fd_ < 0 || !live_locked() || out_.size() > kDirectWriteMax) {
    kick_locked();
    return;
  }
  const ssize_t n = ::send(direct_fd_, out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n > 0) {
    ++direct_writes_;
    out_.erase(0, static_cast<size_t>(n));
  }
  // The socket was full, took part, or failed: the strand writes the rest (and meets the
  // same error, which it handles as any write's).
  if (!out_.empty()) kick_locked();
}

void Core::do_write() {
  if (writing_) return;  // the write in flight calls us again when it ends
  TransportPtr tr = tr_;
  {
    std::lock_guard lk(mu_);
    const bool ws_output = tr && tr->ws && tr->ws->has_output();  // a pong, the close frame
    if (!tr || !live_locked() || (out_.empty() && !ws_output)) {
      write_pending_ = false;
      if (closing_ && tr) {
        // close(): the last bytes are out.
        asio::post(io_strand_, [self = shared_from_this(), tr] { self->linger(tr); });
      }
      return;
    }
    wbuf_.swap(out_);  // out_ takes wbuf_'s spare capacity for the next batch
    wake_publishers_locked();
  }
  writing_ = true;
  auto written = [self = shared_from_this(), tr](const boost::system::error_code& ec, size_t) {
    self->writing_ = false;
    self->wbuf_.clear();
    if (tr != self->tr_) {  // a lost transport: hand over to the current one
      if (self->tr_) self->do_write();
      return;
    }
    if (ec) {
      self->on_transport_error(tr, self->io_error(ec, *tr));
      return;
    }
    self->do_write();
  };
  if (tr->ws) {
    // Masked in place (wbuf_ is the frame's payload, between the headers and the close
    // frame), or deflated into the layer's buffer.
    std::string_view payload = tr->ws->frame(wbuf_, ws_head_, ws_tail_);
    const std::array<asio::const_buffer, 3> framed{asio::buffer(ws_head_), asio::buffer(payload),
                                                   asio::buffer(ws_tail_)};
    with_stream(*tr, [&](auto& s) { asio::async_write(s, framed, std::move(written)); });
    return;
  }
  with_stream(*tr, [&](auto& s) { asio::async_write(s, asio::buffer(wbuf_), std::move(written)); });
}

void Core::linger(const TransportPtr& tr) {
  if (tr != tr_ || lingering_) return;
  // Closing a socket with unread input aborts the connection (RFC 2525, 2.17): the kernel
  // sends a reset at once, and what our socket still held to send — written, but not yet
  // taken by a server whose receive window was full — is thrown away: the last publishes,
  // lost though write() took them (the tail of 20,000 1 KiB messages, against both servers:
  // tests/client). So our side is shut down after the last byte (a FIN, behind the data),
  // and what the server sends meanwhile is read and dropped until its end: the server reads
  // everything we sent before it sees the FIN. close_timer_ bounds it.
  lingering_ = true;
  boost::system::error_code ec;
  tr->socket.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) finalize_close({});
}

void Core::keep_publishes_locked() {
  // Re-parse what was not written yet as a server would, keeping PUB/HPUB only: the
  // subscriptions are replayed from subs_ and the PINGs' waiters were failed.
  struct Keep : proto::ParserHandler {
    std::string out;
    bool on_pub(const proto::MsgArgs& a, std::string_view payload) override {
      if (a.header_len >= 0) {
        proto::append_hpub(out, a.subject, a.reply, a.header_len, payload);
      } else {
        proto::append_pub(out, a.subject, a.reply, payload);
      }
      return true;
    }
  } keep;
  proto::Parser p(proto::Role::kServerOfClient, proto::ParserLimits{-1, -1});
  p.parse(out_, keep);
  out_.swap(keep.out);
}

// ---- Keepalive --------------------------------------------------------------------------------

void Core::start_ping_timer() {
  ping_timer_.expires_after(opts_.ping_interval);
  ping_timer_.async_wait([self = shared_from_this(), tr = tr_](const boost::system::error_code& ec) {
    if (ec || tr != self->tr_) return;
    self->on_ping_timer();
  });
}

void Core::on_ping_timer() {
  bool stale = false;
  {
    std::lock_guard lk(mu_);
    if (!live_locked()) return;
    if (++pings_out_ > opts_.max_pings_out) {
      stale = true;
    } else {
      out_.append(proto::kPingOp);
      pongs_.push_back(nullptr);  // a keepalive: nobody waits for its PONG
      kick_locked();
    }
  }
  if (stale) {
    on_transport_error(tr_, ErrorInfo(Error::kStaleConnection,
                                      "no PONG for " + std::to_string(opts_.max_pings_out) + " PINGs"));
    return;
  }
  start_ping_timer();
}

// ---- Losing the server and reconnecting ----------------------------------------------------------

void Core::on_transport_error(const TransportPtr& tr, const ErrorInfo& why) {
  if (!tr || tr != tr_) return;  // already handled
  std::vector<std::shared_ptr<PongWaiter>> lost_pongs;
  bool reconnect = false;
  {
    std::lock_guard lk(mu_);
    direct_fd_ = -1;  // before the socket closes, below
    if (status_ == Status::kClosed) return;
    const bool draining = status_ == Status::kDrainingSubs || status_ == Status::kDrainingPubs;
    reconnect = opts_.allow_reconnect && !closing_ && !draining;
    if (draining) drain_error_ = ErrorInfo(Error::kDisconnected, "drain: " + why.message);
    if (reconnect) {
      last_error_ = why;
      status_ = Status::kReconnecting;
      keep_publishes_locked();
      for (auto& w : pongs_) {
        if (w) lost_pongs.push_back(std::move(w));
      }
      pongs_.clear();
      pings_out_ = 0;
      write_pending_ = false;
      state_cv_.notify_all();
      wake_publishers_locked();
    }
  }
  boost::system::error_code ignored;
  tr->socket.close(ignored);
  tr_.reset();
  ping_timer_.cancel();
  if (!reconnect) {
    finalize_close(why);
    return;
  }
  for (auto& w : lost_pongs) w->fire(ErrorInfo(Error::kDisconnected, why.message));
  post_event([why](Connection& c) {
    if (c.options().on_disconnected) c.options().on_disconnected(c, why);
  });
  spawn(reconnect_loop());
}

asio::awaitable<void> Core::reconnect_loop() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  size_t tried = 0;  // servers tried since the last pause
  ErrorInfo last;
  for (;;) {
    ServerPool::EntryPtr srv;
    bool pause = false;
    {
      std::lock_guard lk(mu_);
      if (status_ == Status::kClosed) co_return;
      srv = pool_.select_next(opts_.max_reconnects);
      if (!srv) break;
      // Like the Go client: a pause after each full pass over the pool.
      pause = tried + 1 >= pool_.size();
    }
    if (pause) {
      tried = 0;
      auto wait = opts_.reconnect_wait;
      if (opts_.reconnect_jitter.count() > 0) {
        wait += milliseconds(static_cast<int64_t>(rng() % static_cast<uint64_t>(opts_.reconnect_jitter.count())));
      }
      reconnect_timer_.expires_after(wait);
      boost::system::error_code ec;
      co_await reconnect_timer_.async_wait(use_nothrow(ec));
    } else {
      ++tried;
    }
    {
      std::lock_guard lk(mu_);
      if (status_ == Status::kClosed) co_return;
      srv->reconnects++;
    }
    TransportPtr tr;
    ServerInfo info;
    ErrorInfo e = co_await attempt(srv, &tr, &info);
    {
      std::lock_guard lk(mu_);
      if (status_ == Status::kClosed) co_return;
      if (e) {
        srv->last_error = e;
        last = e;
      }
    }
    if (!e) {
      on_connected(tr, std::move(info), true);
      co_return;
    }
  }
  // Every server used up its attempts.
  std::string detail = last ? "last attempt: " + last.message : "the server pool is empty";
  finalize_close(ErrorInfo(Error::kNoServers, detail));
}

}  // namespace pylon::client
