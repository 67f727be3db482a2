// What the kernel knows of a TCP connection's progress, for the write deadline.
#pragma once

#include <cstdint>

namespace pylon::server {

// Bytes of our output the peer's TCP has acknowledged so far (TCP_INFO tcpi_bytes_acked);
// 0 when the kernel cannot say. Monotonic over a connection's life, so two readings tell
// whether the peer took anything in between, whatever the bytes were (plaintext or TLS).
uint64_t tcp_bytes_acked(int fd) noexcept;

}  // namespace pylon::server
