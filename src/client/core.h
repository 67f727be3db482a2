// client::Core — the state machine behind pylon::Connection.
//
// Lifecycle: kDisconnected -> connect() -> kConnecting -> kConnected
//   <-> kReconnecting (transport lost; walk the pool; replay subscriptions; send the
//   reconnect buffer) -> kDrainingSubs -> kDrainingPubs -> kClosed (terminal).
//
// Threads and locking
// -------------------
// * The I/O strand (io_strand_) owns the transport: socket, parser, read buffer, the
//   write in flight (wbuf_), the timers and the coroutines (connect, reconnect, read,
//   drain). Members marked [io] are touched only there.
// * Application threads call publish/subscribe/flush/request: they take mu_, append
//   the operation to out_ and, if no write is pending, post one do_write() to the
//   strand (write coalescing: many publishes per socket write). A request, a flush and a
//   reply may instead send out_ themselves when the strand is idle (write_now_locked;
//   the rules: docs/architecture.md, "Who writes a client library socket"). Members
//   marked [mu] are guarded by mu_, a FutexMutex (futex_mutex.h: every publish takes
//   it, and std::mutex's call chain cost more than the rest of the lock). Nothing is
//   called back while mu_ is held. A publisher over kMaxOutboundBytes waits on out_cv_,
//   counted in out_waiters_.
// * The callback strand (cb_strand_) runs message handlers and connection events in
//   order; owner_mu_ is held around each, so the Connection can detach itself safely.
// * Lock order: mu_ -> SubState::qmu. owner_mu_ is never taken with mu_ held.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "client/delivery_batch.h"
#include "client/futex_mutex.h"
#include "client/server_pool.h"
#include "client/sub_state.h"
#include "client/tls.h"
#include "client/waiter.h"
#include "client/websocket.h"
#include "nkeys/nkeys.h"
#include "proto/parser.h"
#include "pylon/connection.h"

namespace pylon::client {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using Strand = asio::strand<asio::io_context::executor_type>;

// Above this many unsent bytes a publisher waits for the socket (backpressure), unless
// it runs on the I/O thread. Small on purpose: the two buffers (out_, and wbuf_ in the
// write) keep their capacity from batch to batch, so at this size they are reused and
// stay in cache. At 32 MiB every batch grew a fresh buffer: page faults and copies made
// a 1 KiB publish cost 3.5 us of client CPU instead of 0.6 us (docs/performance.md).
inline constexpr size_t kMaxOutboundBytes = 1024 * 1024;
// At most this much is sent by write_now_locked() from a caller's thread: a request or a
// flush's PING behind a few publishes. More is the I/O thread's (it may block).
inline constexpr size_t kDirectWriteMax = 16 * 1024;
inline constexpr size_t kReadBufferBytes = 64 * 1024;
inline constexpr size_t kMaxReadBufferBytes = 1024 * 1024;

// Copies a message out of the read buffer into `m`, which may be a reused Message (its
// strings keep their capacity): every field is set or reset. (core_protocol.cc)
void fill_message(Message& m, const proto::MsgArgs& a, uint64_t sid, std::string_view payload);

// One TCP connection to one server: created per attempt, dropped when lost.
//
// The layers are decided once per connection, in the handshake: the stream is `tls` when
// it is engaged, else `socket` (with_stream()); over it, `ws` frames the protocol for a
// ws:// or wss:// server. The read loop is instantiated for each stream type, so the
// plaintext path has no virtual call, no type-erased stream and no allocation per I/O; a
// read tests `ws` once, a write tests `tls` and `ws` once per batch.
struct Transport {
  explicit Transport(const Strand& ex);
  tcp::socket socket;
  std::optional<TlsStream> tls;  // over `socket`, once upgraded
  std::unique_ptr<WsLayer> ws;   // a WebSocket server, once the upgrade is sent
  tcp::resolver resolver;
  proto::Parser parser;
  std::vector<char> rbuf;
  // Protocol bytes read but not parsed after the handshake stopped (with `ws`, already
  // unframed: rbuf then holds the protocol's bytes, not the frames'.)
  size_t left_begin = 0, left_end = 0;
  bool timed_out = false;               // the connect deadline closed it
  bool parser_saw_input = false;        // the server answered our CONNECT with something
  ServerPool::EntryPtr server;
};
using TransportPtr = std::shared_ptr<Transport>;

// Calls f with the transport's stream: the TLS stream once upgraded, else the socket.
template <class F>
decltype(auto) with_stream(Transport& tr, F&& f) {
  if (tr.tls) return f(*tr.tls);
  return f(tr.socket);
}

class Core : public std::enable_shared_from_this<Core>, private proto::ParserHandler {
 public:
  // external: run on the caller's io_context; null: own I/O and callback threads.
  Core(ClientOptions opts, asio::io_context* external);
  ~Core() override;
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // ---- Owner and threads (called by Connection) ------------------------------------
  void start(Connection* owner);
  // Closes (bounded wait), stops callbacks reaching the owner, joins own threads.
  void shutdown();

