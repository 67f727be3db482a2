// WebSocket clients: the official nats.ws client (what a browser page uses) in Node, whose
// WebSocket is the `ws` package (Node 18 has no global one). Messages cross between WebSocket
// and TCP clients on one server and across a route (to a node of the server under test and
// to a nats-server node); authorization of the websocket block; wss:// with the test CA;
// permessage-deflate.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { connect as wsConnect } from 'nats.ws';
import { ErrorCode, StringCodec } from 'nats';
import {
  Cluster, freePorts, NATS_SERVER_BIN, serverBinary, ServerProcess, serverTest, StatusLog, waitFor,
} from '../lib/harness.mjs';

const sc = StringCodec();

// nats.ws opens `new WebSocket(url)`. This one is the `ws` package's, with the options a test
// sets (the CA for wss://), and remembers each socket so a test can read what was negotiated.
const sockets = [];
let socketOptions = {};
class TestWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, socketOptions);
    sockets.push(this);
  }
}
globalThis.WebSocket = TestWebSocket;

// A nats.ws connection owned by the test's scope (closed at its end, async errors fail it).
async function connectWs(s, url, opts = {}) {
  const nc = await wsConnect({ servers: url, timeout: 5_000, reconnect: false, ...opts });
  s.conns.push({ nc, status: new StatusLog(nc), expectErrors: false });
  return nc;
}

// A server under test with a websocket listener; `ws` is the websocket block's body.
async function startWsServer(s, ws, { config = '' } = {}) {
  const [wsPort] = await freePorts(1);
  const server = await s.startServer({ config: `${config}websocket {\n  listen: "127.0.0.1:${wsPort}"\n${ws}\n}\n` });
  return { server, wsPort };
}

async function firstMessage(sub) {
  for await (const m of sub) return m;
  return undefined;
}

serverTest('websocket: messages cross between WebSocket and TCP clients, and requests are answered both ways', async (s) => {
  const { server, wsPort } = await startWsServer(s, '  no_tls: true');
  const ws = await connectWs(s, `ws://127.0.0.1:${wsPort}`);
  const tcp = await s.connect(server);
  assert.equal(ws.info.connect_urls, undefined, 'a WebSocket client is never told TCP addresses');

  const toWs = ws.subscribe('ws.in', { max: 1 });
  const toTcp = tcp.subscribe('tcp.in', { max: 1 });
  await ws.flush();
  await tcp.flush();
  tcp.publish('ws.in', sc.encode('from tcp'));
  ws.publish('tcp.in', sc.encode('from ws'));
  assert.equal((await firstMessage(toWs)).string(), 'from tcp');
  assert.equal((await firstMessage(toTcp)).string(), 'from ws');

  // A payload bigger than a browser frame and than the server's first read buffer.
  const big = 'x'.repeat(200_000);
  const bigSub = ws.subscribe('ws.big', { max: 1 });
  await ws.flush();
  tcp.publish('ws.big', sc.encode(big));
  assert.equal((await firstMessage(bigSub)).string(), big);

  tcp.subscribe('svc.tcp', { callback: (_e, m) => m.respond(sc.encode(`tcp answers ${m.string()}`)) });
  ws.subscribe('svc.ws', { callback: (_e, m) => m.respond(sc.encode(`ws answers ${m.string()}`)) });
  await tcp.flush();
  await ws.flush();
  assert.equal((await ws.request('svc.tcp', sc.encode('ws'), { timeout: 5_000 })).string(), 'tcp answers ws');
  assert.equal((await tcp.request('svc.ws', sc.encode('tcp'), { timeout: 5_000 })).string(), 'ws answers tcp');

  const connz = await server.http('/connz');
  assert.equal(connz.connections.length, 2);
});

