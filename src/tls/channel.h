// TLS for one connection, with the bytes in our hands: OpenSSL does the record layer and the
// handshake; the connection does every socket read and write itself, through the same event
// loop and the same calls as plaintext.
//
// Why not Asio's ssl::stream (which the server used before): it reads at most one 17 KiB
// record per socket read and goes once round the event loop per record, copying the
// ciphertext through a BIO pair both ways. Under a fast publisher that is a recv and an
// epoll_wait per 16 KiB, where nats-server (Go's crypto/tls) reads what is there.
//
// Reading: the channel's BIO reads the (non-blocking) socket into a buffer of its own, up to
// 256 KiB a recv, and hands OpenSSL one record at a time from it; decrypt() opens every whole
// record there is until the socket says EAGAIN. Only then does the connection wait for the
// socket to become readable: with Asio's edge-triggered epoll, a wait begun after EAGAIN in the
// same handler cannot miss data. Why one record at a time: OpenSSL 3.0's record layer, reading
// ahead, moves every byte that follows a record in its buffer to the buffer's front before it
// opens the next record (ssl3_read_n's payload alignment), so a 64 KiB read-ahead of 16 KiB
// records moved 1.5 bytes per byte received, and a larger one, or smaller records, more
// (quadratic in records per read). Given one record, OpenSSL's buffer is empty after it and
// nothing moves; the price is one memcpy of the record, and it is what lets a recv be large
// (docs/performance.md, 2026-12-06 "TLS 1 KiB").
//
// Writing: encrypt() seals a whole write batch into one buffer of ours (the same BIO appends),
// which the connection sends with one write.
//
// Threading: like the socket, a Channel belongs to its connection's loop (or the client's I/O
// strand) and is used only there (docs/architecture.md, "TLS").
#pragma once

#include <openssl/ssl.h>

#include <boost/system/error_code.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace pylon::tls {

class Channel {
 public:
  // `fd`: the connection's socket, in non-blocking mode; the channel reads it, never closes it.
  // No bytes may have been read from it yet but by MSG_PEEK.
  // Throws std::runtime_error when OpenSSL cannot make the session (out of memory).
  Channel(SSL_CTX* ctx, int fd, bool server);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  SSL* ssl() const noexcept { return ssl_; }

  enum class Status {
    kDone,      // handshake complete / decrypt: the socket is drained (EAGAIN)
    kFull,      // decrypt: `plain` is full; more may be waiting (call again without waiting)
    kWantRead,  // handshake: more ciphertext needed (the socket said EAGAIN)
    kClosed,    // the peer sent close_notify
    kError,     // fatal; error() says why (Asio's ssl category, as ssl::stream reported it)
  };

  // One step of the handshake with what the socket has. Its output (and a fatal alert's)
  // waits in the output queue.
  Status handshake();
  // Reads and decrypts into `plain` (`cap` bytes); `*n` gets the count. kDone when the socket
  // is drained (also with *n == 0: part of a record, or nothing), kFull when `plain` filled up
  // first. With kClosed or kError, `*n` may still count plaintext that came
  // before: the caller takes it, then closes. May queue output (TLS 1.3 post-handshake messages).
  Status decrypt(char* plain, size_t cap, size_t* n);
  // Plaintext sealed per send by a writer with much queued (the server's connections, the
  // client's stream): 8 full records. The output a slice needs stays under the 256 KiB that
  // sent() keeps, so a busy writer reuses one warm buffer.
  static constexpr size_t kSealSlice = 128 * 1024;

  // Seals `plain` into records appended to output(). False (error() set) on a fatal error.
  bool encrypt(std::string_view plain);
  // Makes room in the output for sealing `plain` bytes given to encrypt in `pieces` calls, so
  // a batch of many pieces is sealed without regrowing the buffer (each doubling copies what
  // it holds: a batch of megabytes was copied about twice over).
  void reserve(size_t plain, size_t pieces);
  // Queues close_notify (once).
  void close_notify();

  const boost::system::error_code& error() const noexcept { return error_; }

  // recv calls made on the socket so far (tests: how much one recv takes).
  uint64_t socket_reads() const noexcept { return socket_reads_; }
  // Bytes of ciphertext read and not yet given to OpenSSL: after decrypt() returned kDone, at
  // most a record header's first 4 bytes (the rest of a partial record waits in OpenSSL).
  size_t buffered() const noexcept { return in_end_ - in_begin_ + head_len_; }

  // Ciphertext out: what to send. The caller sends output() whole, then calls sent(); output
  // queued meanwhile (by decrypt) goes to a second buffer, so the one being sent never moves.
  bool has_output() const noexcept { return !queued_.empty(); }
  std::string& begin_send() noexcept;
  void sent() noexcept;
  // Between sends (nothing on the wire): frees the output buffers a burst grew (up to 256 KiB
  // each are kept while busy), when nothing is queued in them; returns how many went. For
  // the connection's idle release at its ping tick (Connection::release_idle_buffers).
  size_t release_idle() noexcept;
  // The output buffers' capacity, in bytes (tests, monitoring).
  size_t output_capacity() const noexcept { return queued_.capacity() + sending_.capacity(); }
  // The most ciphertext any channel of this process has handed to one send (begin_send):
  // what a writer that seals kSealSlice at a time keeps below kSealSlice plus the records'
  // overhead, however much it has queued. Tests.
  static size_t largest_send() noexcept { return largest_send_.load(std::memory_order_relaxed); }

 private:
  friend struct ChannelBio;
  Status fail(int ret);
  // Reads the socket into in_ after what is there (one recv). > 0: bytes added; 0: end of
  // stream; kWouldBlock (EAGAIN); kSocketError (errno says why).
  long fill();
  // Gives back in_ once it holds nothing but a header's first bytes, so an idle connection
  // holds no read buffer.
  void settle() noexcept;
  static constexpr long kWouldBlock = -1;
  static constexpr long kSocketError = -2;

  static std::atomic<size_t> largest_send_;

  int fd_;

  SSL* ssl_ = nullptr;
  // Ciphertext to send: queued_ fills; sending_ is on the wire (swapped in begin_send).
  std::string queued_, sending_;
  // Ciphertext read, not yet given to OpenSSL: in_[in_begin_, in_end_), allocated on a read
  // and freed by settle(). record_left_: bytes of the record at in_begin_ that OpenSSL has not
  // taken (0 at a record boundary, where the next header is read).
  std::unique_ptr<char[]> in_;
  size_t in_begin_ = 0, in_end_ = 0, record_left_ = 0;
  // A header's first bytes, kept here by settle() so that a peer that stops mid-header pins
  // 4 bytes, not the read buffer; fill() puts them back in front.
  unsigned char head_[4] = {};
  size_t head_len_ = 0;
  bool eof_ = false;
  uint64_t socket_reads_ = 0;
  bool close_notify_sent_ = false;
  boost::system::error_code error_;
};

}  // namespace pylon::tls
