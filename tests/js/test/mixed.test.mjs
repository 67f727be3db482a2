// A cluster mixing the server under test with the reference nats-server (node-b), as a JS
// client sees it. Against nats-server (the parity run) all three nodes are the reference.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Events, StringCodec } from 'nats';
import { collect, NATS_SERVER_BIN, serverTest, SLOW_WAIT_MS, startCluster } from '../lib/harness.mjs';

const sc = StringCodec();
const data = (m) => sc.decode(m.data);
const hostPort = (node) => `127.0.0.1:${node.clientPort}`;
const skip = existsSync(NATS_SERVER_BIN) ? false : `${NATS_SERVER_BIN} is not installed`;

async function mixedCluster(s) {
  return startCluster(s, 3, { binaries: [undefined, NATS_SERVER_BIN, undefined] });
}

serverTest('mixed: a queue group over a cluster with a nats-server node gets each message once', async (s) => {
  const cluster = await mixedCluster(s);
  const members = [];
  for (const node of cluster.nodes) {
    const nc = await s.connect(node);
    members.push({ nc, got: collect(nc, 'mixed.jobs', { queue: 'workers', decode: data }), done: collect(nc, 'mixed.done') });
    await nc.flush();
  }
  for (const n of cluster.nodes) {
    const others = cluster.nodes.filter((o) => o !== n);
    await cluster.waitForInterest(n, 'mixed.jobs', others);
    await cluster.waitForInterest(n, 'mixed.done', others);
  }
  const sent = [];
  for (const [p, node] of cluster.nodes.entries()) {
    const pub = await s.connect(node);
    for (let i = 0; i < 100; i++) {
      sent.push(`${node.name}-${i}`);
      pub.publish('mixed.jobs', sc.encode(`${node.name}-${i}`));
    }
    pub.publish('mixed.done', sc.encode(String(p)));
    await pub.flush();
  }
  for (const m of members) await m.done.untilCount(3);
  const received = members.flatMap((m) => m.got.messages);
  assert.deepEqual(received.sort(), sent.sort(), 'each message exactly once');
}, { skip });

serverTest('mixed: the client learns every node and fails over from the nats-server node', async (s) => {
  const cluster = await mixedCluster(s);
  const [a, b, c] = cluster.nodes;
  const nc = await s.connect(b, { reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const pool = nc.protocol.servers.getServers().map((x) => x.listen).sort();
  assert.deepEqual(pool, [a, b, c].map(hostPort).sort(), 'node-b (nats-server) told the client every node');
  const got = collect(nc, 'mixed.ticks', { decode: data });
  await nc.flush();
  const pub = await s.connect(a);
  await cluster.waitForInterest(a, 'mixed.ticks', [b]);
  pub.publish('mixed.ticks', sc.encode('before'));
  await got.untilCount(1);

  await b.kill();
  await s.statusOf(nc).next(Events.Reconnect, { timeout: SLOW_WAIT_MS, what: 'the client to leave the killed nats-server node' });
  const now = cluster.nodeAt(nc.getServer());
  assert.ok(now === a || now === c, `reconnected to ${now.name}`);
  await cluster.waitForSubscriber(a, now, 'mixed.ticks');
  pub.publish('mixed.ticks', sc.encode('after'));
  await pub.flush();
  assert.deepEqual(await got.untilCount(2), ['before', 'after']);
}, { skip });
