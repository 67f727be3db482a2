// Reading one node's monitoring JSON.
//
// Pylon answers its JSON with `Access-Control-Allow-Origin: *`, so a cross-origin fetch works.
// nats-server 2.9 sends no CORS header, but it answers JSONP (`?callback=`), so for such a peer
// the answer is loaded as a script instead. A reader remembers which way worked.

const TIMEOUT_MS = 3000;
let jsonpSeq = 0;

export class HttpError extends Error {
  constructor(url, status) {
    super(`${url}: HTTP ${status}`);
    this.status = status;
  }
}

// Loads `url?callback=fn` as a script; resolves with the value the node passes to fn.
export function jsonp(url) {
  return new Promise((resolve, reject) => {
    const name = `__pylonJsonp${++jsonpSeq}`;
    const script = document.createElement('script');
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A late answer after a timeout must still find a function to call.
      window[name] = () => delete window[name];
      script.remove();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`${url}: no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    window[name] = (value) => finish(null, value);
    script.onerror = () => finish(new Error(`${url}: unreachable`));
    script.src = `${url}${url.includes('?') ? '&' : '?'}callback=${name}`;
    document.head.appendChild(script);
  });
}

async function fetchJson(url) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    const res = await fetch(url, { signal: ctl.signal, cache: 'no-store' });
    if (!res.ok) throw new HttpError(url, res.status);
    return await res.json();
  } finally {
    clearTimeout(timer);
  }
}

export class NodeReader {
  // `base`: the node's monitoring URL, e.g. "http://127.0.0.1:8222".
  constructor(base) {
    this.base = base;
    this.sameOrigin = new URL(base).origin === window.location.origin;
    this.useJsonp = false;
  }

  async get(path) {
    const url = this.base + path;
    if (this.useJsonp) return jsonp(url);
    try {
      return await fetchJson(url);
    } catch (err) {
      // A CORS refusal looks like a network error (TypeError); so does a node that is down,
      // and then JSONP fails as well. HTTP errors and timeouts are real answers: no retry.
      if (this.sameOrigin || !(err instanceof TypeError)) throw err;
      const value = await jsonp(url);
      this.useJsonp = true;
      return value;
    }
  }
}
