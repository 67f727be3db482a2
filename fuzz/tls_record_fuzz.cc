// tls::Channel (src/tls/channel.*): our own record framing in front of OpenSSL. The channel
// reads the socket itself and hands OpenSSL one record at a time, splitting by the length in
// each record's header: bytes a peer controls from its first packet, before any handshake.
// The first byte picks the mode:
//  - handshake (0): the rest is all a peer sends to a TLS server from connect, then it closes:
//    the server's channel must end in an error or a close, never hang, crash or hand out
//    plaintext;
//  - records (1): after a real handshake, the rest arrives as raw bytes where records belong
//    (headers of any length, cut anywhere): whatever the framing makes of them, OpenSSL's
//    authentication must reject them, so the server decrypts no plaintext at all and ends in an
//    error or a close;
//  - round trip (2): after a real handshake, the client seals the rest as application data in
//    writes cut at input-chosen points; the ciphertext reaches the server in input-chosen
//    pieces, read into input-chosen buffer sizes; the server must decrypt exactly the bytes
//    sealed, in order.
// The certificate is made in memory at start (an EC P-256 key, self-signed), so the target
// needs no files.
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "tls/channel.h"

using pylon::tls::Channel;
using Status = Channel::Status;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "tls_record_fuzz: %s\n", what);
  std::abort();
}

SSL_CTX* g_server = nullptr;
SSL_CTX* g_client = nullptr;

void make_contexts() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (!key || !cert) fail("cannot make the key");
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 365);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  if (X509_sign(cert, key, EVP_sha256()) == 0) fail("cannot sign the certificate");
  g_server = SSL_CTX_new(TLS_server_method());
  g_client = SSL_CTX_new(TLS_client_method());
  if (!g_server || !g_client) fail("cannot make the contexts");
  if (SSL_CTX_use_certificate(g_server, cert) != 1 || SSL_CTX_use_PrivateKey(g_server, key) != 1) {
    fail("cannot use the certificate");
  }
  SSL_CTX_set_verify(g_client, SSL_VERIFY_NONE, nullptr);
  X509_free(cert);
  EVP_PKEY_free(key);
}

// Input bytes as a stream of small numbers (cut points, buffer sizes); 0 when used up.
struct Numbers {
  std::string_view s;
  size_t next(size_t max) {
    if (s.empty() || max == 0) return 0;
    size_t v = static_cast<unsigned char>(s.front()) % (max + 1);
    s.remove_prefix(1);
    return v;
  }
};

struct Pair {
  int server_fd = -1, client_fd = -1;
  std::unique_ptr<Channel> server, client;
  std::string buf = std::string(64 * 1024, '\0');  // decrypt's output, one per pair
  Pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) fail("socketpair");
    server_fd = fds[0];
    client_fd = fds[1];
    // Room for every input (libFuzzer's -max_len stays below this) and a handshake.
    int size = 1 << 20;
    for (int fd : fds) {
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    server = std::make_unique<Channel>(g_server, server_fd, true);
  }
  ~Pair() {
    server.reset();
    client.reset();
    if (server_fd >= 0) ::close(server_fd);
    if (client_fd >= 0) ::close(client_fd);
  }
  static void write_all(int fd, std::string_view b) {
    while (!b.empty()) {
      ssize_t n = ::write(fd, b.data(), b.size());
      if (n <= 0) fail("a write to the socketpair did not fit");
      b.remove_prefix(static_cast<size_t>(n));
    }
  }
  static void send_output(Channel& ch, int fd) {
    if (!ch.has_output()) return;
    write_all(fd, ch.begin_send());
    ch.sent();
  }
  void handshake() {
    client = std::make_unique<Channel>(g_client, client_fd, false);
    Status s = Status::kWantRead, c = Status::kWantRead;
    for (int i = 0; i < 20 && (s != Status::kDone || c != Status::kDone); ++i) {
      c = client->handshake();
      send_output(*client, client_fd);
      s = server->handshake();
      send_output(*server, server_fd);
    }
    if (s != Status::kDone || c != Status::kDone) fail("the real handshake did not complete");
    // The client takes TLS 1.3's session tickets (they would otherwise wait in its socket).
    char buf[256];
    size_t n = 0;
    if (client->decrypt(buf, sizeof buf, &n) != Status::kDone || n != 0) fail("session tickets");
  }
  // Decrypts what the server's socket holds into `got`, `cap` bytes a call (1 at least).
  Status drain(std::string& got, size_t cap) {
    cap = std::min(std::max<size_t>(cap, 1), buf.size());
    for (int calls = 0;; ++calls) {
      if (calls > (1 << 22)) fail("decrypt does not end");
      size_t n = 0;
      Status st = server->decrypt(buf.data(), cap, &n);
      if (n > cap) fail("decrypt counted more than the buffer");
      got.append(buf.data(), n);
      if (st != Status::kFull) return st;
    }
  }
};

