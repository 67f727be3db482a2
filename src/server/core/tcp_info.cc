// Its own file: <linux/tcp.h> (which has tcpi_bytes_acked) clashes with the <netinet/tcp.h>
// that Asio includes.
#include "server/core/tcp_info.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace pylon::server {

uint64_t tcp_bytes_acked(int fd) noexcept {
  struct tcp_info info {};
  socklen_t len = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  // Kernels before 4.1 fill less; then the field stays 0 and the deadline sees no progress.
  return info.tcpi_bytes_acked;
}

}  // namespace pylon::server
