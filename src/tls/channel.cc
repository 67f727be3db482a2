#include "tls/channel.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <boost/asio/ssl/error.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pylon::tls {

namespace {
// A record's header: content type, version, length (big-endian).
constexpr size_t kRecordHeader = 5;
// One recv takes up to this much ciphertext: under a fast publisher the socket holds more than
// 64 KiB at every read, and each recv also costs an ACK and the kernel's per-call work (with
// 64 KiB, 0.034 recv calls per 1 KiB message; with this, 0.013: docs/performance.md,
// 2026-12-06 "TLS 1 KiB"). Held only while it holds a header or more (settle()).
constexpr size_t kReadSize = 256 * 1024;
// A record's plaintext at most, and what sealing adds to it: the header, TLS 1.3's inner
// content type and the AEAD tag (TLS 1.2's explicit nonce in place of the content type).
constexpr size_t kMaxRecord = 16 * 1024;
constexpr size_t kRecordOverhead = kRecordHeader + 8 + 16;
}  // namespace

// The channel's BIO, OpenSSL's only I/O. Reading, it hands OpenSSL the ciphertext the channel
// reads from the socket, never past the end of the record OpenSSL is reading (channel.h says
// why); writing, it appends to the channel's output queue, and always succeeds.
struct ChannelBio {
  static Channel* of(BIO* b) { return static_cast<Channel*>(BIO_get_data(b)); }

  static int read(BIO* b, char* out, size_t len, size_t* done) {
    BIO_clear_retry_flags(b);
    Channel* c = of(b);
    *done = 0;
    if (len == 0) return 0;
    for (;;) {
      size_t avail = c->in_end_ - c->in_begin_;
      if (c->record_left_ == 0 && avail >= kRecordHeader) {
        const auto* h = reinterpret_cast<const unsigned char*>(c->in_.get() + c->in_begin_);
        c->record_left_ = kRecordHeader + (size_t{h[3]} << 8 | h[4]);
      }
      // A header's first bytes are held back until it is whole (its length bounds what is
      // given), except at the end of the stream, where OpenSSL must see them to say so.
      if (avail > 0 && (c->record_left_ > 0 || c->eof_)) {
        size_t n = std::min(len, avail);
        if (c->record_left_ > 0) {
          n = std::min(n, c->record_left_);
          c->record_left_ -= n;
        }
        std::memcpy(out, c->in_.get() + c->in_begin_, n);
        c->in_begin_ += n;
        *done = n;
        return 1;
      }
      if (c->eof_) return 0;
      long r = c->fill();
      if (r > 0) continue;
      if (r == 0) {
        c->eof_ = true;
        continue;
      }
      if (r == Channel::kWouldBlock) BIO_set_retry_read(b);
      return 0;
    }
  }

  static int write(BIO* b, const char* in, size_t len, size_t* done) {
    BIO_clear_retry_flags(b);
    of(b)->queued_.append(in, len);
    *done = len;
    return 1;
  }

  static long ctrl(BIO* b, int cmd, long, void*) {
    switch (cmd) {
      case BIO_CTRL_FLUSH:
      case BIO_CTRL_DUP:
        return 1;
      case BIO_CTRL_EOF:  // OpenSSL asks after a read of nothing: the end, or "try again"
        return of(b)->eof_ ? 1 : 0;
      default:
        return 0;
    }
  }

  static int create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
  }

  static BIO_METHOD* method() {
    static BIO_METHOD* m = [] {
      BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pylon tls channel");
      if (bm == nullptr) throw std::runtime_error("BIO_meth_new failed");
      BIO_meth_set_write_ex(bm, write);
      BIO_meth_set_read_ex(bm, read);
      BIO_meth_set_ctrl(bm, ctrl);
      BIO_meth_set_create(bm, create);
      return bm;
    }();
    return m;
  }
};


