// The connection core shared by every kind of connection (client, route): the socket,
// the adaptive read buffer, the outbound buffer with write coalescing, slow-consumer
// detection, and an orderly close. A kind (ClientConn, RouteConn) adds its protocol by
// overriding on_start / on_read / on_closed; the core knows nothing of subjects or routes.
//
// Threading: a connection is owned by one EventLoop; reads, timers and close run on that
// loop, and so do writes but one: other loops deliver messages into it with enqueue_*(),
// which append to the outbound buffer under `out_mu_` (a small lock held only for the
// append), then call flush_signal() once per read batch (via EventLoop::touch/flush_touched).
// For a plaintext client with no write in flight and a small batch, that producer loop sends
// the batch itself, under out_mu_ (write_directly: the wake-up of the owner's loop would cost
// more than the send); anything else is the owner's to write.
//
// Transport: the plain TCP socket, or TLS over it (a tls::Channel, chosen once per connection by
// start_tls: OpenSSL reads the socket and seals records into our output buffer; tls/channel.h).
// The two I/O sites (read_ready, start_write) branch once on `tls_`: the plaintext path pays
// one predictable branch, no virtual call and no allocation.
//
// WebSocket (attach_websocket, before start): one more layer between the transport and the
// protocol (src/server/websocket/session.h). Reads go through its upgrade, then its frame
// decoder, before on_read sees them; writes are framed when they leave out_pending_, so every
// enqueue path (delivery from any loop included) stays the same append. The branch on `ws_`
// sits next to the one on `tls_`.
//
// Lifecycle: created by the server on accept/dial -> start() on its loop -> reading ->
// close(reason) from any thread -> (pending output flushed when the reason allows) ->
// socket closed -> on_closed() on the loop -> the server drops its reference.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "server/core/close_reason.h"
#include "server/core/loop_timer.h"

typedef struct ssl_st SSL;

namespace pylon::tls {
class Channel;
}

namespace pylon::server {

class EventLoop;
class Server;
namespace tls {
using Channel = pylon::tls::Channel;  // src/tls/: the record layer, shared with the client library
class Context;
}
namespace websocket {
class Session;
struct Settings;
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Kind { kClient, kRoute, kLeaf };

  // `accepted_peer`: the address accept() gave for an accepted socket (accept_peer.h); null for
  // one we dialled, whose address the socket still knows.
  Connection(Server& server, EventLoop& loop, boost::asio::ip::tcp::socket socket, Kind kind, uint64_t cid,
             const boost::asio::ip::tcp::endpoint* accepted_peer = nullptr);
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Begins serving; posts to the owning loop.
  void start();

  Kind kind() const noexcept { return kind_; }
  uint64_t cid() const noexcept { return cid_; }
  EventLoop& loop() noexcept { return loop_; }
  Server& server() const noexcept { return server_; }
  const std::string& remote_ip() const noexcept { return remote_ip_; }
  int remote_port() const noexcept { return remote_port_; }
  // "127.0.0.1:54321 - cid:5" — the prefix of every log line about this connection.
  // "ip:port - cid:N" (or rid:N), and once a client's CONNECT named it, with its tag as the
  // reference logs it: `ip:port - cid:N - "v1.2.3:lang:name"`. Any thread: both strings live
  // as long as the connection, and the switch is one atomic pointer.
  const std::string& log_prefix() const noexcept {
    const std::string* tagged = tagged_prefix_.load(std::memory_order_acquire);
    return tagged ? *tagged : log_prefix_;
  }
  std::chrono::system_clock::time_point started_at() const noexcept { return started_at_; }

