// Nodes failing and coming back, seen from the JS client: failover to another node (also
// one it only learned of from connect_urls), reconnect to a restarted node, and the client
// closing once every node is gone and its reconnect attempts are spent.
import assert from 'node:assert/strict';
import { DebugEvents, ErrorCode, Events, StringCodec } from 'nats';
import { collect, serverTest, SLOW_WAIT_MS, startCluster, waitFor, within } from '../lib/harness.mjs';

const sc = StringCodec();
const data = (m) => sc.decode(m.data);
const hostPort = (node) => `127.0.0.1:${node.clientPort}`;
// Reconnect quickly and forever: the tests bound the time themselves.
const FAILOVER = { reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100, reconnectJitter: 50 };

// Publishes `words` on `subject` from `pub` and waits until `got` holds them (in order).
async function flowsThrough(pub, got, subject, words) {
  const before = got.count;
  for (const w of words) pub.publish(subject, sc.encode(w));
  await pub.flush();
  const msgs = await got.untilCount(before + words.length, { timeout: SLOW_WAIT_MS });
  assert.deepEqual(msgs.slice(before), words);
}

serverTest('failover: when its node is killed, the subscription keeps receiving via another node', async (s) => {
  const cluster = await startCluster(s, 3);
  const [a, b, c] = cluster.nodes;
  // The subscriber is told only node-a's URL: it knows node-b and node-c from connect_urls.
  const nc = await s.connect(a, FAILOVER);
  const status = s.statusOf(nc);
  const got = collect(nc, 'ticks', { decode: data });
  await nc.flush();
  const pub = await s.connect(c);
  await cluster.waitForSubscriber(c, a, 'ticks');
  await flowsThrough(pub, got, 'ticks', ['before-1', 'before-2']);

  await a.kill();
  await status.next(Events.Disconnect, { timeout: SLOW_WAIT_MS, what: 'the subscriber to notice node-a is gone' });
  await status.next(Events.Reconnect, { timeout: SLOW_WAIT_MS, what: 'the subscriber to reconnect to another node' });
  const now = cluster.nodeAt(nc.getServer());
  assert.ok(now === b || now === c, `reconnected to ${now.name}`);

  // The client re-subscribed on its new node; the same subscription gets what follows.
  await cluster.waitForSubscriber(c, now, 'ticks');
  await flowsThrough(pub, got, 'ticks', Array.from({ length: 50 }, (_, i) => `after-${i}`));
  assert.ok(!got.sub.isClosed());
  assert.equal(got.count, 52);
});

serverTest('failover: a restarted node takes its clients back and rejoins the cluster', async (s) => {
  const cluster = await startCluster(s, 3);
  const [a, b] = cluster.nodes;
  // Only node-b, and no cluster URLs: the client can only come back to node-b itself.
  const nc = await s.connect(b, { ...FAILOVER, ignoreClusterUpdates: true });
  const status = s.statusOf(nc);
  const got = collect(nc, 'restart.events', { decode: data });
  await nc.flush();
  const pub = await s.connect(a);
  await cluster.waitForSubscriber(a, b, 'restart.events');
  await flowsThrough(pub, got, 'restart.events', ['one']);

  await b.kill();
  await status.next(Events.Disconnect, { timeout: SLOW_WAIT_MS, what: 'the client to notice node-b is gone' });
  await waitFor(() => status.ofType(DebugEvents.Reconnecting).length >= 2, {
    timeout: SLOW_WAIT_MS,
    what: 'the client to retry node-b while it is down',
  });
  await b.start(); // same ports
  await status.next(Events.Reconnect, { timeout: SLOW_WAIT_MS, what: 'the client to reconnect to the restarted node-b' });
  assert.equal(nc.getServer(), hostPort(b));
  await cluster.waitForMesh();

  // Messages published on node-a flow through the restarted node-b's new routes again.
  await cluster.waitForSubscriber(a, b, 'restart.events');
  await flowsThrough(pub, got, 'restart.events', ['two', 'three']);
  const connz = await b.http('/connz');
  assert.equal(connz.connections.find((x) => x.cid === nc.info.client_id)?.subscriptions, 1,
    'the client re-subscribed on the restarted node');
});

