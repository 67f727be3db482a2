// Request/reply: a responder answers on the request's reply subject; a request nobody
// listens to fails at once with the no-responders status (503) instead of timing out.
import assert from 'node:assert/strict';
import { createInbox, ErrorCode, headers, RequestStrategy, StringCodec } from 'nats';
import { serverTest } from '../lib/harness.mjs';

const sc = StringCodec();

// A service that upper-cases what it is sent.
function upperService(nc, subject, opts = {}) {
  return nc.subscribe(subject, {
    ...opts,
    callback: (err, m) => {
      if (!err) m.respond(sc.encode(sc.decode(m.data).toUpperCase()));
    },
  });
}

serverTest('request: the responder on another connection answers each request', async (s) => {
  const server = await s.startServer();
  const svc = await s.connect(server);
  upperService(svc, 'svc.upper');
  await svc.flush();
  const nc = await s.connect(server);
  for (const word of ['alpha', 'beta', 'gamma']) {
    const reply = await nc.request('svc.upper', sc.encode(word), { timeout: 5_000 });
    assert.equal(sc.decode(reply.data), word.toUpperCase());
  }
  // Concurrent requests share the client's one muxed inbox subscription; each gets its own answer.
  const words = Array.from({ length: 50 }, (_, i) => `w${i}`);
  const answers = await Promise.all(words.map((w) => nc.request('svc.upper', sc.encode(w), { timeout: 5_000 })));
  assert.deepEqual(answers.map((m) => sc.decode(m.data)), words.map((w) => w.toUpperCase()));
});

serverTest('request: noMux requests on an explicit reply subject', async (s) => {
  const server = await s.startServer();
  const svc = await s.connect(server);
  upperService(svc, 'svc.upper');
  await svc.flush();
  const nc = await s.connect(server);
  const inbox = createInbox();
  const reply = await nc.request('svc.upper', sc.encode('solo'), { timeout: 5_000, noMux: true, reply: inbox });
  assert.equal(sc.decode(reply.data), 'SOLO');
  assert.equal(reply.subject, inbox);
});

serverTest('request: a request with no responders fails with 503', async (s) => {
  const server = await s.startServer();
  const nc = await s.connect(server);
  await assert.rejects(nc.request('nobody.home', sc.encode('?'), { timeout: 10_000 }), (e) => {
    assert.equal(e.code, ErrorCode.NoResponders);
    assert.equal(e.code, '503');
    return true;
  });
  await assert.rejects(nc.request('nobody.home', sc.encode('?'), { timeout: 10_000, noMux: true, reply: createInbox() }),
    (e) => e.code === ErrorCode.NoResponders);
  // The connection is fine afterwards.
  const svc = await s.connect(server);
  upperService(svc, 'somebody.home');
  await svc.flush();
  assert.equal(sc.decode((await nc.request('somebody.home', sc.encode('yes'), { timeout: 5_000 })).data), 'YES');
});

serverTest('request: a responder that never answers makes the request time out', async (s) => {
  const server = await s.startServer();
  const svc = await s.connect(server);
  const silent = svc.subscribe('svc.silent');
  await svc.flush();
  const nc = await s.connect(server);
  await assert.rejects(nc.request('svc.silent', sc.encode('hello?'), { timeout: 300 }), (e) => {
    assert.equal(e.code, ErrorCode.Timeout);
    return true;
  });
  assert.equal(silent.getReceived(), 1, 'the request did reach the silent responder');
});

serverTest('request: requestMany collects the answers of every responder', async (s) => {
  const server = await s.startServer();
  const responders = [];
  for (let i = 0; i < 3; i++) {
    const nc = await s.connect(server);
    nc.subscribe('census', { callback: (err, m) => !err && m.respond(sc.encode(`node-${i}`)) });
    await nc.flush();
    responders.push(nc);
  }
  const nc = await s.connect(server);
  const answers = [];
  const it = await nc.requestMany('census', sc.encode('who?'), { strategy: RequestStrategy.Count, maxMessages: 3, maxWait: 10_000 });
  for await (const m of it) answers.push(sc.decode(m.data));
  assert.deepEqual(answers.sort(), ['node-0', 'node-1', 'node-2']);
});

serverTest('request: a queue group of responders answers each request once', async (s) => {
  const server = await s.startServer();
  let served = 0;
  for (let i = 0; i < 3; i++) {
    const nc = await s.connect(server);
    nc.subscribe('svc.q', { queue: 'svc', callback: (err, m) => { served++; m.respond(sc.encode(`by ${i}`)); } });
    await nc.flush();
  }
  const nc = await s.connect(server);
  const n = 60;
  const replies = await Promise.all(Array.from({ length: n }, () => nc.request('svc.q', sc.encode('x'), { timeout: 5_000 })));
  assert.equal(replies.length, n);
  assert.equal(served, n, 'each request handled by exactly one member');
});

serverTest('request: the reply can carry headers', async (s) => {
  const server = await s.startServer();
  const svc = await s.connect(server);
  svc.subscribe('svc.meta', {
    callback: (err, m) => {
      const h = headers();
      h.set('X-Request-Id', m.headers?.get('X-Request-Id') ?? 'missing');
      h.set('X-Served-By', 'svc');
      m.respond(sc.encode('ok'), { headers: h });
    },
  });
  await svc.flush();
  const nc = await s.connect(server);
  const h = headers();
  h.set('X-Request-Id', 'req-42');
  const reply = await nc.request('svc.meta', sc.encode('?'), { timeout: 5_000, headers: h });
  assert.equal(sc.decode(reply.data), 'ok');
  assert.equal(reply.headers.get('X-Request-Id'), 'req-42');
  assert.equal(reply.headers.get('X-Served-By'), 'svc');
});
