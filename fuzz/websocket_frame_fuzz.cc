// The WebSocket layer's decoders (src/server/websocket/): what a WebSocket peer sends before
// the client protocol sees it. The first byte picks the mode:
//  - frames: the bytes to FrameReader, whole and in hash-chosen chunkings, masked and
//    unmasked, with a small message bound: the same application bytes, pings, close and error
//    (status and words) every way; an error status is one RFC 6455 allows;
//  - round trip: the bytes as application output, framed by frame_messages (plain or deflated,
//    whole or in browser-sized frames), decode back to exactly those bytes;
//  - upgrade: the bytes as an HTTP upgrade request to UpgradeRequest, whole and split; the
//    same decision either way, and an accepted one answers 101 with the right accept key.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "websocket/frame.h"
#include "server/websocket/upgrade.h"

namespace ws = pylon::server::websocket;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "websocket_frame_fuzz: %s\n", what);
  std::abort();
}

struct Outcome final : ws::FrameSink {
  std::string payload, pings;
  int closes = 0;
  uint16_t close_status = 0;
  std::string close_body;
  uint16_t error = 0;
  std::string error_text;
  bool on_payload(std::string_view b) override {
    payload.append(b);
    return true;
  }
  void on_ping(std::string_view p) override {
    if (p.size() > ws::kMaxControlPayload) fail("ping payload longer than a control frame");
    pings.append(p).push_back('|');
  }
  void on_close(uint16_t status, std::string_view body) override {
    ++closes;
    close_status = status;
    close_body = body;
  }
  bool operator==(const Outcome& o) const {
    return payload == o.payload && pings == o.pings && closes == o.closes && close_status == o.close_status &&
           close_body == o.close_body && error == o.error && error_text == o.error_text;
  }
};

uint32_t mix(uint32_t h) {
  h ^= h >> 16;
  h *= 0x7feb352d;
  h ^= h >> 15;
  return h;
}

Outcome run_frames(std::string_view in, bool mask, size_t chunk_seed) {
  ws::FrameReader reader(mask, 4096);
  Outcome out;
  std::string buf(in);  // decoded in place, like the read buffer
  size_t pos = 0;
  uint32_t h = static_cast<uint32_t>(chunk_seed);
  while (pos < buf.size()) {
    size_t n = buf.size() - pos;
    if (chunk_seed != 0) {
      h = mix(h + 1);
      n = std::min<size_t>(n, (h % 4 == 0) ? 1 + h % 64 : 1 + h % 3);
    }
    // Each chunk in a buffer of its own, so a view kept past its call is a use-after-free.
    std::vector<char> chunk(buf.begin() + pos, buf.begin() + pos + n);
    pos += n;
    auto err = reader.decode(chunk.data(), chunk.size(), out);
    if (err) {
      out.error = err.status;
      out.error_text = err.text;
      if (err.status != ws::kProtocolError && err.status != ws::kMessageTooBig && err.status != ws::kInvalidPayloadData) {
        fail("an error status RFC 6455 does not allow here");
      }
      break;
    }
    if (reader.closed()) break;
  }
  return out;
}

void frames(std::string_view in) {
  for (bool mask : {true, false}) {
    Outcome whole = run_frames(in, mask, 0);
    if (whole.closes > 1) fail("more than one close");
    for (size_t seed : {1u, 7u, 1234u}) {
      if (!(run_frames(in, mask, seed) == whole)) fail("chunking changed what was decoded");
    }
  }
}

void round_trip(std::string_view in) {
  if (in.empty()) return;
  const unsigned char sel = static_cast<unsigned char>(in[0]);
  std::string_view app = in.substr(1);
  ws::Deflater deflater;
  const bool compress = sel & 1;
  const size_t max_frame = (sel & 2) ? 1 + sel % 97 : 0;
  std::string wire;
  ws::frame_messages(app, wire, compress ? &deflater : nullptr, max_frame, sel & 4);
  ws::FrameReader reader(false, 1 << 24);
  Outcome out;
  auto err = reader.decode(wire.data(), wire.size(), out);
  if (err) {
    std::fprintf(stderr, "%s\n", err.text.c_str());
    fail("our own frames do not decode");
  }
  if (out.payload != app) fail("round trip changed the bytes");
}

void upgrade(std::string_view in) {
  ws::Settings s;
  s.compression = true;
  s.same_origin = !in.empty() && (in[0] & 1);
  if (!in.empty() && (in[0] & 2)) s.allowed_origins["example.com"] = {"https", "443"};
  ws::UpgradeRequest whole;
  ws::Upgrade a = whole.feed(in, s);
  ws::UpgradeRequest split;
  ws::Upgrade b;
  for (size_t i = 0; i < in.size(); i += 5) {
    b = split.feed(in.substr(i, 5), s);
    if (b.state != ws::Upgrade::State::kIncomplete) break;
  }
  if (in.empty()) b = split.feed({}, s);
  // Split delivery may decide earlier (a refusal for data after the header cannot be seen
  // when the header ends a chunk); otherwise the same.
  if (a.state == ws::Upgrade::State::kAccepted && b.state == ws::Upgrade::State::kAccepted && a.response != b.response) {
    fail("split request answered differently");
  }
  if (a.state == ws::Upgrade::State::kAccepted && a.response.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) != 0) {
    fail("accepted without a 101");
  }
  if (a.state == ws::Upgrade::State::kRefused && (a.reason.empty() || a.response.rfind("HTTP/1.1 4", 0) != 0)) {
    fail("refused without a 4xx and a reason");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: frames(in); break;
    case 1: round_trip(in); break;
    default: upgrade(in); break;
  }
  return 0;
}
