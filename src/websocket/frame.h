// The WebSocket frame codec (RFC 6455, with RFC 7692's permessage-deflate), as the reference's
// websocket.go decodes and encodes it: no I/O, no server knowledge, so the fuzz target
// (fuzz/websocket_frame_fuzz.cc) and the unit tests drive it directly. Both sides use it: the
// server's WebSocket layer (src/server/websocket/) and the client library's ws:// transport
// (src/client/websocket.*), which masks what it sends and reads unmasked frames.
//
// Decoding is incremental: a frame header, a payload or a whole message may arrive split at
// any byte, and one read may hold many frames. Uncompressed payload is unmasked in place and
// handed on as views into the caller's buffer (no copy), so the client protocol parser sees
// the same bytes a plain TCP read would give it: one NATS operation may span frames, one
// frame may hold many operations. Only a compressed message is gathered, then inflated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace pylon::websocket {

enum Opcode : uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10,
};

// RFC 6455 section 7.4.1, the statuses the reference sends.
enum CloseStatus : uint16_t {
  kNormalClosure = 1000,
  kGoingAway = 1001,
  kProtocolError = 1002,
  kUnsupportedData = 1003,
  kNoStatusReceived = 1005,
  kAbnormalClosure = 1006,
  kInvalidPayloadData = 1007,
  kPolicyViolation = 1008,
  kMessageTooBig = 1009,
  kInternalServerError = 1011,
  kTlsHandshake = 1015,
};

inline constexpr size_t kMaxControlPayload = 125;
// The reference's wsFrameSizeForBrowsers: browsers do better with frames of at most this.
inline constexpr size_t kFrameSizeForBrowsers = 4096;
// The reference's wsCompressThreshold: output this small is not worth deflating.
inline constexpr size_t kCompressThreshold = 64;

// What the decoder hands on. Views are valid only during the call.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Application bytes (of binary or text messages), in order. false: stop decoding (the
  // connection is closing).
  virtual bool on_payload(std::string_view bytes) = 0;
  // A ping's payload: the caller answers with a pong carrying it.
  virtual void on_ping(std::string_view payload) = 0;
  // A close frame: the caller echoes `status`/`body` (already checked, as the reference's
  // wsHandleControlFrame: 1005 without a status, 1007 for a body that is not UTF-8) and closes.
  virtual void on_close(uint16_t status, std::string_view body) = 0;
};

// Raw deflate without context takeover (both sides negotiate server_ and client_no_context_takeover,
// as the reference always answers), one message at a time. zlib underneath.
class Inflater {
 public:
  Inflater();
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  // Inflates one whole message's payload (without RFC 7692's trailing 00 00 ff ff) into `out`.
  // Returns "" on success, else why it failed; fails too when the output would pass `max_out`.
  std::string inflate(std::string_view in, std::string& out, size_t max_out);

 private:
  struct State;
  std::unique_ptr<State> z_;
};

class Deflater {
 public:
  Deflater();
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  // Appends the deflated `in` (a complete message, flushed, without the trailing 00 00 ff ff) to `out`.
  void deflate(std::string_view in, std::string& out);

 private:
  struct State;
  std::unique_ptr<State> z_;
};

class FrameReader {
 public:
  // `expect_mask`: clients must mask (RFC 6455 5.1), unless they asked for Nats-No-Masking.
  // `max_message`: the most a compressed message may take, gathered or inflated (the
  // reference has no bound; an uncompressed message is never gathered, so needs none).
  explicit FrameReader(bool expect_mask = true, size_t max_message = 64 * 1024 * 1024);
  ~FrameReader();

  struct Error {
    uint16_t status = 0;  // 0: none
    std::string text;     // the reference's words, the close frame's body and the log's
    explicit operator bool() const noexcept { return status != 0; }
  };
  // Decodes `data` (unmasking it in place) and calls `sink`. Stops at the first bad frame and
  // returns why; the rest of `data` and any later input are then to be discarded. A close
  // frame ends decoding too (sink.on_close was called; the result is no error).
  Error decode(char* data, size_t n, FrameSink& sink);
  bool closed() const noexcept { return closed_; }

 private:
  Error start_frame(FrameSink& sink);
  Error end_control(FrameSink& sink);
  Error end_compressed(FrameSink& sink);

  bool expect_mask_;
  size_t max_message_;
  // Header being gathered (at most 2 + 8 + 4 bytes).
  unsigned char hdr_[14];
  size_t hdr_len_ = 0;
  // The frame being read.
  bool in_payload_ = false;
  uint8_t opcode_ = 0;
  bool masked_ = false;
  uint64_t remaining_ = 0;
  unsigned char key_[4] = {0, 0, 0, 0};
  size_t key_pos_ = 0;
  // Message state across frames: whether the last data frame was final (a new message may
  // start), and whether the message in progress is compressed.
  bool message_final_ = true;
  bool message_compressed_ = false;
  bool closed_ = false;
  std::string control_;     // a control frame's payload (<= 125 bytes)
  std::string compressed_;  // a compressed message's payload so far
  std::string inflated_;
  std::unique_ptr<Inflater> inflater_;
};

// Appends a frame header: RSV1 when `compressed`; `first`: the opcode is written (else a
// continuation frame). With `mask_key` (a client's frame, RFC 6455 5.3) the mask bit and the
// four key bytes are written too, and the payload must be masked with apply_mask(); without
// it the frame is unmasked, as a server's always is.
void append_frame_header(std::string& out, Opcode op, size_t len, bool first = true, bool final = true,
                         bool compressed = false, const unsigned char* mask_key = nullptr);
// XORs `n` bytes with the four-byte `key`, starting at `key_pos` (0..3) of the key; returns the
// key position the next byte would take. Masking and unmasking are the same operation.
size_t apply_mask(char* p, size_t n, const unsigned char key[4], size_t key_pos = 0);
// Sec-WebSocket-Accept for a Sec-WebSocket-Key (SHA-1 of key + RFC 6455's GUID, base64): the
// server answers with it, the client checks it.
std::string accept_key(std::string_view key);
// A close frame's payload: status, then `body`, cut to fit a control frame with "..." as the
// reference's wsCreateCloseMessage does.
std::string close_payload(uint16_t status, std::string_view body);
// A complete control frame (close, ping, pong).
std::string control_frame(Opcode op, std::string_view payload);

// Frames application bytes for the wire as the reference's wsCollapsePtoNB: one binary message,
// deflated when `deflater` is given and `app` is bigger than kCompressThreshold; when
// `max_frame` > 0 (browsers), split into frames of at most that many payload bytes
// (uncompressed output: each frame a message of its own; compressed: fragments of one message,
// unless `no_fragment_compressed`, Safari's case).
void frame_messages(std::string_view app, std::string& out, Deflater* deflater, size_t max_frame,
                    bool no_fragment_compressed);

bool valid_utf8(std::string_view s);

}  // namespace pylon::websocket
