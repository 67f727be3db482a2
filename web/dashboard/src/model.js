// The dashboard's model of the cluster, rebuilt after every poll from each node's /varz,
// /routez, /connz, /accstatz and /leafz: servers, routes (one per pair of servers), leaf
// connections (one per pair and account), connections, accounts (summed over the servers),
// rates computed from counter deltas, slow consumers, and the rate history the charts draw.

import { NodeReader } from './fetch.js';
import { normalizeBase } from './discovery.js';
import { parseTime } from './format.js';

export const HISTORY_POINTS = 120;        // chart window: two minutes at one poll a second
export const SLOW_HIGHLIGHT_MS = 30_000;  // how long a node stays marked after slow_consumers rose
// A connection is flagged when its pending bytes reach this share of the server's max_pending
// (the limit at which the server cuts it off as a slow consumer), or 1 MiB, whichever is lower.
export const PENDING_SHARE = 0.1;
export const PENDING_FLOOR = 1 << 20;

const SLOW_REASON = /^Slow Consumer/;
const OPEN_LIMIT = 1024;   // open connections read per node (the reference's default page)
const CLOSED_LIMIT = 100;  // recently closed connections searched for slow consumers

// Per-second rate of a counter between two samples; a counter that went down (the server
// restarted) gives no rate.
function perSecond(cur, prev, seconds) {
  if (prev == null || cur == null || seconds <= 0 || cur < prev) return null;
  return (cur - prev) / seconds;
}

// One polled monitoring URL.
class Node {
  constructor(base, source, reader) {
    this.base = base;
    this.source = source;  // 'page' | 'servers' | 'route'
    this.reader = reader;  // get(path) -> the parsed JSON
    this.aliasOf = null;   // another base answering with the same server_id: not polled again
    this.up = false;
    this.error = null;
    this.varz = null;
    this.routes = [];
    this.leafs = [];  // this node's /leafz entries, with rates
    this.conns = [];
    this.closedSlow = [];
    this.accounts = [];  // this node's /accstatz entries, with rates
    this.sample = null;  // {t, id, in_msgs, ...} of the previous /varz
    this.rates = { inMsgs: null, outMsgs: null, inBytes: null, outBytes: null };
    this.slowSince = 0;  // when slow_consumers last rose (ms epoch)
    this.lastSeen = 0;   // when it last answered (ms epoch); 0: never
    this.connSamples = new Map();  // cid -> {t, msgs, bytes}
    this.routeSamples = new Map(); // rid -> {t, msgs}
    this.leafSamples = new Map();  // "ip:port" -> {t, msgs}
    this.accountSamples = new Map(); // account -> {t, msgs, bytes}
  }

  get id() {
    return this.varz?.server_id ?? null;
  }

