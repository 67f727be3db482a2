#include "websocket/frame.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace pylon::websocket {

namespace {
constexpr unsigned char kFinalBit = 0x80;
constexpr unsigned char kRsv1Bit = 0x40;  // compressed (RFC 7692 section 6)
constexpr unsigned char kMaskBit = 0x80;
// RFC 7692 7.2.2: a sender strips these four bytes of its sync flush; the receiver puts them back.
constexpr unsigned char kSyncTail[4] = {0x00, 0x00, 0xff, 0xff};
// RFC 6455 1.3: what the accept key hashes with the client's key.
constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool is_control(uint8_t op) { return op >= kClose; }

FrameReader::Error protocol_error(std::string text) { return {kProtocolError, std::move(text)}; }
}  // namespace

// ---- permessage-deflate --------------------------------------------------------------

struct Inflater::State {
  z_stream z{};
};

Inflater::Inflater() : z_(std::make_unique<State>()) {
  if (inflateInit2(&z_->z, -MAX_WBITS) != Z_OK) throw std::bad_alloc();
}

Inflater::~Inflater() { inflateEnd(&z_->z); }

std::string Inflater::inflate(std::string_view in, std::string& out, size_t max_out) {
  z_stream& z = z_->z;
  inflateReset(&z);  // no context takeover: every message stands alone
  std::string input(in);
  input.append(reinterpret_cast<const char*>(kSyncTail), sizeof kSyncTail);
  z.next_in = reinterpret_cast<Bytef*>(input.data());
  z.avail_in = static_cast<uInt>(input.size());
  out.clear();
  char chunk[16 * 1024];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    int rc = ::inflate(&z, Z_SYNC_FLUSH);
    size_t got = sizeof chunk - z.avail_out;
    if (out.size() + got > max_out) return fmt::format("message too big: more than {} bytes inflated", max_out);
    out.append(chunk, got);
    if (rc == Z_STREAM_END) return {};
    if (rc == Z_BUF_ERROR && z.avail_in == 0) return {};  // all input consumed, nothing more to give
    if (rc != Z_OK) return fmt::format("flate: {}", z.msg ? z.msg : "corrupt input");
    if (z.avail_in == 0 && z.avail_out != 0) return {};
  }
}

struct Deflater::State {
  z_stream z{};
};

