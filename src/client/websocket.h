// ws:// and wss:// for the client library, as nats.go does them: after TCP (and, for wss, the
// TLS handshake, which comes first), one HTTP/1.1 upgrade request; the server's answer must be
// a 101 with the accept key of our Sec-WebSocket-Key, else the attempt fails with the
// server's status line. From then on the NATS protocol travels in binary messages: what we
// send is one masked frame per write batch (many operations in one frame), what we read is
// unframed by the shared codec (src/websocket/frame.h) before the parser sees it, so an
// operation may span frames. The server's pings are answered with pongs; close() ends with a
// close frame (1000) after the last bytes; a close frame from the server loses the connection
// with its status and reason. permessage-deflate when asked for and the server agrees
// (without context takeover either way, as nats.go): a write batch of more than 64 bytes
// goes out deflated, and the server's compressed messages are inflated by the codec.
//
// One WsLayer per WebSocket connection (Transport::ws), touched only on the I/O strand. It
// knows nothing of the stream under it (socket or TLS): the core reads and writes, the layer
// turns bytes into frames and back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "client/server_pool.h"
#include "pylon/error.h"
#include "websocket/frame.h"

namespace pylon::client {

// The most we read of the server's answer to the upgrade before giving up on it (nats.go reads
// it through a 4 KiB buffer; a 101 is a few hundred bytes).
inline constexpr size_t kMaxUpgradeAnswer = 16 * 1024;

class WsLayer {
 public:
  explicit WsLayer(bool offer_compression);
  ~WsLayer();

  // ---- The opening handshake ------------------------------------------------------------
  // The GET request for `url`, with a fresh Sec-WebSocket-Key.
  std::string upgrade_request(const ServerUrl& url);
  struct Answer {
    enum class State { kIncomplete, kAccepted, kRefused };
    State state = State::kIncomplete;
    ErrorInfo error;   // kRefused: why (kWebsocketUpgrade)
    std::string rest;  // kAccepted: bytes after the answer (the first frames)
  };
  // Feeds the server's answer as it arrives.
  Answer read_answer(std::string_view data, const std::string& url);

  // ---- Frames from the server -----------------------------------------------------------
  // Decodes `n` bytes at `p` and hands the application bytes to `on_bytes` (views, valid
  // only during the call; returning false stops). Pings queue pongs. Returns why the
  // connection cannot go on: a bad frame (kProtocol) or the server's close frame (kIo, with
  // its status and reason); empty otherwise.
  template <class OnBytes>
  ErrorInfo decode(char* p, size_t n, const ServerUrl& url, OnBytes&& on_bytes);

  // ---- Frames to the server -------------------------------------------------------------
  void queue_pong(std::string_view payload);
  // The close frame, once; it goes after everything written before it, and nothing after.
  void queue_close(uint16_t status);
  // Control frames not yet handed to a write (a pong, the close).
  bool has_output() const noexcept { return !control_.empty() || !close_.empty(); }
  // One write: `head` gets the pending control frames and the header of `app` as one binary
  // frame, `tail` the close frame if queued; returns the frame's payload, to write between
  // them: `app` itself, masked in place (no copy), or its deflated bytes (masked, in a buffer
  // of the layer's, valid until the next call). Empty `app`: no data frame.
  std::string_view frame(std::string& app, std::string& head, std::string& tail);
  bool compressing() const noexcept { return deflater_ != nullptr; }

 private:
  struct Sink;
  void mask_key(unsigned char key[4]);
  ErrorInfo finish_decode(const websocket::FrameReader::Error& err, const ServerUrl& url) const;

  std::mt19937 rng_;  // mask keys (RFC 6455 10.3: unpredictable to the page a browser runs)
  std::string key_;   // our Sec-WebSocket-Key
  const bool offer_compression_;
  std::unique_ptr<websocket::Deflater> deflater_;  // permessage-deflate was agreed
  std::string deflated_;                           // the payload of the last compressed frame
  struct AnswerParser;
  std::unique_ptr<AnswerParser> answer_;
  websocket::FrameReader reader_{/*expect_mask=*/false};
  std::string control_;  // framed and masked: pongs
  std::string close_;    // framed and masked: the close frame, written last
  bool close_queued_ = false;
  bool server_closed_ = false;
  uint16_t close_status_ = 0;
  std::string close_reason_;
};

// The codec's sink, forwarding application bytes to a callable.
struct WsLayer::Sink : websocket::FrameSink {
  explicit Sink(WsLayer& l) : layer(l) {}
  WsLayer& layer;
  void on_ping(std::string_view payload) override { layer.queue_pong(payload); }
  void on_close(uint16_t status, std::string_view body) override {
    layer.server_closed_ = true;
    layer.close_status_ = status;
    layer.close_reason_.assign(body);
  }
};

template <class OnBytes>
ErrorInfo WsLayer::decode(char* p, size_t n, const ServerUrl& url, OnBytes&& on_bytes) {
  struct Forward final : Sink {
    Forward(WsLayer& l, OnBytes& f) : Sink(l), fn(f) {}
    OnBytes& fn;
    bool on_payload(std::string_view bytes) override { return fn(bytes); }
  } sink(*this, on_bytes);
  websocket::FrameReader::Error err = reader_.decode(p, n, sink);
  if (!err && !server_closed_) return {};  // the hot path: no string built
  return finish_decode(err, url);
}

}  // namespace pylon::client
