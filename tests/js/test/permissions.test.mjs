// Per-user permissions: a denied publish or subscribe is reported to the JS client as an
// asynchronous error (a 'Permissions Violation' -ERR), and the connection stays up.
import assert from 'node:assert/strict';
import { ErrorCode, Events, StringCodec } from 'nats';
import { collect, serverTest } from '../lib/harness.mjs';

const sc = StringCodec();
const CONFIG = `
authorization {
  users: [
    { user: limited, password: pw, permissions: {
        publish:   { allow: ["allowed.>", "_INBOX.>"], deny: ["allowed.secret"] }
        subscribe: { allow: ["public.>", "allowed.>", "_INBOX.>"], deny: ["public.secret"] }
    } }
    { user: admin, password: pw }
  ]
}
`;

serverTest('permissions: a denied publish is an async error and is not delivered', async (s) => {
  const server = await s.startServer({ config: CONFIG });
  const admin = await s.connect(server, { user: 'admin', pass: 'pw' });
  const watch = collect(admin, '>');
  await admin.flush();
  const nc = await s.connect(server, { user: 'limited', pass: 'pw', expectErrors: true });
  const status = s.statusOf(nc);

  nc.publish('forbidden.topic', sc.encode('no'));
  const denied = await status.next(Events.Error, { what: 'the publish permissions violation' });
  assert.equal(denied.data, ErrorCode.PermissionsViolation);
  assert.deepEqual(denied.permissionContext, { operation: 'publish', subject: 'forbidden.topic', queue: undefined });

  nc.publish('allowed.secret', sc.encode('no'));
  const deniedByDeny = await status.next(Events.Error, {
    pred: (e) => e.permissionContext?.subject === 'allowed.secret',
    what: 'the violation of the publish deny list',
  });
  assert.equal(deniedByDeny.permissionContext.operation, 'publish');

  // The connection stays usable, and only the allowed message reached the subscriber.
  nc.publish('allowed.topic', sc.encode('yes'));
  await nc.flush();
  const [m] = await watch.untilCount(1);
  assert.equal(m.subject, 'allowed.topic');
  await admin.flush();
  assert.equal(watch.count, 1);
  assert.ok(!nc.isClosed());
  assert.equal(status.ofType(Events.Error).length, 2);
});

serverTest('permissions: a denied subscription ends with a permissions error', async (s) => {
  const server = await s.startServer({ config: CONFIG });
  const nc = await s.connect(server, { user: 'limited', pass: 'pw', expectErrors: true });
  const status = s.statusOf(nc);

  const denied = collect(nc, 'private.stuff');
  await denied.done; // the callback gets the server's error, then the client closes the sub
  assert.ok(denied.error, 'the subscription callback got an error');
  assert.equal(denied.error.code, ErrorCode.PermissionsViolation);
  assert.match(denied.error.message, /Permissions Violation for Subscription to "private\.stuff"/);
  const event = await status.next(Events.Error, { what: 'the subscription permissions violation' });
  assert.deepEqual(event.permissionContext, { operation: 'subscription', subject: 'private.stuff', queue: undefined });

  // Read with an async iterator, the same error ends the loop.
  const iterated = nc.subscribe('private.iterated');
  await assert.rejects((async () => {
    for await (const m of iterated) assert.fail(`no message expected, got one on ${m.subject}`);
  })(), (e) => e.code === ErrorCode.PermissionsViolation && /Subscription to "private\.iterated"/.test(e.message));

  // A queue subscription names its queue group in the error.
  const deniedQueue = collect(nc, 'public.secret', { queue: 'workers' });
  await deniedQueue.done;
  assert.equal(deniedQueue.error?.code, ErrorCode.PermissionsViolation);
  assert.match(deniedQueue.error.message, /Permissions Violation for Subscription to "public\.secret" using queue "workers"/);

  // Allowed subscriptions on the same connection work.
  const ok = collect(nc, 'public.news');
  await nc.flush();
  const admin = await s.connect(server, { user: 'admin', pass: 'pw' });
  admin.publish('public.news', sc.encode('hello'));
  admin.publish('private.stuff', sc.encode('not for limited'));
  await admin.flush();
  const [m] = await ok.untilCount(1);
  assert.equal(sc.decode(m.data), 'hello');
  assert.ok(!nc.isClosed());
});

serverTest('permissions: request/reply within the allowed subjects works', async (s) => {
  const server = await s.startServer({ config: CONFIG });
  const svc = await s.connect(server, { user: 'admin', pass: 'pw' });
  svc.subscribe('allowed.svc', { callback: (err, m) => m.respond(sc.encode('served')) });
  await svc.flush();
  const nc = await s.connect(server, { user: 'limited', pass: 'pw' });
  const reply = await nc.request('allowed.svc', sc.encode('?'), { timeout: 5_000 });
  assert.equal(sc.decode(reply.data), 'served');
});

serverTest('permissions: a wildcard subscription does not deliver the subjects its deny list names', async (s) => {
  const server = await s.startServer({ config: CONFIG });
  const nc = await s.connect(server, { user: 'limited', pass: 'pw' });
  const got = collect(nc, 'public.>');
  await nc.flush();
  const admin = await s.connect(server, { user: 'admin', pass: 'pw' });
  for (const subject of ['public.a', 'public.secret', 'public.b']) admin.publish(subject, sc.encode(subject));
  await admin.flush();
  await got.untilCount(2);
  await nc.flush();
  assert.deepEqual(got.messages.map((m) => m.subject), ['public.a', 'public.b']);
});
