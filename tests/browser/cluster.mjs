// A 3-node pylon-server cluster on free loopback ports, and client processes (build/pylon)
// for traffic. Everything started here is stopped by stop(), also when a test fails.

import { spawn } from 'node:child_process';
import { freePorts } from '../js/lib/ports.mjs';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';

// Polls `check` (async, truthy when done) until it holds or `timeoutMs` passes.
export async function waitFor(what, check, timeoutMs = 20000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export { freePorts };

export async function getJson(url) {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

export class Cluster {
  constructor({ serverBin, toolBin, outDir }) {
    Object.assign(this, { serverBin, toolBin, outDir });
    this.procs = [];
    this.nodes = [];
  }

  run(bin, args, logName) {
    const fd = openSync(join(this.outDir, logName), 'w');
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const proc = { child, logName, exited: null };
    child.on('exit', (code, signal) => { proc.exited = { code, signal }; });
    this.procs.push(proc);
    return proc;
  }

  // `names`: one node each; `binOf(name)`: its server binary (pylon-server unless told; the
  // flags are the reference's, so nats-server takes the same).
  async start(names = ['node-a', 'node-b', 'node-c'], binOf = () => this.serverBin) {
    const ports = await freePorts(names.length * 3);
    this.nodes = names.map((name, i) => ({
      name, port: ports[i * 3], http: ports[i * 3 + 1], route: ports[i * 3 + 2],
    }));
    for (const n of this.nodes) {
      const others = this.nodes.filter((o) => o !== n).map((o) => `nats://127.0.0.1:${o.route}`);
      n.proc = this.run(binOf(n.name), [
        '--name', n.name, '--cluster_name', 'dashboard-test', '-a', '127.0.0.1', '-p', String(n.port),
        '-m', String(n.http), '--cluster', `nats://127.0.0.1:${n.route}`, '--routes', others.join(','),
      ], `${n.name}.log`);
      n.url = `nats://127.0.0.1:${n.port}`;
      n.monitor = `http://127.0.0.1:${n.http}`;
    }
    // The full mesh: every node has a route to each of the others.
    await waitFor('a full mesh of routes', async () => {
      for (const n of this.nodes) {
        if (n.proc.exited) throw new Error(`${n.name} exited ${JSON.stringify(n.proc.exited)}; see ${n.proc.logName}`);
      }
      const rs = await Promise.all(this.nodes.map((n) => getJson(`${n.monitor}/routez`)));
      return rs.every((r) => r.num_routes === this.nodes.length - 1);
    });
  }

  // A long-running `pylon` client (pub or sub), named in the servers' /connz.
  client(args, logName) {
    return this.run(this.toolBin, args, logName);
  }

  async stop() {
    const alive = this.procs.filter((p) => !p.exited);
    for (const p of alive) p.child.kill('SIGTERM');
    await Promise.all(alive.map((p) => new Promise((resolve) => {
      if (p.exited) return resolve();
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
      p.child.once('exit', () => { clearTimeout(timer); resolve(); });
    })));
  }
}
