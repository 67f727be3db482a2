// A blocking HTTP/1.1 GET for the monitoring endpoints (`pylon top`), over plain TCP or TLS
// (a server's https_port), with one deadline for the whole exchange (resolve, connect,
// handshake, request, response).
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

// HTTPS: how the server's certificate is checked, and the client's own.
struct HttpTls {
  bool enabled = false;         // https:// instead of http://
  std::string ca_file;          // CAs that sign the server's certificate (else the system's)
  std::string cert_file;        // a client certificate, for a server that asks for one
  std::string key_file;         // its private key
  bool insecure = false;        // do not verify the server's certificate (tests only)
};

// GET http(s)://host:port<target>. Any status is returned (the caller decides); a failure
// to resolve, connect, handshake, send or read within `timeout` throws HttpError. With TLS
// the server's certificate is verified against `tls.ca_file` and `host` (its DNS name or
// IP address) unless `tls.insecure`; a refused one reads as Go's: `Get "https://...":
// tls: failed to verify certificate: x509: certificate signed by unknown authority`.
// A CA, certificate or key file that cannot be read throws HttpError too.
HttpReply http_get(const std::string& host, int port, const std::string& target,
                   std::chrono::milliseconds timeout, const HttpTls& tls = {});

}  // namespace pylon::tools
