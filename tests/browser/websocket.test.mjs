// A web page using the official nats.ws client, in a real browser (headless Debian chromium,
// driven by playwright-core), against pylon-server's websocket listener: the page's requests
// are answered by a plain TCP client (`pylon reply`), and it answers a TCP client's requests
// (`pylon req`). The server has compression on, so Chromium's own permessage-deflate carries
// it. A page from an origin the server does not allow is refused with a 403.
//
// The page and the nats.ws bundle come from a small HTTP server of the test's own on a leased
// loopback port, so the browser loads a real page from a loopback origin (Chromium's local
// network access checks let such a page reach the server on 127.0.0.1, with no flag turned
// off). Served as http://127.0.0.1:<port> the page's origin is allowed; as
// http://localhost:<port>, the same page's origin is not.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, freePorts, getJson, waitFor } from './cluster.mjs';

const require = createRequire(join(process.env.PYLON_BROWSER_MODULES, '/'));
const { chromium } = require('playwright-core');
const NATS_WS_BUNDLE = join(process.env.PYLON_BROWSER_MODULES, 'nats.ws', 'esm', 'nats.js');

const OUT = process.env.PYLON_TEST_OUTPUT;
const procs = new Cluster({ serverBin: process.env.PYLON_SERVER_BIN, toolBin: process.env.PYLON_TOOL_BIN, outDir: OUT });
const run = promisify(execFile);
let server;
let pages;  // the HTTP server of the page
let GOOD_ORIGIN;   // in allowed_origins
let OTHER_ORIGIN;  // the same page, another origin
let context;
let profile;

// The page: connects with nats.ws, answers requests on browser.svc, and exposes what it did.
const PAGE = `<!doctype html><meta charset="utf-8"><title>nats.ws</title>
<script type="module">
import { connect, StringCodec } from './nats.js';
const sc = StringCodec();
window.natsPage = { state: 'connecting' };
try {
  const params = new URLSearchParams(location.search);
  const nc = await connect({ servers: params.get('ws'), reconnect: false, timeout: 5000 });
  window.natsPage.server = nc.info.server_name;
  nc.subscribe('browser.svc', { callback: (_e, m) => m.respond(sc.encode('page answers ' + sc.decode(m.data))) });
  await nc.flush();
  window.natsPage.state = 'ready';
  window.natsPage.ask = async (subject, text) => sc.decode((await nc.request(subject, sc.encode(text), { timeout: 5000 })).data);
} catch (e) {
  window.natsPage.state = 'failed';
  window.natsPage.error = String(e && e.message || e);
}
</script>`;

function servePage(req, res) {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/nats.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(NATS_WS_BUNDLE));
  } else if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  } else {
    res.writeHead(404).end();
  }
}

async function openPage(origin, wsUrl) {
  const page = await context.newPage();
  await page.goto(`${origin}/?ws=${encodeURIComponent(wsUrl)}`);
  await page.waitForFunction(() => window.natsPage && window.natsPage.state !== 'connecting', null, { timeout: 20000 });
  return page;
}

before(async () => {
  const [port, http, wsPort, pagePort] = await freePorts(4);
  GOOD_ORIGIN = `http://127.0.0.1:${pagePort}`;
  OTHER_ORIGIN = `http://localhost:${pagePort}`;
  pages = createServer(servePage);
  await new Promise((resolve, reject) => pages.once('error', reject).listen(pagePort, '127.0.0.1', resolve));
  const conf = join(OUT, 'websocket-browser.conf');
  writeFileSync(conf, `server_name: ws-browser
websocket {
  listen: "127.0.0.1:${wsPort}"
  no_tls: true
  compression: true
  allowed_origins: ["${GOOD_ORIGIN}"]
}
`);
  server = { port, http, wsPort, url: `nats://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${wsPort}` };
  server.proc = procs.run(process.env.PYLON_SERVER_BIN, ['-c', conf, '-a', '127.0.0.1', '-p', String(port), '-m', String(http)],
    'websocket-browser-server.log');
  await waitFor('the server to answer /healthz', async () => {
    if (server.proc.exited) throw new Error(`pylon-server exited ${JSON.stringify(server.proc.exited)}`);
    return (await fetch(`http://127.0.0.1:${http}/healthz`)).ok;
  });
  profile = mkdtempSync(join(tmpdir(), 'pylon-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.PYLON_CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close().catch(() => {});
  await procs.stop();
  pages?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('a page with nats.ws exchanges requests with TCP clients through pylon-server', async () => {
  const page = await openPage(GOOD_ORIGIN, server.ws);
  const state = await page.evaluate(() => window.natsPage);
  assert.equal(state.state, 'ready', state.error);
  assert.equal(state.server, 'ws-browser');
  const connz = await getJson(`http://127.0.0.1:${server.http}/connz`);
  assert.equal(connz.num_connections, 1);

  // A TCP client asks the page.
  const asked = await run(process.env.PYLON_TOOL_BIN, ['req', 'browser.svc', 'tcp', '-s', server.url], { timeout: 20000 });
  assert.match(asked.stdout, /page answers tcp/);

  // The page asks a TCP responder, with a reply big enough to be deflated and cut into
  // browser-sized frames.
  const big = 'compressible '.repeat(2000);
  const replier = procs.client(['reply', 'tcp.svc', big, '-s', server.url], 'websocket-browser-reply.log');
  await waitFor('the TCP responder to subscribe', async () => {
    const subsz = await getJson(`http://127.0.0.1:${server.http}/subsz?subs=1`);
    return (subsz.subscriptions_list ?? []).some((s) => s.subject === 'tcp.svc');
  });
  const answer = await page.evaluate(() => window.natsPage.ask('tcp.svc', 'page'));
  assert.equal(answer, big);
  replier.child.kill('SIGTERM');
  await page.close();
});

test('a page from an origin the server does not allow cannot connect', async () => {
  const page = await openPage(OTHER_ORIGIN, server.ws);
  const state = await page.evaluate(() => window.natsPage);
  assert.equal(state.state, 'failed');
  const log = readFileSync(join(OUT, 'websocket-browser-server.log'), 'utf8');
  assert.match(log, /websocket handshake error: origin not allowed: not in the allowed list/);
  await page.close();
});
