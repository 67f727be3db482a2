// The WebSocket layer without sockets: the frame codec (split input, control frames, the
// reference's close codes and words, permessage-deflate), the upgrade request's checks and
// answers, and the `websocket {}` block of the config file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "server/config/config.h"
#include "server/config/config_loader.h"
#include "websocket/frame.h"
#include "server/websocket/session.h"
#include "server/websocket/upgrade.h"

namespace {

namespace ws = pylon::server::websocket;

// A client's frame: masked with a fixed key unless `mask` is false.
std::string client_frame(std::string_view payload, uint8_t op = ws::kBinary, bool fin = true, bool rsv1 = false,
                         bool mask = true) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | op));
  const unsigned char m = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(m | payload.size()));
  } else if (payload.size() < 65536) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((uint64_t{payload.size()} >> (8 * i)) & 0xff));
  }
  const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) out.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < payload.size(); ++i) out.push_back(static_cast<char>(payload[i] ^ (mask ? key[i % 4] : 0)));
  return out;
}

struct Collect final : ws::FrameSink {
  std::string payload;
  std::vector<std::string> pings;
  int closes = 0;
  uint16_t status = 0;
  std::string body;
  bool on_payload(std::string_view b) override {
    payload.append(b);
    return true;
  }
  void on_ping(std::string_view p) override { pings.emplace_back(p); }
  void on_close(uint16_t s, std::string_view b) override {
    ++closes;
    status = s;
    body = b;
  }
};

// Decodes `wire` fed `step` bytes at a time (0: whole).
ws::FrameReader::Error decode(ws::FrameReader& r, std::string wire, Collect& out, size_t step = 0) {
  if (step == 0) return r.decode(wire.data(), wire.size(), out);
  for (size_t i = 0; i < wire.size(); i += step) {
    size_t n = std::min(step, wire.size() - i);
    if (auto err = r.decode(wire.data() + i, n, out)) return err;
  }
  return {};
}

TEST(WebsocketFrames, OperationsSpanFramesAndFramesHoldManyOperationsAtAnySplit) {
  const std::string wire = client_frame("CONNECT {}\r\nPUB foo 5\r\nhel", ws::kBinary, false) +
                           client_frame("lo\r\nPING\r\n", ws::kContinuation, true) +
                           client_frame("SUB a 1\r\n" + std::string(70000, 'x'), ws::kText);
  const std::string want = "CONNECT {}\r\nPUB foo 5\r\nhello\r\nPING\r\nSUB a 1\r\n" + std::string(70000, 'x');
  for (size_t step : {0, 1, 2, 3, 7, 125, 4096}) {
    ws::FrameReader r;
    Collect out;
    ASSERT_FALSE(decode(r, wire, out, step)) << "step " << step;
    EXPECT_EQ(out.payload, want) << "step " << step;
  }
}

TEST(WebsocketFrames, PingIsHandedOnAndCloseCarriesStatusAndBody) {
  ws::FrameReader r;
  Collect out;
  std::string close = "\x03\xe9going";
  ASSERT_FALSE(decode(r, client_frame("hi", ws::kPing) + client_frame("", ws::kPong) + client_frame(close, ws::kClose) +
                             client_frame("after close"),
                       out, 1));
  EXPECT_EQ(out.pings, std::vector<std::string>{"hi"});
  EXPECT_EQ(out.closes, 1);
  EXPECT_EQ(out.status, 1001);
  EXPECT_EQ(out.body, "going");
  EXPECT_EQ(out.payload, "") << "nothing after the close frame is decoded";
}

TEST(WebsocketFrames, CloseWithoutStatusOrWithBadUtf8GetsTheReferenceStatus) {
  {
    ws::FrameReader r;
    Collect out;
    ASSERT_FALSE(decode(r, client_frame("", ws::kClose), out));
    EXPECT_EQ(out.status, ws::kNoStatusReceived);
  }
  ws::FrameReader r;
  Collect out;
  ASSERT_FALSE(decode(r, client_frame(std::string("\x03\xe8\xff\xfe", 4), ws::kClose), out));
  EXPECT_EQ(out.status, ws::kInvalidPayloadData);
  EXPECT_EQ(out.body, "invalid utf8 body in close frame");
}

