// ws:// and wss:// URLs: the client against each server kind's `websocket {}` listener (the
// same block for both: `websocket { listen, no_tls: true }`, or `tls {}` inside it for wss),
// and against a scripted WebSocket server for what no real server does on demand (one NATS
// operation cut over many frames, a ping frame, a close frame).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "../common/loopback_listener.h"
#include "../common/test_certs.h"
#include "test_support.h"
#include "websocket/frame.h"
#include "wire_tap.h"

#ifndef PYLON_TOOL_BIN
#define PYLON_TOOL_BIN "pylon"
#endif

namespace pylon::test {
namespace {

namespace ws = pylon::websocket;

const pylon::testing::TestCerts& certs() { return pylon::testing::test_certs(); }

// The bytes one side sent, unframed: application bytes, pings, the close status, and the
// error when a frame is bad (a client's unmasked frame is, for `expect_mask`).
struct Unframed final : ws::FrameSink {
  std::string app, pings;
  int frames_closed = 0;
  uint16_t close_status = 0;
  bool on_payload(std::string_view b) override {
    app.append(b);
    return true;
  }
  void on_ping(std::string_view p) override { pings.append(p); }
  void on_close(uint16_t status, std::string_view) override {
    close_status = status;
    ++frames_closed;
  }
};
std::string unframe(std::string bytes, bool expect_mask, Unframed* out = nullptr, std::string* error = nullptr) {
  Unframed local;
  Unframed& u = out ? *out : local;
  ws::FrameReader r(expect_mask);
  auto err = r.decode(bytes.data(), bytes.size(), u);
  if (error) *error = err.text;
  return u.app;
}

// The HTTP part of a stream (through the blank line), and the frames after it.
std::pair<std::string, std::string> split_http(const std::string& s) {
  auto end = s.find("\r\n\r\n");
  if (end == std::string::npos) return {s, ""};
  return {s.substr(0, end + 4), s.substr(end + 4)};
}

void expect_round_trip(Connection& c, const std::string& tag) {
  Inbox inbox;
  auto sub = c.subscribe("ws." + tag, inbox.handler());
  auto svc = c.subscribe("ws.svc." + tag, [&c](Message& m) { c.publish(m.reply, "re: " + m.data); });
  c.flush();
  c.publish("ws." + tag, "hello over WebSocket");
  ASSERT_TRUE(inbox.wait_size(1, 5s));
  EXPECT_EQ(inbox.messages()[0].data, "hello over WebSocket");
  EXPECT_EQ(c.request("ws.svc." + tag, "ping", 5s).data, "re: ping");
}

class WebsocketTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  }
  std::unique_ptr<TestServer> start(ServerSetup s = {}) {
    s.websocket = true;
    auto server = make_server(GetParam(), std::move(s));
    server->start();
    return server;
  }
};

TEST_P(WebsocketTest, PublishesSubscribesAndRequestsOverAWsUrl) {
  auto server = start();
  Connection c(client_options(server->ws_url()));
  c.connect();
  EXPECT_EQ(c.connected_url(), server->ws_url());
  expect_round_trip(c, "basic");
}

TEST_P(WebsocketTest, EverythingPublishedBeforeCloseArrives) {
  auto server = start();
  expect_every_publish_before_close_arrives(client_options(server->ws_url()), 10000, 2);
}

