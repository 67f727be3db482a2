// TLS for one server connection, with the bytes in our hands: OpenSSL does the record layer
// and the handshake; the connection does every socket read and write itself, through the same
// event loop and the same calls as plaintext.
//
// Why not Asio's ssl::stream (which the server used before): it reads at most one 17 KiB
// record per socket read and goes once round the event loop per record, copying the
// ciphertext through a BIO pair both ways. Under a fast publisher that is a recv and an
// epoll_wait per 16 KiB, where nats-server (Go's crypto/tls) reads what is there.
//
// Here, reading: OpenSSL reads the (non-blocking) socket itself, read-ahead into a 64 KiB
// record buffer, so the ciphertext is copied once, by the kernel; decrypt() opens every whole
// record there is until the socket says EAGAIN. Only then does the connection wait for the
// socket to become readable: with Asio's edge-triggered epoll, a wait begun after EAGAIN in
// the same handler cannot miss data. Writing: encrypt() seals a whole write batch into one
// buffer of ours (a BIO that appends), which the connection sends with one write.
//
// Threading: like the socket, a Channel belongs to its connection's loop and is used only
// there (docs/architecture.md, "TLS").
#pragma once

#include <openssl/ssl.h>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace pylon::tls {

class Channel {
 public:
  // `fd`: the connection's socket, in non-blocking mode; the channel reads it, never closes it.
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
  // Seals `plain` into records appended to output(). False (error() set) on a fatal error.
  bool encrypt(std::string_view plain);
  // Makes room in the output for sealing `plain` bytes given to encrypt in `pieces` calls, so
  // a batch of many pieces is sealed without regrowing the buffer (each doubling copies what
  // it holds: a batch of megabytes was copied about twice over).
  void reserve(size_t plain, size_t pieces);
  // Queues close_notify (once).
  void close_notify();

  const boost::system::error_code& error() const noexcept { return error_; }

  // Ciphertext out: what to send. The caller sends output() whole, then calls sent(); output
  // queued meanwhile (by decrypt) goes to a second buffer, so the one being sent never moves.
  bool has_output() const noexcept { return !queued_.empty(); }
  std::string& begin_send() noexcept;
  void sent() noexcept;

 private:
  friend struct ChannelBio;
  Status fail(int ret);

  SSL* ssl_ = nullptr;
  // Ciphertext to send: queued_ fills; sending_ is on the wire (swapped in begin_send).
  std::string queued_, sending_;
  bool close_notify_sent_ = false;
  boost::system::error_code error_;
};

}  // namespace pylon::tls
