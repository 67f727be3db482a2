// The TLS flags of the example programs, named as nats-server's (`-tlscert`, `-tlskey`,
// `-tlscacert`), bound straight to the connection's TLS options.
#pragma once

#include "go_flags.h"
#include "pylon/client_options.h"

namespace examples {

inline void tls_flags(GoFlags& flags, pylon::TlsOptions* tls) {
  flags.string("tlscert", &tls->cert_file, "Client certificate (PEM file), for servers that verify clients");
  flags.string("tlskey", &tls->key_file, "Private key of -tlscert (PEM file)");
  flags.string("tlscacert", &tls->ca_file, "CA certificates (PEM file) that sign the servers' certificates");
  flags.boolean("tlsfirst", &tls->handshake_first, "TLS handshake before the server's INFO (handshake_first servers)");
  flags.boolean("tlsinsecure", &tls->insecure_skip_verify,
                "INSECURE, for tests: do not verify the server's certificate (CA, expiry, host name)");
}

}  // namespace examples
