// Number and time formatting for labels, tables and chart axes.

const SI = ['', 'k', 'M', 'G', 'T'];
const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

function scaled(v, base, units, sep) {
  if (v == null || !Number.isFinite(v)) return '–';
  let i = 0;
  let x = Math.abs(v);
  while (x >= base && i < units.length - 1) {
    x /= base;
    i++;
  }
  const digits = x >= 100 || i === 0 ? 0 : x >= 10 ? 1 : 2;
  return `${v < 0 ? '-' : ''}${x.toFixed(digits)}${sep}${units[i]}`;
}

export const count = (v) => scaled(v, 1000, SI, '');
export const bytes = (v) => scaled(v, 1024, IEC, ' ');
export const rate = (v) => `${count(v)}/s`;
export const byteRate = (v) => `${bytes(v)}/s`;

// RFC 3339 with nanoseconds (as the monitoring JSON has it) to epoch milliseconds.
export function parseTime(text) {
  if (typeof text !== 'string') return NaN;
  return Date.parse(text.replace(/(\.\d{3})\d+/, '$1'));
}

export const shortId = (id) => (id ? id.slice(0, 8) : '?');