Channel::Channel(SSL_CTX* ctx, int fd, bool server) : fd_(fd) {
  ssl_ = SSL_new(ctx);
  BIO* bio = ssl_ ? BIO_new(ChannelBio::method()) : nullptr;
  if (bio == nullptr) {
    SSL_free(ssl_);
    throw std::runtime_error("cannot create a TLS session");
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // the session owns it (one reference for both directions)
  // Read ahead: OpenSSL asks for a whole record in one BIO read, not a header and then a body
  // (the BIO gives no more than the record). Release buffers: an idle connection holds no
  // record buffers of OpenSSL's. A peer that closes without close_notify has closed, as Go
  // sees it (io.EOF).
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
  SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
}

long Channel::fill() {
  if (!in_) {
    in_ = std::make_unique_for_overwrite<char[]>(kReadSize);
    std::memcpy(in_.get(), head_, head_len_);
    in_begin_ = 0;
    in_end_ = head_len_;
    head_len_ = 0;
  } else if (in_begin_ == in_end_) {
    in_begin_ = in_end_ = 0;
  } else if (in_begin_ > 0) {
    // Only a header's first bytes are ever left over (the BIO gives the rest of a record as it
    // comes): move those few to the front.
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  // Until EAGAIN, never fewer calls: a recv that comes back short may have stopped at a FIN
  // (or before a reset) whose readiness epoll has already reported, so only EAGAIN or the end
  // tells the caller it may wait.
  ++socket_reads_;
  ssize_t r = ::recv(fd_, in_.get() + in_end_, kReadSize - in_end_, 0);
  if (r > 0) {
    in_end_ += static_cast<size_t>(r);
    return r;
  }
  if (r == 0) return 0;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return kWouldBlock;
  return kSocketError;
}

void Channel::settle() noexcept {
  if (in_ && in_end_ - in_begin_ < kRecordHeader) {
    // Anything short of a header is held back (ChannelBio::read): at most 4 bytes.
    head_len_ = in_end_ - in_begin_;
    std::memcpy(head_, in_.get() + in_begin_, head_len_);
    in_.reset();
    in_begin_ = in_end_ = 0;
  }
}

Channel::~Channel() { SSL_free(ssl_); }

Channel::Status Channel::fail(int ret) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return Status::kWantRead;
    case SSL_ERROR_ZERO_RETURN:
      return Status::kClosed;
    case SSL_ERROR_SSL:
      // As Asio's engine: the first error on the queue, in its ssl category.
      error_ = boost::system::error_code(static_cast<int>(ERR_get_error()), boost::asio::error::get_ssl_category());
      break;
    case SSL_ERROR_SYSCALL:
      // The socket failed (a reset); with nothing in errno, the stream ended mid-record.
      if (errno != 0) {
        error_ = boost::system::error_code(errno, boost::system::system_category());
      } else {
        error_ = boost::asio::ssl::error::stream_truncated;
      }
      break;
    default:
      error_ = boost::asio::ssl::error::stream_truncated;
      break;
  }
  ERR_clear_error();  // leave the thread's queue clean for the next session on this loop
  return Status::kError;
}

Channel::Status Channel::handshake() {
  ERR_clear_error();
  errno = 0;
  int r = SSL_do_handshake(ssl_);
  Status s = r == 1 ? Status::kDone : fail(r);
  settle();
  return s;
}

Channel::Status Channel::decrypt(char* plain, size_t cap, size_t* n) {
  ERR_clear_error();
  size_t total = 0;
  for (;;) {
    if (total == cap) {
      *n = total;
      return Status::kFull;
    }
    size_t got = 0;
    errno = 0;
    int r = SSL_read_ex(ssl_, plain + total, cap - total, &got);
    if (r == 1) {
      total += got;
      continue;
    }
    *n = total;
    Status s = fail(r);
    settle();
    return s == Status::kWantRead ? Status::kDone : s;
  }
}

void Channel::reserve(size_t plain, size_t pieces) {
  queued_.reserve(queued_.size() + plain + (plain / kMaxRecord + pieces) * kRecordOverhead);
}

bool Channel::encrypt(std::string_view plain) {
  ERR_clear_error();
  while (!plain.empty()) {
    size_t done = 0;
    int r = SSL_write_ex(ssl_, plain.data(), plain.size(), &done);
    if (r != 1) {
      if (fail(r) != Status::kError) error_ = boost::asio::ssl::error::stream_truncated;
      return false;
    }
    plain.remove_prefix(done);
  }
  return true;
}

void Channel::close_notify() {
  if (close_notify_sent_) return;
  close_notify_sent_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::atomic<size_t> Channel::largest_send_{0};

std::string& Channel::begin_send() noexcept {
  sending_.clear();
  sending_.swap(queued_);
  // One relaxed load a send; a compare-exchange only when a send is larger than any before.
  size_t seen = largest_send_.load(std::memory_order_relaxed);
  while (sending_.size() > seen && !largest_send_.compare_exchange_weak(seen, sending_.size(), std::memory_order_relaxed)) {
  }
  return sending_;
}

size_t Channel::release_idle() noexcept {
  constexpr size_t kKeep = 4 * 1024;  // what an idle connection may keep (a PING's record)
  size_t released = 0;
  for (std::string* buf : {&queued_, &sending_}) {
    if (buf->empty() && buf->capacity() > kKeep) {
      std::string().swap(*buf);
      ++released;
    }
  }
  return released;
}

void Channel::sent() noexcept {
  // A burst's buffer is not kept by an idle connection.
  if (sending_.capacity() > 256 * 1024) {
    std::string().swap(sending_);
  } else {
    sending_.clear();
  }
}

}  // namespace pylon::tls
