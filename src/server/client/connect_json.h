// A client's CONNECT, decoded as the reference decodes it: json.Unmarshal into its
// ClientOpts (client.go), Go's error texts included (proto/go_json.h). Pure and never throws,
// so whatever a peer sends, the worst outcome is an error text and a closed connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/go_json.h"

namespace pylon::server {

// The reference's ClientOpts. Absent fields keep its defaults (defaultOpts: verbose, pedantic
// and echo on).
struct ClientConnect {
  bool echo = true, verbose = true, pedantic = true, tls_required = false;
  std::string nkey, jwt, sig, auth_token, user, pass, name, lang, version, account;
  int64_t protocol = 0;  // Go's int: 64 bits
  bool new_account = false, headers = false, no_responders = false;
  // Routes and leaf nodes only; decoded so their type errors read as the reference's.
  std::optional<proto::gojson::SubjectPermission> import_perms, export_perms;
};

// Fills `out` from the CONNECT's JSON; returns the error text the reference logs when it
// cannot (e.g. `json: cannot unmarshal string into Go struct field ClientOpts.verbose of type
// bool`), and then `out` is not to be used.
std::optional<std::string> decode_client_connect(std::string_view json, ClientConnect& out);

}  // namespace pylon::server