serverTest('websocket: the websocket block authorization replaces the server one for WebSocket clients only', async (s) => {
  const { server, wsPort } = await startWsServer(s, '  no_tls: true\n  authorization { user: wsuser, password: wspass }',
    { config: 'authorization { user: tcpuser, password: tcppass }\n' });
  const url = `ws://127.0.0.1:${wsPort}`;
  const ws = await connectWs(s, url, { user: 'wsuser', pass: 'wspass' });
  assert.equal(ws.info.auth_required, true);
  const sub = ws.subscribe('auth.ws', { max: 1 });
  await ws.flush();
  const tcp = await s.connect(server, { user: 'tcpuser', pass: 'tcppass' });
  tcp.publish('auth.ws', sc.encode('ok'));
  assert.equal((await firstMessage(sub)).string(), 'ok');

  const violation = (e) => {
    assert.equal(e.code, ErrorCode.AuthorizationViolation, e.message);
    return true;
  };
  await assert.rejects(wsConnect({ servers: url, user: 'tcpuser', pass: 'tcppass', reconnect: false, timeout: 5_000 }), violation);
  await assert.rejects(wsConnect({ servers: url, reconnect: false, timeout: 5_000 }), violation);
  await assert.rejects(s.connect(server, { user: 'wsuser', pass: 'wspass' }), violation);
});

serverTest('websocket: a token in the websocket block alone makes only WebSocket clients authenticate', async (s) => {
  const { server, wsPort } = await startWsServer(s, '  no_tls: true\n  authorization { token: "s3cret" }');
  const ws = await connectWs(s, `ws://127.0.0.1:${wsPort}`, { token: 's3cret' });
  assert.equal(ws.info.auth_required, true);
  const tcp = await s.connect(server);
  assert.equal(tcp.info.auth_required, undefined, 'TCP clients still need nothing');
  await assert.rejects(wsConnect({ servers: `ws://127.0.0.1:${wsPort}`, token: 'wrong', reconnect: false, timeout: 5_000 }));
});

const certScript = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'common', 'make-test-certs.sh');

serverTest('websocket: wss:// with the test CA', async (s) => {
  const certs = join(s.dir, 'certs');
  execFileSync('bash', [certScript, certs]);
  const { wsPort } = await startWsServer(s, `  tls {
    cert_file: "${join(certs, 'server.pem')}"
    key_file: "${join(certs, 'server-key.pem')}"
  }`);
  const url = `wss://localhost:${wsPort}`;
  socketOptions = { ca: readFileSync(join(certs, 'ca.pem')) };
  try {
    const a = await connectWs(s, url);
    const b = await connectWs(s, url);
    const sub = a.subscribe('wss.x', { max: 1 });
    await a.flush();
    b.publish('wss.x', sc.encode('encrypted'));
    assert.equal((await firstMessage(sub)).string(), 'encrypted');
    // Without the CA the server's certificate is not trusted: no connection.
    socketOptions = {};
    await assert.rejects(wsConnect({ servers: url, reconnect: false, timeout: 5_000 }));
  } finally {
    socketOptions = {};
  }
});

serverTest('websocket: wss:// verify_and_map takes the user from the client certificate', async (s) => {
  const certs = join(s.dir, 'certs');
  execFileSync('bash', [certScript, certs]);
  const { wsPort } = await startWsServer(s, `  tls {
    cert_file: "${join(certs, 'server.pem')}"
    key_file: "${join(certs, 'server-key.pem')}"
    ca_file: "${join(certs, 'ca.pem')}"
    verify_and_map: true
  }`, { config: 'authorization { users: [{ user: "alice@pylon.test" }] }\n' });
  const url = `wss://localhost:${wsPort}`;
  const ca = readFileSync(join(certs, 'ca.pem'));
  try {
    socketOptions = { ca, cert: readFileSync(join(certs, 'client.pem')), key: readFileSync(join(certs, 'client-key.pem')) };
    const alice = await connectWs(s, url);
    const sub = alice.subscribe('mapped', { max: 1 });
    await alice.flush();
    alice.publish('mapped', sc.encode('alice'));
    assert.equal((await firstMessage(sub)).string(), 'alice');
    // bob's certificate names no configured user.
    socketOptions = { ca, cert: readFileSync(join(certs, 'client2.pem')), key: readFileSync(join(certs, 'client2-key.pem')) };
    await assert.rejects(wsConnect({ servers: url, reconnect: false, timeout: 5_000 }), (e) => {
      assert.equal(e.code, ErrorCode.AuthorizationViolation, e.message);
      return true;
    });
  } finally {
    socketOptions = {};
  }
});