TEST(WebsocketFrames, BadFramesGetTheReferenceWords) {
  struct Case {
    std::string wire;
    std::string text;
  } cases[] = {
      {client_frame("x", ws::kBinary, true, false, false), "mask bit missing"},
      {client_frame(std::string(126, 'p'), ws::kPing), "control frame length bigger than maximum allowed of 125 bytes"},
      {client_frame("p", ws::kPing, false), "control frame does not have final bit set"},
      {client_frame("a", ws::kBinary, false) + client_frame("b", ws::kBinary),
       "new message started before final frame for previous message was received"},
      {client_frame("a", ws::kContinuation), "invalid continuation frame"},
      {client_frame("a", ws::kBinary, false) + client_frame("b", ws::kContinuation, true, true), "invalid continuation frame"},
      {client_frame("a", 3), "unknown opcode 3"},
  };
  for (const auto& c : cases) {
    for (size_t step : {0, 1}) {
      ws::FrameReader r;
      Collect out;
      auto err = decode(r, c.wire, out, step);
      EXPECT_EQ(err.status, ws::kProtocolError) << c.text;
      EXPECT_EQ(err.text, c.text);
    }
  }
}

TEST(WebsocketFrames, UnmaskedFramesAreTakenWhenNoMaskingWasAgreed) {
  ws::FrameReader r(false);
  Collect out;
  ASSERT_FALSE(decode(r, client_frame("PING\r\n", ws::kBinary, true, false, false), out));
  EXPECT_EQ(out.payload, "PING\r\n");
}

TEST(WebsocketFrames, DeflatedMessagesRoundTripWholeAndInBrowserFragments) {
  std::string app;
  for (int i = 0; i < 200; ++i) app += "MSG greeting.world 1 11\r\nhello world\r\n";
  for (size_t max_frame : {size_t{0}, ws::kFrameSizeForBrowsers, size_t{100}}) {
    for (bool deflate : {false, true}) {
      ws::Deflater d;
      std::string wire;
      ws::frame_messages(app, wire, deflate ? &d : nullptr, max_frame, false);
      if (deflate) {
        EXPECT_LT(wire.size(), app.size() / 4) << "repetitive text compresses";
        EXPECT_EQ(static_cast<unsigned char>(wire[0]) & 0x40, 0x40) << "RSV1 marks a compressed message";
      }
      for (size_t step : {0, 3}) {
        ws::FrameReader r(false);
        Collect out;
        ASSERT_FALSE(decode(r, wire, out, step)) << max_frame << " " << deflate;
        EXPECT_EQ(out.payload, app) << max_frame << " " << deflate << " " << step;
      }
    }
  }
}

TEST(WebsocketFrames, SmallOutputIsNotDeflated) {
  ws::Deflater d;
  std::string wire;
  ws::frame_messages("PONG\r\n", wire, &d, 0, false);
  EXPECT_EQ(wire, std::string("\x82\x06PONG\r\n"));
}

TEST(WebsocketFrames, ACompressedMessageBeyondTheBoundIsRefusedAsTooBig) {
  ws::Deflater d;
  std::string z;
  d.deflate(std::string(100000, 'a'), z);
  ws::FrameReader r(true, 4096);
  Collect out;
  auto err = decode(r, client_frame(z, ws::kBinary, true, true), out);
  EXPECT_EQ(err.status, ws::kMessageTooBig) << err.text;
}

TEST(WebsocketFrames, CloseBodiesAreCutToAControlFrame) {
  std::string p = ws::close_payload(1002, std::string(200, 'e'));
  EXPECT_EQ(p.size(), ws::kMaxControlPayload);
  EXPECT_EQ(p.substr(p.size() - 3), "...");
}

// ---- the upgrade ---------------------------------------------------------------------

std::string request(std::string extra = {}, std::string method = "GET") {
  return method +
         " / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         extra + "\r\n";
}

ws::Upgrade upgrade(const std::string& req, const ws::Settings& s = {}) {
  ws::UpgradeRequest r;
  return r.feed(req, s);
}

