// One card per server: identity, load, rates and slow consumers at a glance.

import * as fmt from './format.js';

function line(label, value, cls) {
  const row = document.createElement('div');
  row.className = `kv${cls ? ` ${cls}` : ''}`;
  const k = document.createElement('span');
  k.textContent = label;
  const v = document.createElement('span');
  v.textContent = value;
  row.append(k, v);
  return row;
}

export function renderServers(container, servers, colorOf) {
  const cards = [...servers]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((s) => {
      const card = document.createElement('article');
      card.className = 'server-card';
      if (!s.up) card.classList.add('down');
      if (s.slowRising) card.classList.add('slow');
      card.dataset.serverId = s.id;
      const title = document.createElement('h3');
      const dot = document.createElement('span');
      dot.className = 'swatch';
      dot.style.background = s.monitored ? colorOf(s.id) : 'transparent';
      title.append(dot, document.createTextNode(s.name));
      card.append(title);
      if (!s.monitored) {
        card.append(line('id', fmt.shortId(s.id)), line('monitoring', 'not polled (add it with ?servers=)'));
        return card;
      }
      if (!s.up) {
        // What it said before it went away would be stale: say when it was last seen.
        card.append(
          line('status', `down: ${s.error}`, 'bad'),
          line('last seen', s.lastSeen ? new Date(s.lastSeen).toLocaleTimeString() : 'never'),
          line('version', s.version || '?'),
          line('monitoring', s.base),
        );
        return card;
      }
      const r = s.rates;
      card.append(
        line('status', 'up', 'ok'),
        line('version', s.version || '?'),
        line('uptime', s.uptime || '?'),
        line('clients / subs', `${s.clients.length} / ${s.subscriptions ?? 0}`),
        line('msgs in / out', `${fmt.rate(r.inMsgs)} / ${fmt.rate(r.outMsgs)}`),
        line('bytes in / out', `${fmt.byteRate(r.inBytes)} / ${fmt.byteRate(r.outBytes)}`),
        line('slow consumers', String(s.slowConsumers), s.slowRising ? 'bad' : ''),
        line('monitoring', s.base),
      );
      return card;
    });
  container.replaceChildren(...cards);
}
