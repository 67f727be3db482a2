// Live rate charts (uPlot): one line per server and direction, "in" solid and "out" dashed,
// over the last HISTORY_POINTS polls. A chart is rebuilt only when the set of servers changes;
// otherwise each poll just hands it the new data.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const PALETTE = ['#38bdf8', '#f59e0b', '#a78bfa', '#34d399', '#f472b6', '#facc15', '#fb7185', '#2dd4bf'];
const AXIS = { stroke: '#94a3b8', grid: { stroke: '#1e293b', width: 1 }, ticks: { stroke: '#334155', width: 1 } };

export class RateChart {
  // `fields`: the history series to draw, e.g. {in: 'inMsgs', out: 'outMsgs'}; `format`: axis labels.
  constructor(container, fields, format) {
    this.container = container;
    this.fields = fields;
    this.format = format;
    this.plot = null;
    this.shape = '';
    this.data = [[]];
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(container);
  }

  size() {
    return { width: Math.max(this.container.clientWidth, 200), height: 190 };
  }

  update(history, colorOf) {
    const ids = [...history.byServer.keys()];
    const data = [history.x];
    for (const id of ids) {
      const s = history.byServer.get(id);
      data.push(s[this.fields.in], s[this.fields.out]);
    }
    this.data = data;
    const shape = ids.map((id) => `${id}=${history.byServer.get(id).name}`).join(',');
    if (shape !== this.shape || !this.plot) {
      this.shape = shape;
      this.plot?.destroy();
      this.plot = new uPlot(this.options(ids, history, colorOf), data, this.container);
      this.hovering = false;
      this.plot.over.addEventListener('mouseenter', () => { this.hovering = true; });
      this.plot.over.addEventListener('mouseleave', () => { this.hovering = false; });
    } else {
      this.plot.setData(data);
    }
    // Away from the cursor, the legend shows the newest values rather than dashes.
    if (!this.hovering && data[0].length) this.plot.setLegend({ idx: data[0].length - 1 });
  }

  options(ids, history, colorOf) {
    const series = [{ label: 'Time', value: (u, v) => (v == null ? '–' : new Date(v * 1000).toLocaleTimeString()) }];
    for (const id of ids) {
      const name = history.byServer.get(id).name;
      const stroke = colorOf(id);
      const value = (u, v) => (v == null ? '–' : this.format(v));
      series.push({ label: `${name} in`, stroke, width: 2, value, spanGaps: false });
      series.push({ label: `${name} out`, stroke, width: 2, dash: [6, 4], value, spanGaps: false });
    }
    return {
      ...this.size(),
      series,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max * 1.1, 1)] } },
      axes: [
        { ...AXIS },
        { ...AXIS, size: 70, values: (u, vals) => vals.map((v) => this.format(v)) },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
  }

  // The newest point of every line, for tests and the page's model.
  latest() {
    const out = {};
    const last = this.data[0].length - 1;
    if (last < 0 || !this.plot) return out;
    this.plot.series.forEach((s, i) => {
      if (i > 0) out[s.label] = this.data[i][last];
    });
    return out;
  }
}
