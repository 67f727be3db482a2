// Ports for the servers a test starts, by the rule every harness in tests/ follows
// (tests/common/test_ports.h): a random port below the kernel's ephemeral range, leased by
// holding a UDP socket bound to 127.0.0.1 on the same number, so that no other test (and no
// outgoing connection) is given it before the server binds it. The lease ends when the
// process exits. Shared by tests/js and tests/browser.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

// Ports above this one are on no "bad port" list: fetch() (here, and in the browser test's
// Chromium) refuses to connect to those, and 10080 is the highest of them.
const LAST_BAD_PORT = 10080;

export function leasePortRange() {
  let [lo, hi] = [32768, 60999];
  try {
    const f = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (f.length === 2 && f.every(Number.isInteger)) [lo, hi] = f;
  } catch {
    // not Linux: keep the defaults
  }
  if (lo - (LAST_BAD_PORT + 1) >= 4000) return [LAST_BAD_PORT + 1, lo - 1];
  return [hi + 1, 65535];
}

function bindUdp(port) {
  return new Promise((resolve) => {
    const s = createSocket({ type: 'udp4', exclusive: true });
    s.once('error', () => {
      s.close();
      resolve(null);
    });
    s.bind({ port, address: '127.0.0.1', exclusive: true }, () => {
      s.unref(); // a lease must not keep the process alive
      resolve(s);
    });
  });
}

function tcpFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

const leases = []; // held until the process exits

// n distinct leased loopback ports.
export async function freePorts(n) {
  const [lo, hi] = leasePortRange();
  const ports = [];
  for (let attempt = 0; ports.length < n && attempt < 2000 * n; attempt++) {
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    const lease = await bindUdp(port);
    if (!lease) continue; // leased by another test
    if (!(await tcpFree(port))) {
      lease.close(); // something outside the tests uses it
      continue;
    }
    leases.push(lease);
    ports.push(port);
  }
  if (ports.length < n) throw new Error(`freePorts: no free loopback port left in ${lo}-${hi}`);
  return ports;
}