  // Appends protocol bytes to the outbound buffer. Thread-safe. Returns false when the
  // bytes were dropped (closed, or this append made the connection a slow consumer).
  // The caller then arranges a flush: loop().touch(this) from a loop thread, or flush_signal().
  bool enqueue(std::string_view bytes);
  // Appends with a writer callback (one lock, any number of pieces): fn(std::string& out).
  template <typename Fn>
  bool enqueue_with(size_t size_hint, Fn&& fn) {
    std::unique_lock lk(out_mu_);
    if (closing_.load(std::memory_order_relaxed)) return false;
    make_room_locked(size_hint);
    size_t before = out_pending_.size();
    fn(out_pending_);
    return account_appended_locked(lk, out_pending_.size() - before);
  }
  // Appends one message for the peer and counts it (out_msgs, out_bytes += payload_size), all
  // under the one lock: every writer of those counters and of pending_bytes_ holds out_mu_, so
  // a delivery pays no locked instruction beyond the lock itself (they were four). fn(out)
  // returns false to append nothing (e.g. an auto-unsubscribe limit it checked under the lock).
  template <typename Fn>
  bool enqueue_message(size_t size_hint, uint64_t payload_size, Fn&& fn) {
    std::unique_lock lk(out_mu_);
    if (closing_.load(std::memory_order_relaxed)) return false;
    make_room_locked(size_hint);
    size_t before = out_pending_.size();
    if (!fn(out_pending_)) return false;
    if (!account_appended_locked(lk, out_pending_.size() - before)) return false;
    bump_locked(out_msgs, 1);
    bump_locked(out_bytes, payload_size);
    return true;
  }
  // Ask the owning loop to write what is pending. Thread-safe; cheap when already asked.
  // From another thread, a small batch for a plaintext client may be sent right here
  // (write_directly), unless `direct` is false: EventLoop::flush_touched says so when its
  // batch touched several connections of this one's loop, for which one wake-up of that loop
  // costs less than their sends on the delivering loop.
  void flush_signal(bool direct = true);
  // Loop thread, at each ping tick (client, route, leaf): when nothing is queued or being
  // written, gives back the outbound buffers a busy spell left (a 64 KiB chunk kept as the
  // next tail). A busy connection keeps its chunk between writes; an idle one holds none,
  // so 100,000 subscribers that each once took a burst do not hold 6 GB for their lives.
  void release_idle_buffers();

  // Close from any thread. Idempotent: the first reason wins. When `flush` is true, pending
  // output (e.g. a final -ERR) is written first, bounded by the write deadline.
  void close(CloseReason reason, bool flush = true);
  bool closing() const noexcept { return closing_.load(std::memory_order_acquire); }
  CloseReason close_reason() const noexcept { return close_reason_; }

  // TLS, for monitoring (any thread): true once the handshake completed; then the version
  // ("1.3") and suite (Go's name) the reference's /connz shows. Empty before.
  bool tls_established() const noexcept { return tls_established_.load(std::memory_order_acquire); }
  std::string_view tls_version() const noexcept { return tls_established() ? tls_info_->version : std::string_view(); }
  std::string_view tls_cipher_suite() const noexcept { return tls_established() ? tls_info_->cipher : std::string_view(); }
  // The peer certificate's key (hex SHA-256 of its SubjectPublicKeyInfo, as pinned_certs
  // lists them); "" without one. For a reload that changes pinned_certs. Any thread.
  std::string_view tls_peer_key_id() const noexcept { return tls_established() ? tls_info_->key_id : std::string_view(); }

  // WebSocket: set before start (any thread may ask). The session itself is its loop's: the
  // upgrade's outcome (compression negotiated, a browser's user agent).
  bool is_websocket() const noexcept { return ws_ != nullptr; }
  const websocket::Session* websocket_session() const noexcept { return ws_.get(); }
  // Connection objects in memory in this process, open or closed: a closed one lives on while
  // anything still holds it (Lifetimes in docs/architecture.md), so a count that stays above
  // the open connections names a leak. Any thread.
  static int64_t in_memory() noexcept;
  // Buffers over 4 KiB that idle connections gave back (release_idle_buffers), whole process:
  // the memory bursts left behind, not held by connections that went quiet. Any thread.
  static uint64_t idle_buffers_released() noexcept;
  // Batches that a producer loop sent itself to a client of another loop (write_directly),
  // whole process. Any thread.
  static uint64_t direct_writes() noexcept;
  // The largest batch a producer loop sends itself: above it the owner's loop writes, so a
  // stream's writes stay spread over the loops (a request, a reply, a trickle fit under it).
  static constexpr size_t kDirectWriteMax = 16 * 1024;

  // Statistics (monitoring). in_*: written by this connection's loop only; out_*: written
  // under out_mu_ only (enqueue_message). So both are plain load+store, read relaxed by anyone.
  std::atomic<uint64_t> in_msgs{0}, in_bytes{0}, out_msgs{0}, out_bytes{0};
  size_t pending_bytes() const noexcept { return pending_bytes_.load(std::memory_order_relaxed); }

  // Write coalescing: the batch token of the last loop batch that touched us (EventLoop).
  std::atomic<uint64_t> touch_token_{0};

