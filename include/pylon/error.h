// Errors of the client library: one enum (pylon::Error) in its own std::error_code
// category, plus the context of each occurrence (which server, which subject, what the
// server said). Nothing fails silently: a call either succeeds or throws
// pylon::Exception, and what goes wrong in the background (a slow consumer, a
// permissions violation, a lost connection) reaches the async-error / disconnected /
// closed callbacks and Connection::last_error().
//
//   try { conn.request("svc", "x", 1s); }
//   catch (const pylon::Exception& e) {
//     if (e.code() == pylon::Error::kNoResponders) ...   // typed
//     std::cerr << e.what();                             // "no responders available for request: svc"
//   }
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace pylon {

enum class Error {
  kOk = 0,
  // The connection.
  kConnectionClosed = 1,     // the connection is closed (by close(), drain or after reconnects ran out)
  kNotConnected,             // connect() has not been called (or did not succeed)
  kNoServers,                // no server could be reached (initial connect, or reconnects exhausted)
  kConnectionDraining,       // the connection is draining: no new subscriptions / publishes
  kDisconnected,             // the connection was lost before the operation completed (e.g. a flush)
  kStaleConnection,          // the server stopped answering PINGs (max pings out)
  kIo,                       // a socket error (refused, reset, ...); the message has the system's text
  kProtocol,                 // the server sent something we cannot parse
  kTlsNotSupported,          // TLS is required (tls:// URL, TLS options) but the server does not offer it
  kTlsHandshake,             // the TLS handshake failed (or the server refused our certificate); OpenSSL's reason
  kTlsVerification,          // the server's certificate failed verification (CA, expiry, host name); OpenSSL's reason
  kWebsocketUpgrade,         // a ws:// or wss:// server refused the WebSocket upgrade (its HTTP status line), or is no WebSocket server
  // Authorization and the server's -ERR.
  kAuthorization,            // -ERR 'Authorization Violation' (or another auth error)
  kPermissionsViolation,     // -ERR 'Permissions Violation for ...' (the connection stays up)
  kServerError,              // any other -ERR; the message has the server's text
  // Arguments.
  kInvalidSubject,
  kInvalidQueueName,
  kInvalidUrl,
  kInvalidArgument,          // a bad timeout, limit or option
  kMaxPayload,               // the message is larger than the server's max_payload
  kHeadersNotSupported,      // headers given but the server does not support them
  // Publishing while disconnected.
  kReconnectBufferExceeded,  // the reconnect buffer is full: the publish was refused
  // Timeouts and requests.
  kTimeout,
  kNoResponders,             // nobody was subscribed to a request's subject (503 status)
  kDrainTimeout,             // drain did not finish in time (the connection was closed anyway)
  // Subscriptions.
  kInvalidSubscription,      // unsubscribed, drained, or its connection is closed
  kMaxMessagesDelivered,     // an auto-unsubscribe limit was reached
  kSlowConsumer,             // a subscription's pending limits were exceeded: messages dropped
  kSyncSubscriptionRequired, // next_msg() on a subscription with a callback
  kWouldBlock,               // a blocking call made on the thread that must do the work
  kHandlerException,         // a message handler threw (reported to on_async_error)
};

}  // namespace pylon

template <>
struct std::is_error_code_enum<pylon::Error> : std::true_type {};

namespace pylon {

// The category of pylon::Error ("pylon.client").
const std::error_category& client_category() noexcept;

inline std::error_code make_error_code(Error e) noexcept { return {static_cast<int>(e), client_category()}; }

// A short, stable text for each code ("no responders available for request").
const char* error_text(Error e) noexcept;

// One error with its context. Empty (false) when there was none.
struct ErrorInfo {
  std::error_code code;
  std::string message;  // full text with context, e.g. "no servers available for connection: ..."

  ErrorInfo() = default;
  ErrorInfo(Error e, std::string detail);  // message = "<error_text>: <detail>" (or the text alone)
  ErrorInfo(std::error_code c, std::string msg) : code(c), message(std::move(msg)) {}

  explicit operator bool() const noexcept { return static_cast<bool>(code); }
  bool operator==(Error e) const noexcept { return code == make_error_code(e); }
};

// What every failing call throws. code() is in client_category(); what() is the full
// message with context.
class Exception : public std::system_error {
 public:
  explicit Exception(const ErrorInfo& info) : std::system_error(info.code, info.message), info_(info) {}
  Exception(Error e, std::string detail) : Exception(ErrorInfo(e, std::move(detail))) {}
  const char* what() const noexcept override { return info_.message.c_str(); }
  const ErrorInfo& info() const noexcept { return info_; }

 private:
  ErrorInfo info_;
};

}  // namespace pylon
