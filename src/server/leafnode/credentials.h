// A .creds file for a leafnode remote (`credentials: "file.creds"`): the user JWT and the nkey
// seed it holds, read as the reference's sendLeafConnect does (its credsRe: each item sits on
// the line between a "-----BEGIN ...-----" and an "------END ...------" line; the first item
// is the JWT, the second the seed). The CONNECT then carries the JWT and the hub's nonce
// signed with the seed.
#pragma once

#include <string>
#include <string_view>

#include "nkeys/nkeys.h"

namespace pylon::server {

struct LeafCredentials {
  std::string jwt;
  nkeys::KeyPair key;
};

// Reads `path`. Throws std::runtime_error in the reference's words: Go's os.ReadFile error
// ("open x.creds: no such file or directory"), "Credentials file malformed", "Credentials
// file has malformed seed".
LeafCredentials read_leaf_credentials(const std::string& path);

// The same, from the text of such a file.
LeafCredentials parse_leaf_credentials(std::string_view text);

}  // namespace pylon::server
