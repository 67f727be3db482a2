// Queue groups on one server: each message goes to exactly one member of a group, while
// plain subscribers and other groups each get their own copy.
import assert from 'node:assert/strict';
import { StringCodec } from 'nats';
import { collect, serverTest, waitFor } from '../lib/harness.mjs';

const sc = StringCodec();
const data = (m) => sc.decode(m.data);

serverTest('queue: each message reaches one member of the group, every member works', async (s) => {
  const server = await s.startServer();
  const members = [];
  for (let i = 0; i < 3; i++) {
    const nc = await s.connect(server, { name: `worker-${i}` });
    members.push({ nc, got: collect(nc, 'jobs', { queue: 'workers', decode: data }) });
    await nc.flush();
  }
  const watcher = await s.connect(server);
  const all = collect(watcher, 'jobs', { decode: data });
  const audit = collect(watcher, 'jobs', { queue: 'auditors', decode: data });
  await watcher.flush();

  const pub = await s.connect(server);
  const n = 300;
  for (let i = 0; i < n; i++) pub.publish('jobs', sc.encode(`job ${i}`));
  await pub.flush();

  await all.untilCount(n);
  await audit.untilCount(n);
  const total = () => members.reduce((k, m) => k + m.got.count, 0);
  await waitFor(() => total() >= n, { what: `${n} messages across the group` });
  // Anything else routed to a member would precede the PONG of a flush on its connection.
  for (const m of members) await m.nc.flush();
  const received = members.flatMap((m) => m.got.messages);
  assert.equal(received.length, n, 'each message delivered once across the group');
  assert.equal(new Set(received).size, n, 'no message delivered twice');
  for (const [i, m] of members.entries()) assert.ok(m.got.count > 0, `worker-${i} got a share (${m.got.count})`);
  await watcher.flush();
  assert.equal(all.count, n, 'the plain subscriber gets every message');
  assert.equal(audit.count, n, 'a second group gets its own copy of every message');
});

serverTest('queue: when a member leaves, the others get all of the following messages', async (s) => {
  const server = await s.startServer();
  const a = await s.connect(server);
  const b = await s.connect(server);
  const gotA = collect(a, 'tasks', { queue: 'q', decode: data });
  const subA = gotA.sub;
  const gotB = collect(b, 'tasks', { queue: 'q', decode: data });
  await a.flush();
  await b.flush();
  subA.unsubscribe();
  await a.flush();

  const pub = await s.connect(server);
  for (let i = 0; i < 50; i++) pub.publish('tasks', sc.encode(String(i)));
  await pub.flush();
  await gotB.untilCount(50);
  await a.flush();
  assert.equal(gotA.count, 0);
  assert.deepEqual(gotB.messages, Array.from({ length: 50 }, (_, i) => String(i)));
});