  async poll() {
    const [varz, routez, connz, closed, accstatz, leafz] = await Promise.all([
      this.reader.get('/varz'),
      this.reader.get('/routez'),
      this.reader.get(`/connz?limit=${OPEN_LIMIT}`),
      // The most recently closed only: the ring holds thousands, and this runs every second.
      this.reader.get(`/connz?state=closed&sort=stop&limit=${CLOSED_LIMIT}`),
      // Accounts in use (open connections), as the server counts them. A server without the
      // endpoint (older than 2.9) leaves the accounts panel to the others.
      this.reader.get('/accstatz').catch(() => null),
      // Leaf connections, both ways. Pylon names the peer (`name`, `is_spoke`, as 2.10);
      // nats-server 2.9 gives only its address.
      this.reader.get('/leafz').catch(() => null),
    ]);
    const t = parseTime(varz.now) || Date.now();
    const seconds = this.sample ? (t - this.sample.t) / 1000 : 0;
    const restarted = this.sample && this.sample.id !== varz.server_id;
    const prev = restarted ? null : this.sample;
    this.rates = {
      inMsgs: perSecond(varz.in_msgs, prev?.in_msgs, seconds),
      outMsgs: perSecond(varz.out_msgs, prev?.out_msgs, seconds),
      inBytes: perSecond(varz.in_bytes, prev?.in_bytes, seconds),
      outBytes: perSecond(varz.out_bytes, prev?.out_bytes, seconds),
    };
    if (prev && varz.slow_consumers > prev.slow_consumers) this.slowSince = Date.now();
    this.sample = {
      t, id: varz.server_id, slow_consumers: varz.slow_consumers,
      in_msgs: varz.in_msgs, out_msgs: varz.out_msgs, in_bytes: varz.in_bytes, out_bytes: varz.out_bytes,
    };
    this.varz = varz;
    this.routes = this.rateEach(routez.routes || [], this.routeSamples, t, (r) => r.rid);
    this.conns = this.rateEach(connz.connections || [], this.connSamples, t, (c) => c.cid);
    this.leafs = this.rateEach(leafz?.leafs || [], this.leafSamples, t, (l) => `${l.ip}:${l.port}`);
    this.closedSlow = (closed.connections || []).filter((c) => SLOW_REASON.test(c.reason || ''));
    // The account's clients published (received) and were given (sent); the rates are of both.
    const flat = (accstatz?.account_statz || []).map((a) => ({
      ...a, in_msgs: a.received?.msgs || 0, out_msgs: a.sent?.msgs || 0,
      in_bytes: a.received?.bytes || 0, out_bytes: a.sent?.bytes || 0,
    }));
    this.accounts = this.rateEach(flat, this.accountSamples, t, (a) => a.acc);
    this.up = true;
    this.error = null;
    this.lastSeen = Date.now();
  }

  // Adds msgRate/byteRate (in + out, per second) to each entry, from the previous poll's counters.
  rateEach(list, samples, t, key) {
    const next = new Map();
    const out = list.map((e) => {
      const msgs = (e.in_msgs || 0) + (e.out_msgs || 0);
      const bytesTotal = (e.in_bytes || 0) + (e.out_bytes || 0);
      const p = samples.get(key(e));
      next.set(key(e), { t, msgs, bytes: bytesTotal });
      const s = p ? (t - p.t) / 1000 : 0;
      return { ...e, msgRate: perSecond(msgs, p?.msgs, s), byteRate: perSecond(bytesTotal, p?.bytes, s) };
    });
    samples.clear();
    for (const [k, v] of next) samples.set(k, v);
    return out;
  }

  fail(err) {
    this.up = false;
    this.error = String(err?.message || err);
    this.routes = [];
    this.leafs = [];
    this.conns = [];
    this.accounts = [];
    this.rates = { inMsgs: null, outMsgs: null, inBytes: null, outBytes: null };
  }
}

// One row per account over the servers that answer: connections and counters summed, rates
// summed where a server has one (null until some server has two samples), and on how many
// servers the account is in use. Sorted by name, $G and the system account included.
export function sumAccounts(nodes) {
  const byName = new Map();
  for (const n of nodes) {
    for (const a of n.accounts) {
      let row = byName.get(a.acc);
      if (!row) {
        row = { name: a.acc, conns: 0, servers: 0, inMsgs: 0, outMsgs: 0, inBytes: 0, outBytes: 0,
          slowConsumers: 0, msgRate: null, byteRate: null };
        byName.set(a.acc, row);
      }
      row.conns += a.conns || 0;
      row.servers += 1;
      row.inMsgs += a.in_msgs;
      row.outMsgs += a.out_msgs;
      row.inBytes += a.in_bytes;
      row.outBytes += a.out_bytes;
      row.slowConsumers += a.slow_consumers || 0;
      if (a.msgRate != null) row.msgRate = (row.msgRate ?? 0) + a.msgRate;
      if (a.byteRate != null) row.byteRate = (row.byteRate ?? 0) + a.byteRate;
    }
  }
  return [...byName.values()].sort((x, y) => x.name.localeCompare(y.name));
}

