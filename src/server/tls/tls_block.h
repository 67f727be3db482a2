// The `tls { ... }` block of the config file, read as the reference's parseTLS (opts.go): the
// same keys, types, defaults and error words. One reader for every place a block may sit, so
// the top level (client TLS), `cluster { tls {} }` (route TLS) and the leafnode blocks accept
// the same things.
#pragma once

#include <string>
#include <vector>

#include "pylon/options.h"

namespace pylon::config {
class Value;
}

namespace pylon::server::tls {

// Where the block sits. The reference's isClientCtx: only what differs between the two.
enum class BlockKind {
  kClient,      // top level: client connections (accepted only)
  kCluster,     // cluster { tls {} }: routes, accepted and dialled
  kLeafnode,    // leafnodes { tls {} }: leafs we accept (the reference reads it as a client block)
  kLeafRemote,  // leafnodes { remotes = [ { tls {} } ] }: the hub we dial (likewise)
};

// Reads `block` (a map) into TlsConfig with enabled = true. Throws config::ConfigError at the
// value (or key) at fault, in the reference's words ("error parsing tls config, unknown field
// [\"x\"]"). Appends to `warnings` (file:line:column: text) what is accepted but has no effect.
// Checks only the block's own syntax; the files it names are read by make_context (tls_context.h).
TlsConfig parse_tls_block(const config::Value& block, BlockKind kind, std::vector<std::string>& warnings);

// The Go cipher-suite and curve names the reference accepts (ciphersuites.go), for tls_context.cc.
// nullptr when unknown. TLS 1.3 suites map to their own (fixed) names.
const char* openssl_cipher_name(std::string_view go_name);
const char* openssl_group_name(std::string_view go_curve);

}  // namespace pylon::server::tls
