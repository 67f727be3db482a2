// nkey users: the official JavaScript client signs the nonce of the server's INFO with a seed
// (nkeyAuthenticator); a seed whose key the server does not have, and no credentials, fail
// with the server's 'Authorization Violation'.
import assert from 'node:assert/strict';
import { ErrorCode, StringCodec, nkeyAuthenticator, nkeys } from 'nats';
import { serverTest } from '../lib/harness.mjs';

const sc = StringCodec();

function isAuthorizationViolation(e) {
  assert.equal(e.code, ErrorCode.AuthorizationViolation, `error code of: ${e.message}`);
  assert.equal(e.message, "'Authorization Violation'", 'the -ERR text, as nats-server words it');
  return true;
}

serverTest('nkeys: a user nkey signs the nonce; another key or none is refused', async (s) => {
  const user = nkeys.createUser();
  const stranger = nkeys.createUser();
  const server = await s.startServer({
    config: `authorization { users: [ { nkey: ${user.getPublicKey()} }, { user: alice, password: "s3cret" } ] }\n`,
  });
  const nc = await s.connect(server, { authenticator: nkeyAuthenticator(user.getSeed()) });
  assert.equal(nc.info.auth_required, true);
  assert.equal(typeof nc.info.nonce, 'string', 'INFO carries a nonce');
  assert.equal(nc.info.nonce.length, 15);
  const sub = nc.subscribe('nk.js', { max: 1 });
  nc.publish('nk.js', sc.encode('signed'));
  let got;
  for await (const m of sub) got = sc.decode(m.data);
  assert.equal(got, 'signed');

  await assert.rejects(s.connect(server, { authenticator: nkeyAuthenticator(stranger.getSeed()) }),
    isAuthorizationViolation);
  await assert.rejects(s.connect(server), isAuthorizationViolation);
  // The password user beside the nkey still gets in.
  const alice = await s.connect(server, { user: 'alice', pass: 's3cret' });
  assert.equal(alice.info.auth_required, true);
});