TEST(WebsocketUpgrade, AcceptKeyIsRfc6455s) {
  EXPECT_EQ(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebsocketUpgrade, AValidRequestSplitAnywhereGetsThe101) {
  const std::string req = request();
  for (size_t step : {size_t{1}, size_t{5}, req.size()}) {
    ws::UpgradeRequest r;
    ws::Upgrade u;
    for (size_t i = 0; i < req.size(); i += step) u = r.feed(std::string_view(req).substr(i, step), {});
    ASSERT_EQ(u.state, ws::Upgrade::State::kAccepted) << u.reason;
    EXPECT_EQ(u.response,
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  }
}

TEST(WebsocketUpgrade, BadRequestsGetTheReferenceStatusAndWords) {
  struct Case {
    std::string req;
    int status;
    std::string reason;
  } cases[] = {
      {request({}, "POST"), 405, "request method must be GET"},
      {"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 400, "'Host' missing in request"},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", 400,
       "invalid value for header 'Upgrade'"},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n", 400,
       "invalid value for header 'Connection'"},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
       400, "key missing"},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\n"
       "Sec-WebSocket-Version: 8\r\n\r\n",
       400, "invalid version"},
      {request() + "\x82\x80", 400, "client sent data before handshake is complete"},
      {"NOT HTTP\r\n\r\n", 400, "malformed HTTP request"},
  };
  for (const auto& c : cases) {
    auto u = upgrade(c.req);
    ASSERT_EQ(u.state, ws::Upgrade::State::kRefused) << c.reason;
    EXPECT_EQ(u.reason, c.reason);
    EXPECT_EQ(u.response.rfind("HTTP/1.1 " + std::to_string(c.status) + " ", 0), 0u) << u.response;
    EXPECT_NE(u.response.find("\r\nSec-Websocket-Version: 13\r\n"), std::string::npos) << u.response;
  }
}

TEST(WebsocketUpgrade, AHeaderThatNeverEndsIsRefusedAt431) {
  ws::UpgradeRequest r;
  ws::Upgrade u = r.feed("GET / HTTP/1.1\r\n", {});
  std::string junk = "X-Junk: " + std::string(1000, 'j') + "\r\n";
  for (int i = 0; i < 100 && u.state == ws::Upgrade::State::kIncomplete; ++i) u = r.feed(junk, {});
  ASSERT_EQ(u.state, ws::Upgrade::State::kRefused);
  EXPECT_EQ(u.response.rfind("HTTP/1.1 431 ", 0), 0u);
}

