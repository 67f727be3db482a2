// A 3-node cluster seen from the JS client: messages and queue groups across nodes, and
// the cluster's client URLs (connect_urls) growing and shrinking the client's server list.
import assert from 'node:assert/strict';
import { Events, headers, StringCodec } from 'nats';
import { collect, serverTest, SLOW_WAIT_MS, startCluster, waitFor } from '../lib/harness.mjs';

const sc = StringCodec();
const data = (m) => sc.decode(m.data);
const hostPort = (node) => `127.0.0.1:${node.clientPort}`;

serverTest('cluster: a message published on one node reaches subscribers on the others', async (s) => {
  const cluster = await startCluster(s, 3);
  const [a, b, c] = cluster.nodes;
  const onB = await s.connect(b);
  const onC = await s.connect(c);
  const gotB = collect(onB, 'metrics.*.cpu', { decode: data });
  const gotC = collect(onC, 'metrics.>', { decode: data });
  await onB.flush();
  await onC.flush();
  await cluster.waitForInterest(a, 'metrics.*.cpu', [b]);
  await cluster.waitForInterest(a, 'metrics.>', [c]);

  const pub = await s.connect(a);
  for (let i = 0; i < 100; i++) pub.publish(`metrics.host${i}.cpu`, sc.encode(String(i)));
  pub.publish('metrics.host0.mem', sc.encode('mem'));
  await pub.flush();
  const expected = Array.from({ length: 100 }, (_, i) => String(i));
  assert.deepEqual(await gotC.untilCount(101), [...expected, 'mem'], 'in order, through the route');
  assert.deepEqual(await gotB.untilCount(100), expected);
  // 'metrics.host0.mem' was published after the others: once node-c's subscriber has it,
  // node-b's would have too, had it matched.
  await onB.flush();
  assert.equal(gotB.count, 100);

  // Request/reply across nodes, and no responders cluster-wide.
  onC.subscribe('svc.echo', { callback: (err, m) => m.respond(m.data) });
  await onC.flush();
  await cluster.waitForInterest(a, 'svc.echo', [c]);
  assert.equal(data(await pub.request('svc.echo', sc.encode('ping'), { timeout: 5_000 })), 'ping');
  await assert.rejects(pub.request('svc.nobody', sc.encode('?'), { timeout: 5_000 }), (e) => e.code === '503');
});

// Subscribes `perNode` members of group 'workers' on 'jobs' on each node, plus a plain 'jobs.done'
// subscription on each member connection that marks the end of the stream.
async function queueMembers(s, cluster, nodes, perNode) {
  const members = [];
  for (const node of nodes) {
    for (let i = 0; i < perNode; i++) {
      const nc = await s.connect(node, { name: `${node.name}-worker-${i}` });
      const got = collect(nc, 'jobs', { queue: 'workers', decode: data });
      const done = collect(nc, 'jobs.done');
      await nc.flush();
      members.push({ node, nc, got, done });
    }
  }
  for (const pubNode of cluster.nodes) {
    const others = [...new Set(nodes)].filter((n) => n !== pubNode);
    if (others.length) {
      await cluster.waitForInterest(pubNode, 'jobs', others);
      await cluster.waitForInterest(pubNode, 'jobs.done', others);
    }
  }
  return members;
}

// Publishes n jobs from each publisher, then the end marker, and checks that every job was
// delivered exactly once across the members.
async function checkExactlyOnce(members, publishers, n) {
  const sent = [];
  for (const [p, pub] of publishers.entries()) {
    for (let i = 0; i < n; i++) {
      const job = `p${p}-job${i}`;
      sent.push(job);
      pub.publish('jobs', sc.encode(job));
    }
    pub.publish('jobs.done', sc.encode(`p${p}`));
    await pub.flush();
  }
  // Each publisher's marker comes after its jobs on every path (route or local), so once
  // every member has every marker, every job it was sent has arrived.
  for (const m of members) await m.done.untilCount(publishers.length, { what: `the end markers at ${m.nc.options.name}` });
  const received = members.flatMap((m) => m.got.messages);
  assert.equal(received.length, sent.length, 'as many deliveries as messages');
  assert.deepEqual([...received].sort(), [...sent].sort(), 'each message delivered exactly once');
  return members.map((m) => m.got.count);
}

serverTest('cluster: a queue group spread over 3 nodes gets each message once cluster-wide', async (s) => {
  const cluster = await startCluster(s, 3);
  const members = await queueMembers(s, cluster, cluster.nodes, 2);
  const publishers = [];
  for (const node of cluster.nodes) publishers.push(await s.connect(node));
  const counts = await checkExactlyOnce(members, publishers, 200);
  assert.equal(counts.reduce((a, b) => a + b, 0), 600);
});

