// The server's TLS writer (Connection::start_write, seal_tls_slice): a subscriber far behind
// is written a slice at a time, so the ciphertext buffer stays one slice however much is
// queued, and every message still arrives whole and in order. Before, a write sealed its
// whole batch at once: a 30 MB backlog became a fresh 30 MB buffer (zeroed, faulted in,
// copied) per write, and the loop got slower the further its subscriber lagged: the TLS
// cross-node benchmark's slow-consumer cuts (docs/performance.md).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "../common/test_certs.h"
#include "pylon/server.h"
#include "tls/channel.h"

namespace {

using Clock = std::chrono::steady_clock;
using pylon::tls::Channel;

// A raw NATS client over TLS, as the reference's 2.9 clients: INFO in plaintext, then the
// handshake (tls::Channel as the client), then the protocol sealed. It reads only when asked,
// through a small receive buffer, so what the server sends waits in the server.
class TlsRawClient {
 public:
  TlsRawClient(int port, int rcvbuf) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    // The INFO line, in plaintext, byte by byte so that nothing of the handshake is taken.
    auto end = Clock::now() + std::chrono::seconds(10);
    while (info_.find("\r\n") == std::string::npos && Clock::now() < end) {
      char c;
      ssize_t n = ::recv(fd_, &c, 1, 0);
      if (n == 1) {
        info_.push_back(c);
      } else if (n == 0) {
        return;
      } else {
        wait(POLLIN);
      }
    }
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ch_ = std::make_unique<Channel>(ctx_, fd_, false);
    while (Clock::now() < end) {
      Channel::Status st = ch_->handshake();
      if (!flush()) return;
      if (st == Channel::Status::kDone) {
        ready_ = true;
        return;
      }
      if (st != Channel::Status::kWantRead) return;
      wait(POLLIN);
    }
  }
  ~TlsRawClient() {
    ch_.reset();
    if (ctx_) SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  bool ready() const { return ready_; }
  const std::string& info() const { return info_; }

  bool send(const std::string& s) { return ch_->encrypt(s) && flush(); }

  // Reads and decrypts until `want` has arrived (true), the stream ends or the deadline passes.
  bool read_until(const std::string& want, std::chrono::seconds deadline = std::chrono::seconds(10)) {
    auto end = Clock::now() + deadline;
    std::string buf(64 * 1024, '\0');
    while (got_.find(want, scanned_) == std::string::npos) {
      if (Clock::now() >= end) return false;
      size_t n = 0;
      Channel::Status st = ch_->decrypt(buf.data(), buf.size(), &n);
      if (got_.size() > want.size()) scanned_ = got_.size() - want.size();
      got_.append(buf.data(), n);
      if (!flush()) return false;
      if (st == Channel::Status::kClosed || st == Channel::Status::kError) return got_.find(want, scanned_) != std::string::npos;
      if (st == Channel::Status::kDone && n == 0) wait(POLLIN);
    }
    return true;
  }
  const std::string& got() const { return got_; }

 private:
  void wait(short events) {
    pollfd p{fd_, events, 0};
    ::poll(&p, 1, 100);
  }
  bool flush() {
    if (!ch_->has_output()) return true;
    std::string& out = ch_->begin_send();
    size_t off = 0;
    auto end = Clock::now() + std::chrono::seconds(10);
    while (off < out.size()) {
      ssize_t n = ::send(fd_, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else if (Clock::now() >= end || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        return false;
      } else {
        wait(POLLOUT);
      }
    }
    ch_->sent();
    return true;
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  std::unique_ptr<Channel> ch_;
  std::string info_, got_;
  size_t scanned_ = 0;
  bool ready_ = false;
};

TEST(TlsWriter, ASubscriberFarBehindIsWrittenASliceAtATimeAndGetsEveryMessageInOrder) {
  const auto& certs = pylon::testing::test_certs();
  pylon::Options o;
  o.host = "127.0.0.1";
  o.port = -1;
  o.event_loops = 2;
  o.tls.enabled = true;
  o.tls.cert_file = certs.server_cert();
  o.tls.key_file = certs.server_key();
  pylon::Server server(o);
  server.start();

  // The subscriber publishes its own backlog: 16 MB of 1 KiB messages, which the server
  // reads at once (a connection is never stalled by itself) and queues for it, while its
  // small receive buffer lets only a little go at a time.
  constexpr int kMsgs = 16 * 1024;
  constexpr size_t kSize = 1024;
  TlsRawClient sub(server.port(), 8 * 1024);
  ASSERT_TRUE(sub.ready()) << "TLS handshake; INFO was: " << sub.info();
  ASSERT_NE(sub.info().find("\"tls_required\":true"), std::string::npos) << sub.info();
  ASSERT_TRUE(sub.send("CONNECT {\"verbose\":false}\r\nSUB lag 1\r\nPING\r\n"));
  ASSERT_TRUE(sub.read_until("PONG\r\n"));
  std::string batch;
  for (int i = 0; i < kMsgs; ++i) {
    std::string payload = std::to_string(i);
    payload.resize(kSize, '.');
    batch += "PUB lag " + std::to_string(kSize) + "\r\n" + payload + "\r\n";
    if (batch.size() >= 60 * 1024) {  // the client's own sends stay under the bound below
      ASSERT_TRUE(sub.send(batch));
      batch.clear();
    }
  }
  ASSERT_TRUE(sub.send(batch + "PUB lag 3\r\nend\r\nPING\r\n"));

  // Every message, whole and in order, then the PONG after them.
  ASSERT_TRUE(sub.read_until("MSG lag 1 3\r\nend\r\nPONG\r\n", std::chrono::seconds(60)));
  const std::string& got = sub.got();
  size_t at = got.find("MSG lag 1 1024\r\n");
  for (int i = 0; i < kMsgs; ++i) {
    ASSERT_EQ(got.compare(at, 16, "MSG lag 1 1024\r\n"), 0) << "message " << i;
    std::string payload = std::to_string(i);
    payload.resize(kSize, '.');
    ASSERT_EQ(got.compare(at + 16, kSize + 2, payload + "\r\n"), 0) << "message " << i;
    at += 16 + kSize + 2;
  }

  // The 16 MB went out in sends of one slice of records each: the writer never sealed more
  // than kSealSlice of plaintext at once (each record adds its header and tag).
  const size_t bound = Channel::kSealSlice + (Channel::kSealSlice / 16384 + 8) * 64;
  EXPECT_LE(Channel::largest_send(), bound) << "a send of the whole backlog at once";
  EXPECT_GT(Channel::largest_send(), Channel::kSealSlice / 2) << "the backlog went out in full slices";
  server.shutdown();
}

}  // namespace
