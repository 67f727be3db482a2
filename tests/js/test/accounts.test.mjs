// Accounts (issue 13) through the official JavaScript client: isolation between accounts, a
// stream export imported with a prefix, and a service export called across accounts (the
// reply mapped back through the import), on Pylon and on nats-server alike.
import assert from 'node:assert/strict';
import { StringCodec } from 'nats';
import { serverTest, collect } from '../lib/harness.mjs';

const sc = StringCodec();

const CONFIG = `accounts {
  A: {
    users: [ { user: a, password: pa } ]
    exports: [ { stream: "news.>" }, { service: "svc.echo" } ]
  }
  B: {
    users: [ { user: b, password: pb } ]
    imports: [
      { stream: { account: A, subject: "news.>" }, prefix: "from_a" }
      { service: { account: A, subject: "svc.echo" }, to: "a.echo" }
    ]
  }
  C: { users: [ { user: c, password: pc } ] }
}
`;

serverTest('accounts: isolation, a stream import with a prefix, a service across accounts', async (s) => {
  const server = await s.startServer({ config: CONFIG });
  const a = await s.connect(server, { user: 'a', pass: 'pa' });
  const b = await s.connect(server, { user: 'b', pass: 'pb' });
  const c = await s.connect(server, { user: 'c', pass: 'pc' });

  // Isolation: the same subject in A and in C are two subjects.
  const inC = collect(c, 'private.>', { decode: (m) => m.subject });
  const inB = collect(b, 'from_a.news.>', { decode: (m) => [m.subject, sc.decode(m.data)] });
  const inBDirect = collect(b, 'news.>', { decode: (m) => m.subject });
  await Promise.all([c.flush(), b.flush()]);
  a.publish('private.x', sc.encode('for A only'));
  // The stream export reaches B under its prefix, not under the original subject.
  a.publish('news.today', sc.encode('headline'));
  await a.flush();
  assert.deepEqual(await inB.untilCount(1), [['from_a.news.today', 'headline']]);
  // C and B then publish in their own accounts: when their own message is back, anything of
  // A's (published and flushed before) would have arrived first.
  c.publish('private.c', sc.encode('mine'));
  b.publish('news.b', sc.encode('mine'));
  assert.deepEqual(await inC.untilCount(1), ['private.c'], "C got another account's message");
  assert.deepEqual(await inBDirect.untilCount(1), ['news.b'], "B got A's news without its prefix");

  // The service: B calls a.echo, A's responder answers on svc.echo, the reply comes back.
  a.subscribe('svc.echo', {
    callback: (err, m) => {
      if (!err) m.respond(sc.encode(`echo:${sc.decode(m.data)}`));
    },
  });
  await a.flush();
  const reply = await b.request('a.echo', sc.encode('ping'), { timeout: 5_000 });
  assert.equal(sc.decode(reply.data), 'echo:ping');
  // C imports nothing: the service is not there for it.
  await assert.rejects(c.request('a.echo', sc.encode('ping'), { timeout: 1_000 }));

});
