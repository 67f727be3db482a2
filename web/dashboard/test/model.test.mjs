// The dashboard's cluster model without a browser: nodes answer from canned /varz, /routez,
// /connz and /accstatz documents (the fields the reference server's monitoring has), and the tests check
// what the page would show. Run: node --test web/dashboard/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterModel, PENDING_FLOOR } from '../src/model.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (s) => new Date(T0 + s * 1000).toISOString().replace('Z', '123456Z');  // nanosecond-style

// A fake node: `state` is mutated by a test between polls.
function fakeNode(id, name, extra = {}) {
  return {
    up: true,
    t: 0,
    varz: { server_id: id, server_name: name, in_msgs: 0, out_msgs: 0, in_bytes: 0, out_bytes: 0,
      slow_consumers: 0, max_pending: 64 << 20, cluster: { name: 'c1' }, ...extra },
    routes: [],
    conns: [],
    closed: [],
    accounts: [],  // /accstatz's account_statz; null: the endpoint is missing (404)
    leafs: [],     // /leafz's leafs
  };
}

function readers(nodes) {
  const asked = [];
  const readerFor = (base) => ({
    async get(path) {
      asked.push(base + path);
      const n = nodes[base];
      if (!n || !n.up) throw new TypeError('Failed to fetch');
      if (path === '/varz') return { ...n.varz, now: at(n.t) };
      if (path === '/routez') return { routes: n.routes };
      if (path.startsWith('/connz?state=closed')) return { connections: n.closed };
      if (path.startsWith('/connz')) return { connections: n.conns };
      if (path === '/leafz') return { server_id: n.varz.server_id, now: at(n.t), leafs: n.leafs };
      if (path === '/accstatz') {
        if (!n.accounts) throw new Error(`${base}${path}: HTTP 404`);
        return { server_id: n.varz.server_id, now: at(n.t), account_statz: n.accounts };
      }
      throw new Error(`unexpected ${path}`);
    },
  });
  return { readerFor, asked };
}

test('rates come from counter deltas over the servers\' own clock', async () => {
  const a = fakeNode('A', 'node-a');
  const { readerFor } = readers({ 'http://a:8222': a });
  const m = new ClusterModel([{ base: 'http://a:8222', source: 'page' }], readerFor);
  await m.poll();
  assert.equal(m.servers[0].rates.inMsgs, null, 'no rate from a single sample');
  Object.assign(a.varz, { in_msgs: 1000, out_msgs: 2000, in_bytes: 4096, out_bytes: 8192 });
  a.t = 2;
  await m.poll();
  assert.deepEqual(m.servers[0].rates, { inMsgs: 500, outMsgs: 1000, inBytes: 2048, outBytes: 4096 });
  assert.deepEqual(m.history.byServer.get('A').inMsgs, [null, 500]);
  assert.equal(m.history.x.length, 2);
});

test('a restarted server (new server_id, counters from zero) gives no bogus rate', async () => {
  const a = fakeNode('A', 'node-a', { in_msgs: 5000 });
  const { readerFor } = readers({ 'http://a:8222': a });
  const m = new ClusterModel([{ base: 'http://a:8222', source: 'page' }], readerFor);
  await m.poll();
  Object.assign(a.varz, { server_id: 'A2', in_msgs: 10 });
  a.t = 1;
  await m.poll();
  assert.equal(m.servers[0].rates.inMsgs, null);
});

test('routes advertise monitor_url: the model finds the other nodes and draws each route once', async () => {
  const a = fakeNode('A', 'node-a');
  const b = fakeNode('B', 'node-b');
  a.routes = [{ rid: 1, remote_id: 'B', monitor_url: 'http://b:8222', in_msgs: 0, out_msgs: 0 }];
  b.routes = [{ rid: 1, remote_id: 'A', monitor_url: 'http://a:8222', in_msgs: 0, out_msgs: 0 }];
  const { readerFor, asked } = readers({ 'http://a:8222': a, 'http://b:8222': b });
  const m = new ClusterModel([{ base: 'http://a:8222', source: 'page' }], readerFor);
  await m.poll();
  assert.equal(m.servers.length, 2);
  assert.equal(m.servers.find((s) => s.id === 'B').monitored, false, 'B is known from the route only so far');
  await m.poll();
  assert.ok(asked.includes('http://b:8222/varz'));
  assert.deepEqual(m.servers.map((s) => [s.name, s.monitored]).sort(), [['node-a', true], ['node-b', true]]);
  assert.equal(m.routes.length, 1);
  assert.equal(m.routes[0].seenBy, 2);
});

test('a peer without monitor_url (nats-server) is shown, but not polled', async () => {
  const a = fakeNode('A', 'node-a');
  a.routes = [{ rid: 1, remote_id: 'NATSSERVERID', ip: '10.0.0.2', in_msgs: 0, out_msgs: 0 }];
  const { readerFor, asked } = readers({ 'http://a:8222': a });
  const m = new ClusterModel([{ base: 'http://a:8222', source: 'page' }], readerFor);
  await m.poll();
  await m.poll();
  const peer = m.servers.find((s) => s.id === 'NATSSERVERID');
  assert.equal(peer.monitored, false);
  assert.equal(peer.name, 'NATSSERV', 'named by the start of its server id');
  assert.equal(m.routes.length, 1);
  assert.ok(asked.every((u) => u.startsWith('http://a:8222')));
});

