// A test's scope: the servers and client connections it started, all stopped when the test
// ends, whether it passed, failed or timed out. On failure the servers' logs are printed as
// test diagnostics. Connections report asynchronous errors (Events.Error: -ERR from the
// server, permission violations) and those fail the test unless it expects them.
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, Events } from 'nats';
import { freePorts, ServerProcess } from './server.mjs';
import { MSG_WAIT_MS, waitFor, within } from './wait.mjs';

const DEFAULT_TEST_TIMEOUT_MS = 90_000;

// Like node:test's test(), with a Scope as the first argument of fn.
export function serverTest(name, fn, { timeout = DEFAULT_TEST_TIMEOUT_MS, ...options } = {}) {
  return test(name, { timeout, ...options }, async (t) => {
    const scope = new Scope(t);
    const onAbort = () => scope.close({ failed: true });
    t.signal.addEventListener('abort', onAbort, { once: true }); // timed out or cancelled
    let failed = true;
    try {
      await fn(scope, t);
      failed = false;
    } finally {
      t.signal.removeEventListener('abort', onAbort);
      await scope.close({ failed });
    }
  });
}

// Records a connection's status events (nc.status()), as a JS user's status loop sees them.
export class StatusLog {
  constructor(nc) {
    this.events = [];
    this.waiters = new Set();
    this.done = (async () => {
      for await (const s of nc.status()) {
        this.events.push(s);
        for (const w of this.waiters) w();
      }
    })();
  }

  ofType(type) {
    return this.events.filter((e) => e.type === type);
  }

  // Waits for an event of `type` for which pred(event) holds; returns it.
  async next(type, { pred = () => true, timeout = MSG_WAIT_MS, what } = {}) {
    return waitFor(() => this.events.find((e) => e.type === type && pred(e)), {
      timeout,
      what: what ?? `a '${type}' status event`,
    });
  }
}

export class Scope {
  constructor(t) {
    this.t = t;
    this.dir = mkdtempSync(join(tmpdir(), 'pylon-js-'));
    this.servers = [];
    this.conns = []; // { nc, status, expectErrors, name }
    this.closed = false;
  }

  // One server on free ports. opts: config (file text), args (extra flags), name.
  async startServer({ config, args, name = 'server' } = {}) {
    for (let attempt = 1; ; attempt++) {
      const [clientPort, httpPort] = await freePorts(2);
      const s = new ServerProcess({ name: attempt === 1 ? name : `${name}-${attempt}`, dir: this.dir, clientPort, httpPort, config, args });
      this.servers.push(s);
      try {
        return await s.start();
      } catch (e) {
        // A port picked free can be taken before the server binds it: try other ports.
        if (attempt < 3 && /address already in use/i.test(s.logText())) continue;
        throw e;
      }
    }
  }

  // A server object for a cluster node (started by cluster.mjs), owned by this scope.
  adopt(server) {
    this.servers.push(server);
    return server;
  }

  // A client connection, closed at the end of the test. target: a server, an array of
  // servers, or URL strings. opts go to nats' connect() over these defaults: 5 s connect
  // timeout, no reconnect (cluster tests turn it on). expectErrors: async errors are
  // recorded in the StatusLog but do not fail the test.
  async connect(target, { expectErrors = false, ...opts } = {}) {
    const list = (Array.isArray(target) ? target : [target]).map((x) => (typeof x === 'string' ? x : x.url));
    const nc = await connect({ servers: list, timeout: 5_000, reconnect: false, name: this.t.name, ...opts });
    const entry = { nc, status: new StatusLog(nc), expectErrors };
    this.conns.push(entry);
    return nc;
  }

  statusOf(nc) {
    const e = this.conns.find((c) => c.nc === nc);
    if (!e) throw new Error('statusOf: not a connection of this test');
    return e.status;
  }

  async close({ failed }) {
    if (this.closed) return;
    this.closed = true;
    const problems = [];
    for (const { nc, status, expectErrors } of this.conns) {
      if (!expectErrors) {
        for (const e of status.ofType(Events.Error)) problems.push(`unexpected async error on a connection: ${e.data}`);
      }
      if (!nc.isClosed()) {
        try {
          await within(nc.close(), MSG_WAIT_MS, 'a connection to close');
        } catch (e) {
          problems.push(e.message);
        }
      }
    }
    for (const s of this.servers) {
      if (s.unexpectedExit) problems.push(s.unexpectedExit);
      try {
        await s.stop();
      } catch (e) {
        problems.push(e.message);
      }
    }
    if (failed || problems.length) {
      for (const s of this.servers) if (s.incarnations) this.t.diagnostic(s.logTail());
      this.t.diagnostic(`server logs kept in ${this.dir}`);
    } else {
      rmSync(this.dir, { recursive: true, force: true });
    }
    if (problems.length && !failed) throw new Error(problems.join('\n'));
  }
}
