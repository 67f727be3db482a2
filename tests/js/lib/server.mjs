// One server process under test: build/pylon-server, or /usr/sbin/nats-server for the parity
// run (PYLON_TEST_SERVER=nats-server), on loopback ports leased by ./ports.mjs. It is
// started with its HTTP monitor on, and counted as ready when /healthz answers 200.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { freePorts } from './ports.mjs';
import { join } from 'node:path';
import { SLOW_WAIT_MS, waitFor, within } from './wait.mjs';

export const NATS_SERVER_BIN = process.env.PYLON_NATS_SERVER_BIN || '/usr/sbin/nats-server';
const STOP_TIMEOUT_MS = 10_000;

// Which server the suite runs against: 'pylon' (default) or 'nats-server'.
export function serverKind() {
  const kind = process.env.PYLON_TEST_SERVER || 'pylon';
  if (kind !== 'pylon' && kind !== 'nats-server') {
    throw new Error(`PYLON_TEST_SERVER must be 'pylon' or 'nats-server', not '${kind}'`);
  }
  return kind;
}

export function serverBinary() {
  if (serverKind() === 'nats-server') return NATS_SERVER_BIN;
  const bin = process.env.PYLON_SERVER_BIN;
  if (!bin) throw new Error('PYLON_SERVER_BIN is not set (the pylon-server binary under test)');
  if (!existsSync(bin)) throw new Error(`PYLON_SERVER_BIN: no such file: ${bin}`);
  return bin;
}

export const isReference = () => serverKind() === 'nats-server';

export { freePorts };

// Every process any test started, so that an abnormal end of the test process still
// leaves no server behind (killed by PID, never by name).
const live = new Set();
function killAllLive() {
  for (const p of live) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killAllLive);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAllLive();
    process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 })[sig]);
  });
}

export class ServerProcess {
  // opts: bin (default: the server under test), name, dir (for log and config), clientPort, httpPort, clusterPort (0: no cluster),
  // routes (route URLs), clusterName, config (text of a config file), args (extra flags).
  constructor(opts) {
    this.bin = opts.bin ?? serverBinary();
    this.name = opts.name;
    this.dir = opts.dir;
    this.clientPort = opts.clientPort;
    this.httpPort = opts.httpPort;
    this.clusterPort = opts.clusterPort ?? 0;
    this.routes = opts.routes ?? [];
    this.clusterName = opts.clusterName;
    this.extraArgs = opts.args ?? [];
    this.logPath = join(this.dir, `${this.name}.log`);
    this.child = undefined;
    this.exited = undefined; // promise of { code, signal } for the current incarnation
    this.unexpectedExit = undefined; // set when a process ended that no one stopped
    this.incarnations = 0;
    if (opts.config !== undefined) {
      // With a config file the name goes into it, not on the command line: nats-server
      // refuses a reload (SIGHUP) when a flag set server_name ("config reload not
      // supported for ServerName").
      this.configPath = join(this.dir, `${this.name}.conf`);
      writeFileSync(this.configPath, `server_name: "${this.name}"\n${opts.config}`);
    }
  }

  get url() {
    return `nats://127.0.0.1:${this.clientPort}`;
  }

  get routeUrl() {
    return `nats://127.0.0.1:${this.clusterPort}`;
  }

  get running() {
    return this.child !== undefined;
  }

  args() {
    const a = ['-a', '127.0.0.1', '-p', String(this.clientPort), '-m', String(this.httpPort)];
    if (this.configPath) a.push('-c', this.configPath);
    else a.push('-n', this.name);
    if (this.clusterPort) {
      a.push('--cluster', this.routeUrl, '--cluster_name', this.clusterName ?? 'pylon-js');
      if (this.routes.length) a.push('--routes', this.routes.join(','));
    }
    if (process.env.PYLON_TEST_TRACE) a.push('-D', '-V');
    return [...a, ...this.extraArgs];
  }

  // Spawns the server and waits until its /healthz answers. Throws (with the log's tail)
  // when it exits first or does not become healthy in time.
  async start({ timeout = SLOW_WAIT_MS } = {}) {
    if (this.child) throw new Error(`${this.name} is already running`);
    const args = this.args();
    const fd = openSync(this.logPath, 'a');
    writeSync(fd, `=== ${new Date().toISOString()} ${this.bin} ${args.join(' ')}\n`);
    const child = spawn(this.bin, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.incarnations++;
    this.child = child;
    this.stopping = false;
    live.add(child);
    let spawnError;
    this.exited = new Promise((resolve) => {
      const ended = (code, signal) => {
        live.delete(child);
        if (this.child === child) this.child = undefined;
        if (!this.stopping) this.unexpectedExit = `${this.name} exited on its own (code ${code}, signal ${signal})`;
        resolve({ code, signal });
      };
      child.once('exit', ended);
      child.once('error', (e) => { // could not be spawned: no 'exit' follows
        spawnError = e;
        ended(null, null);
      });
    });
    const exitedFirst = this.exited.then(({ code, signal }) => {
      throw new Error(spawnError ? `cannot run ${this.bin}: ${spawnError.message}`
        : `the process exited (code ${code}, signal ${signal})`);
    });
    let settled = false; // ends the /healthz polling when the process exited first
    try {
      await Promise.race([
        exitedFirst,
        waitFor(async () => settled || (await this.http('/healthz', { raw: true })).ok,
          { timeout, what: `${this.name} (${this.url}) to answer /healthz` }),
      ]);
    } catch (e) {
      await this.kill();
      this.unexpectedExit = undefined; // the start failure is the error reported
      throw new Error(`${this.name} did not start: ${e.message}\n${this.logTail()}`);
    } finally {
      settled = true;
      exitedFirst.catch(() => {}); // settles later, when the server ends; nobody waits for it here
    }
    return this;
  }

  // SIGTERM, then SIGKILL if it is still there after STOP_TIMEOUT_MS.
  async stop() {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    child.kill('SIGTERM');
    try {
      await within(this.exited, STOP_TIMEOUT_MS, `${this.name} to exit after SIGTERM`);
    } catch (e) {
      child.kill('SIGKILL');
      await this.exited;
      throw e;
    }
  }

  // SIGKILL: the node fails, as a crash or a pulled cable would look to its peers.
  async kill() {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    child.kill('SIGKILL');
    await this.exited;
  }

  // Replaces the config file's text (the server name stays first), e.g. before a reload.
  writeConfig(text) {
    writeFileSync(this.configPath, `server_name: "${this.name}"\n${text}`);
  }

  // Sends a signal by PID (SIGHUP: reload, SIGUSR2: lame duck mode). With expectExit the
  // process ending afterwards is not an error.
  signal(sig, { expectExit = false } = {}) {
    if (!this.child) throw new Error(`${this.name} is not running`);
    if (expectExit) this.stopping = true;
    this.child.kill(sig);
  }

  // GET on the monitoring port; the parsed JSON body (or the Response when raw).
  async http(path, { raw = false } = {}) {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${path}`, { signal: AbortSignal.timeout(2_000) });
    if (raw) {
      await res.arrayBuffer();
      return res;
    }
    if (!res.ok) throw new Error(`GET ${path} on ${this.name}: HTTP ${res.status}`);
    return res.json();
  }

  logText() {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch (e) {
      return `(no log: ${e.message})`;
    }
  }

  logTail(maxLines = 60) {
    const lines = this.logText().trimEnd().split('\n');
    const tail = lines.slice(-maxLines).join('\n');
    return `----- ${this.name} log (${this.logPath}, last ${Math.min(maxLines, lines.length)} lines) -----\n${tail}\n-----`;
  }
}