test('two URLs of one server are polled as one', async () => {
  const a = fakeNode('A', 'node-a');
  const { readerFor, asked } = readers({ 'http://a:8222': a, 'http://127.0.0.1:8222': a });
  const m = new ClusterModel([
    { base: 'http://a:8222', source: 'page' }, { base: 'http://127.0.0.1:8222', source: 'servers' },
  ], readerFor);
  await m.poll();
  assert.equal(m.servers.length, 1);
  const before = asked.length;
  await m.poll();
  assert.ok(asked.slice(before).every((u) => u.startsWith('http://a:8222')), 'the alias is no longer polled');
});

test('slow consumers: rising counter, high pending bytes, and connections closed as Slow Consumer', async () => {
  const a = fakeNode('A', 'node-a');
  a.conns = [
    { cid: 1, name: 'fast', pending_bytes: 0, in_msgs: 0, out_msgs: 0 },
    { cid: 2, name: 'lagging', pending_bytes: PENDING_FLOOR, in_msgs: 0, out_msgs: 0 },
  ];
  a.closed = [
    { cid: 3, name: 'cut', reason: 'Slow Consumer (Write Deadline)' },
    { cid: 4, name: 'left', reason: 'Client Closed' },
  ];
  const { readerFor } = readers({ 'http://a:8222': a });
  const m = new ClusterModel([{ base: 'http://a:8222', source: 'page' }], readerFor);
  await m.poll();
  assert.equal(m.servers[0].slowRising, false);
  a.varz.slow_consumers = 1;
  a.t = 1;
  await m.poll();
  assert.equal(m.servers[0].slowRising, true);
  const slow = m.connections.filter((c) => c.slow).map((c) => c.name).sort();
  assert.deepEqual(slow, ['cut', 'lagging']);
  assert.deepEqual(m.connections.map((c) => c.name).sort(), ['cut', 'fast', 'lagging'], 'other closed ones are left out');
  assert.equal(m.connections.find((c) => c.name === 'cut').state, 'Slow Consumer (Write Deadline)');
});

test('a node that stops answering is shown down, without its routes and clients', async () => {
  const a = fakeNode('A', 'node-a');
  const b = fakeNode('B', 'node-b');
  a.routes = [{ rid: 1, remote_id: 'B', monitor_url: 'http://b:8222' }];
  b.routes = [{ rid: 1, remote_id: 'A', monitor_url: 'http://a:8222' }];
  b.conns = [{ cid: 1, name: 'worker' }];
  const { readerFor } = readers({ 'http://a:8222': a, 'http://b:8222': b });
  const m = new ClusterModel([{ base: 'http://a:8222', source: 'page' }], readerFor);
  await m.poll();
  await m.poll();
  assert.equal(m.connections.length, 1);
  b.up = false;
  a.routes = [];
  await m.poll();
  const down = m.servers.find((s) => s.id === 'B');
  assert.equal(down.up, false);
  assert.match(down.error, /Failed to fetch/);
  assert.equal(m.routes.length, 0);
  assert.equal(m.connections.length, 0);
  assert.equal(m.history.byServer.get('B').inMsgs.at(-1), null, 'a gap in the chart, not a zero');
});

test('a ?servers= entry that never answers is shown down, by its URL, with the error', async () => {
  const a = fakeNode('A', 'node-a');
  const { readerFor } = readers({ 'http://a:8222': a });
  const m = new ClusterModel([
    { base: 'http://a:8222', source: 'page' }, { base: 'http://typo:8222', source: 'servers' },
  ], readerFor);
  await m.poll();
  const bad = m.servers.find((s) => s.base === 'http://typo:8222');
  assert.ok(bad, JSON.stringify(m.servers));
  assert.equal(bad.name, 'typo:8222');
  assert.equal(bad.up, false);
  assert.match(bad.error, /Failed to fetch/);
  assert.deepEqual([...m.history.byServer.keys()], ['A'], 'no chart line for a server never seen');
});

// One /accstatz entry, the reference's AccountStat.
const stat = (acc, conns, pub, got, slow = 0) => ({
  acc, conns, leafnodes: 0, total_conns: conns, received: { msgs: pub, bytes: pub * 10 },
  sent: { msgs: got, bytes: got * 10 }, slow_consumers: slow,
});