export class ClusterModel {
  // `bases`: [{base, source}] to start from; `readerFor(base)`: how to read a node (tests
  // pass a fake; the page reads over HTTP).
  constructor(bases, readerFor = (base) => new NodeReader(base)) {
    this.readerFor = readerFor;
    this.nodes = [];  // in the order found: the page's node first
    this.polls = 0;
    for (const { base, source } of bases) this.addNode(base, source);
    this.servers = [];
    this.routes = [];
    this.leafs = [];
    this.connections = [];
    this.accounts = [];
    this.history = { x: [], byServer: new Map() };  // id -> {inMsgs: [], outMsgs: [], inBytes: [], outBytes: []}
  }

  addNode(base, source) {
    if (!base || this.nodes.some((n) => n.base === base)) return;
    this.nodes.push(new Node(base, source, this.readerFor(base)));
  }

  async poll() {
    const live = this.nodes.filter((n) => !n.aliasOf);
    await Promise.all(live.map((n) => n.poll().catch((err) => n.fail(err))));
    this.polls++;
    this.resolveAliases();
    this.discover();
    this.derive();
  }

  // Two URLs of one server (localhost and 127.0.0.1, say): keep polling the first one found.
  resolveAliases() {
    const owner = new Map();
    for (const n of this.nodes) {
      if (n.aliasOf || !n.up) continue;
      const first = owner.get(n.id);
      if (first) {
        n.aliasOf = first.base;
        n.up = false;
      } else {
        owner.set(n.id, n);
      }
    }
  }

  // Routes from Pylon peers say where their monitoring answers.
  discover() {
    for (const n of this.nodes) {
      for (const r of n.routes) {
        if (r.monitor_url) this.addNode(normalizeBase(r.monitor_url), 'route');
      }
    }
  }

