// Waiting on conditions with deadlines: the tests never sleep a fixed time to let something
// happen, they poll for the outcome and fail with what they were waiting for.
import { setTimeout as delay } from 'node:timers/promises';

export const MSG_WAIT_MS = 5_000; // upper bound for one expected message or round trip
export const SLOW_WAIT_MS = 20_000; // reconnects, failover, cluster formation

// Polls `probe` (sync or async) until it returns a truthy value, which is returned. A probe
// that throws counts as "not yet"; its last error is part of the timeout message.
export async function waitFor(probe, { timeout = MSG_WAIT_MS, interval = 20, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last attempt: ${lastError.message ?? lastError})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${why}`);
    }
    await delay(interval);
  }
}

// Resolves with the promise's value, or rejects after `timeout` ms naming `what`.
export async function within(promise, timeout, what) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

// Subscribes and collects what the subscription receives. It uses a callback, which the
// client calls synchronously in wire order, so "the marker arrived on one subscription"
// implies "everything sent before it to this connection arrived on the others" (an async
// iterator per subscription would be drained in interleaved microtasks instead).
// opts: decode (message -> stored value), and the client's SubOpts (queue, max).
export function collect(nc, subject, { decode = (m) => m, ...subOpts } = {}) {
  return new Collector(nc, subject, decode, subOpts);
}

export class Collector {
  constructor(nc, subject, decode, subOpts) {
    this.messages = [];
    this.error = undefined;
    this.closed = false;
    this.waiters = new Set();
    this.sub = nc.subscribe(subject, {
      ...subOpts,
      callback: (err, m) => {
        if (err) this.error = err; // e.g. a permissions violation; the client closes the sub
        else this.messages.push(decode(m));
        this.wake();
      },
    });
    this.done = this.sub.closed.then(() => {
      this.closed = true;
      this.wake();
    });
  }

  wake() {
    for (const w of this.waiters) w();
  }

  get count() {
    return this.messages.length;
  }

  // Waits until at least n messages arrived; returns them all.
  async untilCount(n, { timeout = MSG_WAIT_MS, what } = {}) {
    const label = what ?? `${n} message(s) on '${this.sub.getSubject()}'`;
    const deadline = Date.now() + timeout;
    while (this.messages.length < n) {
      if (this.closed) {
        throw new Error(`subscription '${this.sub.getSubject()}' ended after ${this.messages.length} of ${label}` +
          (this.error ? `: ${this.error.message}` : ''));
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeout} ms waiting for ${label}; got ${this.messages.length}`);
      await new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
    return this.messages;
  }
}
