#include "tls/channel.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <boost/asio/ssl/error.hpp>

#include <cerrno>
#include <stdexcept>

namespace pylon::tls {

// The BIO OpenSSL writes to: it appends to the channel's output queue, and always succeeds.
struct ChannelBio {
  static Channel* of(BIO* b) { return static_cast<Channel*>(BIO_get_data(b)); }

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
      BIO_meth_set_ctrl(bm, ctrl);
      BIO_meth_set_create(bm, create);
      return bm;
    }();
    return m;
  }
};

namespace {
// OpenSSL's record buffer when reading ahead: one recv takes up to this much ciphertext (the
// connection's largest read buffer).
constexpr size_t kReadAhead = 64 * 1024;
// A record's plaintext at most, and what sealing adds to it: the header, TLS 1.3's inner
// content type and the AEAD tag (TLS 1.2's explicit nonce in place of the content type).
constexpr size_t kMaxRecord = 16 * 1024;
constexpr size_t kRecordOverhead = 5 + 8 + 16;
}  // namespace

Channel::Channel(SSL_CTX* ctx, int fd, bool server) {
  ssl_ = SSL_new(ctx);
  BIO* in = ssl_ ? BIO_new_socket(fd, BIO_NOCLOSE) : nullptr;
  BIO* out = in ? BIO_new(ChannelBio::method()) : nullptr;
  if (out == nullptr) {
    BIO_free(in);
    SSL_free(ssl_);
    throw std::runtime_error("cannot create a TLS session");
  }
  BIO_set_data(out, this);
  SSL_set_bio(ssl_, in, out);  // the session owns both
  // Read ahead: one recv takes every record there is, not a header and then a body.
  // Release buffers: an idle connection holds no record buffers of OpenSSL's.
  // A peer that closes without close_notify has closed, as Go sees it (io.EOF).
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_default_read_buffer_len(ssl_, kReadAhead);
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
  SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
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
  return r == 1 ? Status::kDone : fail(r);
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

std::string& Channel::begin_send() noexcept {
  sending_.clear();
  sending_.swap(queued_);
  return sending_;
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
