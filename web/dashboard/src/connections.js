// The connections table across all nodes, sortable by any column (click a header; click again
// to reverse). Rows of slow consumers are highlighted: high pending bytes on an open connection,
// and connections the server closed as "Slow Consumer".

import * as fmt from './format.js';
import { parseTime } from './format.js';

const COLUMNS = [
  { key: 'server', label: 'Server', type: 'text' },
  { key: 'cid', label: 'CID', type: 'num' },
  { key: 'name', label: 'Name', type: 'text' },
  { key: 'addr', label: 'Address', type: 'text', get: (c) => `${c.ip}:${c.port}` },
  { key: 'client', label: 'Client', type: 'text', get: (c) => [c.lang, c.version].filter(Boolean).join(' ') },
  { key: 'subscriptions', label: 'Subs', type: 'num' },
  { key: 'pending_bytes', label: 'Pending', type: 'num', show: fmt.bytes },
  { key: 'msgRate', label: 'Msgs/s', type: 'num', show: (v) => (v == null ? '–' : fmt.count(v)) },
  { key: 'byteRate', label: 'Bytes/s', type: 'num', show: (v) => (v == null ? '–' : fmt.bytes(v)) },
  { key: 'in_msgs', label: 'In msgs', type: 'num', show: fmt.count },
  { key: 'out_msgs', label: 'Out msgs', type: 'num', show: fmt.count },
  { key: 'in_bytes', label: 'In bytes', type: 'num', show: fmt.bytes },
  { key: 'out_bytes', label: 'Out bytes', type: 'num', show: fmt.bytes },
  // Uptime sorts by the start time (the text "1m2s" does not sort).
  { key: 'uptime', label: 'Uptime', type: 'num', get: (c) => -parseTime(c.start), show: (v, c) => c.uptime },
  { key: 'state', label: 'State', type: 'text' },
];

const valueOf = (col, c) => (col.get ? col.get(c) : c[col.key]);

function compare(col, a, b) {
  const x = valueOf(col, a);
  const y = valueOf(col, b);
  if (col.type === 'num') {
    const nx = Number.isFinite(x) ? x : -Infinity;
    const ny = Number.isFinite(y) ? y : -Infinity;
    return nx - ny;
  }
  return String(x ?? '').localeCompare(String(y ?? ''), undefined, { numeric: true });
}

export class ConnectionsTable {
  constructor(table) {
    this.table = table;
    this.sort = { key: 'server', dir: 1 };
    this.rows = [];
    const head = table.createTHead().insertRow();
    this.headers = COLUMNS.map((col) => {
      const th = document.createElement('th');
      th.textContent = col.label;
      th.dataset.key = col.key;
      th.scope = 'col';
      if (col.type === 'num') th.classList.add('num');
      th.addEventListener('click', () => this.sortBy(col.key));
      head.appendChild(th);
      return th;
    });
    this.body = table.createTBody();
  }

  sortBy(key) {
    this.sort = this.sort.key === key ? { key, dir: -this.sort.dir } : { key, dir: 1 };
    this.render(this.rows);
  }

  // The rows as shown: sorted by the chosen column, then by server and cid for a stable order.
  sorted(rows) {
    const col = COLUMNS.find((c) => c.key === this.sort.key);
    const server = COLUMNS[0];
    const cid = COLUMNS[1];
    return [...rows].sort(
      (a, b) => this.sort.dir * compare(col, a, b) || compare(server, a, b) || compare(cid, a, b),
    );
  }

  render(rows) {
    this.rows = rows;
    for (const th of this.headers) {
      const on = th.dataset.key === this.sort.key;
      th.setAttribute('aria-sort', on ? (this.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    const body = document.createElement('tbody');
    for (const c of this.sorted(rows)) {
      const tr = body.insertRow();
      tr.dataset.key = c.key;
      if (c.slow) tr.classList.add('slow');
      if (c.state !== 'open') tr.classList.add('closed');
      for (const col of COLUMNS) {
        const td = tr.insertCell();
        const v = valueOf(col, c);
        // textContent, never innerHTML: names and versions come from clients.
        td.textContent = col.show ? col.show(v, c) : v ?? '';
        if (col.type === 'num') td.classList.add('num');
      }
    }
    if (!rows.length) {
      const td = body.insertRow().insertCell();
      td.colSpan = COLUMNS.length;
      td.className = 'empty';
      td.textContent = 'No client connections.';
    }
    this.body.replaceWith(body);
    this.body = body;
  }
}