Deflater::Deflater() : z_(std::make_unique<State>()) {
  // The reference's flate.BestSpeed, raw deflate, full window.
  if (deflateInit2(&z_->z, Z_BEST_SPEED, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::bad_alloc();
  }
}

Deflater::~Deflater() { deflateEnd(&z_->z); }

void Deflater::deflate(std::string_view in, std::string& out) {
  z_stream& z = z_->z;
  deflateReset(&z);  // server_no_context_takeover
  size_t start = out.size();
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  for (;;) {
    size_t before = out.size();
    size_t room = deflateBound(&z, z.avail_in) + 16;
    out.resize(before + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    z.avail_out = static_cast<uInt>(room);
    ::deflate(&z, Z_SYNC_FLUSH);
    out.resize(before + room - z.avail_out);
    if (z.avail_in == 0 && z.avail_out != 0) break;
  }
  // A sync flush ends with 00 00 ff ff, which RFC 7692 has the sender remove.
  if (out.size() - start >= 4 && std::memcmp(out.data() + out.size() - 4, kSyncTail, 4) == 0) out.resize(out.size() - 4);
}

// ---- decoding ------------------------------------------------------------------------

FrameReader::FrameReader(bool expect_mask, size_t max_message) : expect_mask_(expect_mask), max_message_(max_message) {}
FrameReader::~FrameReader() = default;

FrameReader::Error FrameReader::decode(char* data, size_t n, FrameSink& sink) {
  size_t pos = 0;
  while (pos < n && !closed_) {
    if (!in_payload_) {
      hdr_[hdr_len_++] = static_cast<unsigned char>(data[pos++]);
      if (hdr_len_ < 2) continue;
      if (hdr_len_ == 2) {
        // The reference's checks, in its order, as soon as the first two bytes are known.
        const unsigned char b0 = hdr_[0], b1 = hdr_[1];
        const uint8_t op = b0 & 0x0f;
        const bool final = (b0 & kFinalBit) != 0;
        const bool compressed = (b0 & kRsv1Bit) != 0;
        if (expect_mask_ && (b1 & kMaskBit) == 0) return protocol_error("mask bit missing");
        const unsigned len7 = b1 & 0x7f;
        switch (op) {
          case kPing:
          case kPong:
          case kClose:
            if (len7 > kMaxControlPayload) {
              return protocol_error(
                  fmt::format("control frame length bigger than maximum allowed of {} bytes", kMaxControlPayload));
            }
            if (!final) return protocol_error("control frame does not have final bit set");
            break;
          case kText:
          case kBinary:
            if (!message_final_) {
              return protocol_error("new message started before final frame for previous message was received");
            }
            message_final_ = final;
            message_compressed_ = compressed;
            break;
          case kContinuation:
            // Only a message's first frame may carry the compressed bit.
            if (message_final_ || compressed) return protocol_error("invalid continuation frame");
            message_final_ = final;
            break;
          default:
            return protocol_error(fmt::format("unknown opcode {}", op));
        }
      }
      const unsigned len7 = hdr_[1] & 0x7f;
      const bool masked = (hdr_[1] & kMaskBit) != 0;
      const size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
      if (hdr_len_ < need) continue;
      if (auto err = start_frame(sink)) return err;
      continue;
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, n - pos));
    char* p = data + pos;
    pos += take;
    remaining_ -= take;
    if (masked_) key_pos_ = apply_mask(p, take, key_, key_pos_);
    if (is_control(opcode_)) {
      control_.append(p, take);
      if (remaining_ == 0) {
        in_payload_ = false;
        if (auto err = end_control(sink)) return err;
      }
      continue;
    }
    if (message_compressed_) {
      if (compressed_.size() + take > max_message_) {
        return {kMessageTooBig, fmt::format("message too big: more than {} bytes compressed", max_message_)};
      }
      compressed_.append(p, take);
      if (remaining_ == 0) {
        in_payload_ = false;
        if (message_final_) {
          if (auto err = end_compressed(sink)) return err;
        }
      }
      continue;
    }
    if (remaining_ == 0) in_payload_ = false;
    if (take > 0 && !sink.on_payload(std::string_view(p, take))) return {};
  }
  return {};
}

FrameReader::Error FrameReader::start_frame(FrameSink& sink) {
  opcode_ = hdr_[0] & 0x0f;
  const unsigned len7 = hdr_[1] & 0x7f;
  masked_ = (hdr_[1] & kMaskBit) != 0;
  size_t at = 2;
  uint64_t len = len7;
  if (len7 == 126) {
    len = (uint64_t{hdr_[2]} << 8) | hdr_[3];
    at = 4;
  } else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | hdr_[2 + i];
    at = 10;
    // RFC 6455 5.2: the most significant bit must be 0.
    if (len >> 63) return protocol_error("invalid payload length");
  }
  if (masked_) {
    std::memcpy(key_, hdr_ + at, 4);
    key_pos_ = 0;
  }
  hdr_len_ = 0;
  remaining_ = len;
  in_payload_ = true;
  if (is_control(opcode_)) control_.clear();
  if (remaining_ == 0) {
    // An empty frame: done at once.
    in_payload_ = false;
    if (is_control(opcode_)) return end_control(sink);
    if (message_compressed_ && message_final_) return end_compressed(sink);
  }
  return {};
}

FrameReader::Error FrameReader::end_control(FrameSink& sink) {
  switch (opcode_) {
    case kClose: {
      uint16_t status = kNoStatusReceived;
      std::string_view body;
      if (control_.size() >= 2) {
        status = static_cast<uint16_t>((static_cast<unsigned char>(control_[0]) << 8) | static_cast<unsigned char>(control_[1]));
        body = std::string_view(control_).substr(2);
        if (!body.empty() && !valid_utf8(body)) {
          status = kInvalidPayloadData;
          body = "invalid utf8 body in close frame";
        }
      }
      closed_ = true;
      sink.on_close(status, body);
      break;
    }
    case kPing:
      sink.on_ping(control_);
      break;
    default:  // a pong: nothing to do
      break;
  }
  return {};
}

