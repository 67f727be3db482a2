// The JS client over TLS: it trusts the test CA, verifies the server's certificate and
// presents its own (mutual TLS); messages flow, and /connz shows the TLS session.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverTest } from '../lib/harness.mjs';

const script = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'common', 'make-test-certs.sh');

// The TLS tests' certificates (tests/common/make-test-certs.sh, openssl), in the test's directory.
function testCerts(dir) {
  const certs = join(dir, 'certs');
  execFileSync('bash', [script, certs]);
  return (name) => join(certs, name);
}

serverTest('tls: mutual TLS, publish and subscribe', async (s) => {
  const cert = testCerts(s.dir);
  const server = await s.startServer({
    config: `tls {
  cert_file: "${cert('server.pem')}"
  key_file: "${cert('server-key.pem')}"
  ca_file: "${cert('ca.pem')}"
  verify: true
}
`,
  });
  const tls = { caFile: cert('ca.pem'), certFile: cert('client.pem'), keyFile: cert('client-key.pem') };
  const sub = await s.connect(server, { tls });
  const pub = await s.connect(server, { tls });
  assert.equal(sub.info.tls_required, true);
  assert.equal(sub.info.tls_verify, true);

  const got = sub.subscribe('tls.js', { max: 1 });
  await sub.flush();
  pub.publish('tls.js', 'over tls');
  for await (const m of got) assert.equal(m.string(), 'over tls');

  const connz = await server.http('/connz');
  assert.equal(connz.connections.length, 2);
  for (const c of connz.connections) {
    assert.equal(c.tls_version, '1.3');
    assert.ok(c.tls_cipher_suite.startsWith('TLS_'), c.tls_cipher_suite);
  }

  // No client certificate: the server refuses the handshake.
  await assert.rejects(s.connect(server, { tls: { caFile: cert('ca.pem') } }));
});