  // Fast-producer stall, as the reference: a receiver more than half full (max_pending/2)
  // is "stalled"; a client that just delivered to it pauses reading until the receiver has
  // drained below that mark, or for at most stall_duration(). So a healthy but briefly
  // slower subscriber is not cut off while a publisher floods it; one that stays behind
  // still reaches max_pending and is cut as a slow consumer.
  bool stalled() const noexcept;
  std::chrono::milliseconds stall_duration() const noexcept;
  // Any thread: `producer` wants to resume reading when we drain.
  void add_stall_waiter(const std::shared_ptr<Connection>& producer);

 protected:
  // On the loop, once, before the first read.
  virtual void on_start() = 0;
  // On the loop, for each chunk read. Return false to stop reading (connection closing).
  virtual bool on_read(std::string_view data) = 0;
  // On the loop, once, when closing begins (cancel timers here).
  virtual void on_closing() {}
  // On the loop, once, after the socket is closed.
  virtual void on_closed(CloseReason reason) = 0;

  // Which side of the TLS handshake we take.
  enum class TlsRole {
    kAccepted,  // we accepted the connection: the TLS server (clients, accepted routes)
    kDialled,   // we dialled it: the TLS client (solicited routes and leafs)
  };
  // Loop thread, once, from on_start (before the first read), or from on_read when the protocol
  // upgrades mid-stream (a dialled leaf after its hub's INFO: on_read then returns false, so
  // reading stops, and goes on over TLS once the handshake completed). Upgrades this connection to TLS
  // with `ctx` (held for the connection's life), as the reference's doTLSServerHandshake /
  // doTLSClientHandshake:
  //  - what is queued so far is written in plaintext first (a client's INFO, when it upgrades
  //    after INFO as 2.9 does); output queued after this call waits and goes out encrypted;
  //  - reading starts only once the handshake completed;
  //  - the handshake (and, as the TLS server, the wait for the peer's first byte) is bounded by
  //    ctx->options().timeout;
  //  - as the TLS server, a first byte that is not a TLS handshake record is plaintext from a
  //    client that ignored tls_required: it gets -ERR 'Secure Connection - TLS Required' in
  //    plaintext, and so does a peer that sent nothing until the timeout;
  //  - failure or timeout logs the reference's line ("TLS handshake error: ...", "TLS route
  //    handshake error: ...", "TLS leafnode handshake error: ...", "TLS handshake timeout") and
  //    closes this connection alone with
  //    kTlsHandshakeError; nothing else on the loop waits for a handshake;
  //  - success: on_tls_established(), then reading (and the queued output) go on.
  // As the TLS client, `server_name` is sent as SNI and the peer's certificate must name it
  // (host name or IP address), unless ctx's options say `insecure`.
  void start_tls(std::shared_ptr<const tls::Context> ctx, TlsRole role, std::string server_name = {});
  // On the loop, once, when the handshake completed (and the pinned-certificate check passed).
  virtual void on_tls_established() {}
  // Loop thread: the TLS session once established (its peer certificate, ...); else nullptr.
  SSL* tls_session() const noexcept;

  // Before start(), once: this connection speaks WebSocket (a client accepted on the websocket
  // listener). Its log prefix says "wid:" as the reference's; its protocol begins with
  // on_websocket_upgraded() instead of reading at once. Reads wait for a TLS handshake begun
  // in on_start (wss), then take the upgrade request, bounded by the settings' handshake_timeout.
  void attach_websocket(std::shared_ptr<const websocket::Settings> settings);
  // On the loop, once: the 101 is queued; the protocol may start (its INFO, timers).
  virtual void on_websocket_upgraded() {}

  // Time of the last byte read (for ping-timer decisions). Loop thread.
  std::chrono::steady_clock::time_point last_activity() const noexcept { return last_activity_; }
  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }
  // Loop thread, once per connection (later calls are ignored): log_prefix() becomes
  // `<prefix> - "<tag>"`, the tag quoted as Go's %q does.
  void set_log_tag(std::string_view tag);

