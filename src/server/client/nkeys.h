// nkey users on the server side (the reference's auth.go and nkey.go): the nonce a client's
// INFO carries, the check of the CONNECT's `nkey` and `sig`, and the server's own nkey id.
// The encoding and Ed25519 are src/nkeys' (shared with the client library).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pylon/options.h"

namespace pylon::server {

// The raw length of the nonce challenge and its text length (base64url, no padding), as the
// reference's nonceRawLen and nonceLen.
inline constexpr size_t kNonceRawLen = 11;
inline constexpr size_t kNonceLen = 15;

// A fresh nonce for one client's INFO (OpenSSL's RAND_bytes, as Go's crypto/rand).
std::string make_nonce();

// A server id that is a real server nkey public key ("N" + 55 characters), as the reference's
// nkeys.CreateServer() at start. The seed is dropped: nothing is signed with it yet.
std::string make_server_nkey_id();

// The CONNECT of a client claiming the nkey user `nkey`: nullopt when `sig` (base64url, or
// std base64 as the fallback) is its Ed25519 signature of `nonce`; else the line the reference
// logs at debug level ("Signature missing", "Signature not valid base64", "User nkey not
// valid: ...", "Signature not verified").
std::optional<std::string> check_nonce_signature(std::string_view nkey, std::string_view sig, std::string_view nonce);

// The configured nkey user with this public key, or nullptr.
const NkeyUser* find_nkey_user(const Options& o, std::string_view nkey);

// An `{nkey: ...}` entry of a users list (`user` holds what else the entry gave): nullopt when
// it can join `existing`, else the reference's config error ("Not a valid public nkey for a
// user", "Nkey users do not take usernames or passwords", "Duplicate nkey \"U...\" detected").
std::optional<std::string> check_nkey_user(const User& user, std::string_view nkey, const std::vector<NkeyUser>& existing);

}  // namespace pylon::server
