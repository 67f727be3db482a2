// Publish/subscribe as a JS user does it: plain subjects, '*' and '>' wildcards, order,
// auto-unsubscribe, unsubscribe, no echo.
import assert from 'node:assert/strict';
import { StringCodec } from 'nats';
import { collect, serverTest } from '../lib/harness.mjs';

const sc = StringCodec();
const text = (m) => ({ subject: m.subject, data: sc.decode(m.data) });

serverTest('pubsub: a subscriber on another connection gets each message, in order', async (s) => {
  const server = await s.startServer();
  const sub = await s.connect(server);
  const pub = await s.connect(server);
  const got = collect(sub, 'orders.created', { decode: text });
  await sub.flush(); // the SUB is registered before anything is published

  const n = 1000;
  for (let i = 0; i < n; i++) pub.publish('orders.created', sc.encode(`order ${i}`));
  await pub.flush();
  const msgs = await got.untilCount(n);
  assert.deepEqual(msgs.map((m) => m.data), Array.from({ length: n }, (_, i) => `order ${i}`));
  assert.ok(msgs.every((m) => m.subject === 'orders.created'));
});

serverTest("pubsub: '*' matches exactly one token, '>' one or more", async (s) => {
  const server = await s.startServer();
  const sub = await s.connect(server);
  const pub = await s.connect(server);
  const star = collect(sub, 'sensor.*.temp', { decode: text });
  const tail = collect(sub, 'sensor.>', { decode: text });
  const mid = collect(sub, '*.kitchen.*', { decode: text });
  await sub.flush();

  const subjects = ['sensor.kitchen.temp', 'sensor.hall.temp', 'sensor.kitchen', 'sensor.kitchen.temp.max',
    'sensor', 'other.kitchen.temp', 'sensor.kitchen.humidity'];
  for (const subj of subjects) pub.publish(subj, sc.encode(subj));
  // A last message every subscription matches marks the end of the stream.
  pub.publish('sensor.end.temp', sc.encode('end'));
  await pub.flush();

  // The end marker matches '*' and '>' but not '*.kitchen.*'; once it arrived, everything
  // published before it has been delivered to this connection (one connection, in order).
  await star.untilCount(3);
  await tail.untilCount(6);
  await sub.flush();
  assert.deepEqual(star.messages.map((m) => m.subject), ['sensor.kitchen.temp', 'sensor.hall.temp', 'sensor.end.temp']);
  assert.deepEqual(tail.messages.map((m) => m.subject), ['sensor.kitchen.temp', 'sensor.hall.temp', 'sensor.kitchen',
    'sensor.kitchen.temp.max', 'sensor.kitchen.humidity', 'sensor.end.temp']);
  assert.deepEqual(mid.messages.map((m) => m.subject), ['sensor.kitchen.temp', 'other.kitchen.temp', 'sensor.kitchen.humidity']);
});

serverTest('pubsub: a subscription with max ends after that many messages', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  const sub = nc.subscribe('limited', { max: 3 });
  for (let i = 0; i < 10; i++) nc.publish('limited', sc.encode(String(i)));
  const got = [];
  for await (const m of sub) got.push(sc.decode(m.data)); // ends when the sub auto-unsubscribes
  assert.deepEqual(got, ['0', '1', '2']);
  assert.ok(sub.isClosed());
  // The server dropped the interest too.
  await nc.flush();
  const subsz = await server.http('/subsz?subs=1');
  assert.ok(!(subsz.subscriptions_list ?? []).some((x) => x.subject === 'limited'), 'no subscription on "limited" left');
});

serverTest('pubsub: after unsubscribe() nothing more is delivered', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  const pub = await s.connect(server);
  const got = collect(nc, 'news', { decode: text });
  const sub = got.sub;
  await nc.flush();
  pub.publish('news', sc.encode('before'));
  await got.untilCount(1);
  sub.unsubscribe();
  await nc.flush();
  const witness = collect(nc, 'news', { decode: text }); // a second sub still gets it
  await nc.flush();
  pub.publish('news', sc.encode('after'));
  await witness.untilCount(1);
  assert.deepEqual(got.messages.map((m) => m.data), ['before']);
  assert.equal(witness.messages[0].data, 'after');
});

serverTest('pubsub: noEcho keeps a connection from getting its own messages', async (s) => {
  const server = await s.startServer();
  const quiet = await s.connect(server, { noEcho: true });
  const other = await s.connect(server);
  const own = collect(quiet, 'chat', { decode: text });
  const theirs = collect(other, 'chat', { decode: text });
  await quiet.flush();
  await other.flush();
  quiet.publish('chat', sc.encode('from quiet'));
  other.publish('chat', sc.encode('from other'));
  await quiet.flush();
  await other.flush();
  await theirs.untilCount(2);
  await own.untilCount(1);
  await quiet.flush(); // anything else routed to it would precede this PONG
  assert.deepEqual(own.messages.map((m) => m.data), ['from other']);
  assert.deepEqual(theirs.messages.map((m) => m.data).sort(), ['from other', 'from quiet']);
});

serverTest('pubsub: unsubscribe(n) after some messages ends the subscription at n in total', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  const pub = await s.connect(server);
  const got = collect(nc, 'counted', { decode: text });
  await nc.flush();
  pub.publish('counted', sc.encode('0'));
  pub.publish('counted', sc.encode('1'));
  await got.untilCount(2);
  got.sub.unsubscribe(5);
  await nc.flush();
  for (let i = 2; i < 10; i++) pub.publish('counted', sc.encode(String(i)));
  await pub.flush();
  await got.done;
  assert.deepEqual(got.messages.map((m) => m.data), ['0', '1', '2', '3', '4']);
});

serverTest('pubsub: binary payloads, CRLF inside payloads and UTF-8 subjects arrive byte for byte', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  const got = collect(nc, 'bytes.>');
  await nc.flush();
  const binary = new Uint8Array(256).map((_, i) => i);
  const crlf = sc.encode('line one\r\nPUB fake 1\r\nx\r\n\r\n');
  nc.publish('bytes.binary', binary);
  nc.publish('bytes.crlf', crlf);
  nc.publish('bytes.empty');
  nc.publish('bytes.ñandú.日本', sc.encode('utf-8 subject'));
  const [b, c, e, u] = await got.untilCount(4);
  assert.ok(Buffer.from(b.data).equals(Buffer.from(binary)));
  assert.ok(Buffer.from(c.data).equals(Buffer.from(crlf)));
  assert.equal(e.data.length, 0);
  assert.equal(u.subject, 'bytes.ñandú.日本');
  assert.equal(sc.decode(u.data), 'utf-8 subject');
});
