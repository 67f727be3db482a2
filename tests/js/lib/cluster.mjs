// A cluster of n nodes on fixed ports (so a node can be restarted on the same ones), each
// with explicit routes to all the others, ready when every node's /routez shows a route to
// every other node.
import { freePorts, ServerProcess } from './server.mjs';
import { SLOW_WAIT_MS, waitFor } from './wait.mjs';

export class Cluster {
  constructor(scope, nodes, { clusterName, args }) {
    this.scope = scope;
    this.nodes = nodes;
    this.clusterName = clusterName;
    this.args = args;
  }

  // A node joining later with a route to just `routesTo` (the others learn it by gossip).
  // Started, and the full mesh awaited.
  async addNode(routesTo) {
    const [clientPort, httpPort, clusterPort] = await freePorts(3);
    const node = this.scope.adopt(new ServerProcess({
      name: nodeName(this.nodes.length),
      dir: this.scope.dir,
      clientPort,
      httpPort,
      clusterPort,
      clusterName: this.clusterName,
      routes: routesTo.map((n) => n.routeUrl),
      args: this.args,
    }));
    this.nodes.push(node);
    await node.start();
    await this.waitForMesh();
    return node;
  }

  // The node whose client listener is `hostPort` ('127.0.0.1:4222', as nc.getServer() says).
  nodeAt(hostPort) {
    const node = this.nodes.find((n) => `127.0.0.1:${n.clientPort}` === hostPort);
    if (!node) throw new Error(`no node of this cluster listens on ${hostPort}`);
    return node;
  }

  // A message published on `pubNode` now reaches the subscription on `subject` held on
  // `subNode`: locally registered (/subsz) or, across nodes, known through the route.
  async waitForSubscriber(pubNode, subNode, subject, { timeout = SLOW_WAIT_MS } = {}) {
    if (pubNode === subNode) {
      await waitFor(async () => {
        const subsz = await subNode.http('/subsz?subs=1');
        return (subsz.subscriptions_list ?? []).some((x) => x.subject === subject);
      }, { timeout, what: `${subNode.name} to hold a subscription on '${subject}'` });
    } else {
      await this.waitForInterest(pubNode, subject, [subNode], { timeout });
    }
  }

  // Every running node has a route to every other running node (by server id).
  async waitForMesh({ timeout = SLOW_WAIT_MS } = {}) {
    const up = this.nodes.filter((n) => n.running);
    await waitFor(async () => {
      const ids = new Map();
      for (const n of up) ids.set(n, (await n.http('/varz')).server_id);
      for (const n of up) {
        const routez = await n.http('/routez');
        const remote = new Set(routez.routes.map((r) => r.remote_id));
        for (const other of up) if (other !== n && !remote.has(ids.get(other))) return false;
      }
      return true;
    }, { timeout, what: `a full route mesh among ${up.map((n) => n.name).join(', ')}` });
  }

  // `node` knows that each of `from` (nodes) has interest in `subject` (exactly as
  // subscribed, wildcards included; queue subscriptions appear under their subject), so a
  // message published on `node` is routed to them. Seen in /routez?subs=1.
  async waitForInterest(node, subject, from, { timeout = SLOW_WAIT_MS } = {}) {
    const ids = await Promise.all(from.map(async (n) => (await n.http('/varz')).server_id));
    await waitFor(async () => {
      const routez = await node.http('/routez?subs=1');
      return ids.every((id) => routez.routes.some((r) => r.remote_id === id && (r.subscriptions_list ?? []).includes(subject)));
    }, { timeout, what: `${node.name} to learn the interest of ${from.map((n) => n.name).join(', ')} in '${subject}'` });
  }

  // Every running node's /varz lists every running node's client URL in connect_urls.
  async waitForConnectUrls({ timeout = SLOW_WAIT_MS } = {}) {
    const up = this.nodes.filter((n) => n.running);
    const want = up.map((n) => `127.0.0.1:${n.clientPort}`);
    await waitFor(async () => {
      for (const n of up) {
        const urls = (await n.http('/varz')).connect_urls ?? [];
        if (!want.every((u) => urls.includes(u))) return false;
      }
      return true;
    }, { timeout, what: `connect_urls of every node to list ${want.join(', ')}` });
  }
}

const nodeName = (i) => `node-${String.fromCharCode(97 + i)}`;

// Starts n nodes (node-a, node-b, ...) in the scope and waits for the full mesh.
// opts: clusterName, args (extra flags), config (text of every node's config file),
// binaries (per node; default: the server under test for all).
export async function startCluster(scope, n = 3, { clusterName = 'pylon-js', args, config, binaries = [] } = {}) {
  const ports = await freePorts(3 * n);
  const nodes = [];
  for (let i = 0; i < n; i++) {
    nodes.push(scope.adopt(new ServerProcess({
      bin: binaries[i],
      name: nodeName(i),
      dir: scope.dir,
      clientPort: ports[3 * i],
      httpPort: ports[3 * i + 1],
      clusterPort: ports[3 * i + 2],
      clusterName,
      args,
      config,
    })));
  }
  for (const node of nodes) node.routes = nodes.filter((o) => o !== node).map((o) => o.routeUrl);
  await Promise.all(nodes.map((node) => node.start()));
  const cluster = new Cluster(scope, nodes, { clusterName, args });
  await cluster.waitForMesh();
  return cluster;
}
