// max_payload: the client refuses what exceeds the limit the server advertises, and the
// server itself refuses an oversize PUB with -ERR 'Maximum Payload Violation'.
import assert from 'node:assert/strict';
import { ErrorCode, headers } from 'nats';
import { collect, rawConnect, serverTest, waitFor } from '../lib/harness.mjs';

const LIMIT = 1024;

serverTest('limits: a message of max_payload bytes goes through, one more is refused by the client', async (s) => {
  const server = await s.startServer({ config: `max_payload: ${LIMIT}\n` });
  const nc = await s.connect(server);
  assert.equal(nc.info.max_payload, LIMIT, 'the server advertises its max_payload in INFO');
  const got = collect(nc, 'sized');
  await nc.flush();

  nc.publish('sized', new Uint8Array(LIMIT).fill(7));
  assert.throws(() => nc.publish('sized', new Uint8Array(LIMIT + 1)), (e) => {
    assert.equal(e.code, ErrorCode.MaxPayloadExceeded);
    return true;
  });
  // Headers count toward the limit.
  const h = headers();
  h.set('X-Pad', 'p'.repeat(100));
  assert.throws(() => nc.publish('sized', new Uint8Array(LIMIT - 50), { headers: h }),
    (e) => e.code === ErrorCode.MaxPayloadExceeded);
  await assert.rejects(nc.request('sized', new Uint8Array(LIMIT + 1), { timeout: 5_000 }),
    (e) => e.code === ErrorCode.MaxPayloadExceeded);

  const [m] = await got.untilCount(1);
  assert.equal(m.data.length, LIMIT);
  await nc.flush();
  assert.equal(got.count, 1, 'only the message within the limit was sent');
  assert.ok(!nc.isClosed(), 'a refused publish does not close the connection');
});

serverTest('limits: the default max_payload (1 MiB) message round-trips', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  assert.equal(nc.info.max_payload, 1024 * 1024);
  const got = collect(nc, 'mib');
  await nc.flush();
  const payload = new Uint8Array(nc.info.max_payload).map((_, i) => (i * 31) % 256);
  nc.publish('mib', payload);
  const [m] = await got.untilCount(1);
  assert.ok(Buffer.from(m.data).equals(Buffer.from(payload)), "the payload is intact");
});

serverTest("limits: a raw PUB over max_payload gets -ERR 'Maximum Payload Violation' and is closed", async (s) => {
  const server = await s.startServer({ config: `max_payload: ${LIMIT}\n` });
  const watcher = await s.connect(server);
  const got = collect(watcher, 'oversize');
  await watcher.flush();

  // The JS client will not send this, so a raw connection does.
  const [raw, info] = await rawConnect(server);
  assert.equal(info.max_payload, LIMIT);
  raw.send('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
  assert.equal(await raw.readLine(), 'PONG');
  raw.send(`PUB oversize ${LIMIT + 1}\r\n${'x'.repeat(LIMIT + 1)}\r\n`);
  assert.equal(await raw.readLine(), "-ERR 'Maximum Payload Violation'");
  await raw.closedByServer();

  // Logged in the reference's words (nats-server: "... - cid:4 - maximum payload exceeded: 1025 vs 1024").
  const line = await waitFor(() => server.logText().split('\n').find((l) => l.includes('[ERR]') && l.includes('maximum payload')),
    { what: 'the [ERR] log line of the violation' });
  assert.match(line, new RegExp(` - maximum payload exceeded: ${LIMIT + 1} vs ${LIMIT}$`));

  // Nothing was delivered, and other clients are unaffected.
  watcher.publish('oversize', 'small');
  await got.untilCount(1);
  assert.equal(new TextDecoder().decode(got.messages[0].data), 'small');
});

serverTest("limits: a subject longer than max_control_line closes the client with 'maximum control line exceeded'", async (s) => {
  const server = await s.startServer({ config: 'max_control_line: 1024\n' });
  // A short name: nats-server puts the client's name into its log lines.
  const nc = await s.connect(server, { expectErrors: true, name: 'mcl' });
  const closed = nc.closed();
  nc.publish(`long.${'x'.repeat(1100)}`, 'payload');
  const err = await closed;
  // The server sends the -ERR and closes. Should it close with bytes of ours still unread,
  // its kernel resets the connection and the client may see the reset instead of the -ERR
  // (nats-server does the same).
  if (err?.code !== 'ECONNRESET') {
    assert.equal(err?.code, ErrorCode.ProtocolError, `closed with: ${err}`);
    assert.equal(err.message, "'maximum control line exceeded'");
  }
  const line = await waitFor(() => server.logText().split('\n').find((l) => l.includes('[ERR]') && l.includes('control line')),
    { what: 'the [ERR] log line of the violation' });
  assert.match(line, / - maximum control line exceeded: .*max_control_line 1024/);
  assert.equal(line.split('maximum control line exceeded').length - 1, 1, `said once: ${line}`);
});
