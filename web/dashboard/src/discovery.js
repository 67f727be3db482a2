// Which monitoring URLs the page polls: the node that served it, every `?servers=` entry
// (for peers that advertise nothing, e.g. nats-server), and the `monitor_url` that Pylon
// routes advertise (/routez), so the dashboard of any one node finds the whole cluster.

// "host:port", "http://host:port" or "https://host:port/base" to "scheme://host:port[/base]".
export function normalizeBase(text) {
  let t = String(text || '').trim();
  if (!t) return null;
  if (!/^https?:\/\//i.test(t)) t = `http://${t}`;
  try {
    const u = new URL(t);
    return u.origin + u.pathname.replace(/\/+$/, '');
  } catch {
    return null;
  }
}

// `?servers=a:8222,b:8222&servers=c:8222` to a list of bases; unparsable entries are reported.
export function serversFromQuery(search) {
  const params = new URLSearchParams(search);
  const good = [];
  const bad = [];
  for (const v of params.getAll('servers')) {
    for (const part of v.split(',')) {
      if (!part.trim()) continue;
      const base = normalizeBase(part);
      if (base) good.push(base);
      else bad.push(part);
    }
  }
  return { good, bad };
}

// The page's own node: where the page was loaded from, minus "/dashboard...".
export function pageBase(location) {
  const path = location.pathname.replace(/\/dashboard(\/.*)?$/, '');
  return location.origin + path.replace(/\/+$/, '');
}
