// Message headers (HPUB/HMSG) round trip: keys, repeated values, an empty payload, and a
// plain message next to a message with headers.
import assert from 'node:assert/strict';
import { headers, StringCodec } from 'nats';
import { collect, serverTest } from '../lib/harness.mjs';

const sc = StringCodec();

serverTest('headers: keys, repeated values and the payload arrive as sent', async (s) => {
  const server = await s.startServer();
  const sub = await s.connect(server);
  const got = collect(sub, 'with.headers');
  await sub.flush();
  const pub = await s.connect(server);

  const h = headers();
  h.set('Content-Type', 'application/json');
  h.append('X-Trace', 'hop-1');
  h.append('X-Trace', 'hop-2');
  h.set('X-Empty', '');
  h.set('X-Spaces', 'a value with  spaces');
  pub.publish('with.headers', sc.encode('{"n":1}'), { headers: h });
  pub.publish('with.headers', sc.encode('plain'));
  const onlyHeaders = headers();
  onlyHeaders.set('X-Only', 'yes');
  pub.publish('with.headers', undefined, { headers: onlyHeaders });
  await pub.flush();

  const [first, second, third] = await got.untilCount(3);
  assert.equal(sc.decode(first.data), '{"n":1}');
  assert.equal(first.headers.get('Content-Type'), 'application/json');
  assert.deepEqual(first.headers.values('X-Trace'), ['hop-1', 'hop-2']);
  assert.equal(first.headers.get('X-Empty'), '');
  assert.equal(first.headers.get('X-Spaces'), 'a value with  spaces');
  assert.deepEqual(first.headers.keys().sort(), ['Content-Type', 'X-Empty', 'X-Spaces', 'X-Trace']);

  assert.equal(sc.decode(second.data), 'plain');
  assert.equal(second.headers, undefined, 'a message published without headers has none');

  assert.equal(third.data.length, 0);
  assert.equal(third.headers.get('X-Only'), 'yes');
});

serverTest('headers: a large header block and payload arrive intact', async (s) => {
  const server = await s.startServer();
  const sub = await s.connect(server);
  const got = collect(sub, 'big.headers');
  await sub.flush();
  const pub = await s.connect(server);
  const h = headers();
  for (let i = 0; i < 100; i++) h.set(`X-Key-${i}`, `value-${i}-${'v'.repeat(50)}`);
  const payload = new Uint8Array(200_000).map((_, i) => i % 251);
  pub.publish('big.headers', payload, { headers: h });
  await pub.flush();
  const [m] = await got.untilCount(1);
  assert.ok(Buffer.from(m.data).equals(Buffer.from(payload)), "the payload is intact");
  for (let i = 0; i < 100; i++) assert.equal(m.headers.get(`X-Key-${i}`), `value-${i}-${'v'.repeat(50)}`);
});