serverTest('websocket: permessage-deflate is negotiated only when compression is on, and messages survive it', async (s) => {
  for (const compression of [true, false]) {
    const { wsPort } = await startWsServer(s, `  no_tls: true\n  compression: ${compression}`);
    const url = `ws://127.0.0.1:${wsPort}`;
    const before = sockets.length;
    const a = await connectWs(s, url);
    const b = await connectWs(s, url);
    const negotiated = sockets.slice(before).map((w) => w.extensions);
    for (const e of negotiated) assert.equal(e.includes('permessage-deflate'), compression, `extensions: '${e}'`);
    const text = 'compressible '.repeat(20_000);
    const sub = a.subscribe('z.big', { max: 1 });
    await a.flush();
    b.publish('z.big', sc.encode(text));
    assert.equal((await firstMessage(sub)).string(), text);
  }
});

// Node A (the server under test) and node B (the server under test, or nats-server) both take
// WebSocket clients. A WebSocket client on A and TCP clients on B exchange messages and
// requests, and each node's WebSocket clients are told the other's WebSocket URL (the
// routes' ws_connect_urls), never a TCP one.
for (const other of ['same', 'nats-server']) {
  serverTest(`websocket: a WebSocket client on one node and TCP clients on another (${other})`, async (s) => {
    const [wsPort, aClient, aHttp, aRoute, bClient, bHttp, bRoute, bWsPort] = await freePorts(8);
    const a = s.adopt(new ServerProcess({
      name: 'node-a', dir: s.dir, clientPort: aClient, httpPort: aHttp, clusterPort: aRoute, clusterName: 'ws-js',
      config: `websocket { listen: "127.0.0.1:${wsPort}", no_tls: true }\n`,
    }));
    const b = s.adopt(new ServerProcess({
      bin: other === 'same' ? serverBinary() : NATS_SERVER_BIN,
      name: 'node-b', dir: s.dir, clientPort: bClient, httpPort: bHttp, clusterPort: bRoute, clusterName: 'ws-js',
      config: `websocket { listen: "127.0.0.1:${bWsPort}", no_tls: true }\n`,
    }));
    a.routes = [b.routeUrl];
    b.routes = [a.routeUrl];
    await Promise.all([a.start(), b.start()]);
    const cluster = new Cluster(s, [a, b], { clusterName: 'ws-js' });
    await cluster.waitForMesh();

    const ws = await connectWs(s, `ws://127.0.0.1:${wsPort}`);
    const tcp = await s.connect(b);
    const wsSub = ws.subscribe('route.ws', { max: 1 });
    ws.subscribe('route.svc', { callback: (_e, m) => m.respond(sc.encode(`A: ${m.string()}`)) });
    await ws.flush();
    const tcpSub = tcp.subscribe('route.tcp', { max: 1 });
    await tcp.flush();
    await cluster.waitForInterest(b, 'route.ws', [a]);
    await cluster.waitForInterest(b, 'route.svc', [a]);
    await cluster.waitForInterest(a, 'route.tcp', [b]);

    tcp.publish('route.ws', sc.encode('B to A'));
    ws.publish('route.tcp', sc.encode('A to B'));
    assert.equal((await firstMessage(wsSub)).string(), 'B to A');
    assert.equal((await firstMessage(tcpSub)).string(), 'A to B');
    assert.equal((await tcp.request('route.svc', sc.encode('asks'), { timeout: 5_000 })).string(), 'A: asks');

    const wsUrls = [`127.0.0.1:${wsPort}`, `127.0.0.1:${bWsPort}`];
    const onB = await connectWs(s, `ws://127.0.0.1:${bWsPort}`);
    for (const nc of [ws, onB]) {
      await waitFor(() => wsUrls.every((u) => (nc.info.connect_urls ?? []).includes(u)),
        { what: `connect_urls ${JSON.stringify(nc.info.connect_urls)} to list ${wsUrls.join(', ')}` });
      assert.ok(!nc.info.connect_urls.includes(`127.0.0.1:${aClient}`), 'no TCP address');
      assert.ok(!nc.info.connect_urls.includes(`127.0.0.1:${bClient}`), 'no TCP address');
    }
  });
}
