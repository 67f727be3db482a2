// The NATS header block on the wire:
//   "NATS/1.0[ <status>[ <description>]]\r\n" then "<Key>: <Value>\r\n" each, then "\r\n".
#pragma once

#include <string>
#include <string_view>

#include "pylon/message.h"

namespace pylon::client {

inline constexpr std::string_view kHeaderVersion = "NATS/1.0";
inline constexpr int kStatusNoResponders = 503;

// Appends the header block of `headers` (with an optional status line) to `out`.
void encode_headers(std::string& out, const Headers& headers, int status = 0, std::string_view description = {});

// The encoded size of the block encode_headers() would append.
size_t encoded_headers_size(const Headers& headers, int status = 0, std::string_view description = {});

// Parses a header block into msg.headers / msg.status / msg.status_description.
// Returns false (leaving what was parsed) when the block is malformed.
bool decode_headers(std::string_view block, Message& msg);

// True for a header key/value the wire can carry (no CR/LF; keys also no ':' or space).
bool valid_header_key(std::string_view key) noexcept;
bool valid_header_value(std::string_view value) noexcept;

}  // namespace pylon::client
