#include "client/websocket.h"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>

#ifndef PYLON_VERSION
#define PYLON_VERSION "0.0.0"
#endif

namespace pylon::client {

namespace http = boost::beast::http;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// nats.go's offer: permessage-deflate without context takeover on either side, so every
// message stands alone (the codec's Deflater and Inflater reset per message).
constexpr std::string_view kDeflateOffer =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// nats.go's wsPMCExtensionSupport on the answer's Sec-WebSocket-Extensions: whether the
// server took permessage-deflate, and whether with both no_context_takeover parameters.
std::pair<bool, bool> deflate_agreed(std::string_view extensions) {
  while (!extensions.empty()) {
    size_t comma = extensions.find(',');
    std::string_view ext = extensions.substr(0, comma);
    size_t semi = ext.find(';');
    if (iequals(trim(ext.substr(0, semi)), "permessage-deflate")) {
      bool server_no_ctx = false, client_no_ctx = false;
      while (semi != std::string_view::npos) {
        ext.remove_prefix(semi + 1);
        semi = ext.find(';');
        std::string_view param = trim(ext.substr(0, semi));
        server_no_ctx = server_no_ctx || iequals(param, "server_no_context_takeover");
        client_no_ctx = client_no_ctx || iequals(param, "client_no_context_takeover");
      }
      return {true, server_no_ctx && client_no_ctx};
    }
    if (comma == std::string_view::npos) break;
    extensions.remove_prefix(comma + 1);
  }
  return {false, false};
}

// What a peer that is no HTTP server sent, for the error: its first line, cut short.
std::string first_line(std::string_view s) {
  s = s.substr(0, s.find_first_of("\r\n"));
  if (s.size() > 60) return std::string(s.substr(0, 60)) + "...";
  return std::string(s);
}

}  // namespace

// Beast's response parser, header only (the body of a refusal is of no interest).
struct WsLayer::AnswerParser {
  AnswerParser() {
    parser.header_limit(static_cast<std::uint32_t>(kMaxUpgradeAnswer));
    parser.eager(false);
  }
  http::response_parser<http::empty_body> parser;
  std::string buf;  // bytes not consumed by the parser yet (it needs the header whole)
  bool is_http = false;  // the answer's first bytes were "HTTP/"
};

WsLayer::WsLayer(bool offer_compression) : rng_(std::random_device{}()), offer_compression_(offer_compression) {}
WsLayer::~WsLayer() = default;