test('accounts: each server\'s /accstatz summed per account, with rates from the deltas', async () => {
  const a = fakeNode('A', 'node-a');
  const b = fakeNode('B', 'node-b');
  a.routes = [{ rid: 1, remote_id: 'B', monitor_url: 'http://b:8222' }];
  b.routes = [{ rid: 1, remote_id: 'A', monitor_url: 'http://a:8222' }];
  a.accounts = [stat('SALES', 2, 100, 40), stat('$G', 1, 5, 5)];
  b.accounts = [stat('SALES', 1, 50, 10, 1)];
  const { readerFor, asked } = readers({ 'http://a:8222': a, 'http://b:8222': b });
  const m = new ClusterModel([{ base: 'http://a:8222', source: 'page' }], readerFor);
  await m.poll();
  a.t = 1;
  await m.poll();  // b found through a's route
  assert.ok(asked.includes('http://b:8222/accstatz'));
  assert.deepEqual(m.accounts.map((x) => x.name), ['$G', 'SALES'], 'sorted by name');
  const sales = m.accounts.find((x) => x.name === 'SALES');
  assert.deepEqual(
    [sales.conns, sales.servers, sales.inMsgs, sales.outMsgs, sales.inBytes, sales.outBytes, sales.slowConsumers],
    [3, 2, 150, 50, 1500, 500, 1]);
  assert.equal(sales.msgRate, 0, 'a\'s second sample: nothing moved; b has one sample, no rate');
  a.accounts = [stat('SALES', 2, 300, 140), stat('$G', 1, 5, 5)];
  b.accounts = [stat('SALES', 1, 70, 10, 1)];
  a.t = 2;
  b.t = 2;
  await m.poll();
  const next = m.accounts.find((x) => x.name === 'SALES');
  // a: (200 published + 100 delivered) over 1 s; b: 20 published over its 2 s between samples.
  assert.equal(next.msgRate, 300 + 10);
  assert.equal(next.byteRate, 3000 + 100);
});

test('accounts: a server that is down, or has no /accstatz, adds nothing', async () => {
  const a = fakeNode('A', 'node-a');
  const b = fakeNode('B', 'node-b');
  a.routes = [{ rid: 1, remote_id: 'B', monitor_url: 'http://b:8222' }];
  a.accounts = [stat('SALES', 2, 10, 10)];
  b.accounts = null;  // an older server: 404
  const { readerFor } = readers({ 'http://a:8222': a, 'http://b:8222': b });
  const m = new ClusterModel([{ base: 'http://a:8222', source: 'page' }], readerFor);
  await m.poll();
  await m.poll();
  assert.equal(m.servers.find((s) => s.id === 'B').up, true, 'the rest of b is polled');
  assert.deepEqual(m.accounts.map((x) => [x.name, x.conns, x.servers]), [['SALES', 2, 1]]);
  b.accounts = [stat('SALES', 4, 0, 0)];
  await m.poll();
  assert.deepEqual(m.accounts.map((x) => [x.name, x.conns, x.servers]), [['SALES', 6, 2]]);
  b.up = false;
  await m.poll();
  assert.deepEqual(m.accounts.map((x) => [x.name, x.conns, x.servers]), [['SALES', 2, 1]]);
});

test('a leaf connection is one link, whichever end says it, and an unpolled leaf is drawn by its name', async () => {
  const hub = fakeNode('H', 'hub-h');
  const leaf = fakeNode('L', 'leaf-l', { cluster: {} });
  hub.leafs = [{ name: 'leaf-l', is_spoke: false, account: '$G', ip: '127.0.0.1', port: 50001, in_msgs: 0, out_msgs: 0 }];
  leaf.leafs = [{ name: 'hub-h', is_spoke: true, account: '$G', ip: '127.0.0.1', port: 7422, in_msgs: 0, out_msgs: 0 }];
  const { readerFor } = readers({ 'http://h:8222': hub, 'http://l:8222': leaf });

  // Only the hub polled: the leaf is a server known from the link.
  const one = new ClusterModel([{ base: 'http://h:8222', source: 'page' }], readerFor);
  await one.poll();
  assert.deepEqual(one.leafs.map((l) => [l.hub, l.leaf, l.account]), [['H', 'leaf:leaf-l', '$G']]);
  const drawn = one.servers.find((s) => s.id === 'leaf:leaf-l');
  assert.equal(drawn.name, 'leaf-l');
  assert.equal(drawn.monitored, false);
  assert.equal(drawn.leaf, true);

  // Both polled: still one link, between the two servers, the leaf pointing at its hub.
  const both = new ClusterModel([{ base: 'http://h:8222', source: 'page' }, { base: 'http://l:8222', source: 'servers' }],
    readerFor);
  await both.poll();
  assert.deepEqual(both.leafs.map((l) => [l.hub, l.leaf, l.seenBy]), [['H', 'L', 2]]);
  assert.deepEqual(both.servers.map((s) => s.id).sort(), ['H', 'L']);

  // nats-server 2.9 names nobody: the peer is its address.
  hub.leafs = [{ account: 'EDGE', ip: '10.0.0.9', port: 50002, in_msgs: 0, out_msgs: 0 }];
  const old = new ClusterModel([{ base: 'http://h:8222', source: 'page' }], readerFor);
  await old.poll();
  assert.equal(old.leafs.length, 1);
  assert.equal(old.servers.find((s) => s.leaf).name, '10.0.0.9:50002');
});