  // ---- Lifecycle ---------------------------------------------------------------------
  void connect();
  void start_connect(std::function<void(const ErrorInfo&)> done);
  void close();
  void drain(milliseconds timeout);

  // ---- Publishing --------------------------------------------------------------------
  // now: the caller waits for an answer (request()): write_now_locked(), not a kick. So is
  // the first publish of the handler of a delivery batch's last message (t_write_now_core).
  void publish(std::string_view subject, std::string_view reply, const Headers* headers, int status,
               std::string_view status_description, std::string_view data, bool now = false);
  void flush(milliseconds timeout);
  void start_flush(milliseconds timeout, std::function<void(const ErrorInfo&)> done);

  // ---- Subscriptions (also called by Subscription) ---------------------------------------
  Subscription subscribe(std::string_view subject, std::string_view queue, MessageHandler handler, bool sync);
  void unsubscribe(const std::shared_ptr<SubState>& s, int64_t max);  // max <= 0: now
  void drain_subscription(const std::shared_ptr<SubState>& s);
  Message next_msg(SubState& s, milliseconds timeout);

  // ---- Requests ------------------------------------------------------------------------
  Message request(Message msg, milliseconds timeout);
  void start_request(Message msg, milliseconds timeout, std::function<void(const ErrorInfo&, Message)> done);
  std::string new_inbox() const;

