// A blocking HTTP/1.1 GET for the monitoring endpoints (`pylon top`), with one deadline
// for the whole exchange (resolve, connect, request, response).
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace pylon::tools {

struct HttpReply {
  int status = 0;       // 200, 404, ...
  std::string reason;   // "OK", "Not Found", ...
  std::string body;
};

// Thrown when no HTTP answer arrived. what() reads like Go's net/http client error, as
// nats-top prints it: `Get "http://127.0.0.1:8222/varz": dial tcp 127.0.0.1:8222: connect:
// connection refused`.
class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// GET http://host:port<target>. Any status is returned (the caller decides); a failure
// to resolve, connect, send or read within `timeout` throws HttpError.
HttpReply http_get(const std::string& host, int port, const std::string& target,
                   std::chrono::milliseconds timeout);

}  // namespace pylon::tools