 private:
  // Logs `what` and closes this connection alone (an exception from its protocol code).
  void close_on_exception(std::string_view what);
  bool account_appended_locked(std::unique_lock<std::mutex>& lk, size_t n);
  // out_mu_ held (or the only writer): a counter's increment without a locked instruction.
  static void bump_locked(std::atomic<uint64_t>& c, uint64_t n) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // out_mu_ held. Makes out_pending_ able to take `size_hint` more bytes without copying what
  // it holds: a tail that would outgrow a chunk is sealed into out_chunks_ and a pooled chunk
  // takes its place (outbound_chunks.h).
  void make_room_locked(size_t size_hint) {
    if (out_pending_.capacity() - out_pending_.size() >= size_hint) return;
    grow_locked(size_hint);
  }
  void grow_locked(size_t size_hint);
  // Loop thread: reading goes on. A read attempt is posted (read_ready), as Asio's
  // speculative read: the socket (or, with TLS, OpenSSL's record buffer) may hold data that
  // arrived while this connection did not wait for it (a stall, the start, a handshake).
  void do_read();
  // Loop thread: one non-blocking read into the loop's buffer (TLS: read_tls); waits for the
  // socket to become readable when there is nothing to read.
  void read_ready();
  // TLS (loop thread): decrypts what the socket and OpenSSL hold into `buf` (the loop's).
  void read_tls(char* buf);
  // Loop thread: waits until the socket is readable, then read_ready. Only after a read that
  // drained the socket (or found it empty): the reactor is edge-triggered, and on this loop's
  // thread no readiness can be lost between that read and the wait.
  void wait_readable();
  // Loop thread: what a read brought (`data`, `n`), or its error; then reading goes on.
  void on_read_done(const boost::system::error_code& ec, char* data, size_t n);
  // Loop thread: continue reading after a stall (idempotent).
  void resume_read();
  void notify_stall_waiters();
  void start_write();  // loop thread
  // A producer loop's thread (not ours), from flush_signal: sends what is pending when this is
  // a plaintext client (direct_write_ok_) with no write in flight, no chunks and at most
  // kDirectWriteMax pending, all under out_mu_. True when nothing is left for our loop: all
  // sent, or a write in flight that takes it when it completes. False: post start_write.
  bool write_directly();
  // Seals the next slice of tls_batch_ into the channel's output (close_notify after the
  // last, when asked). False on a fatal TLS error.
  bool seal_tls_slice();
  // Seals the next slice and sends it (on_write_done comes next); closes the connection on a
  // fatal TLS error. writing_ is set, the write deadline armed.
  void send_tls_slice();
  // Loop thread: the write deadline's timer; `delivered_before` is delivered() when armed.
  void arm_write_deadline(uint64_t delivered_before);
  // Loop thread: bytes the peer's TCP has acknowledged (routes' write deadline). Only ever
  // compared between two readings, so it needs no count of our own: right for TLS, whose
  // ciphertext the kernel sees, as for plaintext.
  uint64_t delivered();
  // TLS (loop thread): the handshake proper, once plaintext output is flushed; its steps.
  void begin_tls_handshake();
  void await_tls_first_byte();
  void run_tls_handshake();
  void on_tls_handshake(const boost::system::error_code& ec);
  // Logs the reference's line for `why` (empty: the handshake timed out) and closes.
  void fail_tls(std::string_view why, bool send_tls_required);
  void on_write_done(const boost::system::error_code& ec, size_t n);
  // WebSocket (loop thread): what was read, through the upgrade or the frame decoder. As
  // on_read, false stops reading.
  bool read_websocket(char* data, size_t n);
  void arm_websocket_handshake_timer();
  void finish_close();  // loop thread
  void close_in_loop(CloseReason reason, bool flush);

  Server& server_;
  EventLoop& loop_;
  boost::asio::ip::tcp::socket socket_;
  // TLS over socket_ once the handshake began; null for plaintext (loop thread).
  std::unique_ptr<tls::Channel> tls_;
  bool tls_more_ = false;  // loop thread: the last decrypt filled the read buffer (records may wait)
  enum class TlsState : uint8_t { kNone, kAwaitingFlush, kAwaitingFirstByte, kHandshaking, kEstablished, kFailed };
  TlsState tls_state_ = TlsState::kNone;  // loop thread
  TlsRole tls_role_ = TlsRole::kAccepted;
  std::atomic<bool> tls_established_{false};
  // What only a TLS connection has, behind one pointer (a plaintext one pays 8 bytes):
  // made by start_tls on the loop, never freed before the connection; version, cipher and
  // key_id are written once, before tls_established_ is set (release), so any thread that saw
  // it set may read them.
  struct TlsInfo {
    std::shared_ptr<const tls::Context> ctx;  // held for the connection's life (Lifetimes)
    std::string server_name;
    std::string version, cipher, key_id;
  };
  std::unique_ptr<TlsInfo> tls_info_;
  Kind kind_;
  uint64_t cid_;
  std::string remote_ip_;
  int remote_port_ = 0;
  std::string log_prefix_;
  std::string tagged_storage_;                            // written once, before it is published
  std::atomic<const std::string*> tagged_prefix_{nullptr};  // &tagged_storage_ once set
  std::chrono::system_clock::time_point started_at_;
  std::chrono::steady_clock::time_point last_activity_;