  derive() {
    const now = Date.now();
    const polled = this.nodes.filter((n) => !n.aliasOf && n.id);
    const byId = new Map();
    for (const n of polled) {
      const v = n.varz;
      const maxPending = v.max_pending || 64 * 1024 * 1024;
      const threshold = Math.min(PENDING_FLOOR, maxPending * PENDING_SHARE);
      const clients = n.conns.map((c) => ({
        ...c,
        server: v.server_name || v.server_id,
        serverId: v.server_id,
        key: `${v.server_id}/${c.cid}`,
        state: 'open',
        slow: (c.pending_bytes || 0) >= threshold,
      }));
      const closedSlow = n.closedSlow.map((c) => ({
        ...c,
        server: v.server_name || v.server_id,
        serverId: v.server_id,
        key: `${v.server_id}/closed/${c.cid}`,
        state: c.reason,
        slow: true,
        msgRate: null,
        byteRate: null,
      }));
      byId.set(v.server_id, {
        id: v.server_id,
        name: v.server_name || v.server_id,
        base: n.base,
        source: n.source,
        up: n.up,
        error: n.error,
        lastSeen: n.lastSeen,
        monitored: true,
        version: v.version,
        cluster: v.cluster?.name || '',
        uptime: v.uptime,
        subscriptions: v.subscriptions,
        slowConsumers: v.slow_consumers || 0,
        slowRising: now - n.slowSince < SLOW_HIGHLIGHT_MS,
        rates: n.rates,
        clients: n.up ? clients : [],
        closedSlow: n.up ? closedSlow : [],
      });
    }
    // A node given by hand (or the page's own) that never answered is still shown, by its URL:
    // a mistyped ?servers= entry must not just vanish. One found through a route is already
    // on the graph as that route's peer.
    for (const n of this.nodes) {
      if (n.aliasOf || n.id || n.source === 'route') continue;
      const id = `url:${n.base}`;
      byId.set(id, {
        id, name: new URL(n.base).host, base: n.base, source: n.source, up: false, monitored: true,
        error: n.error || 'no answer yet', lastSeen: 0, clients: [], closedSlow: [], rates: {},
        slowConsumers: 0, slowRising: false,
      });
    }
    // Routes, one per pair of servers (A's route to B and B's to A are the same link).
    const routes = new Map();
    for (const n of polled) {
      if (!n.up) continue;
      for (const r of n.routes) {
        const pair = [n.id, r.remote_id].sort();
        const key = pair.join('|');
        const known = routes.get(key);
        if (known) {
          known.seenBy += 1;
          continue;
        }
        routes.set(key, { key, a: pair[0], b: pair[1], msgRate: r.msgRate, seenBy: 1 });
        if (!byId.has(r.remote_id)) {
          // A peer we cannot poll (e.g. nats-server without ?servers=): known only by its id.
          byId.set(r.remote_id, {
            id: r.remote_id, name: r.remote_name || r.remote_id.slice(0, 8), up: true, monitored: false,
            clients: [], closedSlow: [], rates: {}, slowConsumers: 0, slowRising: false,
            base: r.monitor_url || '', ip: r.ip,
          });
        }
      }
    }
    // Leaf connections, one per pair of servers and account (the hub's and the leaf's view of
    // one connection are the same link). The peer is found by the server name /leafz gives;
    // a peer that is not polled, or unnamed (nats-server 2.9), is drawn on its own.
    const byName = new Map();
    for (const s of byId.values()) if (s.monitored && s.name) byName.set(s.name, s.id);
    const leafs = new Map();
    for (const n of polled) {
      if (!n.up) continue;
      for (const l of n.leafs) {
        const label = l.name || `${l.ip}:${l.port}`;
        let peer = l.name ? byName.get(l.name) : null;
        if (!peer) {
          // Named: one node however many servers see it; unnamed: one per connection seen.
          peer = l.name ? `leaf:${l.name}` : `leaf:${n.id}:${label}`;
          if (!byId.has(peer)) {
            byId.set(peer, {
              id: peer, name: label, up: true, monitored: false, leaf: true,
              clients: [], closedSlow: [], rates: {}, slowConsumers: 0, slowRising: false, base: '', ip: l.ip,
            });
          }
        }
        // The hub is the end that accepted: for a spoke entry that is the peer.
        const hub = l.is_spoke ? peer : n.id;
        const leaf = l.is_spoke ? n.id : peer;
        const key = `${[n.id, peer].sort().join('|')}|${l.account}`;
        const known = leafs.get(key);
        if (known) {
          known.seenBy += 1;
          continue;
        }
        leafs.set(key, { key, hub, leaf, account: l.account, msgRate: l.msgRate, seenBy: 1 });
      }
    }
    this.servers = [...byId.values()];
    this.routes = [...routes.values()];
    this.leafs = [...leafs.values()];
    this.connections = this.servers.flatMap((s) => [...s.clients, ...s.closedSlow]);
    this.accounts = sumAccounts(polled.filter((n) => n.up));
    this.record();
  }

  // One point per poll for every server; a server seen later is padded with gaps before.
  record() {
    const h = this.history;
    h.x.push(Date.now() / 1000);
    for (const s of this.servers) {
      if (!s.monitored || !s.lastSeen) continue;
      if (!h.byServer.has(s.id)) {
        const pad = () => new Array(h.x.length - 1).fill(null);
        h.byServer.set(s.id, { name: s.name, inMsgs: pad(), outMsgs: pad(), inBytes: pad(), outBytes: pad() });
      }
    }
    for (const [id, series] of h.byServer) {
      const s = this.servers.find((x) => x.id === id);
      const r = s && s.up ? s.rates : {};
      series.name = s?.name ?? series.name;
      for (const k of ['inMsgs', 'outMsgs', 'inBytes', 'outBytes']) series[k].push(r[k] ?? null);
    }
    if (h.x.length > HISTORY_POINTS) {
      h.x.shift();
      for (const series of h.byServer.values()) {
        for (const k of ['inMsgs', 'outMsgs', 'inBytes', 'outBytes']) series[k].shift();
      }
    }
  }

  get clusterName() {
    return this.servers.find((s) => s.cluster)?.cluster || '';
  }
}