serverTest('cluster: a queue group with no member on the publishing node is served by the other nodes', async (s) => {
  const cluster = await startCluster(s, 3);
  const [a, b, c] = cluster.nodes;
  const members = await queueMembers(s, cluster, [b, c], 2);
  const pub = await s.connect(a);
  await checkExactlyOnce(members, [pub], 300);
  const byNode = (node) => members.filter((m) => m.node === node).reduce((k, m) => k + m.got.count, 0);
  assert.ok(byNode(b) > 0 && byNode(c) > 0, `both nodes serve the group (node-b ${byNode(b)}, node-c ${byNode(c)})`);
});

serverTest('cluster: the client learns a node that joins later from connect_urls, and forgets it when it leaves', async (s) => {
  const cluster = await startCluster(s, 2);
  const [a, b] = cluster.nodes;
  const nc = await s.connect(a); // told only node-a's URL
  const status = s.statusOf(nc);
  const pool = () => nc.protocol.servers.getServers().map((x) => x.listen).sort();
  // The first INFO already listed node-b.
  assert.deepEqual(pool(), [hostPort(a), hostPort(b)].sort(), 'the server list holds both nodes');

  const c = await cluster.addNode([b]); // routes to node-b only; node-a learns of it by gossip
  const added = await status.next(Events.Update, {
    pred: (e) => e.data.added?.includes(hostPort(c)),
    timeout: SLOW_WAIT_MS,
    what: `an INFO update adding ${hostPort(c)}`,
  });
  assert.deepEqual(added.data.deleted ?? [], []);
  assert.deepEqual(pool(), [hostPort(a), hostPort(b), hostPort(c)].sort(), 'the server list grew to three');
  assert.deepEqual((await a.http('/varz')).connect_urls.sort(), pool(), "node-a's /varz agrees");

  await c.stop();
  await status.next(Events.Update, {
    pred: (e) => e.data.deleted?.includes(hostPort(c)),
    timeout: SLOW_WAIT_MS,
    what: `an INFO update removing ${hostPort(c)}`,
  });
  await waitFor(() => pool().length === 2, { what: 'the server list to shrink back to two' });
  assert.deepEqual(pool(), [hostPort(a), hostPort(b)].sort());
});

serverTest('cluster: headers and a 1 MiB payload cross the routes intact', async (s) => {
  const cluster = await startCluster(s, 3);
  const [a, b] = cluster.nodes;
  const sub = await s.connect(b);
  const got = collect(sub, 'across.>');
  await sub.flush();
  await cluster.waitForInterest(a, 'across.>', [b]);
  const pub = await s.connect(a);
  const h = headers();
  h.set('X-Trace', 'node-a');
  h.append('X-Trace', 'route');
  const big = new Uint8Array(pub.info.max_payload - 200).map((_, i) => (i * 7) % 256);
  pub.publish('across.headers', sc.encode('with headers'), { headers: h });
  pub.publish('across.big', big);
  pub.publish('across.both', big.subarray(0, 1000), { headers: h });
  await pub.flush();
  const [first, second, third] = await got.untilCount(3);
  assert.equal(sc.decode(first.data), 'with headers');
  assert.deepEqual(first.headers.values('X-Trace'), ['node-a', 'route']);
  // Compared as Buffers: the client hands out Uint8Array or Buffer views, by how it parsed.
  assert.ok(Buffer.from(second.data).equals(Buffer.from(big)), 'the 1 MiB payload is intact');
  assert.equal(second.headers, undefined);
  assert.ok(Buffer.from(third.data).equals(Buffer.from(big.subarray(0, 1000))), 'the payload next to headers is intact');
  assert.deepEqual(third.headers.values('X-Trace'), ['node-a', 'route']);
});

serverTest('cluster: a remote subscription that reached its max stops getting messages, and its interest goes away', async (s) => {
  const cluster = await startCluster(s, 3);
  const [a, b] = cluster.nodes;
  const sub = await s.connect(b);
  const got = collect(sub, 'limited.remote', { max: 3, decode: data });
  await sub.flush();
  await cluster.waitForInterest(a, 'limited.remote', [b]);
  const pub = await s.connect(a);
  for (let i = 0; i < 10; i++) pub.publish('limited.remote', sc.encode(String(i)));
  await pub.flush();
  await got.done;
  assert.deepEqual(got.messages, ['0', '1', '2']);
  await waitFor(async () => {
    const routez = await a.http('/routez?subs=1');
    return !routez.routes.some((r) => (r.subscriptions_list ?? []).includes('limited.remote'));
  }, { timeout: SLOW_WAIT_MS, what: "node-a to drop node-b's interest in 'limited.remote'" });
});
