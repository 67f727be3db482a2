// Drain: a draining subscription or connection still handles what was already sent to it,
// takes nothing new, and then closes.
import assert from 'node:assert/strict';
import { ErrorCode, StringCodec } from 'nats';
import { collect, serverTest, waitFor } from '../lib/harness.mjs';

const sc = StringCodec();

serverTest('drain: a connection drain delivers every message already published, then closes', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  const handled = [];
  const sub = nc.subscribe('work', {
    callback: (err, m) => { handled.push(sc.decode(m.data)); },
  });
  await nc.flush();
  const pub = await s.connect(server);
  const n = 2000;
  for (let i = 0; i < n; i++) pub.publish('work', sc.encode(String(i)));
  await pub.flush();
  await waitFor(() => sub.getReceived() > 0, { what: 'the first message' });

  const closed = nc.closed();
  await nc.drain();
  assert.equal(await closed, undefined, 'closed without error');
  assert.ok(nc.isClosed());
  assert.equal(handled.length, n, 'every message published before the drain was handled');
  assert.deepEqual(handled.slice(0, 3), ['0', '1', '2']);
  assert.equal(handled[n - 1], String(n - 1));
  // The server saw the client go.
  await waitFor(async () => (await server.http('/connz')).num_connections === 1, { what: 'the drained client to leave /connz' });
});

serverTest('drain: a draining connection takes no new subscription, a drained one no publish', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  nc.subscribe('x');
  const draining = nc.drain();
  assert.ok(nc.isDraining());
  assert.throws(() => nc.subscribe('y'), (e) => e.code === ErrorCode.ConnectionDraining);
  await assert.rejects(nc.drain(), (e) => e.code === ErrorCode.ConnectionDraining);
  await draining;
  assert.ok(nc.isClosed());
  assert.throws(() => nc.publish('x', sc.encode('late')), (e) => e.code === ErrorCode.ConnectionClosed);
});

serverTest('drain: a drained subscription stops, the connection stays open', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  const pub = await s.connect(server);
  const got = collect(nc, 'feed');
  const sub = got.sub;
  const other = collect(nc, 'feed');
  await nc.flush();
  for (let i = 0; i < 100; i++) pub.publish('feed', sc.encode(String(i)));
  await pub.flush();
  await got.untilCount(1);

  await sub.drain();
  await got.done; // the subscription is closed once drained
  assert.ok(sub.isClosed());
  const before = got.count;
  assert.equal(before, 100, 'messages published before the drain were all delivered');

  pub.publish('feed', sc.encode('after'));
  await pub.flush();
  await other.untilCount(101);
  assert.equal(got.count, before, 'nothing more after the drain');
  assert.ok(!nc.isClosed());
  await nc.flush();
});
