// A raw NATS protocol connection (node:net), for what the JS client will not send, e.g. a
// PUB larger than the server's max_payload.
import { connect as netConnect } from 'node:net';
import { MSG_WAIT_MS, within } from './wait.mjs';

export class RawConn {
  constructor(socket) {
    this.socket = socket;
    this.buffer = '';
    this.lines = [];
    this.waiters = new Set();
    this.ended = false;
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      this.buffer += chunk;
      let i;
      while ((i = this.buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 2);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {}); // a reset after -ERR is expected; 'close' follows
  }

  wake() {
    for (const w of this.waiters) w();
  }

  send(text) {
    this.socket.write(text);
  }

  // The next protocol line (without CRLF); null when the server closed the connection.
  async readLine({ timeout = MSG_WAIT_MS } = {}) {
    const ready = new Promise((resolve) => {
      const check = () => {
        if (this.lines.length || this.ended) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
      check();
    });
    await within(ready, timeout, 'a protocol line from the server');
    return this.lines.length ? this.lines.shift() : null;
  }

  // Resolves when the server has closed the connection.
  async closedByServer({ timeout = MSG_WAIT_MS } = {}) {
    while (await this.readLine({ timeout }) !== null) { /* drain */ }
  }

  close() {
    this.socket.destroy();
  }
}

// Connects, reads the server's INFO and returns [conn, info].
export async function rawConnect(server) {
  const socket = netConnect({ host: '127.0.0.1', port: server.clientPort });
  await within(new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  }), MSG_WAIT_MS, `a TCP connection to ${server.url}`);
  const conn = new RawConn(socket);
  const first = await conn.readLine();
  if (!first || !first.startsWith('INFO ')) {
    conn.close();
    throw new Error(`expected INFO as the first line, got ${JSON.stringify(first)}`);
  }
  return [conn, JSON.parse(first.slice(5))];
}
