// Error texts the server sends (-ERR '<text>'), in the reference server's words.
// Tests compare against these constants.
#pragma once

namespace pylon::server::err {
inline constexpr const char* kUnknownProtocol = "Unknown Protocol Operation";
inline constexpr const char* kAuthorization = "Authorization Violation";
inline constexpr const char* kAuthTimeout = "Authentication Timeout";
inline constexpr const char* kMaxPayload = "Maximum Payload Violation";
inline constexpr const char* kMaxControlLine = "maximum control line exceeded";  // lower case on the wire
inline constexpr const char* kInvalidSubject = "Invalid Subject";
inline constexpr const char* kInvalidPublishSubject = "Invalid Publish Subject";
inline constexpr const char* kMaxConnections = "maximum connections exceeded";
inline constexpr const char* kMaxSubscriptions = "maximum subscriptions exceeded";
inline constexpr const char* kSecureConnectionRequired = "Secure Connection - TLS Required";
inline constexpr const char* kStaleConnection = "Stale Connection";
inline constexpr const char* kBadClientProtocol = "invalid client protocol";
inline constexpr const char* kNoRespondersRequiresHeaders = "no responders requires headers support";
}  // namespace pylon::server::err
