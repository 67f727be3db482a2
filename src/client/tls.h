// TLS for the client: the OpenSSL context built from TlsOptions, a client stream set up
// for one server (SNI, host name verification), and OpenSSL's failures turned into
// typed errors. The stream itself (tls_stream.h) is Transport::tls (core.h).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <string>

#include "client/tls_stream.h"

#include "pylon/client_options.h"
#include "pylon/error.h"

namespace pylon::client {

// The context of every TLS connection of one Connection: CAs (or the system's), the
// client certificate and key, TLS 1.2 at least (as nats.go). Throws
// Exception(kInvalidArgument) naming the option and OpenSSL's reason.
boost::asio::ssl::context make_tls_context(const TlsOptions& o);

// Prepares `s` for a handshake with `host` (the URL's host): SNI when it is a name, and
// unless insecure, verification of the chain and of the certificate's DNS name or IP
// address against `host`.
void prepare_tls_stream(TlsStream& s, const std::string& host, bool insecure_skip_verify);

// Why a handshake with `url` failed: kTlsVerification when the server's certificate was
// refused (OpenSSL's verify result: "certificate has expired", "hostname mismatch", ...),
// else kTlsHandshake with OpenSSL's reason ("wrong version number", an alert from the
// server such as "tlsv13 alert certificate required", or the server closing).
ErrorInfo tls_handshake_error(const boost::system::error_code& ec, TlsStream& s, const std::string& url);

// Whether `ec` comes from TLS (OpenSSL or the ssl stream), not from the socket.
bool is_tls_error(const boost::system::error_code& ec);

}  // namespace pylon::client
