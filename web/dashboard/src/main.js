// The dashboard page: polls every known node about once a second and redraws the topology,
// the rate charts, the server cards, the accounts and the connections table from the cluster model.
// `window.pylonDashboard` exposes what the page shows, for tests and the curious.

import './style.css';
import { pageBase, serversFromQuery } from './discovery.js';
import { ClusterModel } from './model.js';
import { Topology } from './topology.js';
import { RateChart, PALETTE } from './charts.js';
import { ConnectionsTable } from './connections.js';
import { renderServers } from './servers.js';
import { renderAccounts } from './accounts.js';
import * as fmt from './format.js';

const POLL_MS = 1000;

function start() {
  const query = serversFromQuery(window.location.search);
  const bases = [{ base: pageBase(window.location), source: 'page' }];
  for (const base of query.good) bases.push({ base, source: 'servers' });
  const model = new ClusterModel(bases);

  const $ = (id) => document.getElementById(id);
  const topology = new Topology($('topology'));
  const msgs = new RateChart($('chart-msgs'), { in: 'inMsgs', out: 'outMsgs' }, fmt.count);
  const bytesChart = new RateChart($('chart-bytes'), { in: 'inBytes', out: 'outBytes' }, fmt.bytes);
  const table = new ConnectionsTable($('connections'));
  if (query.bad.length) $('notice').textContent = `Ignored ?servers= entries that are not URLs: ${query.bad.join(', ')}`;

  // A server keeps its colour for the life of the page.
  const colors = new Map();
  const colorOf = (id) => {
    if (!colors.has(id)) colors.set(id, PALETTE[colors.size % PALETTE.length]);
    return colors.get(id);
  };

  const exposed = {
    polls: 0, nodes: 0, routes: 0, servers: [], routeList: [], connections: 0, accounts: [], slowConsumers: 0,
    chart: { points: 0, latest: {} }, bytesChart: { points: 0, latest: {} },
    sort: () => ({ ...table.sort }),
  };
  window.pylonDashboard = exposed;

  function render() {
    const servers = model.servers;
    // Colours go to polled servers in name order, so a reload gives the same picture.
    servers.filter((s) => s.monitored).sort((a, b) => a.name.localeCompare(b.name)).forEach((s) => colorOf(s.id));
    topology.update(servers, model.routes, model.leafs);
    msgs.update(model.history, colorOf);
    bytesChart.update(model.history, colorOf);
    renderServers($('servers'), servers, colorOf);
    renderAccounts($('accounts'), model.accounts);
    table.render(model.connections);

    const up = servers.filter((s) => s.up && s.monitored).length;
    const slow = model.connections.filter((c) => c.slow).length;
    $('cluster-name').textContent = model.clusterName ? `cluster ${model.clusterName}` : 'server';
    $('summary').textContent = [
      `${servers.length} server${servers.length === 1 ? '' : 's'} (${up} polled)`,
      `${model.routes.length} route${model.routes.length === 1 ? '' : 's'}`,
      ...(model.leafs.length ? [`${model.leafs.length} leaf connection${model.leafs.length === 1 ? '' : 's'}`] : []),
      `${model.connections.filter((c) => c.state === 'open').length} connections`,
      `updated ${new Date().toLocaleTimeString()}`,
    ].join(' · ');
    const badge = $('slow-badge');
    badge.hidden = slow === 0 && !servers.some((s) => s.slowRising);
    badge.textContent = `${slow} slow consumer${slow === 1 ? '' : 's'}`;

    Object.assign(exposed, {
      polls: model.polls,
      nodes: topology.nodeCount,
      routes: topology.routeCount,
      leafs: topology.leafCount,
      leafList: model.leafs.map((l) => ({ hub: l.hub, leaf: l.leaf, account: l.account })),
      servers: servers.map((s) => ({ id: s.id, name: s.name, up: s.up, monitored: s.monitored, leaf: !!s.leaf, clients: s.clients.length, base: s.base })),
      routeList: model.routes.map((r) => [r.a, r.b]),
      connections: model.connections.length,
      accounts: model.accounts.map((a) => ({ ...a })),
      slowConsumers: slow,
      chart: { points: model.history.x.length, lastX: model.history.x.at(-1), latest: msgs.latest() },
      bytesChart: { points: model.history.x.length, latest: bytesChart.latest() },
    });
  }

  async function loop() {
    const began = performance.now();
    try {
      await model.poll();
      render();
      $('error').textContent = '';
    } catch (err) {
      // A bug in rendering, not a node being down (that is part of the model): show it.
      $('error').textContent = `Dashboard error: ${err?.message || err}`;
      console.error(err);
    }
    setTimeout(loop, Math.max(0, POLL_MS - (performance.now() - began)));
  }
  loop();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
