// /dashboard in a real browser (headless Debian chromium, driven by playwright-core) against a
// running 3-node pylon cluster with traffic: the graph shows three servers and three routes
// (found from one node through the routes' monitor_url), the rate chart moves while messages
// flow, the accounts panel sums the nodes' /accstatz, the connections table sorts, a leaf node
// shows up linked to its hub, and a screenshot lands in the build's test output.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, waitFor, getJson, freePorts } from './cluster.mjs';

// playwright-core is installed into the build dir (run.sh), not next to this file.
const require = createRequire(join(process.env.PYLON_BROWSER_MODULES, '/'));
const { chromium } = require('playwright-core');

const OUT = process.env.PYLON_TEST_OUTPUT;
const cluster = new Cluster({ serverBin: process.env.PYLON_SERVER_BIN, toolBin: process.env.PYLON_TOOL_BIN, outDir: OUT });
let context;
let page;
let profile;
const pageErrors = [];

before(async () => {
  await cluster.start();
  const [a, b, c] = cluster.nodes;
  // Traffic: one publisher on node-a (about 500 msgs/s), subscribers on node-b and node-c.
  cluster.client(['sub', 'dash.>', '-q', '--name', 'sub-b', '-s', b.url], 'sub-b.log');
  cluster.client(['sub', 'dash.>', '-q', '--name', 'sub-c', '-s', c.url], 'sub-c.log');
  await waitFor('both subscribers registered', async () => {
    const [zb, zc] = await Promise.all([getJson(`${b.monitor}/connz`), getJson(`${c.monitor}/connz`)]);
    return zb.num_connections === 1 && zc.num_connections === 1;
  });
  cluster.client(['pub', 'dash.rate', 'tick {{count}}', '--count', '10000000', '--interval', '2', '-q',
    '--name', 'pub-a', '-s', a.url], 'pub-a.log');

  profile = mkdtempSync(join(tmpdir(), 'pylon-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.PYLON_CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 1100 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(msg.text()); });
});

after(async () => {
  await context?.close().catch(() => {});
  await cluster.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

const model = () => page.evaluate(() => window.pylonDashboard);

test('the dashboard, served by node-a, shows three servers and three routes', async () => {
  const [a] = cluster.nodes;
  const res = await page.goto(`${a.monitor}/dashboard`);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /^text\/html/);
  await page.waitForFunction(() => window.pylonDashboard?.nodes === 3 && window.pylonDashboard.routes === 3,
    null, { timeout: 20000 });
  const m = await model();
  // Every node was found and polled, not just drawn from node-a's routes.
  assert.deepEqual(m.servers.map((s) => s.name).sort(), ['node-a', 'node-b', 'node-c']);
  assert.ok(m.servers.every((s) => s.monitored && s.up), JSON.stringify(m.servers));
  const bases = m.servers.map((s) => s.base).sort();
  assert.deepEqual(bases, cluster.nodes.map((n) => n.monitor).sort());
  assert.equal(new Set(m.routeList.map((r) => r.join('|'))).size, 3);
  // cytoscape drew it: its canvases are in the page and have a size.
  const canvases = await page.$$eval('#topology canvas', (cs) => cs.map((c) => [c.width, c.height]));
  assert.ok(canvases.length > 0, 'no canvas in #topology');
  assert.ok(canvases.every(([w, h]) => w > 0 && h > 0), JSON.stringify(canvases));
  const cards = await page.$$eval('#servers .server-card h3', (hs) => hs.map((h) => h.textContent));
  assert.deepEqual(cards, ['node-a', 'node-b', 'node-c']);
});

test('the message rate chart moves while traffic runs', async () => {
  const inA = () => page.evaluate(() => window.pylonDashboard.chart.latest['node-a in']);
  await waitFor('node-a in msgs/s > 0 on the chart', async () => (await inA()) > 0, 20000, 200);
  const canvasImage = () => page.$eval('#chart-msgs canvas', (c) => c.toDataURL());
  const first = await model();
  const image1 = await canvasImage();
  await page.waitForFunction((x) => window.pylonDashboard.chart.lastX > x, first.chart.lastX, { timeout: 10000 });
  await waitFor('two more points', async () => (await model()).chart.points >= first.chart.points + 2, 10000, 200);
  const second = await model();
  assert.ok(second.chart.latest['node-a in'] > 0, JSON.stringify(second.chart.latest));
  // The subscribers' nodes deliver what node-a receives: their "out" lines move too.
  await waitFor('node-b and node-c out msgs/s > 0', async () => {
    const l = (await model()).chart.latest;
    return l['node-b out'] > 0 && l['node-c out'] > 0;
  }, 10000, 200);
  const image2 = await canvasImage();
  assert.notEqual(image1, image2, 'the msgs/s canvas did not change between polls');
});

test('the accounts panel sums every node\'s /accstatz', async () => {
  // The three clients are in $G, one on each node; the publisher keeps its rate above zero.
  await waitFor('$G with 3 connections on 3 servers and a message rate', async () => {
    const g = (await model()).accounts.find((x) => x.name === '$G');
    return g && g.conns === 3 && g.servers === 3 && g.msgRate > 0;
  }, 20000, 200);
  const rows = await page.$$eval('#accounts tbody tr', (trs) => trs.map((tr) => tr.dataset.account));
  assert.ok(rows.includes('$G'), JSON.stringify(rows));
});

test('the connections table sorts by the clicked column', async () => {
  await page.waitForFunction(() => document.querySelectorAll('#connections tbody tr[data-key]').length >= 3,
    null, { timeout: 10000 });
  const column = (i) => page.$$eval('#connections tbody tr[data-key]',
    (rows, idx) => rows.map((r) => r.cells[idx].textContent), i);
  const headerIndex = (key) => page.$$eval('#connections thead th', (ths, k) => ths.findIndex((t) => t.dataset.key === k), key);

  const nameIdx = await headerIndex('name');
  await page.click('#connections th[data-key="name"]');
  assert.equal(await page.getAttribute('#connections th[data-key="name"]', 'aria-sort'), 'ascending');
  assert.deepEqual(await column(nameIdx), ['pub-a', 'sub-b', 'sub-c']);
  await page.click('#connections th[data-key="name"]');
  assert.equal(await page.getAttribute('#connections th[data-key="name"]', 'aria-sort'), 'descending');
  assert.deepEqual(await column(nameIdx), ['sub-c', 'sub-b', 'pub-a']);

  // Numbers sort as numbers: the publisher has the most messages in.
  const inIdx = await headerIndex('in_msgs');
  await page.click('#connections th[data-key="in_msgs"]');
  await page.click('#connections th[data-key="in_msgs"]');
  assert.equal(await page.getAttribute('#connections th[data-key="in_msgs"]', 'aria-sort'), 'descending');
  assert.equal((await column(nameIdx))[0], 'pub-a');
  assert.equal(await page.getAttribute('#connections th[data-key="name"]', 'aria-sort'), 'none');
  // The order survives the next poll's redraw.
  const polls = (await model()).polls;
  await page.waitForFunction((p) => window.pylonDashboard.polls > p, polls, { timeout: 10000 });
  assert.equal((await column(nameIdx))[0], 'pub-a');
  assert.ok((await column(inIdx)).length >= 3);
});

test('a node given twice (?servers= with another URL of a known node) is drawn once', async () => {
  const [a, b] = cluster.nodes;
  await page.goto(`${a.monitor}/dashboard?servers=localhost:${b.http},${b.monitor}`);
  await page.waitForFunction(() => window.pylonDashboard?.polls >= 3, null, { timeout: 20000 });
  const m = await model();
  assert.equal(m.nodes, 3);
  assert.equal(m.routes, 3);
});

test('the JSON answers carry Access-Control-Allow-Origin: *', async () => {
  const [a] = cluster.nodes;
  for (const path of ['/varz', '/routez', '/connz']) {
    const res = await fetch(`${a.monitor}${path}`);
    assert.equal(res.headers.get('access-control-allow-origin'), '*', path);
  }
});

test('a nats-server peer: drawn from the routes, polled over JSONP once given with ?servers=', async (t) => {
  const natsServer = process.env.PYLON_NATS_SERVER_BIN || '/usr/sbin/nats-server';
  if (!existsSync(natsServer)) {
    t.skip(`${natsServer} is not installed`);
    return;
  }
  const mixed = new Cluster({ serverBin: process.env.PYLON_SERVER_BIN, toolBin: process.env.PYLON_TOOL_BIN, outDir: OUT });
  const tab = await context.newPage();
  try {
    await mixed.start(['pylon-x', 'nats-y'], (name) => (name === 'nats-y' ? natsServer : process.env.PYLON_SERVER_BIN));
    const [x, y] = mixed.nodes;
    // Without ?servers=: nats-server advertises no monitor_url, so it is known from the route only.
    await tab.goto(`${x.monitor}/dashboard`);
    await tab.waitForFunction(() => window.pylonDashboard?.nodes === 2 && window.pylonDashboard.routes === 1,
      null, { timeout: 20000 });
    let m = await tab.evaluate(() => window.pylonDashboard);
    assert.deepEqual(m.servers.map((s) => [s.name === 'pylon-x', s.monitored]).sort(), [[false, false], [true, true]]);
    // With it: nats-server sends no CORS header, so the page reads it over JSONP.
    await tab.goto(`${x.monitor}/dashboard?servers=127.0.0.1:${y.http}`);
    await tab.waitForFunction(() => window.pylonDashboard?.servers.filter((s) => s.monitored && s.up).length === 2,
      null, { timeout: 20000 });
    m = await tab.evaluate(() => window.pylonDashboard);
    assert.deepEqual(m.servers.map((s) => s.name).sort(), ['nats-y', 'pylon-x']);
    assert.equal(m.routes, 1);
    const res = await fetch(`${y.monitor}/varz`);
    assert.equal(res.headers.get('access-control-allow-origin'), null, 'nats-server sends no CORS header');
  } finally {
    await tab.close();
    await mixed.stop();
  }
});

test('a leaf node: drawn with its link to the hub, polled too once given with ?servers=', async () => {
  const extra = new Cluster({ serverBin: process.env.PYLON_SERVER_BIN, toolBin: process.env.PYLON_TOOL_BIN, outDir: OUT });
  const tab = await context.newPage();
  try {
    const [hubClient, hubHttp, hubLeaf, leafClient, leafHttp] = await freePorts(5);
    const conf = (name, text) => {
      const file = join(OUT, name);
      writeFileSync(file, text);
      return file;
    };
    extra.run(process.env.PYLON_SERVER_BIN, ['-c', conf('leaf-hub.conf',
      `server_name: hub-h\nlisten: "127.0.0.1:${hubClient}"\nhttp: "127.0.0.1:${hubHttp}"\n` +
      `leafnodes { listen: "127.0.0.1:${hubLeaf}" }\n`)], 'leaf-hub.log');
    extra.run(process.env.PYLON_SERVER_BIN, ['-c', conf('leaf-leaf.conf',
      `server_name: leaf-l\nlisten: "127.0.0.1:${leafClient}"\nhttp: "127.0.0.1:${leafHttp}"\n` +
      `leafnodes { remotes = [ { url: "nats-leaf://127.0.0.1:${hubLeaf}" } ] }\n`)], 'leaf-leaf.log');
    await waitFor('the leaf connected', async () => (await getJson(`http://127.0.0.1:${hubHttp}/leafz`)).leafnodes === 1);
    // The hub's page alone: the leaf is known from the hub's /leafz, by its server name.
    await tab.goto(`http://127.0.0.1:${hubHttp}/dashboard`);
    await tab.waitForFunction(() => window.pylonDashboard?.nodes === 2 && window.pylonDashboard.leafs === 1,
      null, { timeout: 20000 });
    let m = await tab.evaluate(() => window.pylonDashboard);
    assert.deepEqual(m.servers.map((s) => [s.name, s.monitored, s.leaf]).sort(),
      [['hub-h', true, false], ['leaf-l', false, true]]);
    assert.equal(m.leafList[0].account, '$G');
    assert.equal(m.leafList[0].hub, m.servers.find((s) => s.name === 'hub-h').id);
    // With the leaf's monitoring too: the same one link, now between two polled servers.
    await tab.goto(`http://127.0.0.1:${hubHttp}/dashboard?servers=127.0.0.1:${leafHttp}`);
    await tab.waitForFunction(() => window.pylonDashboard?.servers.filter((s) => s.monitored && s.up).length === 2,
      null, { timeout: 20000 });
    m = await tab.evaluate(() => window.pylonDashboard);
    assert.equal(m.nodes, 2);
    assert.equal(m.leafs, 1);
    const id = (name) => m.servers.find((s) => s.name === name).id;
    assert.deepEqual(m.leafList, [{ hub: id('hub-h'), leaf: id('leaf-l'), account: '$G' }]);
  } finally {
    await tab.close();
    await extra.stop();
  }
});

test('screenshot of the dashboard under traffic', async () => {
  const [a] = cluster.nodes;
  await page.goto(`${a.monitor}/dashboard`);
  await page.waitForFunction(() => window.pylonDashboard?.nodes === 3 && window.pylonDashboard.chart.points >= 8,
    null, { timeout: 30000 });
  const file = join(OUT, 'dashboard.png');
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
  assert.deepEqual(pageErrors, []);
});