  // ---- Introspection ---------------------------------------------------------------------
  Status status() const;
  std::string connected_url() const;
  std::string connected_server_id() const;
  ServerInfo server_info() const;
  int64_t max_payload() const;
  std::vector<std::string> servers() const;
  std::vector<std::string> discovered_servers() const;
  ErrorInfo last_error() const;
  Statistics stats() const;
  const ClientOptions& options() const noexcept { return opts_; }
  asio::any_io_executor callback_executor() const { return cb_strand_; }
  // Every post to the callback strand other than a delivery batch calls this first, so
  // no later message joins a batch queued before that post (callbacks keep their order).
  void note_cb_post() noexcept { cb_posts_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  enum class Phase { kInfo, kPong, kRunning };

  // ---- Connecting (core_connect.cc) ---------------------------------------------------
  void spawn(asio::awaitable<void> coroutine);  // on the I/O strand, keeping the Core alive
  asio::awaitable<void> initial_connect(std::function<void(const ErrorInfo&)> done);
  asio::awaitable<void> reconnect_loop();
  // One attempt: TCP connect, INFO, CONNECT+PING, PONG, within connect_timeout.
  // On success *out holds the transport and *info the server's INFO.
  asio::awaitable<ErrorInfo> attempt(ServerPool::EntryPtr server, TransportPtr* out, ServerInfo* info);
  // Reads and parses until the handshake step of phase_ is done (or fails).
  asio::awaitable<ErrorInfo> read_handshake_step(const TransportPtr& tr);
  // Upgrades tr to TLS (verified against its server's host), within the attempt's deadline.
  asio::awaitable<ErrorInfo> tls_handshake(const TransportPtr& tr);
  asio::ssl::context& tls_context();  // [io] built on first use unless the options built it
  // ws:// and wss://: sends the upgrade request and reads the server's 101 (websocket.h),
  // within the attempt's deadline. Frames that came with the 101 are left unframed in rbuf.
  asio::awaitable<ErrorInfo> websocket_upgrade(const TransportPtr& tr);
  // Unframes `n` bytes read into tr.rbuf in place: afterwards rbuf[0, *out) holds their
  // protocol bytes (the handshake's reads; the read loop parses frames' payloads in place).
  ErrorInfo unframe_in_place(Transport& tr, std::string_view frames, size_t* out);
  // An error of the first exchange over a new TLS connection (before any reply to
  // CONNECT): with TLS 1.3 that is where a server's refusal of our certificate shows.
  ErrorInfo refused_after_tls(const boost::system::error_code& ec, Transport& tr) const;
  void on_connected(const TransportPtr& tr, ServerInfo info, bool reconnect);  // [io]
  void on_transport_error(const TransportPtr& tr, const ErrorInfo& why);     // [io]
  asio::awaitable<void> read_loop(TransportPtr tr);
  template <class Stream>
  asio::awaitable<void> read_from(TransportPtr tr, Stream& stream);
  bool feed(const TransportPtr& tr, std::string_view data);  // false: stop reading
  bool feed_frames(const TransportPtr& tr, char* data, size_t n);  // feed() for WebSocket frames
  void start_ping_timer();
  void on_ping_timer();
  ErrorInfo io_error(const boost::system::error_code& ec, const Transport& tr) const;

  // ---- Writing ----------------------------------------------------------------------------
  // [mu] Makes sure a do_write() will look at out_: posts one unless a write is posted or
  // in flight already (so a publish posts nothing while the I/O thread keeps up). Inline:
  // every publish calls it.
  void kick_locked() {
    if (!write_pending_ && live_locked()) post_write_locked();
  }
  void post_write_locked();  // [mu] write_pending_ = true, and one do_write() posted
  // [mu] For a caller that now waits for the server's answer (request(), flush()), and for
  // the first publish of the handler of a delivery batch's last message (a reply: nothing
  // else of the batch waits to join its write): sends out_ from this thread, one
  // non-blocking send, when nothing is posted to or in flight on the I/O strand (out_ is
  // then everything not yet written, so the order holds), the transport is plain TCP
  // (direct_fd_) and out_ is at most kDirectWriteMax; else, and for what the socket does
  // not take at once, kicks the strand. It saves a round trip a wake-up of the I/O thread.
  // Not for every publish: a publisher that wrote each message itself would make a system
  // call per message while the I/O thread sat idle (docs/client.md).
  void write_now_locked();
  // [mu] Wakes the publishers waiting for out_ to drain, if any: condition_variable_any's
  // notify takes its own mutex, which every write batch would pay for nothing.
  void wake_publishers_locked() {
    if (out_waiters_ > 0) out_cv_.notify_all();
  }
  void do_write();     // [io]
  // [io] close(), once the last bytes are written: shuts our side down and reads (dropping
  // it) to the server's end, then closes. See lingering_.
  void linger(const TransportPtr& tr);
  // Rebuilds out_ keeping only the publishes (SUB/UNSUB/PING are replayed or obsolete).
  void keep_publishes_locked();

  // ---- Closing (core.cc) ------------------------------------------------------------------
  void begin_close();                                       // [io] flush what is buffered, then finalize
  void finalize_close(const ErrorInfo& why);                 // [io]
  bool live_locked() const noexcept {  // connected or draining (inline: every publish asks)
    return status_ == Status::kConnected || status_ == Status::kDrainingSubs || status_ == Status::kDrainingPubs;
  }
  void ensure_not_io_thread(const char* what) const;
  void wait_closed(std::optional<milliseconds> bound);
  void detach_owner();  // owner_ = nullptr, once no callback runs (any thread)

  // ---- Delivery (core_pubsub.cc) ----------------------------------------------------------
  // A message for a synchronous subscription: into its queue, for next_msg().
  void enqueue_sync(const std::shared_ptr<SubState>& s, Message&& m);  // [io]
  // A message for a callback subscription: copied into the delivery batch of this read.
  void deliver_async(const std::shared_ptr<SubState>& s, const proto::MsgArgs& a, uint64_t sid,
                     std::string_view payload);  // [io]
  // Hands the messages gathered during one read to the callback strand: appended to the
  // batch still waiting there when nothing else was posted after it, else one post.
  void flush_callback_batch();  // [io]
  void run_next_batch();             // [cb]
  void run_batch(DeliveryBatch& b);  // [cb]

  void register_pong(std::shared_ptr<PongWaiter> w, bool now);  // throws when closed; now: as publish()'s
  void append_sub_locked(std::string& buf, const SubState& s) const;
  void end_after_pending(const std::shared_ptr<SubState>& s, ErrorInfo why);  // [io]

  // ---- Requests (core_request.cc) ----------------------------------------------------------
  void ensure_reply_subscription_locked();
  std::shared_ptr<ReplyWaiter> register_request(Message& msg, std::function<void(const ErrorInfo&, Message)> done,
                                               bool now);
  void on_reply(Message& m);  // [io]
  void forget_request(const std::string& token);

  // ---- Drain (core_drain.cc) ---------------------------------------------------------------
  asio::awaitable<void> drain_flow(std::vector<std::shared_ptr<SubState>> subs, milliseconds timeout);
  asio::awaitable<ErrorInfo> ping_pong();  // [io] a flush awaited by a coroutine

  // ---- Events ----------------------------------------------------------------------------
  void post_event(std::function<void(Connection&)> fn);
  void post_async_error(std::shared_ptr<SubState> s, ErrorInfo e);

  // ---- ParserHandler (core_protocol.cc) [io] ---------------------------------------------
  bool on_info(std::string_view json) override;
  bool on_ping() override;
  bool on_pong() override;
  bool on_ok() override { return true; }
  bool on_err(std::string_view text) override;
  bool on_msg(const proto::MsgArgs& args, std::string_view payload) override;
  void apply_info_locked(const ServerInfo& info, bool* has_new);

  const ClientOptions opts_;
  // TLS with every server (a tls:// URL or TLS options), not only those requiring it.
  const bool tls_all_;
  // Built by the constructor when TLS options are given (a bad file fails there), else
  // on the first server that requires TLS. [io] after construction
  std::optional<asio::ssl::context> tls_ctx_;
  // The nkey user's key pair (ClientOptions::nkey_seed or nkey_seed_file), read once.
  std::optional<nkeys::KeyPair> nkey_;

  // Executors first: they outlive every I/O object below.
  std::unique_ptr<asio::io_context> own_io_, own_cb_;
  asio::io_context* io_ctx_;
  asio::io_context* cb_ctx_;
  Strand io_strand_;
  Strand cb_strand_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> io_work_, cb_work_;
  std::thread io_thread_, cb_thread_;
  std::mutex threads_mu_;
  std::condition_variable threads_cv_;
  bool io_thread_done_ = false;          // [threads_mu_]
  std::shared_ptr<Core> orphan_io_, orphan_cb_;  // [threads_mu_] see start()

  std::recursive_mutex owner_mu_;
  Connection* owner_ = nullptr;          // [owner_mu_]
  std::atomic<int> owner_waiters_{0};    // threads in detach_owner()
  std::atomic<bool> events_stopped_{false};  // the callback thread is ending: post nothing more

  // ---- Shared state [mu] -------------------------------------------------------------------
  // Every publish takes it: a futex word, not std::mutex (futex_mutex.h says why).
  mutable FutexMutex mu_;
  std::condition_variable_any state_cv_;  // status changes
  std::condition_variable_any out_cv_;    // out_ drained (backpressure); see wake_publishers_locked
  int out_waiters_ = 0;                  // publishers waiting in out_cv_
  Status status_ = Status::kDisconnected;
  bool closing_ = false;                 // close() called: flushing the last bytes
  bool lingering_ = false;               // [io] close(): our side shut down; reading to the server's end
  bool closed_done_ = false;             // kClosed and its events queued: close() may return
  bool connected_once_ = false;
  std::string out_;                      // operations not yet handed to the socket
  bool write_pending_ = false;           // a do_write() is posted or a write is in flight
  // The live transport's socket while it is plain TCP, for write_now_locked(); else -1.
  // Set to -1 under mu_ before that socket is shut down or closed (on_transport_error,
  // begin_close, finalize_close), and every send through it is made under mu_: so no send
  // reaches a closed descriptor, or one the number was reused for.
  int direct_fd_ = -1;
  uint64_t direct_writes_ = 0;
  ServerPool pool_;
  ServerInfo info_;
  ErrorInfo last_error_;
  ErrorInfo drain_error_;                // why a drain ended badly (timeout, lost)
  std::unordered_map<uint64_t, std::shared_ptr<SubState>> subs_;
  uint64_t next_sid_ = 1;
  std::deque<std::shared_ptr<PongWaiter>> pongs_;          // PINGs sent, FIFO (null: keepalive)
  std::vector<std::shared_ptr<PongWaiter>> deferred_pongs_;  // flushes while disconnected
  int pings_out_ = 0;
  // The shared reply subscription "<prefix>.<nuid>.*" and the requests waiting on it.
  std::shared_ptr<SubState> reply_sub_;
  std::string reply_prefix_;             // "<prefix>.<nuid>."
  std::unordered_map<std::string, std::shared_ptr<ReplyWaiter>> requests_;
  uint64_t next_token_ = 1;

  // ---- I/O strand only [io] ------------------------------------------------------------------
  TransportPtr tr_;                      // the live transport (null while not connected)
  TransportPtr attempt_tr_;              // the transport of a connect attempt in progress
  TransportPtr parsing_tr_;              // the transport whose bytes are being parsed
  // The subscription of the last MSG parsed; dropped at the end of each read (feed), so it
  // keeps an unsubscribed subscription alive no longer than the read that delivered to it.
  std::shared_ptr<SubState> hot_sub_;
  std::string wbuf_;                     // the write in flight
  std::string ws_head_, ws_tail_;        // WebSocket: the frames around wbuf_ in that write
  // Messages for callbacks gathered while parsing one read (one post per read, not per
  // message: the hot path of a subscriber), in a recycled batch (delivery_batch.h).
  std::unique_ptr<DeliveryBatch> cb_batch_;
  DeliveryBatchPool batch_pool_;         // any thread (its own lock)
  // Batches posted to the callback strand and not yet taken, oldest first; while the
  // callbacks lag, new messages join the last one (so at most a few batches exist and
  // they are recycled: no allocation per message even then). [handoff_mu_]
  std::mutex handoff_mu_;
  std::deque<std::unique_ptr<DeliveryBatch>> handoff_;
  uint64_t tail_seq_ = 0;                // cb_posts_ when handoff_.back() was posted [handoff_mu_]
  std::atomic<uint64_t> cb_posts_{0};
  bool writing_ = false;
  Phase phase_ = Phase::kInfo;
  std::string hs_info_;                  // handshake: INFO text
  std::string hs_err_;                   // handshake: -ERR text
  bool hs_step_done_ = false;
  asio::steady_timer ping_timer_;
  asio::steady_timer reconnect_timer_;
  asio::steady_timer close_timer_;
  asio::steady_timer drain_timer_;

  // ---- Statistics ------------------------------------------------------------------------------
  // Incoming: written by the I/O strand only (load+store, no locked increment). Outgoing:
  // under mu_, which publish() holds anyway.
  std::atomic<uint64_t> in_msgs_{0}, in_bytes_{0}, reconnects_{0};
  uint64_t out_msgs_ = 0, out_bytes_ = 0;  // [mu]
};

}  // namespace pylon::client
