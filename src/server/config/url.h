// URLs of the forms the reference accepts for clusters and routes:
// nats://host:port, nats-route://user:pass@host:port, host:port.
#pragma once

#include <string>

namespace pylon::server {

struct Url {
  std::string scheme;  // "nats", "nats-route", ... (empty when absent)
  std::string user, password;
  std::string host;
  int port = 0;
  std::string str() const;  // without credentials
};

// Throws std::invalid_argument with a message naming the URL.
Url parse_url(const std::string& text);

// Splits "host:port" (also "[::1]:port"); port 0 when absent.
void split_host_port(const std::string& text, std::string& host, int& port);

}  // namespace pylon::server
