// pylon::Connection — a NATS client connection, for Pylon and any NATS server.
//
//   pylon::ClientOptions opts;
//   opts.servers = {"nats://127.0.0.1:4222", "nats://127.0.0.1:5222"};
//   pylon::Connection conn(opts);
//   conn.connect();                                     // throws pylon::Exception
//   auto sub = conn.subscribe("greet.*", [](pylon::Message& m) { ... });
//   conn.publish("greet.joe", "hello");
//   pylon::Message reply = conn.request("svc.time", "", 1s);
//   conn.drain();                                       // or close(), or the destructor
//
// Threading
// ---------
// * I/O (socket, parser, timers, reconnecting) runs on an I/O thread; callbacks (message
//   handlers and connection events) run on a separate callback thread, one at a time, in
//   arrival order. A slow handler therefore never stalls the socket: messages wait in the
//   subscription's pending queue (bounded: see ClientOptions::sub_pending_*_limit).
// * With `Connection(opts)` the connection owns both threads. With
//   `Connection(io_context, opts)` it owns none: I/O runs on one strand of the caller's
//   io_context and callbacks on another, so the caller's threads do the work.
// * Every public member function is thread-safe, except the destructor (do not destroy
//   the connection while another thread calls it).
// * Blocking calls (connect, flush, request, next_msg, drain, close) may be made from
//   callbacks: replies and PONGs are handled on the I/O thread. (A handler blocking on a
//   request that another handler of the same connection answers waits for its timeout:
//   both need the one callback thread.) drain() from a callback only starts the drain.
// * On the caller's io_context, connect/flush/request/next_msg throw Error::kWouldBlock
//   on a thread running that io_context (use the async_* forms); close() and drain()
//   there start and return.
// * The connection may be destroyed from one of its own callbacks.
//
// Asynchronous forms
// ------------------
// async_connect, async_flush and async_request take any Asio completion token:
//   boost::asio::awaitable<void> f(pylon::Connection& c) {
//     pylon::Message m = co_await c.async_request("svc", "x", 1s, boost::asio::use_awaitable);
//   }
// or a callback `void(std::exception_ptr, Message)`, or boost::asio::use_future. A failure
// arrives as a pylon::Exception (rethrown by co_await). The completion runs on the token's
// associated executor (a coroutine's own), else on the callback thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "pylon/client_options.h"
#include "pylon/error.h"
#include "pylon/message.h"
#include "pylon/subscription.h"

namespace pylon {

namespace client {
class Core;
}

enum class Status {
  kDisconnected,  // constructed, connect() not called yet
  kConnecting,    // first connect in progress
  kConnected,
  kReconnecting,  // lost the server, walking the pool
  kDrainingSubs,  // drain: waiting for subscriptions to finish
  kDrainingPubs,  // drain: flushing the last publishes
  kClosed,
};
const char* to_string(Status s) noexcept;

struct Statistics {
  uint64_t in_msgs = 0;
  uint64_t in_bytes = 0;   // payload bytes (headers included) received
  uint64_t out_msgs = 0;
  uint64_t out_bytes = 0;  // payload bytes (headers included) published
  uint64_t reconnects = 0;
  // Writes made by a thread in request() or flush(), or replying from a handler, itself,
  // not handed to the connection's I/O thread (plain TCP, when that thread has nothing
  // to write; docs/client.md, "Threads").
  uint64_t direct_writes = 0;
};

// What the connected server said about itself in INFO.
struct ServerInfo {
  std::string server_id;
  std::string server_name;
  std::string version;
  std::string host;
  int port = 0;
  int proto = 0;
  int64_t max_payload = 0;
  bool headers = false;
  bool auth_required = false;
  bool tls_required = false;   // the server requires TLS (the client upgraded after INFO)
  bool tls_available = false;  // the server offers TLS without requiring it
  bool tls_verify = false;     // the server requires a client certificate
  bool lame_duck = false;
  std::string cluster;
  uint64_t client_id = 0;
  std::string client_ip;
  std::string nonce;  // the nkey challenge (when the server has nkey users)
  std::vector<std::string> connect_urls;
};

class Connection {
 public:
  // A connection with its own I/O and callback threads. Does not connect yet.
  explicit Connection(ClientOptions options = {});
  // A connection whose I/O and callbacks run on the caller's io_context (which must
  // outlive it and be run by the caller).
  Connection(boost::asio::io_context& io, ClientOptions options = {});
  // Closes (flushing what is buffered) and joins the connection's threads.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ---- Lifecycle ---------------------------------------------------------------------
  // Tries each server of the pool once, in pool order; throws Error::kNoServers with the
  // last failure (or the auth error) if none accepts. See retry_on_failed_connect.
  void connect();
  // Closes now: what was published is written out first, and the server gets all of it
  // (our side is shut down and the server's end awaited, so no reset loses it; bounded by
  // the connect timeout; docs/client.md); no message is delivered after the call; pending
  // requests and flushes fail with kConnectionClosed. Idempotent.
  void close();
  // Unsubscribes everything, lets every message already received be handled, flushes
  // the last publishes, then closes. Blocks until closed; throws kDrainTimeout (after
  // closing) if it took longer than `timeout` (0: ClientOptions::drain_timeout). Called
  // from a callback it starts the drain and returns at once (on_closed tells when done).
  void drain(std::chrono::milliseconds timeout = std::chrono::milliseconds::zero());

