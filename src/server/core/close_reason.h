// Why a connection was closed; the names are the reference server's (monitoring shows them).
#pragma once

#include <string_view>

namespace pylon::server {

enum class CloseReason {
  kClientClosed,
  kAuthenticationTimeout,
  kAuthenticationViolation,
  kTlsHandshakeError,
  kSlowConsumerPendingBytes,
  kSlowConsumerWriteDeadline,
  kWriteError,
  kReadError,
  kParseError,
  kStaleConnection,
  kProtocolViolation,
  kBadClientProtocolVersion,
  kMaxPayloadExceeded,
  kMaxControlLineExceeded,
  kMaxConnectionsExceeded,
  kDuplicateRoute,
  kRouteRemoved,
  kServerShutdown,
  kLameDuck,
  kClusterNameConflict,
  kWrongPort,
  kDuplicateLeafnode,
  kClusterNamesIdentical,
};

constexpr std::string_view to_string(CloseReason r) noexcept {
  switch (r) {
    case CloseReason::kClientClosed: return "Client Closed";
    case CloseReason::kAuthenticationTimeout: return "Authentication Timeout";
    case CloseReason::kAuthenticationViolation: return "Authentication Failure";
    case CloseReason::kTlsHandshakeError: return "TLS Handshake Failure";
    case CloseReason::kSlowConsumerPendingBytes: return "Slow Consumer (Pending Bytes)";
    case CloseReason::kSlowConsumerWriteDeadline: return "Slow Consumer (Write Deadline)";
    case CloseReason::kWriteError: return "Write Error";
    case CloseReason::kReadError: return "Read Error";
    case CloseReason::kParseError: return "Parse Error";
    case CloseReason::kStaleConnection: return "Stale Connection";
    case CloseReason::kProtocolViolation: return "Protocol Violation";
    case CloseReason::kBadClientProtocolVersion: return "Bad Client Protocol Version";
    case CloseReason::kMaxPayloadExceeded: return "Maximum Message Payload Exceeded";
    case CloseReason::kMaxControlLineExceeded: return "Maximum Control Line Exceeded";
    case CloseReason::kMaxConnectionsExceeded: return "Maximum Connections Exceeded";
    case CloseReason::kDuplicateRoute: return "Duplicate Route";
    case CloseReason::kRouteRemoved: return "Route Removed";
    case CloseReason::kServerShutdown: return "Server Shutdown";
    case CloseReason::kLameDuck: return "Lame Duck Mode";
    case CloseReason::kClusterNameConflict: return "Cluster Name Conflict";
    case CloseReason::kWrongPort: return "Incorrect Port";
    case CloseReason::kDuplicateLeafnode: return "Duplicate Remote LeafNode Connection";
    case CloseReason::kClusterNamesIdentical: return "Cluster Names Identical";
  }
  return "Unknown";
}

}  // namespace pylon::server
