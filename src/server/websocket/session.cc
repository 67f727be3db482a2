#include "server/websocket/session.h"

namespace pylon::server::websocket {

Session::Session(std::shared_ptr<const Settings> settings) : settings_(std::move(settings)) {}

const Upgrade& Session::on_request(std::string_view data) {
  upgrade_ = request_.feed(data, *settings_);
  if (upgrade_.state == Upgrade::State::kIncomplete) return upgrade_;
  control_out_ += upgrade_.response;
  upgrade_.response.clear();
  if (upgrade_.state == Upgrade::State::kAccepted) {
    upgraded_ = true;
    reader_ = std::make_unique<FrameReader>(!upgrade_.no_masking, settings_->max_message);
    if (upgrade_.compress) deflater_ = std::make_unique<Deflater>();
  }
  return upgrade_;
}

FrameReader::Error Session::decode(char* data, size_t n, FrameSink& sink) { return reader_->decode(data, n, sink); }

void Session::queue_pong(std::string_view payload) {
  if (close_queued_) return;  // nothing goes after the close frame
  control_out_ += control_frame(kPong, payload);
}

void Session::queue_close(uint16_t status, std::string_view body) {
  if (close_queued_ || !upgraded_) return;
  close_queued_ = true;
  close_out_ = control_frame(kClose, close_payload(status, body));
}

void Session::take_output(std::string_view app, std::string& out) {
  out += control_out_;
  control_out_.clear();
  if (upgraded_) {
    frame_messages(app, out, deflater_.get(), upgrade_.browser ? kFrameSizeForBrowsers : 0,
                   upgrade_.no_compressed_fragments);
  }
  if (!close_out_.empty()) {
    out += close_out_;
    close_out_.clear();
  }
}

bool Session::frame_in_place(size_t app_size, std::string& head) {
  close_sending_.clear();
  in_place_ = upgraded_ && app_size > 0 && !upgrade_.browser && !(deflater_ && app_size > kCompressThreshold);
  if (!in_place_) return false;
  head += control_out_;
  control_out_.clear();
  append_frame_header(head, kBinary, app_size);
  close_sending_.swap(close_out_);
  return true;
}

uint16_t close_status_for(CloseReason reason) {
  switch (reason) {
    case CloseReason::kClientClosed:
      return kNormalClosure;
    case CloseReason::kAuthenticationTimeout:
    case CloseReason::kAuthenticationViolation:
    case CloseReason::kSlowConsumerPendingBytes:
    case CloseReason::kSlowConsumerWriteDeadline:
    case CloseReason::kMaxConnectionsExceeded:
    case CloseReason::kMaxControlLineExceeded:
      return kPolicyViolation;
    case CloseReason::kTlsHandshakeError:
      return kTlsHandshake;
    case CloseReason::kParseError:
    case CloseReason::kProtocolViolation:
    case CloseReason::kBadClientProtocolVersion:
      return kProtocolError;
    case CloseReason::kMaxPayloadExceeded:
      return kMessageTooBig;
    case CloseReason::kServerShutdown:
    case CloseReason::kLameDuck:
      return kGoingAway;
    case CloseReason::kWriteError:
    case CloseReason::kReadError:
    case CloseReason::kStaleConnection:
      return kAbnormalClosure;
    default:
      return kInternalServerError;
  }
}

}  // namespace pylon::server::websocket
