// Connecting, the server's INFO as the JS client sees it, flush and rtt.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DebugEvents, ErrorCode, Events } from 'nats';
import { freePorts, serverTest, SLOW_WAIT_MS, waitFor } from '../lib/harness.mjs';

// The installed client's version, which it sends in CONNECT.
const natsVersion = JSON.parse(readFileSync(join(process.env.PYLON_JS_DEPS, 'node_modules', 'nats', 'package.json'), 'utf8')).version;

serverTest('connect: the client sees the server INFO it advertises', async (s) => {
  const server = await s.startServer({ name: 'info-node' });
  const nc = await s.connect(server, { name: 'js-info-client' });

  const info = nc.info;
  assert.match(info.server_id, /^N[A-Z0-9]{55}$/, 'server_id is a 56-character NATS public key');
  assert.equal(info.server_name, 'info-node');
  assert.equal(info.version, '2.9.10');
  assert.equal(info.proto, 1);
  assert.equal(info.host, '127.0.0.1');
  assert.equal(info.port, server.clientPort);
  assert.equal(info.max_payload, 1024 * 1024);
  assert.equal(info.headers, true);
  assert.equal(typeof info.client_id, 'number');
  assert.equal(info.client_ip, '127.0.0.1');
  assert.ok(!info.auth_required, 'no auth configured, none required');
  assert.equal(nc.getServer(), `127.0.0.1:${server.clientPort}`);
  assert.deepEqual(
    [nc.getServerVersion().major, nc.getServerVersion().minor, nc.getServerVersion().micro],
    [2, 9, 10],
  );

  // The server knows the client by what its CONNECT said.
  const connz = await server.http('/connz');
  const me = connz.connections.find((c) => c.cid === info.client_id);
  assert.ok(me, `client ${info.client_id} in /connz`);
  assert.equal(me.name, 'js-info-client');
  assert.equal(me.lang, 'nats.js');
  assert.equal(me.version, natsVersion);
});

serverTest('connect: flush and rtt complete round trips', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  await nc.flush();
  // rtt() resolves only when the server's PONG answers its PING. Its value is a duration
  // measured inside the call (Date.now() around a flush), so it cannot exceed the call's
  // own duration on the same clock: a value from anywhere else (a stale or made-up one)
  // shows. No bound on speed.
  const before = Date.now();
  const rtt = await nc.rtt();
  const call = Date.now() - before;
  assert.ok(Number.isInteger(rtt), `rtt ${rtt} is a whole number of ms`);
  assert.ok(rtt >= 0 && rtt <= call, `rtt ${rtt} ms within the call's ${call} ms`);
  // flush() orders after what was published before it: the server counted the messages.
  for (let i = 0; i < 10; i++) nc.publish('flush.count', `m${i}`);
  await nc.flush();
  const varz = await server.http('/varz');
  assert.equal(varz.in_msgs, 10);
});

serverTest('connect: a port with no server is refused', async () => {
  const [port] = await freePorts(1);
  const { connect } = await import('nats');
  await assert.rejects(connect({ servers: `127.0.0.1:${port}`, timeout: 5_000, reconnect: false }), (e) => {
    assert.equal(e.code, ErrorCode.ConnectionRefused);
    return true;
  });
});

serverTest('connect: close() ends the connection and closed() resolves without error', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  const closed = nc.closed();
  await nc.close();
  assert.equal(await closed, undefined);
  assert.ok(nc.isClosed());
  assert.throws(() => nc.publish('after.close', 'x'), (e) => e.code === ErrorCode.ConnectionClosed);
});

serverTest('connect: verbose and pedantic connections work (+OK after each operation)', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server, { verbose: true, pedantic: true });
  const sub = nc.subscribe('verbose.echo', { max: 1 });
  nc.publish('verbose.echo', 'hello');
  for await (const m of sub) assert.equal(new TextDecoder().decode(m.data), 'hello');
  assert.equal(sub.getReceived(), 1);
  await nc.flush();
});

serverTest("connect: the client's keepalive PINGs are answered", async (s) => {
  const server = await s.startServer();
  // A PING every 200 ms, stale after 10 unanswered: a server that answered none would be
  // declared stale at the 11th tick, within the 12 waited for below, while a PONG delayed
  // by a loaded machine has 2 s before it counts.
  const maxPingOut = 10;
  const nc = await s.connect(server, { pingInterval: 200, maxPingOut });
  const status = s.statusOf(nc);
  await waitFor(() => status.ofType(DebugEvents.PingTimer).length >= maxPingOut + 2, {
    timeout: SLOW_WAIT_MS,
    what: `${maxPingOut + 2} keepalive PINGs`,
  });
  assert.equal(status.ofType(DebugEvents.StaleConnection).length, 0, 'never stale');
  assert.equal(status.ofType(Events.Disconnect).length, 0);
  assert.ok(!nc.isClosed());
});
