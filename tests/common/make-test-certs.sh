#!/usr/bin/env bash
# Makes the certificates every TLS test uses, with openssl, into DIR (created if missing):
#   ca.pem, ca-key.pem               the test CA ("Pylon Test CA")
#   server.pem, server-key.pem       CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1;
#                                    serverAuth and clientAuth, so routes can use it both ways
#   client.pem, client-key.pem       O=Pylon, OU=Test, CN=alice; SAN email:alice@pylon.test,
#                                    DNS:alice.pylon.test (what verify_and_map maps)
#   client2.pem, client2-key.pem     O=Pylon, OU=Test, CN=bob; no SAN (mapped by its subject)
#   expired.pem, expired-key.pem     like server.pem, but its validity ended before it began
#   other-ca.pem, other-ca-key.pem   a second CA that nothing trusts
#   wrong-ca.pem, wrong-ca-key.pem   like server.pem, signed by the other CA
#   wrong-client.pem, wrong-client-key.pem  like client.pem, signed by the other CA
#   localhost-only.pem, localhost-only-key.pem  like server.pem, but its only SAN is
#                                    DNS:localhost: right for localhost, a mismatch for 127.0.0.1
#   wrong-name.pem, wrong-name-key.pem  signed by the test CA, but for CN=wrong.pylon.test only
#                                    (SAN DNS:wrong.pylon.test): hostname verification fails
# Keys are ECDSA P-256 (fast to make); certificates are valid for 2 days. Used by the C++
# tests (tests/common/test_certs.h), the Go and JavaScript harnesses, and the benchmarks.
# Idempotent: the files a DIR already has are kept; missing ones are added beside them.
set -euo pipefail
dir=${1:?usage: make-test-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {  # ca NAME CN
  key "$1-key.pem"
  openssl req -x509 -new -key "$1-key.pem" -out "$1.pem" -days 2 -subj "/O=Pylon/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() {  # leaf NAME CA SUBJECT DAYS EXTENSIONS
  key "$1-key.pem"
  openssl req -new -key "$1-key.pem" -out "$1.csr" -subj "$3" 2>/dev/null
  printf '%b\n' "$5" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2-key.pem" -CAcreateserial \
    -out "$1.pem" -days "$4" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

server_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'
client_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth'

if ! { [ -s ca.pem ] && [ -s wrong-client.pem ]; }; then
  ca ca "Pylon Test CA"
  ca other-ca "Other Test CA"
  leaf server ca "/CN=localhost" 2 "$server_ext"
  leaf client ca "/O=Pylon/OU=Test/CN=alice" 2 "$client_ext\nsubjectAltName=email:alice@pylon.test,DNS:alice.pylon.test"
  leaf client2 ca "/O=Pylon/OU=Test/CN=bob" 2 "$client_ext"
  leaf expired ca "/CN=localhost" -1 "$server_ext"
  leaf wrong-ca other-ca "/CN=localhost" 2 "$server_ext"
  leaf wrong-client other-ca "/O=Pylon/OU=Test/CN=alice" 2 "$client_ext\nsubjectAltName=email:alice@pylon.test"
fi
if [ ! -s localhost-only.pem ]; then
  leaf localhost-only ca "/CN=localhost" 2 \
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost'
fi
if [ ! -s wrong-name.pem ]; then
  leaf wrong-name ca "/CN=wrong.pylon.test" 2 "${server_ext%%subjectAltName=*}subjectAltName=DNS:wrong.pylon.test"
fi
rm -f ./*.srl
chmod 644 ./*.pem
