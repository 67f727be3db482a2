// tls::Channel over a socketpair: the read path that hands OpenSSL one record at a time from
// the channel's own buffer (src/tls/channel.h), on records split at any byte, many records in
// one recv, and the end of the stream.
#include "tls/channel.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "../common/test_certs.h"

namespace pylon::tls {
namespace {

using Status = Channel::Status;

struct CtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using Ctx = std::unique_ptr<SSL_CTX, CtxDeleter>;

Ctx server_ctx() {
  const auto& certs = pylon::testing::test_certs();
  Ctx ctx(SSL_CTX_new(TLS_server_method()));
  EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx.get(), certs.server_cert().c_str()), 1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx.get(), certs.server_key().c_str(), SSL_FILETYPE_PEM), 1);
  return ctx;
}

Ctx client_ctx() {
  Ctx ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

// Writes what the channel has sealed to `fd`, `piece` bytes a write (0: all at once), calling
// `between` after each piece.
template <class F>
void send_output(Channel& ch, int fd, size_t piece, F between) {
  if (!ch.has_output()) return;
  std::string& out = ch.begin_send();
  size_t off = 0;
  while (off < out.size()) {
    size_t n = piece == 0 ? out.size() - off : std::min(piece, out.size() - off);
    ssize_t w = ::write(fd, out.data() + off, n);
    ASSERT_GT(w, 0) << "write: " << errno;
    off += static_cast<size_t>(w);
    between();
  }
  ch.sent();
}
void send_output(Channel& ch, int fd) {
  send_output(ch, fd, 0, [] {});
}

class TlsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    server_fd_ = fds[0];
    client_fd_ = fds[1];
    for (int fd : fds) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    sctx_ = server_ctx();
    cctx_ = client_ctx();
    server_ = std::make_unique<Channel>(sctx_.get(), server_fd_, true);
    client_ = std::make_unique<Channel>(cctx_.get(), client_fd_, false);
    Status s = Status::kWantRead, c = Status::kWantRead;
    for (int i = 0; i < 20 && (s != Status::kDone || c != Status::kDone); ++i) {
      c = client_->handshake();
      send_output(*client_, client_fd_);
      s = server_->handshake();
      send_output(*server_, server_fd_);
    }
    ASSERT_EQ(c, Status::kDone);
    ASSERT_EQ(s, Status::kDone);
    // TLS 1.3's session tickets, which the client takes on its first read.
    char buf[64];
    size_t n = 0;
    ASSERT_EQ(client_->decrypt(buf, sizeof buf, &n), Status::kDone);
    ASSERT_EQ(n, 0u);
  }
  void TearDown() override {
    server_.reset();
    client_.reset();
    if (server_fd_ >= 0) ::close(server_fd_);
    if (client_fd_ >= 0) ::close(client_fd_);
  }

  // Decrypts what the server's socket holds, appending it to `got`.
  Status drain_server(std::string& got) {
    std::string buf(128 * 1024, '\0');
    for (;;) {
      size_t n = 0;
      Status st = server_->decrypt(buf.data(), buf.size(), &n);
      got.append(buf.data(), n);
      if (st != Status::kFull) return st;
    }
  }

  static std::string message(size_t i, size_t size) {
    std::string m(size, static_cast<char>('a' + i % 26));
    m.replace(0, std::to_string(i).size(), std::to_string(i));
    return m;
  }

  int server_fd_ = -1, client_fd_ = -1;
  Ctx sctx_, cctx_;
  std::unique_ptr<Channel> server_, client_;
};

TEST_F(TlsChannelTest, OneRecvTakesAHundredRecordsOfOneKiB) {
  // 100 records of 1 KiB (one per encrypt, 102 KiB of ciphertext), sent with one write: one
  // recv takes them all (OpenSSL's own read-ahead took 64 KiB), and a second says EAGAIN.
  std::string sent;
  for (size_t i = 0; i < 100; ++i) {
    std::string m = message(i, 1024);
    ASSERT_TRUE(client_->encrypt(m));
    sent += m;
  }
  send_output(*client_, client_fd_);
  uint64_t reads_before = server_->socket_reads();
  std::string got;
  ASSERT_EQ(drain_server(got), Status::kDone);
  EXPECT_EQ(got, sent);
  EXPECT_EQ(server_->socket_reads() - reads_before, 2u);
  EXPECT_EQ(server_->buffered(), 0u);
}

