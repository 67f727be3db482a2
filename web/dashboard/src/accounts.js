// The accounts panel: per account, over every polled server, its connections and what its
// clients published and were given (each server's /accstatz, summed), with rates. An account
// appears while it has open connections somewhere; a slow consumer count above zero is red.

import * as fmt from './format.js';

const COLUMNS = [
  { key: 'name', label: 'Account', show: (v) => v },
  { key: 'conns', label: 'Connections', num: true, show: String },
  { key: 'servers', label: 'Servers', num: true, show: String },
  { key: 'msgRate', label: 'Msgs/s', num: true, show: (v) => (v == null ? '–' : fmt.count(v)) },
  { key: 'byteRate', label: 'Bytes/s', num: true, show: (v) => (v == null ? '–' : fmt.bytes(v)) },
  { key: 'inMsgs', label: 'Published msgs', num: true, show: fmt.count },
  { key: 'outMsgs', label: 'Delivered msgs', num: true, show: fmt.count },
  { key: 'inBytes', label: 'Published bytes', num: true, show: fmt.bytes },
  { key: 'outBytes', label: 'Delivered bytes', num: true, show: fmt.bytes },
  { key: 'slowConsumers', label: 'Slow consumers', num: true, show: String },
];

export function renderAccounts(table, accounts) {
  if (!table.tHead) {
    const head = table.createTHead().insertRow();
    for (const col of COLUMNS) {
      const th = document.createElement('th');
      th.textContent = col.label;
      th.scope = 'col';
      if (col.num) th.classList.add('num');
      head.appendChild(th);
    }
    table.createTBody();
  }
  const body = table.tBodies[0];
  if (!accounts.length) {
    const td = document.createElement('td');
    td.colSpan = COLUMNS.length;
    td.className = 'empty';
    td.textContent = 'no account has open connections';
    const tr = document.createElement('tr');
    tr.append(td);
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(...accounts.map((a) => {
    const tr = document.createElement('tr');
    tr.dataset.account = a.name;
    if (a.slowConsumers > 0) tr.classList.add('slow');
    for (const col of COLUMNS) {
      const td = document.createElement('td');
      td.textContent = col.show(a[col.key]);
      if (col.num) td.classList.add('num');
      tr.append(td);
    }
    return tr;
  }));
}
