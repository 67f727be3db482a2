// The client's TLS stream: OpenSSL's record layer (tls::Channel, src/tls/) over the
// connection's own socket, shaped as an Asio stream (async_handshake, async_read_some,
// async_write_some) so that the connection's reads and writes are written once for plaintext
// and TLS (with_stream() in core.h).
//
// Why not Asio's ssl::stream (which the client used before): it reads at most one 16 KiB
// record per socket read and sends each record with its own write, copying the ciphertext
// through a BIO pair both ways. Here a read opens every whole record the socket holds (the
// channel reads up to 256 KiB a recv) until the caller's buffer is full or the socket says
// EAGAIN; a write seals up to kSealChunk of plaintext into records and sends them with one
// write.
//
// Ops in flight: at most one read (async_read_some) and one write (async_write_some) at a
// time, as with a socket, and all on the socket's strand. Both may need to send ciphertext
// (a read, a TLS 1.3 reply such as KeyUpdate's): one send is on the wire at a time (flushing_);
// a write that finds one in flight waits for it (flushed_), then sends what is left, so the
// records leave in the order they were sealed. The caller's handler keeps the stream alive
// until its op completes (the client's handlers hold the Transport).
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <array>
#include <cstddef>

#include "tls/channel.h"

namespace pylon::client {

class TlsStream {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using executor_type = Socket::executor_type;
  using error_code = boost::system::error_code;

  // Plaintext sealed per write: 8 records, sent with one write, in an output buffer the
  // channel keeps between writes (it gives back only larger ones).
  static constexpr size_t kSealChunk = tls::Channel::kSealSlice;

  // Sets `socket` non-blocking (OpenSSL reads it directly). Throws std::runtime_error when
  // OpenSSL cannot make the session.
  TlsStream(Socket& socket, SSL_CTX* ctx);

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  SSL* native_handle() const noexcept { return channel_.ssl(); }

  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code)>(HandshakeOp{this}, token, socket_);
  }

  // Completes with at least one byte, or with an error (asio::error::eof once the server has
  // closed, after every byte before the close was returned).
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    auto b = first_nonempty<boost::asio::mutable_buffer>(buffers);
    return boost::asio::async_compose<Token, void(error_code, size_t)>(ReadOp{this, b}, token, socket_);
  }

  // Seals up to kSealChunk bytes of `buffers` (of their first kGather buffers: a WebSocket
  // frame is header, payload and tail) and completes once their records are sent.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    WriteOp op{this};
    auto end = boost::asio::buffer_sequence_end(buffers);
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end && op.count < kGather; ++it) {
      boost::asio::const_buffer b(*it);
      if (b.size() > 0) op.bufs[op.count++] = b;
    }
    return boost::asio::async_compose<Token, void(error_code, size_t)>(std::move(op), token, socket_);
  }

 private:
  enum State { kStart, kFlushed, kWaited };

  template <class Buffer, class Buffers>
  static Buffer first_nonempty(const Buffers& buffers) {
    auto end = boost::asio::buffer_sequence_end(buffers);
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end; ++it) {
      Buffer b(*it);
      if (b.size() > 0) return b;
    }
    return Buffer();
  }

  // Sends the channel's output with one write; the op's handler runs end_flush() first.
  template <class Self>
  void flush(Self& self) {
    flushing_ = true;
    boost::asio::async_write(socket_, boost::asio::buffer(channel_.begin_send()), std::move(self));
  }
  void end_flush(const error_code& ec);
  bool can_flush() const noexcept { return !flushing_ && channel_.has_output(); }

  struct HandshakeOp {
    TlsStream* s;
    State state = kStart;
    error_code failed = {};  // a fatal handshake error, returned once its alert is sent
    template <class Self>
    void operator()(Self& self, error_code ec = {}, size_t = 0) {
      if (state == kFlushed) {
        s->end_flush(ec);
        if (failed) return self.complete(failed);
        if (ec) return self.complete(ec);
      } else if (state == kWaited && ec) {
        return self.complete(ec);
      }
      tls::Channel::Status st = s->channel_.handshake();
      if (st == tls::Channel::Status::kError || st == tls::Channel::Status::kClosed) {
        failed = st == tls::Channel::Status::kError ? s->channel_.error() : error_code(boost::asio::error::eof);
        if (!s->can_flush()) return self.complete(failed);
      }
      if (s->can_flush()) {
        state = kFlushed;
        return s->flush(self);
      }
      if (st == tls::Channel::Status::kDone) return self.complete(error_code());
      state = kWaited;
      s->socket_.async_wait(Socket::wait_read, std::move(self));
    }
  };

  struct ReadOp {
    TlsStream* s;
    boost::asio::mutable_buffer buf;
    State state = kStart;
    size_t got = 0;
    template <class Self>
    void operator()(Self& self, error_code ec = {}, size_t = 0) {
      if (state == kFlushed) {
        s->end_flush(ec);  // a failed send shows on the next read or write
      } else if (state == kWaited && ec) {
        return self.complete(ec, 0);
      }
      if (got == 0 && !s->read_error_ && buf.size() > 0) {
        tls::Channel::Status st = s->channel_.decrypt(static_cast<char*>(buf.data()), buf.size(), &got);
        if (st == tls::Channel::Status::kClosed) s->read_error_ = boost::asio::error::eof;
        if (st == tls::Channel::Status::kError) s->read_error_ = s->channel_.error();
      }
      if (s->can_flush()) {
        state = kFlushed;
        return s->flush(self);
      }
      if (got > 0 || buf.size() == 0) return self.complete(error_code(), got);
      if (s->read_error_) return self.complete(s->read_error_, 0);
      state = kWaited;
      s->socket_.async_wait(Socket::wait_read, std::move(self));
    }
  };

  static constexpr size_t kGather = 4;

  struct WriteOp {
    TlsStream* s;
    std::array<boost::asio::const_buffer, kGather> bufs{};
    size_t count = 0;
    State state = kStart;
    size_t sealed = 0;
    template <class Self>
    void operator()(Self& self, error_code ec = {}, size_t = 0) {
      if (state == kStart) {
        for (size_t i = 0; i < count && sealed < kSealChunk; ++i) {
          size_t n = std::min(bufs[i].size(), kSealChunk - sealed);
          if (!s->channel_.encrypt({static_cast<const char*>(bufs[i].data()), n})) {
            return self.complete(s->channel_.error(), 0);
          }
          sealed += n;
        }
      } else if (state == kFlushed) {
        s->end_flush(ec);
      }
      if (s->send_error_) return self.complete(s->send_error_, 0);
      if (s->flushing_) {  // the read's send; ours follows it
        state = kWaited;
        return s->flushed_.async_wait(std::move(self));
      }
      if (!s->channel_.has_output()) return self.complete(error_code(), sealed);
      state = kFlushed;
      s->flush(self);
    }
  };

  Socket& socket_;
  tls::Channel channel_;
  bool flushing_ = false;
  // Never expires: end_flush() cancels it, which wakes a write waiting for the send in flight.
  boost::asio::steady_timer flushed_;
  error_code read_error_;  // the end of the stream, returned after the plaintext before it
  error_code send_error_;  // the first failed send; every later write fails with it
};

}  // namespace pylon::client