  // ---- Publishing --------------------------------------------------------------------
  // Publishes are buffered and written by the I/O thread (many per write). While
  // reconnecting they go to the reconnect buffer (see ClientOptions). Throws on invalid
  // subject, max payload, closed or draining connection, full reconnect buffer.
  void publish(std::string_view subject, std::string_view data);
  void publish(std::string_view subject, std::string_view data, const Headers& headers);
  // With a reply subject (for hand-made request/reply).
  void publish_request(std::string_view subject, std::string_view reply, std::string_view data);
  // Subject, reply, headers (and status) and data taken from `msg`.
  void publish(const Message& msg);

  // Sends a PING and waits for its PONG: every publish made before returns has been
  // processed by the server. Throws kTimeout, kConnectionClosed, kDisconnected (the
  // connection was lost before the PONG came). While reconnecting it waits for the
  // reconnect (within the timeout).
  void flush(std::chrono::milliseconds timeout = client_defaults::kFlushTimeout);

  // ---- Subscribing -------------------------------------------------------------------
  Subscription subscribe(std::string_view subject, MessageHandler handler);
  Subscription queue_subscribe(std::string_view subject, std::string_view queue, MessageHandler handler);
  // Synchronous: read with Subscription::next_msg.
  Subscription subscribe_sync(std::string_view subject);
  Subscription queue_subscribe_sync(std::string_view subject, std::string_view queue);

  // ---- Request / reply ---------------------------------------------------------------
  // Publishes with a reply subject of the connection's one shared inbox subscription
  // (_INBOX.<id>.*, created on first use) and waits for the first reply.
  // Throws kTimeout, kNoResponders, kConnectionClosed.
  Message request(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout);
  Message request(const Message& msg, std::chrono::milliseconds timeout);
  // A new unique inbox subject ("<inbox_prefix>.<nuid>").
  std::string new_inbox() const;

  // ---- Asynchronous forms (see the top of this file) ---------------------------------
  template <typename CompletionToken>
  auto async_connect(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler) {
          start_connect(wrap<std::exception_ptr>(std::move(handler)));
        },
        token);
  }
  template <typename CompletionToken>
  auto async_flush(std::chrono::milliseconds timeout, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this, timeout](auto handler) { start_flush(timeout, wrap<std::exception_ptr>(std::move(handler))); },
        token);
  }
  template <typename CompletionToken>
  auto async_request(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout,
                     CompletionToken&& token) {
    Message msg;
    msg.subject = subject;
    msg.data = data;
    return async_request(std::move(msg), timeout, std::forward<CompletionToken>(token));
  }
  template <typename CompletionToken>
  auto async_request(Message msg, std::chrono::milliseconds timeout, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, Message)>(
        [this, timeout](auto handler, Message m) {
          start_request(std::move(m), timeout, wrap<std::exception_ptr, Message>(std::move(handler)));
        },
        token, std::move(msg));
  }

  // ---- Introspection -----------------------------------------------------------------
  Status status() const;
  bool is_connected() const { return status() == Status::kConnected; }
  bool is_closed() const { return status() == Status::kClosed; }
  bool is_reconnecting() const { return status() == Status::kReconnecting; }
  // "nats://host:port" of the current server (no credentials); empty when not connected.
  std::string connected_url() const;
  std::string connected_server_id() const;
  ServerInfo server_info() const;
  // max_payload of the current (or last) server; 0 before the first connect.
  int64_t max_payload() const;
  // Every server of the pool ("nats://host:port", no credentials), in pool order.
  std::vector<std::string> servers() const;
  // Only the servers learnt from the cluster (INFO connect_urls).
  std::vector<std::string> discovered_servers() const;
  // The last error: why the connection was lost or closed, or the last async error.
  ErrorInfo last_error() const;
  Statistics stats() const;
  const ClientOptions& options() const;
  // The executor of the callback thread/strand (completions of async_* calls without
  // an executor of their own run there).
  boost::asio::any_io_executor callback_executor() const;

 private:
  using Completion = std::function<void(std::exception_ptr)>;
  using RequestCompletion = std::function<void(std::exception_ptr, Message)>;

  void start_connect(Completion done);
  void start_flush(std::chrono::milliseconds timeout, Completion done);
  void start_request(Message msg, std::chrono::milliseconds timeout, RequestCompletion done);

  // Turns an Asio handler (possibly move-only) into a std::function that posts it to its
  // associated executor (default: the callback executor), keeping that executor busy
  // until the post is done.
  template <typename... Args, typename Handler>
  std::function<void(Args...)> wrap(Handler handler) {
    auto ex = boost::asio::get_associated_executor(handler, callback_executor());
    using Work = decltype(boost::asio::make_work_guard(ex));
    struct State {
      Handler handler;
      Work work;
    };
    auto st = std::make_shared<State>(State{std::move(handler), boost::asio::make_work_guard(ex)});
    return [st](Args... args) {
      auto target = st->work.get_executor();
      boost::asio::post(target, [st, ... a = std::move(args)]() mutable { std::move(st->handler)(std::move(a)...); });
      // Only now, with post() returned, may the target's io_context run out of work (and
      // be destroyed by its owner).
      st->work.reset();
    };
  }

  std::shared_ptr<client::Core> core_;
};

}  // namespace pylon