  // Reading (loop thread): every connection reads into its loop's buffer
  // (EventLoop::read_buffer) and holds none of its own; a TLS one's partial record waits in
  // OpenSSL's record buffer, which it releases when empty (tls/channel.h).

  // Outbound. Pending output is out_chunks_ then out_pending_ (the tail, which appends go
  // to), under out_mu_ (any thread appends). Chunks are sealed at about kChunkSize
  // (outbound_chunks.h), so growing never copies what is queued, however far a slow
  // subscriber lags: the reference's list of pooled buffers. A write takes all of it (loop
  // thread): out_writing_ alone when there was one chunk, else out_writing_chunks_ (one
  // writev; TLS seals them in order, WebSocket joins them into out_writing_ for its frame).
  std::mutex out_mu_;
  std::vector<std::string> out_chunks_;
  std::string out_pending_;
  std::string out_writing_;
  std::vector<std::string> out_writing_chunks_;  // loop thread, while a write is in flight
  std::vector<boost::asio::const_buffer> out_iov_;  // loop thread: the writev of out_writing_chunks_
  // The protocol's bytes in out_writing_ (pending_bytes_ counts those): its size, unless
  // WebSocket framing made out_writing_ the frames around them. Loop thread.
  size_t writing_counted_ = 0;
  // TLS: the write batch's plaintext, in wire order (views of out_writing_, the chunks and a
  // WebSocket frame's parts, which stay put until the batch completes), sealed at most
  // tls::Channel::kSealSlice at a time: one slice is sealed, sent, and only then the next
  // (seal_tls_slice, on_write_done). So the ciphertext buffer stays one slice, kept and warm,
  // however far a subscriber lags; sealing a 30 MB backlog at once had grown (zeroed, faulted
  // in, copied) a fresh 30 MB buffer per write, which made the loop slower the further it
  // fell behind. Loop thread.
  std::vector<std::string_view> tls_batch_;
  size_t tls_piece_ = 0, tls_piece_off_ = 0;
  size_t tls_slice_plain_ = 0;      // plaintext in the slice on the wire
  bool tls_close_after_ = false;    // close_notify after the batch's last slice
  // Under out_mu_: our loop took bytes out of the pending ones and its write of them has not
  // completed (start_write .. on_write_done). While set nothing else writes to the socket,
  // and the completion's start_write takes whatever was appended meanwhile.
  bool out_busy_ = false;
  // Set once on our loop after on_start, before any delivery can reach us (a client has no
  // subscription before it reads): a plaintext client, never TLS nor WebSocket, whose socket
  // is `direct_fd_`. Then write_directly may send on another loop's thread. Released by
  // store, read with acquire: direct_fd_ is written before it.
  std::atomic<bool> direct_write_ok_{false};
  int direct_fd_ = -1;
  // Pending + writing. Written under out_mu_ only (appends, and the write's completion), so
  // a plain load+store; read relaxed without the lock (stall and slow-consumer decisions).
  std::atomic<size_t> pending_bytes_{0};
  std::atomic<bool> flush_posted_{false};
  // Loop thread: the socket's write side is busy: a write, or the TLS handshake (which then
  // owns write_timer_ for its timeout).
  bool writing_ = false;
  LoopTimer write_timer_;

  std::atomic<bool> closing_{false};
  std::atomic<bool> close_posted_{false};
  CloseReason close_reason_ = CloseReason::kClientClosed;
  bool closed_ = false;       // loop thread: socket closed, on_closed called
  bool flush_on_close_ = false;
  bool reading_ = false;
  bool started_ = false;      // loop thread: start() ran (read by the destructor's check)

  // WebSocket: the layer (set before start, then loop thread only), a scratch buffer for
  // framing, and the upgrade's deadline; all null/empty for other connections.
  std::unique_ptr<websocket::Session> ws_;
  std::string ws_frames_;
  std::unique_ptr<LoopTimer> ws_timer_;

  // Producer side of a stall (loop thread), made at the first stall: most connections never
  // stall a producer.
  std::unique_ptr<LoopTimer> stall_timer_;
  bool read_paused_ = false;
  // Receiver side: producers waiting for us to drain (under out_mu_).
  std::vector<std::weak_ptr<Connection>> stall_waiters_;
};

}  // namespace pylon::server