TEST_P(WebsocketTest, SpeaksMaskedBinaryFramesAfterAnHttpUpgrade) {
  auto server = start();
  // The server's bytes reach the client one byte per write: every frame header and payload
  // arrives in pieces.
  WireTap tap(server->ws_port(), /*bytewise_to_client=*/true);
  const std::string url = "ws://127.0.0.1:" + tap.url().substr(tap.url().rfind(':') + 1);
  Connection c(client_options(url));
  c.connect();
  Inbox inbox;
  auto sub = c.subscribe("ws.tap", inbox.handler());
  c.flush();
  c.publish("ws.tap", "payload-through-the-tap");
  ASSERT_TRUE(inbox.wait_size(1, 10s));
  EXPECT_EQ(inbox.messages()[0].data, "payload-through-the-tap");
  c.close();
  ASSERT_TRUE(wait_for([&] {
    Unframed u;
    unframe(split_http(tap.from_client()).second, true, &u);
    return u.frames_closed == 1;
  }, 5s)) << "no close frame from the client";

  auto [request, frames] = split_http(tap.from_client());
  EXPECT_TRUE(request.starts_with("GET / HTTP/1.1\r\n")) << request;
  EXPECT_NE(request.find("Upgrade: websocket\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << request;
  // Every frame masked (a decoder that requires it takes them all), the protocol inside,
  // and the normal closure last.
  Unframed sent;
  std::string error;
  std::string app = unframe(frames, /*expect_mask=*/true, &sent, &error);
  EXPECT_EQ(error, "");
  EXPECT_TRUE(app.starts_with("CONNECT {")) << app;
  EXPECT_NE(app.find("PUB ws.tap 23\r\npayload-through-the-tap\r\n"), std::string::npos) << app;
  EXPECT_EQ(sent.frames_closed, 1);
  EXPECT_EQ(sent.close_status, ws::kNormalClosure);
  // The server's side is frames too: the 101, then INFO inside a binary frame.
  auto [answer, server_frames] = split_http(tap.from_server());
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 101")) << answer;
  EXPECT_TRUE(unframe(server_frames, false).starts_with("INFO {")) << server_frames;
}

TEST_P(WebsocketTest, AOneMebibytePayloadCrossesBothWays) {
  ServerSetup s;
  s.max_payload = 2 << 20;
  auto server = start(s);
  Connection c(client_options(server->ws_url()));
  c.connect();
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  Inbox inbox;
  auto sub = c.subscribe("ws.big", inbox.handler());
  c.flush();
  c.publish("ws.big", big);
  for (int i = 0; i < 100; ++i) c.publish("ws.big", "small-" + std::to_string(i));  // many in one frame
  ASSERT_TRUE(inbox.wait_size(101, 60s)) << inbox.size();
  auto msgs = inbox.messages();
  EXPECT_TRUE(msgs[0].data == big) << "the 1 MiB payload came back different (size " << msgs[0].data.size() << ")";
  EXPECT_EQ(msgs[100].data, "small-99");
}

TEST_P(WebsocketTest, PermessageDeflateWhenAskedForAndTheServerAgrees) {
  ServerSetup s;
  s.ws_compression = true;
  auto server = start(s);
  WireTap tap(server->ws_port());
  const std::string url = "ws://127.0.0.1:" + tap.url().substr(tap.url().rfind(':') + 1);
  ClientOptions o = client_options(url);
  o.websocket_compression = true;
  Connection c(o);
  c.connect();
  std::string text;
  while (text.size() < 64 * 1024) text += "a compressible line of text, " + std::to_string(text.size() % 7) + "\n";
  Inbox inbox;
  auto sub = c.subscribe("ws.zip", inbox.handler());
  c.flush();
  c.publish("ws.zip", text);
  c.publish("ws.zip", "short");
  ASSERT_TRUE(inbox.wait_size(2, 10s));
  EXPECT_TRUE(inbox.messages()[0].data == text);
  EXPECT_EQ(inbox.messages()[1].data, "short");

  auto [request, frames] = split_http(tap.from_client());
  EXPECT_NE(request.find("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                         "client_no_context_takeover\r\n"),
            std::string::npos)
      << request;
  // Our 64 KiB publish went deflated (RSV1 frames, far fewer bytes than it), and the server
  // compressed its delivery back; the codec inflates both to the protocol.
  EXPECT_LT(frames.size(), text.size() / 4) << "the client's frames were not compressed";
  EXPECT_NE(unframe(frames, true).find("PUB ws.zip " + std::to_string(text.size()) + "\r\n" + text),
            std::string::npos);
  auto [answer, server_frames] = split_http(tap.from_server());
  EXPECT_NE(answer.find("permessage-deflate"), std::string::npos) << answer;
  EXPECT_LT(server_frames.size(), text.size() / 4) << "the server's frames were not compressed";
  EXPECT_NE(unframe(server_frames, false).find("MSG ws.zip 1 " + std::to_string(text.size()) + "\r\n" + text),
            std::string::npos);
}

TEST_P(WebsocketTest, ReconnectsToAnotherWsServerItLearntFromTheCluster) {
  ServerSetup sa;
  sa.cluster = true;
  auto a = start(sa);
  ServerSetup sb;
  sb.cluster = true;
  sb.routes = {a->cluster_port()};
  auto b = start(sb);

  ClientOptions o = client_options(a->ws_url());
  Events events;
  events.attach(o);
  Connection c(o);
  c.connect();
  // The cluster tells a WebSocket client the other node's WebSocket URL, and it stays ws://.
  ASSERT_TRUE(wait_for([&] {
    auto d = c.discovered_servers();
    return std::find(d.begin(), d.end(), b->ws_url()) != d.end();
  }, 15s)) << ::testing::PrintToString(c.discovered_servers());

  a->stop();
  ASSERT_TRUE(wait_for([&] { return events.reconnected.load() >= 1; }, 15s)) << ::testing::PrintToString(events.log());
  EXPECT_EQ(c.connected_url(), b->ws_url());
  expect_round_trip(c, "after-reconnect");
}

TEST_P(WebsocketTest, WssWithTheTestCa) {
  ServerSetup s;
  s.ws_tls_cert = certs().server_cert();
  s.ws_tls_key = certs().server_key();
  auto server = start(s);
  ClientOptions o = client_options(server->ws_url("wss", "localhost"));
  o.tls.ca_file = certs().ca();
  Connection c(o);
  c.connect();
  EXPECT_EQ(c.connected_url(), server->ws_url("wss", "localhost"));
  expect_round_trip(c, "wss");

  // Without the test CA the server's certificate is refused (the system's store knows it not).
  Connection untrusting(client_options(server->ws_url("wss", "localhost")));
  try {
    untrusting.connect();
    ADD_FAILURE() << "connected with an untrusted certificate";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kTlsVerification) << e.what();
  }
}

TEST_P(WebsocketTest, APlainNatsPortGivenAsWsIsAClearError) {
  auto server = start();
  Connection c(client_options("ws://127.0.0.1:" + std::to_string(server->port())));
  try {
    c.connect();
    FAIL() << "connected";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kWebsocketUpgrade) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a WebSocket server"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("use nats://"), std::string::npos) << e.what();
  }
}

TEST_P(WebsocketTest, ThePylonCommandTakesWsUrls) {
  auto server = start();
  const std::string url = server->ws_url();
  Process sub({PYLON_TOOL_BIN, "sub", "-s", url, "ws.tool", "--count", "1", "--raw"}, "ws-sub");
  ASSERT_TRUE(sub.wait_output("Listening on \"ws.tool\"")) << sub.output();
  Process pub({PYLON_TOOL_BIN, "pub", "-s", url, "ws.tool", "hello from pylon pub"}, "ws-pub");
  EXPECT_EQ(pub.wait(30s), 0) << pub.output();
  EXPECT_EQ(sub.wait(10s), 0) << sub.output();
  EXPECT_NE(sub.output().find("hello from pylon pub\n"), std::string::npos) << sub.output();

  Process bench({PYLON_TOOL_BIN, "bench", "ws.bench", "-s", url, "--pub", "1", "--sub", "1", "--msgs", "5000", "--json",
                 "--no-progress"},
                "ws-bench");
  ASSERT_EQ(bench.wait(60s), 0) << bench.output();
  EXPECT_NE(bench.output().find("\"complete\":true"), std::string::npos) << bench.output();
  EXPECT_NE(bench.output().find("\"sub\":{\"msgs\":5000"), std::string::npos) << bench.output();
}

INSTANTIATE_TEST_SUITE_P(Servers, WebsocketTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

// ---- A scripted WebSocket server ---------------------------------------------------------

// One client on a loopback port: the upgrade answered as the test says, then frames.
class ScriptedWsServer {
 public:
  ScriptedWsServer() { listen_fd_ = pylon::testing::listen_loopback(&port_, 4); }
  ~ScriptedWsServer() {
    if (fd_ >= 0) ::close(fd_);
    ::close(listen_fd_);
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_); }
  // Accepts, reads the request, answers with `status_line` (101: with the right accept key).
  bool accept(const std::string& status_line = "HTTP/1.1 101 Switching Protocols") {
    fd_ = pylon::testing::accept_polled(listen_fd_);
    if (fd_ < 0) return false;
    if (!read_until("\r\n\r\n")) return false;
    auto k = got_.find("Sec-WebSocket-Key: ");
    if (k == std::string::npos) return false;
    std::string key = got_.substr(k + 19, got_.find("\r\n", k) - k - 19);
    got_.erase(0, got_.find("\r\n\r\n") + 4);
    std::string answer = status_line + "\r\n";
    if (status_line.find(" 101 ") != std::string::npos) {
      answer += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + ws::accept_key(key) + "\r\n";
    } else {
      answer += "Content-Length: 0\r\n";
    }
    send(answer + "\r\n");
    return true;
  }
  // Sends `app` cut into frames of `piece` bytes, each frame its own write.
  void send_frames(std::string_view app, size_t piece) {
    for (bool first = true; !app.empty(); first = false) {
      size_t n = std::min(piece, app.size());
      std::string f;
      ws::append_frame_header(f, ws::kBinary, n, first, n == app.size());
      f.append(app.substr(0, n));
      send(f);
      app.remove_prefix(n);
    }
  }
  void send(const std::string& s) { ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  // Reads until the unframed client bytes contain `needle` (the frames must be masked).
  bool read_app_until(const std::string& needle, Unframed& u) {
    return wait_for([&] {
      read_some(u);
      return u.app.find(needle) != std::string::npos;
    }, 5s);
  }
  // Reads until a masked pong frame with `payload` came (the codec drops pongs, so this looks
  // at the raw bytes: FIN+pong, the mask bit and the length, the key, the masked payload).
  bool wait_pong(const std::string& payload) {
    Unframed ignored;
    auto found = [&] {
      for (size_t i = 0; i + 6 + payload.size() <= raw_.size(); ++i) {
        if (static_cast<unsigned char>(raw_[i]) != 0x8a ||
            static_cast<unsigned char>(raw_[i + 1]) != (0x80 | payload.size())) {
          continue;
        }
        std::string p = raw_.substr(i + 6, payload.size());
        ws::apply_mask(p.data(), p.size(), reinterpret_cast<const unsigned char*>(raw_.data() + i + 2));
        if (p == payload) return true;
      }
      return false;
    };
    return wait_for([&] {
      read_some(ignored);
      return found();
    }, 5s);
  }

 private:
  void read_some(Unframed& u) {  // one read (at most 20 ms), decoded
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return;
    raw_.append(buf, static_cast<size_t>(n));
    auto err = reader_.decode(buf, static_cast<size_t>(n), u);
    if (err) ADD_FAILURE() << "bad frame from the client: " << err.text;
  }
  bool read_until(const std::string& needle) {
    return wait_for([&] {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) got_.append(buf, static_cast<size_t>(n));
      return got_.find(needle) != std::string::npos;
    }, 5s);
  }
  int listen_fd_ = -1, fd_ = -1, port_ = 0;
  std::string got_, raw_;
  ws::FrameReader reader_{/*expect_mask=*/true};
};

const std::string kInfo =
    "INFO {\"server_id\":\"WSFAKE\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,\"max_payload\":1048576}\r\n";

// The scripts run in a jthread: a connect() that throws (a timeout on a loaded machine) then
// fails the test with its reason, where a joinable std::thread would end the process.
TEST(ScriptedWebsocket, OperationsCutAcrossFramesAndPingFramesAreHandled) {
  ScriptedWsServer server;
  Connection c(client_options(server.url()));
  Unframed from_client;
  std::jthread script([&] {
    ASSERT_TRUE(server.accept());
    server.send_frames(kInfo, 3);  // INFO in frames of 3 bytes
    ASSERT_TRUE(server.read_app_until("PING\r\n", from_client));
    server.send_frames("PONG\r\n", 1);
  });
  c.connect();
  script.join();
  EXPECT_TRUE(from_client.app.starts_with("CONNECT {")) << from_client.app;

  Inbox inbox;
  auto sub = c.subscribe("cut", inbox.handler());
  ASSERT_TRUE(server.read_app_until("SUB cut 1\r\n", from_client));
  // A ping frame between two frames of one MSG; then two MSGs in one frame.
  std::string msg = "MSG cut 1 11\r\nhello world\r\n";
  std::string f;
  ws::append_frame_header(f, ws::kBinary, 9, true, false);
  f.append(msg.substr(0, 9));
  f += ws::control_frame(ws::kPing, "are-you-there");
  ws::append_frame_header(f, ws::kContinuation, msg.size() - 9, false, true);
  f.append(msg.substr(9));
  std::string two = "MSG cut 1 3\r\none\r\nMSG cut 1 3\r\ntwo\r\n";
  ws::append_frame_header(f, ws::kBinary, two.size());
  f.append(two);
  server.send(f);
  ASSERT_TRUE(inbox.wait_size(3, 5s)) << inbox.size();
  EXPECT_EQ(inbox.messages()[0].data, "hello world");
  EXPECT_EQ(inbox.messages()[2].data, "two");
  // The ping was answered: a masked pong carrying its payload.
  EXPECT_TRUE(server.wait_pong("are-you-there"));
}

TEST(ScriptedWebsocket, ARefusedUpgradeSaysTheServersStatus) {
  ScriptedWsServer server;
  Connection c(client_options(server.url()));
  std::jthread script([&] { server.accept("HTTP/1.1 403 Forbidden"); });
  try {
    c.connect();
    ADD_FAILURE() << "connected";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kWebsocketUpgrade) << e.what();
    EXPECT_NE(std::string(e.what()).find("403 Forbidden"), std::string::npos) << e.what();
  }
  script.join();
}

TEST(ScriptedWebsocket, TheServersCloseFrameLosesTheConnectionWithItsReason) {
  ScriptedWsServer server;
  ClientOptions o = client_options(server.url());
  o.allow_reconnect = false;
  Events events;
  events.attach(o);
  Connection c(o);
  std::jthread script([&] {
    Unframed u;
    ASSERT_TRUE(server.accept());
    server.send_frames(kInfo, 1 << 20);
    ASSERT_TRUE(server.read_app_until("PING\r\n", u));
    server.send_frames("PONG\r\n", 64);
  });
  c.connect();
  script.join();
  server.send(ws::control_frame(ws::kClose, ws::close_payload(ws::kGoingAway, "Server Shutdown")));
  ASSERT_TRUE(wait_for([&] { return events.closed.load() == 1; }, 5s));
  auto errors = events.errors();
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.front().message.find("closed the WebSocket connection (1001 Server Shutdown)"), std::string::npos)
      << errors.front().message;
}

}  // namespace
}  // namespace pylon::test