serverTest('failover: with the original nodes down, clients move to a node that joined later', async (s) => {
  const cluster = await startCluster(s, 3);
  const [a, b, c] = cluster.nodes;
  const sub = await s.connect(a, FAILOVER);
  const pub = await s.connect([b], FAILOVER);
  const got = collect(sub, 'late.node', { decode: data });
  await sub.flush();
  await cluster.waitForSubscriber(b, a, 'late.node');
  await flowsThrough(pub, got, 'late.node', ['via the original nodes']);

  const d = await cluster.addNode([a]);
  for (const nc of [sub, pub]) {
    await s.statusOf(nc).next(Events.Update, {
      pred: (e) => e.data.added?.includes(hostPort(d)),
      timeout: SLOW_WAIT_MS,
      what: `a client to learn ${hostPort(d)}`,
    });
  }
  await Promise.all([a.kill(), b.kill(), c.kill()]);
  for (const nc of [sub, pub]) {
    await waitFor(() => !nc.isClosed() && nc.getServer() === hostPort(d) &&
      s.statusOf(nc).ofType(Events.Reconnect).length > 0, {
      timeout: SLOW_WAIT_MS,
      what: 'a client to reconnect to node-d',
    });
  }
  await cluster.waitForSubscriber(d, d, 'late.node');
  await flowsThrough(pub, got, 'late.node', ['via node-d', 'still via node-d']);
});

serverTest('failover: with every node down, the client closes after its reconnect attempts', async (s) => {
  const cluster = await startCluster(s, 3);
  const nc = await s.connect(cluster.nodes, { reconnect: true, maxReconnectAttempts: 3, reconnectTimeWait: 50, reconnectJitter: 0 });
  const status = s.statusOf(nc);
  const closed = nc.closed();
  await Promise.all(cluster.nodes.map((n) => n.kill()));
  await status.next(Events.Disconnect, { timeout: SLOW_WAIT_MS, what: 'the client to notice the cluster is gone' });
  await within(closed, SLOW_WAIT_MS, 'the client to close after its reconnect attempts');
  assert.ok(nc.isClosed());
  assert.ok(status.ofType(DebugEvents.Reconnecting).length >= 3, 'it tried to reconnect');
  assert.equal(status.ofType(Events.Reconnect).length, 0, 'and never got back');
  assert.throws(() => nc.publish('into.the.void', sc.encode('x')), (e) => e.code === ErrorCode.ConnectionClosed);
});

serverTest('failover: a node in lame duck mode sends its clients to the other nodes', async (s) => {
  const cluster = await startCluster(s, 3, { config: 'lame_duck_grace_period: "500ms"\nlame_duck_duration: "30s"\n' });
  const [a, b, c] = cluster.nodes;
  const nc = await s.connect(a, FAILOVER);
  const status = s.statusOf(nc);
  const got = collect(nc, 'ldm.move', { decode: data });
  await nc.flush();
  const pub = await s.connect(c);
  await cluster.waitForSubscriber(c, a, 'ldm.move');
  await flowsThrough(pub, got, 'ldm.move', ['before']);

  a.signal('SIGUSR2', { expectExit: true });
  await status.next(Events.LDM, { what: 'the lame duck INFO from node-a' });
  await status.next(Events.Reconnect, { timeout: SLOW_WAIT_MS, what: 'the client to move to another node' });
  const now = cluster.nodeAt(nc.getServer());
  assert.ok(now === b || now === c, `moved to ${now.name}`);
  await cluster.waitForSubscriber(c, now, 'ldm.move');
  await flowsThrough(pub, got, 'ldm.move', ['after-1', 'after-2']);
  await within(a.exited, SLOW_WAIT_MS, 'node-a to exit after lame duck mode');
});