TEST_F(TlsChannelTest, RecordsSplitAtAnyByteComeOutWhole) {
  // Records of several sizes, their ciphertext written in pieces of 1 to 7 bytes with a
  // decrypt after each: headers arrive in parts, bodies in many.
  std::string sent;
  for (size_t size : {1u, 100u, 5u, 16384u, 3000u, 0u, 17000u}) {
    std::string m = message(size, size);
    if (!m.empty()) {
      ASSERT_TRUE(client_->encrypt(m));
    }
    sent += m;
  }
  std::string got;
  size_t piece = 1;
  Status last = Status::kDone;
  ASSERT_TRUE(client_->has_output());
  std::string& out = client_->begin_send();
  for (size_t off = 0; off < out.size();) {
    size_t n = std::min(piece, out.size() - off);
    ASSERT_EQ(::write(client_fd_, out.data() + off, n), static_cast<ssize_t>(n));
    off += n;
    piece = piece % 7 + 1;
    last = drain_server(got);
    ASSERT_EQ(last, Status::kDone);
    // At most a header's first bytes wait in the channel; the rest went to OpenSSL.
    EXPECT_LT(server_->buffered(), 5u);
  }
  client_->sent();
  EXPECT_EQ(got, sent);
}

TEST_F(TlsChannelTest, EndOfStreamMidRecordIsAClose) {
  // The peer closes (no close_notify) after one whole record and half of the next: the whole
  // one is read, then the end is a close, as Go's io.EOF (SSL_OP_IGNORE_UNEXPECTED_EOF).
  ASSERT_TRUE(client_->encrypt(message(1, 2000)));
  ASSERT_TRUE(client_->encrypt(message(2, 2000)));
  std::string& out = client_->begin_send();
  size_t half = out.size() - 1000;
  ASSERT_EQ(::write(client_fd_, out.data(), half), static_cast<ssize_t>(half));
  client_->sent();
  ASSERT_EQ(::shutdown(client_fd_, SHUT_WR), 0);
  std::string got;
  EXPECT_EQ(drain_server(got), Status::kClosed);
  EXPECT_EQ(got, message(1, 2000));
}

TEST_F(TlsChannelTest, CloseNotifyAfterDataIsAClose) {
  ASSERT_TRUE(client_->encrypt(message(7, 500)));
  client_->close_notify();
  send_output(*client_, client_fd_);
  std::string got;
  EXPECT_EQ(drain_server(got), Status::kClosed);
  EXPECT_EQ(got, message(7, 500));
}

TEST_F(TlsChannelTest, AnIdleChannelGivesBackTheOutputBuffersOfABurst) {
  // A burst of 100 KiB sealed and sent, then a small batch: the burst's buffer is kept for
  // the next batch (sent() keeps up to 256 KiB) until release_idle(), after which the
  // channel holds at most a few KiB, and seals and sends as before.
  auto client_reads = [&](size_t want) {
    std::string got, buf(128 * 1024, '\0');
    for (int i = 0; i < 1000 && got.size() < want; ++i) {
      size_t n = 0;
      Status st = client_->decrypt(buf.data(), buf.size(), &n);
      got.append(buf.data(), n);
      EXPECT_TRUE(st == Status::kDone || st == Status::kFull);
    }
    return got;
  };
  std::string burst;
  for (size_t i = 0; i < 100; ++i) burst += message(i, 1024);
  ASSERT_TRUE(server_->encrypt(burst));
  send_output(*server_, server_fd_);
  ASSERT_EQ(client_reads(burst.size()), burst);
  ASSERT_TRUE(server_->encrypt("PING\r\n"));
  send_output(*server_, server_fd_);
  ASSERT_EQ(client_reads(6), "PING\r\n");
  ASSERT_GE(server_->output_capacity(), burst.size()) << "the burst's buffer is kept while busy";

  EXPECT_GE(server_->release_idle(), 1u);
  EXPECT_LE(server_->output_capacity(), 8u * 1024);
  EXPECT_EQ(server_->release_idle(), 0u) << "nothing left to give back";

  std::string after = message(42, 3000);
  ASSERT_TRUE(server_->encrypt(after));
  send_output(*server_, server_fd_);
  EXPECT_EQ(client_reads(after.size()), after);
}

}  // namespace
}  // namespace pylon::tls
