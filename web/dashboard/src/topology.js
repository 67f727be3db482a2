// The cluster's topology as a graph (cytoscape): servers labelled by server_name with their
// client count, one edge per route, a dashed edge per leaf connection (to a leaf server or a
// hub, polled or not), and each server's clients around it. Positions are computed
// here (servers on a circle, clients fanned outwards) so the picture stays still between polls;
// cytoscape draws, and lets the user pan, zoom and drag.

import cytoscape from 'cytoscape';
import * as fmt from './format.js';

const MAX_CLIENTS_SHOWN = 10;  // per server; the rest become one "+N more" node
const SERVER_RING = 165;       // radius of the servers' circle
const CLIENT_RING = 96;        // distance of a server's clients from it

const STYLE = [
  {
    selector: 'node.server',
    style: {
      shape: 'round-rectangle', width: 104, height: 50, 'background-color': '#1d4ed8',
      'border-width': 2, 'border-color': '#60a5fa', label: 'data(label)', color: '#f8fafc',
      'text-wrap': 'wrap', 'text-valign': 'center', 'text-halign': 'center', 'font-size': 12,
      'font-family': 'ui-sans-serif, system-ui, sans-serif', 'font-weight': 600,
    },
  },
  { selector: 'node.server.unmonitored', style: { 'background-color': '#4c1d95', 'border-color': '#a78bfa', 'border-style': 'dashed' } },
  { selector: 'node.server.down', style: { 'background-color': '#334155', 'border-color': '#64748b', 'border-style': 'dashed', color: '#cbd5e1' } },
  { selector: 'node.server.slow', style: { 'border-color': '#f87171', 'border-width': 5 } },
  {
    selector: 'node.client',
    style: {
      width: 12, height: 12, 'background-color': '#0d9488', label: 'data(label)', color: '#94a3b8',
      'font-size': 9, 'text-valign': 'bottom', 'text-margin-y': 3,
      'font-family': 'ui-sans-serif, system-ui, sans-serif',
    },
  },
  { selector: 'node.client.more', style: { 'background-color': '#475569', shape: 'round-rectangle', width: 20 } },
  { selector: 'node.client.slow', style: { 'background-color': '#ef4444', width: 16, height: 16, color: '#fca5a5' } },
  {
    selector: 'edge.route',
    style: {
      width: 4, 'line-color': '#22c55e', 'curve-style': 'straight', label: 'data(label)', color: '#86efac',
      'font-size': 10, 'text-background-color': '#0f172a', 'text-background-opacity': 0.9,
      'text-background-padding': 2, 'font-family': 'ui-sans-serif, system-ui, sans-serif',
    },
  },
  {
    selector: 'edge.leaf',
    style: {
      width: 3, 'line-color': '#f59e0b', 'line-style': 'dashed', 'curve-style': 'straight', label: 'data(label)',
      color: '#fcd34d', 'font-size': 10, 'text-background-color': '#0f172a', 'text-background-opacity': 0.9,
      'text-background-padding': 2, 'font-family': 'ui-sans-serif, system-ui, sans-serif',
      'target-arrow-shape': 'triangle', 'target-arrow-color': '#f59e0b',
    },
  },
  { selector: 'node.server.leafnode', style: { 'background-color': '#78350f', 'border-color': '#f59e0b', 'border-style': 'dashed' } },
  { selector: 'edge.attach', style: { width: 1, 'line-color': '#334155', 'curve-style': 'straight' } },
];

// Servers on a circle, in a stable order (by name) so a poll never reshuffles them.
function layout(servers, clientsOf) {
  const pos = {};
  const sorted = [...servers].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const n = sorted.length;
  sorted.forEach((s, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
    const r = n === 1 ? 0 : SERVER_RING;
    const sx = r * Math.cos(angle);
    const sy = r * Math.sin(angle);
    pos[`s:${s.id}`] = { x: sx, y: sy };
    const clients = clientsOf.get(s.id) || [];
    // Fan clients outwards, away from the centre (all around when the server is alone).
    const spread = n === 1 ? 2 * Math.PI : Math.PI * 0.9;
    clients.forEach((cid, j) => {
      const k = clients.length;
      const a = n === 1 ? (2 * Math.PI * j) / k : angle - spread / 2 + (k === 1 ? spread / 2 : (spread * j) / (k - 1));
      pos[cid] = { x: sx + CLIENT_RING * Math.cos(a), y: sy + CLIENT_RING * Math.sin(a) };
    });
  });
  return pos;
}

