// Authorization: user/password (plain and bcrypt) and token; wrong or missing credentials
// fail the connect with the server's 'Authorization Violation'.
import assert from 'node:assert/strict';
import { ErrorCode, StringCodec } from 'nats';
import { serverTest } from '../lib/harness.mjs';

const sc = StringCodec();
// bcrypt of 's3cret-bcrypt' (cost 10), as `pylon mkpasswd` would print it.
const BCRYPT_HASH = '$2b$10$sG6A1DXTb8fNxrjHu3lwCuxtuRGOUfqHC7hLevQ92kG/qT9T7u5Pm';

function isAuthorizationViolation(e) {
  assert.equal(e.code, ErrorCode.AuthorizationViolation, `error code of: ${e.message}`);
  assert.equal(e.message, "'Authorization Violation'", 'the -ERR text, as nats-server words it');
  return true;
}

// A round trip through the server proves the connection is usable.
async function echo(nc) {
  const sub = nc.subscribe('auth.echo', { max: 1 });
  nc.publish('auth.echo', sc.encode('hi'));
  for await (const m of sub) return sc.decode(m.data);
  return undefined;
}

serverTest('auth: user and password', async (s) => {
  const server = await s.startServer({ config: 'authorization { user: alice, password: "s3cret" }\n' });
  const nc = await s.connect(server, { user: 'alice', pass: 's3cret' });
  assert.equal(nc.info.auth_required, true);
  assert.equal(await echo(nc), 'hi');

  await assert.rejects(s.connect(server, { user: 'alice', pass: 'wrong' }), isAuthorizationViolation);
  await assert.rejects(s.connect(server, { user: 'mallory', pass: 's3cret' }), isAuthorizationViolation);
  await assert.rejects(s.connect(server), isAuthorizationViolation);
});

serverTest('auth: a bcrypt password', async (s) => {
  const server = await s.startServer({ config: `authorization { user: bob, password: "${BCRYPT_HASH}" }\n` });
  const nc = await s.connect(server, { user: 'bob', pass: 's3cret-bcrypt' });
  assert.equal(await echo(nc), 'hi');
  await assert.rejects(s.connect(server, { user: 'bob', pass: BCRYPT_HASH }), isAuthorizationViolation);
});

serverTest('auth: token', async (s) => {
  const server = await s.startServer({ config: 'authorization { token: "t0k3n-xyz" }\n' });
  const nc = await s.connect(server, { token: 't0k3n-xyz' });
  assert.equal(nc.info.auth_required, true);
  assert.equal(await echo(nc), 'hi');
  await assert.rejects(s.connect(server, { token: 'not-the-token' }), isAuthorizationViolation);
  await assert.rejects(s.connect(server, { user: 'alice', pass: 't0k3n-xyz' }), isAuthorizationViolation);
  await assert.rejects(s.connect(server), isAuthorizationViolation);
});

serverTest('auth: a users list lets each user in with their own password', async (s) => {
  const server = await s.startServer({
    config: 'authorization { users: [ { user: carol, password: "c-pass" }, { user: dave, password: "d-pass" } ] }\n',
  });
  const carol = await s.connect(server, { user: 'carol', pass: 'c-pass' });
  const dave = await s.connect(server, { user: 'dave', pass: 'd-pass' });
  assert.equal(await echo(carol), 'hi');
  assert.equal(await echo(dave), 'hi');
  await assert.rejects(s.connect(server, { user: 'carol', pass: 'd-pass' }), isAuthorizationViolation);
});