FrameReader::Error FrameReader::end_compressed(FrameSink& sink) {
  if (!inflater_) inflater_ = std::make_unique<Inflater>();
  std::string why = inflater_->inflate(compressed_, inflated_, max_message_);
  compressed_.clear();
  if (!why.empty()) {
    return {why.starts_with("message too big") ? kMessageTooBig : kInvalidPayloadData, std::move(why)};
  }
  message_compressed_ = false;
  if (!inflated_.empty()) sink.on_payload(inflated_);
  inflated_.clear();
  if (inflated_.capacity() > 1024 * 1024) std::string().swap(inflated_);
  return {};
}

// ---- encoding ------------------------------------------------------------------------

void append_frame_header(std::string& out, Opcode op, size_t len, bool first, bool final, bool compressed,
                         const unsigned char* mask_key) {
  unsigned char b0 = first ? static_cast<unsigned char>(op) : 0;
  if (final) b0 |= kFinalBit;
  if (compressed) b0 |= kRsv1Bit;
  const unsigned char m = mask_key != nullptr ? kMaskBit : 0;
  out.push_back(static_cast<char>(b0));
  if (len <= 125) {
    out.push_back(static_cast<char>(m | len));
  } else if (len < 65536) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xff));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((uint64_t{len} >> (8 * i)) & 0xff));
  }
  if (mask_key != nullptr) out.append(reinterpret_cast<const char*>(mask_key), 4);
}

size_t apply_mask(char* p, size_t n, const unsigned char key[4], size_t key_pos) {
  // Hot for every byte a WebSocket client sends (and the server unmasks): eight bytes at a
  // time (the key repeats every four, so a word of it lines up at any multiple of eight),
  // then the tail.
  size_t i = 0;
  if (n >= 16) {
    unsigned char k8[8];
    for (size_t j = 0; j < 8; ++j) k8[j] = key[(key_pos + j) & 3];
    uint64_t k;
    std::memcpy(&k, k8, 8);
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      w ^= k;
      std::memcpy(p + i, &w, 8);
    }
  }
  for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ key[(key_pos + i) & 3]);
  return (key_pos + n) & 3;
}

std::string accept_key(std::string_view key) {
  std::string in(key);
  in.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

std::string close_payload(uint16_t status, std::string_view body) {
  std::string cut;
  if (body.size() > kMaxControlPayload - 2) {
    cut = std::string(body.substr(0, kMaxControlPayload - 5)) + "...";
    body = cut;
  }
  std::string out;
  out.push_back(static_cast<char>(status >> 8));
  out.push_back(static_cast<char>(status & 0xff));
  out.append(body);
  return out;
}

std::string control_frame(Opcode op, std::string_view payload) {
  std::string out;
  append_frame_header(out, op, payload.size());
  out.append(payload);
  return out;
}

void frame_messages(std::string_view app, std::string& out, Deflater* deflater, size_t max_frame,
                    bool no_fragment_compressed) {
  if (app.empty()) return;
  if (deflater != nullptr && app.size() > kCompressThreshold) {
    std::string z;
    deflater->deflate(app, z);
    std::string_view p = z;
    if (max_frame > 0 && !no_fragment_compressed && p.size() > max_frame) {
      // One message in fragments: only the first carries the opcode and the compressed bit.
      for (bool first = true; !p.empty(); first = false) {
        size_t n = std::min(p.size(), max_frame);
        append_frame_header(out, kBinary, n, first, n == p.size(), first);
        out.append(p.substr(0, n));
        p.remove_prefix(n);
      }
    } else {
      append_frame_header(out, kBinary, p.size(), true, true, true);
      out.append(p);
    }
    return;
  }
  if (max_frame == 0) {
    out.reserve(out.size() + app.size() + 10);
    append_frame_header(out, kBinary, app.size());
    out.append(app);
    return;
  }
  // Browsers: a message per max_frame bytes (the client protocol is a stream, so a NATS
  // operation may straddle two messages).
  while (!app.empty()) {
    size_t n = std::min(app.size(), max_frame);
    append_frame_header(out, kBinary, n);
    out.append(app.substr(0, n));
    app.remove_prefix(n);
  }
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 (Go's utf8.ValidString).
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace pylon::websocket