export class Topology {
  constructor(container) {
    this.container = container;
    this.cy = cytoscape({
      container,
      style: STYLE,
      elements: [],
      layout: { name: 'preset' },
      boxSelectionEnabled: false,
      minZoom: 0.3,
      maxZoom: 3,
    });
    this.shape = '';
    window.addEventListener('resize', () => {
      this.cy.resize();
      this.cy.fit(undefined, 24);
    });
  }

  // `leafs`: [{key, hub, leaf, account, msgRate}], the edge drawn from the leaf to its hub.
  update(servers, routes, leafs = []) {
    const elements = [];
    const clientsOf = new Map();
    for (const s of servers) {
      const classes = ['server'];
      if (!s.monitored) classes.push(s.leaf ? 'leafnode' : 'unmonitored');
      if (!s.up) classes.push('down');
      if (s.slowRising) classes.push('slow');
      const state = !s.up ? 'down' : !s.monitored ? 'not polled' : `${s.clients.length} client${s.clients.length === 1 ? '' : 's'}`;
      elements.push({ group: 'nodes', classes: classes.join(' '), data: { id: `s:${s.id}`, label: `${s.name}\n${state}` } });
      const ids = [];
      const shown = s.clients.slice(0, MAX_CLIENTS_SHOWN);
      for (const c of shown) {
        const id = `c:${s.id}:${c.cid}`;
        ids.push(id);
        elements.push({
          group: 'nodes', classes: c.slow ? 'client slow' : 'client',
          data: { id, label: c.name || `cid ${c.cid}` },
        });
        elements.push({ group: 'edges', classes: 'attach', data: { id: `a:${id}`, source: `s:${s.id}`, target: id } });
      }
      if (s.clients.length > shown.length) {
        const id = `m:${s.id}`;
        ids.push(id);
        elements.push({ group: 'nodes', classes: 'client more', data: { id, label: `+${s.clients.length - shown.length} more` } });
        elements.push({ group: 'edges', classes: 'attach', data: { id: `a:${id}`, source: `s:${s.id}`, target: id } });
      }
      clientsOf.set(s.id, ids);
    }
    for (const r of routes) {
      elements.push({
        group: 'edges', classes: 'route',
        data: { id: `r:${r.key}`, source: `s:${r.a}`, target: `s:${r.b}`, label: r.msgRate == null ? '' : `${fmt.count(r.msgRate)} msgs/s` },
      });
    }
    for (const l of leafs) {
      const rate = l.msgRate == null ? '' : ` · ${fmt.count(l.msgRate)} msgs/s`;
      elements.push({
        group: 'edges', classes: 'leaf',
        data: { id: `l:${l.key}`, source: `s:${l.leaf}`, target: `s:${l.hub}`, label: `leaf ${l.account}${rate}` },
      });
    }
    this.apply(elements, layout(servers, clientsOf));
  }

  // Adds, removes and relabels elements in place; re-lays out only when the set changed.
  apply(elements, positions) {
    const cy = this.cy;
    const want = new Set(elements.map((e) => e.data.id));
    const shape = [...want].sort().join(',');
    cy.batch(() => {
      cy.elements().forEach((el) => {
        if (!want.has(el.id())) el.remove();
      });
      // Nodes before edges, so every edge finds its ends.
      for (const e of [...elements].sort((a, b) => (a.group === b.group ? 0 : a.group === 'nodes' ? -1 : 1))) {
        const el = cy.getElementById(e.data.id);
        if (el.empty()) {
          cy.add({ ...e, position: positions[e.data.id] });
        } else {
          el.data(e.data);
          el.classes(e.classes);
        }
      }
    });
    if (shape !== this.shape) {
      this.shape = shape;
      cy.layout({ name: 'preset', positions: (node) => positions[node.id()], fit: true, padding: 24, animate: false }).run();
    }
  }

  get nodeCount() {
    return this.cy.nodes('.server').length;
  }

  get routeCount() {
    return this.cy.edges('.route').length;
  }

  get leafCount() {
    return this.cy.edges('.leaf').length;
  }
}