std::string WsLayer::upgrade_request(const ServerUrl& url) {
  unsigned char raw[16];
  std::random_device rd;
  for (auto& b : raw) b = static_cast<unsigned char>(rd());
  unsigned char b64[25];
  int n = EVP_EncodeBlock(b64, raw, sizeof raw);
  key_.assign(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
  answer_ = std::make_unique<AnswerParser>();
  // The request nats.go sends (Go's http.Request.Write), with our own User-Agent: not a
  // browser's, so a server frames its output for a program (no 4 KiB frames).
  std::string r = "GET / HTTP/1.1\r\nHost: " + url.host_port() +
                   "\r\nUser-Agent: pylon-client/" PYLON_VERSION
                   "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
                   key_ + "\r\nSec-WebSocket-Version: 13\r\n";
  if (offer_compression_) r += "Sec-WebSocket-Extensions: " + std::string(kDeflateOffer) + "\r\n";
  r += "\r\n";
  return r;
}

WsLayer::Answer WsLayer::read_answer(std::string_view data, const std::string& url) {
  Answer a;
  auto refuse = [&](std::string why) {
    a.state = Answer::State::kRefused;
    a.error = ErrorInfo(Error::kWebsocketUpgrade, url + ": " + std::move(why));
    return a;
  };
  AnswerParser& p = *answer_;
  p.buf.append(data);
  // A NATS port speaks first, with INFO: say so at once rather than wait for a header end.
  if (!p.is_http && p.buf.size() >= 5) {
    p.is_http = p.buf.starts_with("HTTP/");
    if (!p.is_http) {
      return refuse("not a WebSocket server: it sent '" + first_line(p.buf) + "'" +
                    (p.buf.starts_with("INFO ") ? " (a NATS client port: use nats://)" : ""));
    }
  }
  if (!p.is_http) return a;
  boost::system::error_code ec;
  size_t used = p.parser.put(boost::asio::buffer(p.buf), ec);
  if (ec == http::error::need_more) {
    p.buf.erase(0, used);  // Beast keeps what it consumed; the rest comes again with more
    return a;
  }
  if (ec) return refuse("not a WebSocket server: its answer to the upgrade is no HTTP (" + ec.message() + ")");
  if (!p.parser.is_header_done()) {  // cannot happen with eager(false); be safe
    p.buf.erase(0, used);
    return a;
  }
  const auto& res = p.parser.get();
  if (res.result_int() != 101) {
    return refuse("the server refused the upgrade: HTTP/1.1 " + std::to_string(res.result_int()) + " " +
                  std::string(res.reason()));
  }
  // nats.go's checks, in its words ("invalid websocket connection"), with which one failed.
  auto header = [&](http::field f) { return std::string_view(res[f].data(), res[f].size()); };
  if (!iequals(header(http::field::upgrade), "websocket")) {
    return refuse("invalid websocket connection: 'Upgrade: " + std::string(header(http::field::upgrade)) + "'");
  }
  if (!iequals(header(http::field::connection), "upgrade")) {
    return refuse("invalid websocket connection: 'Connection: " + std::string(header(http::field::connection)) + "'");
  }
  if (header(http::field::sec_websocket_accept) != websocket::accept_key(key_)) {
    return refuse("invalid websocket connection: wrong Sec-WebSocket-Accept");
  }
  if (offer_compression_) {
    // A server that does not take the offer is used uncompressed; one that takes it with
    // context takeover is refused, as nats.go does ("compression negotiation error").
    auto [agreed, no_takeover] = deflate_agreed(header(http::field::sec_websocket_extensions));
    if (agreed && !no_takeover) return refuse("compression negotiation error");
    if (agreed) deflater_ = std::make_unique<websocket::Deflater>();
  }
  a.state = Answer::State::kAccepted;
  a.rest = p.buf.substr(used);
  answer_.reset();
  return a;
}

ErrorInfo WsLayer::finish_decode(const websocket::FrameReader::Error& err, const ServerUrl& url) const {
  if (err) return ErrorInfo(Error::kProtocol, url.str() + ": bad WebSocket frame: " + err.text);
  if (server_closed_) {
    std::string why = url.str() + " closed the WebSocket connection (" + std::to_string(close_status_);
    if (!close_reason_.empty()) why += " " + close_reason_;
    return ErrorInfo(Error::kIo, why + ")");
  }
  return {};
}

void WsLayer::mask_key(unsigned char key[4]) {
  uint32_t k = static_cast<uint32_t>(rng_());
  for (int i = 0; i < 4; ++i) key[i] = static_cast<unsigned char>(k >> (8 * i));
}

void WsLayer::queue_pong(std::string_view payload) {
  if (close_queued_) return;
  unsigned char key[4];
  mask_key(key);
  websocket::append_frame_header(control_, websocket::kPong, payload.size(), true, true, false, key);
  size_t at = control_.size();
  control_.append(payload);
  websocket::apply_mask(control_.data() + at, payload.size(), key);
}

void WsLayer::queue_close(uint16_t status) {
  if (close_queued_) return;
  close_queued_ = true;
  std::string body = websocket::close_payload(status, {});
  unsigned char key[4];
  mask_key(key);
  websocket::append_frame_header(close_, websocket::kClose, body.size(), true, true, false, key);
  websocket::apply_mask(body.data(), body.size(), key);
  close_ += body;
}

std::string_view WsLayer::frame(std::string& app, std::string& head, std::string& tail) {
  head.clear();
  head.swap(control_);
  tail.clear();
  tail.swap(close_);
  if (app.empty()) return {};
  unsigned char key[4];
  mask_key(key);
  // Small batches go as they are (the codec's threshold, the reference's): deflate would
  // not make them smaller.
  if (deflater_ && app.size() > websocket::kCompressThreshold) {
    deflated_.clear();
    deflater_->deflate(app, deflated_);
    websocket::append_frame_header(head, websocket::kBinary, deflated_.size(), true, true, true, key);
    websocket::apply_mask(deflated_.data(), deflated_.size(), key);
    return deflated_;
  }
  websocket::append_frame_header(head, websocket::kBinary, app.size(), true, true, false, key);
  websocket::apply_mask(app.data(), app.size(), key);
  return app;
}

}  // namespace pylon::client
