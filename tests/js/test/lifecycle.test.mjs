// Server limits and operations as a JS client meets them: max_connections,
// max_subscriptions, a config reload that revokes a password, lame duck mode.
import assert from 'node:assert/strict';
import { ErrorCode, Events, StringCodec } from 'nats';
import { collect, rawConnect, serverTest, SLOW_WAIT_MS, waitFor, within } from '../lib/harness.mjs';

const sc = StringCodec();

serverTest("lifecycle: a connection over max_connections is refused with 'maximum connections exceeded'", async (s) => {
  const server = await s.startServer({ config: 'max_connections: 2\n' });
  const first = await s.connect(server);
  await s.connect(server);
  // The server closes the third connection at once; the JS client's connect fails.
  await assert.rejects(s.connect(server));
  // In the server's words, as a raw connection reads them.
  const [raw] = await rawConnect(server);
  assert.equal(await raw.readLine(), "-ERR 'maximum connections exceeded'");
  await raw.closedByServer();

  await first.close();
  await waitFor(async () => (await server.http('/varz')).connections === 1, { what: 'a free connection slot' });
  await s.connect(server);
});

serverTest("lifecycle: a subscription over max_subscriptions gets 'maximum subscriptions exceeded'", async (s) => {
  const server = await s.startServer({ config: 'max_subscriptions: 2\n' });
  const nc = await s.connect(server, { expectErrors: true });
  const status = s.statusOf(nc);
  const one = collect(nc, 'sub.one');
  collect(nc, 'sub.two');
  nc.subscribe('sub.three');
  const err = await status.next(Events.Error, { what: "the server's -ERR for the third subscription" });
  assert.equal(err.data, ErrorCode.ProtocolError);
  assert.equal(nc.protocol.lastError?.message, "'maximum subscriptions exceeded'");
  // The first two still work on the same connection.
  nc.publish('sub.one', sc.encode('still here'));
  await one.untilCount(1);
  const connz = await server.http('/connz');
  assert.equal(connz.connections[0].subscriptions, 2);
});

serverTest('lifecycle: a reload that changes a password closes that user with Authorization Violation', async (s) => {
  const conf = (alicePass) => `authorization { users: [ { user: alice, password: "${alicePass}" }, { user: bob, password: "b-pass" } ] }\n`;
  const server = await s.startServer({ config: conf('old-pass') });
  const alice = await s.connect(server, { user: 'alice', pass: 'old-pass', expectErrors: true });
  const bob = await s.connect(server, { user: 'bob', pass: 'b-pass' });
  const aliceClosed = alice.closed();

  server.writeConfig(conf('new-pass'));
  server.signal('SIGHUP');
  const err = await within(aliceClosed, SLOW_WAIT_MS, "alice's connection to be closed by the reload");
  assert.equal(err?.code, ErrorCode.AuthorizationViolation);
  assert.equal((await s.statusOf(alice).next(Events.Error)).data, ErrorCode.AuthorizationViolation);

  // bob is untouched; alice gets in with the new password only.
  const echo = collect(bob, 'after.reload');
  bob.publish('after.reload', sc.encode('ok'));
  await echo.untilCount(1);
  await assert.rejects(s.connect(server, { user: 'alice', pass: 'old-pass' }), (e) => e.code === ErrorCode.AuthorizationViolation);
  await s.connect(server, { user: 'alice', pass: 'new-pass' });
});

serverTest('lifecycle: lame duck mode tells the client, then closes it, then the server exits', async (s) => {
  // 30s is the reference's minimum duration; with one client, it is closed right after the
  // grace period and the server then exits.
  const server = await s.startServer({ config: 'lame_duck_grace_period: "500ms"\nlame_duck_duration: "30s"\n' });
  const nc = await s.connect(server);
  const status = s.statusOf(nc);
  const closed = nc.closed();
  server.signal('SIGUSR2', { expectExit: true });
  const ldm = await status.next(Events.LDM, { what: 'the lame duck INFO' });
  assert.equal(ldm.data, `127.0.0.1:${server.clientPort}`);
  await within(closed, SLOW_WAIT_MS, 'the server to close the client');
  const { code, signal } = await within(server.exited, SLOW_WAIT_MS, 'the server to exit after lame duck mode');
  assert.equal(signal, null);
  assert.equal(code, 0);
});
