#include "pylon/error.h"

namespace pylon {

const char* error_text(Error e) noexcept {
  switch (e) {
    case Error::kOk: return "ok";
    case Error::kConnectionClosed: return "connection closed";
    case Error::kNotConnected: return "not connected (connect() not called or failed)";
    case Error::kNoServers: return "no servers available for connection";
    case Error::kConnectionDraining: return "connection draining";
    case Error::kDisconnected: return "connection lost";
    case Error::kStaleConnection: return "stale connection";
    case Error::kIo: return "i/o error";
    case Error::kProtocol: return "protocol error";
    case Error::kTlsNotSupported: return "secure connection not available";
    case Error::kTlsHandshake: return "TLS handshake failed";
    case Error::kTlsVerification: return "TLS certificate verification failed";
    case Error::kWebsocketUpgrade: return "WebSocket upgrade failed";
    case Error::kAuthorization: return "authorization violation";
    case Error::kPermissionsViolation: return "permissions violation";
    case Error::kServerError: return "server error";
    case Error::kInvalidSubject: return "invalid subject";
    case Error::kInvalidQueueName: return "invalid queue name";
    case Error::kInvalidUrl: return "invalid server URL";
    case Error::kInvalidArgument: return "invalid argument";
    case Error::kMaxPayload: return "maximum payload exceeded";
    case Error::kHeadersNotSupported: return "headers not supported by this server";
    case Error::kReconnectBufferExceeded: return "outbound buffer limit exceeded";
    case Error::kTimeout: return "timeout";
    case Error::kNoResponders: return "no responders available for request";
    case Error::kDrainTimeout: return "drain timeout";
    case Error::kInvalidSubscription: return "invalid subscription";
    case Error::kMaxMessagesDelivered: return "maximum messages delivered";
    case Error::kSlowConsumer: return "slow consumer, messages dropped";
    case Error::kSyncSubscriptionRequired: return "illegal call on an async subscription";
    case Error::kWouldBlock: return "blocking call on the thread that runs the connection";
    case Error::kHandlerException: return "a message handler threw an exception";
  }
  return "unknown error";
}

namespace {

class ClientCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "pylon.client"; }
  std::string message(int ev) const override { return error_text(static_cast<Error>(ev)); }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<Error>(ev)) {
      case Error::kTimeout:
      case Error::kDrainTimeout: return std::errc::timed_out;
      case Error::kInvalidSubject:
      case Error::kInvalidQueueName:
      case Error::kInvalidUrl:
      case Error::kInvalidArgument: return std::errc::invalid_argument;
      case Error::kMaxPayload: return std::errc::message_size;
      case Error::kConnectionClosed:
      case Error::kNotConnected: return std::errc::not_connected;
      case Error::kWouldBlock: return std::errc::resource_deadlock_would_occur;
      default: return {ev, *this};
    }
  }
};

}  // namespace

const std::error_category& client_category() noexcept {
  static const ClientCategory category;
  return category;
}

ErrorInfo::ErrorInfo(Error e, std::string detail) : code(make_error_code(e)) {
  message = error_text(e);
  if (!detail.empty()) {
    message += ": ";
    message += detail;
  }
}

}  // namespace pylon
