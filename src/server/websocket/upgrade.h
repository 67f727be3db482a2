// The WebSocket opening handshake (RFC 6455 section 4.2) as the reference's wsUpgrade: the
// HTTP/1.1 GET, its checks in the reference's order and words, the origin policy
// (same_origin, allowed_origins), permessage-deflate and Nats-No-Masking negotiation, and
// the 101 answer. No I/O: the connection core feeds it the bytes it reads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pylon/options.h"
#include "websocket/frame.h"

namespace pylon::server::websocket {

// The frame codec and the accept key are shared with the client library (src/websocket/);
// the server's layer names them as its own (websocket::FrameReader, websocket::accept_key).
using namespace ::pylon::websocket;

// What every WebSocket connection of one server shares, built once from WebsocketOptions.
struct Settings {
  bool tls = false;  // wss://: the origin check's default port is 443, else 80
  bool compression = false;
  bool same_origin = false;
  struct AllowedOrigin {
    std::string scheme, port;
  };
  std::unordered_map<std::string, AllowedOrigin> allowed_origins;  // by lower-case host
  size_t max_message = 64 * 1024 * 1024;  // a compressed message's bound (frame.h)
  Duration handshake_timeout{0};
};

// Builds Settings; an allowed origin that does not parse is skipped and reported in `errors`
// (the reference's "error parsing allowed origin: ..." log line).
Settings make_settings(const WebsocketOptions& o, int64_t max_message, std::vector<std::string>& errors);

// The most request header bytes we read before refusing (431), as a bound for a peer that
// never ends its header.
inline constexpr size_t kMaxRequestHeader = 64 * 1024;

struct Upgrade {
  enum class State { kIncomplete, kAccepted, kRefused };
  State state = State::kIncomplete;
  std::string response;  // the bytes to send: "HTTP/1.1 101 ..." or an HTTP error
  std::string reason;    // kRefused: the log's reason, the reference's words
  bool compress = false;
  bool no_masking = false;
  bool browser = false;                  // User-Agent "Mozilla/...": frames of at most 4 KiB
  bool no_compressed_fragments = false;  // Safari: compressed messages never fragmented
};

// Reads one upgrade request from the bytes as they arrive.
class UpgradeRequest {
 public:
  // Appends `data`; decides once the header is complete (or too long). Bytes after the
  // header are refused as the reference refuses them ("client sent data before handshake is
  // complete"): a client waits for the 101 before it sends a frame.
  Upgrade feed(std::string_view data, const Settings& settings);

 private:
  std::string buf_;
};

// The reference's wsReturnHTTPError answer (Go's http.Error): status line, text/plain body.
std::string http_error(int status);

}  // namespace pylon::server::websocket