TEST(WebsocketUpgrade, OriginsAreCheckedAsTheReferenceDoes) {
  ws::Settings same;
  same.same_origin = true;
  EXPECT_EQ(upgrade(request(), same).state, ws::Upgrade::State::kAccepted) << "no Origin: a dedicated client";
  EXPECT_EQ(upgrade(request("Origin: http://127.0.0.1:8080\r\n"), same).state, ws::Upgrade::State::kAccepted);
  auto u = upgrade(request("Origin: http://127.0.0.1:9090\r\n"), same);
  EXPECT_EQ(u.reason, "origin not allowed: not same origin");
  EXPECT_EQ(u.response.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u);

  pylon::WebsocketOptions o;
  o.allowed_origins = {"https://app.example.com", "http://localhost:3000"};
  std::vector<std::string> errors;
  ws::Settings list = ws::make_settings(o, 0, errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(upgrade(request("Origin: https://app.example.com\r\n"), list).state, ws::Upgrade::State::kAccepted);
  EXPECT_EQ(upgrade(request("Origin: http://LOCALHOST:3000\r\n"), list).state, ws::Upgrade::State::kAccepted);
  EXPECT_EQ(upgrade(request("Origin: http://app.example.com\r\n"), list).reason,
            "origin not allowed: not in the allowed list");
  EXPECT_EQ(upgrade(request("Origin: https://evil.example.com\r\n"), list).reason,
            "origin not allowed: not in the allowed list");
  EXPECT_EQ(upgrade(request("Origin: null\r\n"), list).reason,
            "origin not allowed: parse \"null\": invalid URI for request");
}

TEST(WebsocketUpgrade, CompressionOnlyWhenConfiguredAndOffered) {
  const std::string offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
  ws::Settings on;
  on.compression = true;
  auto u = upgrade(request(offer), on);
  EXPECT_TRUE(u.compress);
  EXPECT_NE(u.response.find("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                            "client_no_context_takeover\r\n"),
            std::string::npos);
  EXPECT_FALSE(upgrade(request(), on).compress) << "not offered";
  EXPECT_FALSE(upgrade(request(offer), {}).compress) << "not configured";
}

TEST(WebsocketSession, CloseFrameGoesLastAndOnlyOnce) {
  ws::Session s(std::make_shared<ws::Settings>());
  ASSERT_EQ(s.on_request(request()).state, ws::Upgrade::State::kAccepted);
  s.queue_pong("p");
  s.queue_close(1008, "Authentication Failure");
  s.queue_close(1000, "second");
  std::string out;
  s.take_output("-ERR 'Authorization Violation'\r\n", out);
  const std::string http_end = "\r\n\r\n";
  size_t body = out.find(http_end) + http_end.size();
  std::string frames = out.substr(body);
  std::string want = ws::control_frame(ws::kPong, "p");
  ws::frame_messages("-ERR 'Authorization Violation'\r\n", want, nullptr, 0, false);
  want += ws::control_frame(ws::kClose, ws::close_payload(1008, "Authentication Failure"));
  EXPECT_EQ(frames, want);
  EXPECT_FALSE(s.has_output());
}

// ---- the config block ----------------------------------------------------------------

class WebsocketConfig : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    dir_ = std::filesystem::temp_directory_path() / ("pylon-ws-conf-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto path = (dir_ / "ws.conf").string();
    std::ofstream(path) << text;
    return path;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path dir_;
};

TEST_F(WebsocketConfig, EveryKeyOfTheReferenceLoads) {
  pylon::Options o;
  auto w = pylon::server::load_config_file(write(R"(
websocket {
  listen: "127.0.0.1:8443"
  advertise: "ws.example.com:443"
  no_tls: true
  same_origin: true
  allowed_origins: ["https://a.example.com", "http://b.example.com:8080"]
  compression: true
  handshake_timeout: "3s"
  authorization { user: wsuser, password: wspass, timeout: 1.5 }
}
)"),
                                           o);
  EXPECT_TRUE(w.empty()) << w.front();
  EXPECT_EQ(o.websocket.host, "127.0.0.1");
  EXPECT_EQ(o.websocket.port, 8443);
  EXPECT_EQ(o.websocket.advertise, "ws.example.com:443");
  EXPECT_TRUE(o.websocket.no_tls);
  EXPECT_TRUE(o.websocket.same_origin);
  EXPECT_EQ(o.websocket.allowed_origins.size(), 2u);
  EXPECT_TRUE(o.websocket.compression);
  EXPECT_EQ(o.websocket.handshake_timeout, std::chrono::seconds(3));
  EXPECT_EQ(o.websocket.user, "wsuser");
  EXPECT_EQ(o.websocket.password, "wspass");
  EXPECT_EQ(o.websocket.auth_timeout, std::chrono::milliseconds(1500));
  EXPECT_TRUE(o.websocket.auth_override());
  EXPECT_NO_THROW(pylon::server::validate_options(o));
}

TEST_F(WebsocketConfig, HandshakeTimeoutAsSecondsAndAliases) {
  pylon::Options o;
  pylon::server::load_config_file(write("ws { port: 8080, no_tls: true, handshake_timeout: 4, origin: \"http://x\", "
                                        "compress: true }\n"),
                                  o);
  EXPECT_EQ(o.websocket.handshake_timeout, std::chrono::seconds(4));
  EXPECT_EQ(o.websocket.allowed_origins, std::vector<std::string>{"http://x"});
  EXPECT_TRUE(o.websocket.compression);
}

TEST_F(WebsocketConfig, TheReferenceChecksRefuseWithItsWords) {
  auto refused = [&](const std::string& text) -> std::string {
    pylon::Options o;
    try {
      pylon::server::load_config_file(write(text), o);
      pylon::server::validate_options(o);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_EQ(refused("websocket { port: 8080 }\n"), "websocket requires TLS configuration");
  EXPECT_EQ(refused("authorization { users: [{user: a, password: b}] }\n"
                    "websocket { port: 8080, no_tls: true, authorization { user: x, password: y } }\n"),
            "websocket authentication username not compatible with presence of users/nkeys");
  EXPECT_EQ(refused("authorization { users: [{user: a, password: b}] }\n"
                    "websocket { port: 8080, no_tls: true, authorization { token: t } }\n"),
            "websocket authentication token not compatible with presence of users/nkeys");
  EXPECT_EQ(refused("authorization { users: [{user: a, password: b}] }\n"
                    "websocket { port: 8080, no_tls: true, no_auth_user: nobody }\n"),
            "no_auth_user: \"nobody\" not present as user in authorization block or account configuration");
  EXPECT_NE(refused("websocket { port: 8080, no_tls: true, jwt_cookie: my_jwt }\n")
                .find("trusted operators or trusted keys configuration is required for JWT authentication via cookie "
                      "\"my_jwt\""),
            std::string::npos);
  EXPECT_EQ(refused("websocket { no_tls: true }\n"), "accepted") << "without a port nothing is checked";
}

}  // namespace
