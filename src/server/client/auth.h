// Checking credentials: plain or bcrypt ($2a$/$2b$/$2y$) passwords and tokens, verified
// with libxcrypt (no home-made crypto), compared in constant time.
#pragma once

#include <string>
#include <string_view>

namespace pylon::server {

// True when `stored` looks like a bcrypt hash.
bool is_bcrypt(std::string_view stored) noexcept;

// True when `given` matches `stored` (a bcrypt hash, or plain text).
bool check_password(std::string_view stored, std::string_view given);

// bcrypt-hashes `password` with the given cost (4..31). Throws std::runtime_error.
std::string bcrypt_hash(std::string_view password, int cost = 11);

}  // namespace pylon::server
