// The two JSON documents of the client handshake: the server's INFO and our CONNECT.
#pragma once

#include <string>
#include <string_view>

#include "client/server_pool.h"
#include "pylon/client_options.h"
#include "pylon/connection.h"

namespace pylon::client {

inline constexpr const char* kClientLang = "cpp";

// Parses an INFO document; throws Exception(kProtocol) when it is not a JSON object.
// `tls_required` is also returned separately (the fuzz target reads it so).
ServerInfo parse_info(std::string_view json, bool* tls_required = nullptr);

// The CONNECT document for `server`: credentials from its URL, else from the options;
// tls_required says whether this connection runs over TLS (as nats.go sends it); `nkey` and
// `sig` (the nonce's signature, base64url) when the client is an nkey user.
std::string connect_json(const ClientOptions& opts, const ServerUrl& server, bool tls = false,
                         std::string_view nkey = {}, std::string_view sig = {});

}  // namespace pylon::client