// Mode 0: a peer's bytes from its first packet, then its close.
void handshake_mode(std::string_view data) {
  Pair p;
  Pair::write_all(p.client_fd, data);
  ::shutdown(p.client_fd, SHUT_WR);
  for (int i = 0;; ++i) {
    if (i > 64) fail("the handshake neither failed nor completed on a closed stream");
    Status st = p.server->handshake();
    if (p.server->has_output()) {
      p.server->begin_send();
      p.server->sent();
    }
    if (st == Status::kError || st == Status::kClosed) return;
    if (st == Status::kDone) {
      // Only a real client completes a handshake; garbage cannot.
      fail("a handshake completed on bytes no client sealed");
    }
  }
}

// Mode 1: after a real handshake, raw bytes where records belong.
void records_mode(std::string_view data) {
  Pair p;
  p.handshake();
  Pair::write_all(p.client_fd, data);
  ::shutdown(p.client_fd, SHUT_WR);
  std::string got;
  for (int i = 0;; ++i) {
    if (i > 64) fail("decrypt neither failed nor closed on a closed stream");
    Status st = p.drain(got, 16 * 1024 + 1);
    if (!got.empty()) fail("plaintext decrypted from bytes no peer sealed");
    if (st == Status::kError || st == Status::kClosed) return;
    // kDone: the stream's end still has to be seen (a partial record waits): read again.
  }
}

// Mode 2: sealed by a real client, cut anywhere, read into any buffer size.
void round_trip_mode(std::string_view data) {
  // The first half of the input says how to cut; the second half is the application data.
  Numbers cuts{data.substr(0, data.size() / 2)};
  std::string_view app = data.substr(data.size() / 2);
  Pair p;
  p.handshake();
  std::string sealed_plain;
  std::string wire;
  for (std::string_view rest = app; !rest.empty();) {
    size_t n = 1 + cuts.next(255) * 64;  // writes of 1 B .. 16 KiB, cut by the input
    n = std::min(n, rest.size());
    if (!p.client->encrypt(rest.substr(0, n))) fail("the client cannot seal");
    sealed_plain.append(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  if (p.client->has_output()) {
    wire = p.client->begin_send();
    p.client->sent();
  }
  std::string got;
  std::string_view w = wire;
  while (!w.empty()) {
    size_t piece = std::min(w.size(), 1 + cuts.next(255) * 37);  // pieces of 1 B .. 9 KiB
    Pair::write_all(p.client_fd, w.substr(0, piece));
    w.remove_prefix(piece);
    Status st = p.drain(got, 1 + cuts.next(255) * 80);  // buffers of 1 B .. 20 KiB
    if (st != Status::kDone) fail("decrypt of a real client's records failed");
  }
  Status st = p.drain(got, 64 * 1024);
  if (st != Status::kDone) fail("decrypt of a real client's records failed");
  if (got != sealed_plain) fail("the plaintext decrypted differs from what was sealed");
  if (p.server->buffered() > 4) fail("more than a header's first bytes left over after the last record");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  make_contexts();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 128 * 1024) return 0;  // what the socketpair holds at once
  std::string_view in(reinterpret_cast<const char*>(data), size);
  unsigned mode = static_cast<unsigned char>(in.front()) % 3;
  in.remove_prefix(1);
  switch (mode) {
    case 0: handshake_mode(in); break;
    case 1: records_mode(in); break;
    default: round_trip_mode(in); break;
  }
  return 0;
}
