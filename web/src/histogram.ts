// The volume chart above the results: stacked bars of matching lines per level over time
// (uPlot), or a metric query's series as lines. Dragging across it selects a time range.

import uPlot from 'uplot';
import type { MatrixSeries } from './api';
import { h, clear } from './dom';
import { formatCompact, formatInt } from './format';
import { levelColor, sortLevels } from './levels';

export interface LevelBuckets {
  /** Evaluation time (unix seconds) of the first bucket; bucket k spans [t - step, t). */
  start: number;
  step: number; // seconds
  count: number; // buckets
  byLevel: Map<string, Float64Array>;
}

const PALETTE = ['#3274d9', '#e0752d', '#56a64b', '#a352cc', '#f2cc0c', '#e02f44', '#8ab8ff', '#6ccf8e', '#c4162a', '#1f78c1'];

// uPlot's tick label table, in 24-hour time: [tick increment, format, then the formats
// used where a larger unit rolls over: year, month, day, hour, minute, second, mode].
const TIME_FORMATS: uPlot.Axis.Values = [
  [3600 * 24 * 365, '{YYYY}', null, null, null, null, null, null, 1],
  [3600 * 24 * 28, '{MMM}', '\n{YYYY}', null, null, null, null, null, 1],
  [3600 * 24, '{MMM} {D}', '\n{YYYY}', null, null, null, null, null, 1],
  [3600, '{HH}:{mm}', '\n{YYYY}-{MM}-{DD}', null, '\n{MMM} {D}', null, null, null, 1],
  [60, '{HH}:{mm}', '\n{YYYY}-{MM}-{DD}', null, '\n{MMM} {D}', null, null, null, 1],
  [1, ':{ss}', '\n{YYYY}-{MM}-{DD} {HH}:{mm}', null, '\n{MMM} {D} {HH}:{mm}', null, '\n{HH}:{mm}', null, 1],
  [0.001, ':{ss}.{fff}', '\n{YYYY}-{MM}-{DD} {HH}:{mm}', null, '\n{MMM} {D} {HH}:{mm}', null, '\n{HH}:{mm}', null, 1],
];

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** An axis value of a metric: 1.5k, 0.25, 12. */
function formatValue(v: number): string {
  const a = Math.abs(v);
  if (a >= 1000) return formatCompact(v);
  return String(Number(v.toPrecision(4)));
}

function seriesName(metric: Record<string, string>): string {
  const keys = Object.keys(metric).sort();
  if (keys.length === 0) return '{}';
  return '{' + keys.map((k) => `${k}="${metric[k]}"`).join(', ') + '}';
}

export class Histogram {
  /** data-testid=histogram: the chart container, with data-total/-buckets/-from-ns/-to-ns. */
  readonly root: HTMLElement;
  private readonly chartEl: HTMLElement;
  private readonly messageEl: HTMLElement;
  private plot: uPlot | null = null;
  private readonly resize: ResizeObserver;
  private tall = false; // a metric query's chart: taller

  constructor(private readonly onSelect: (fromMs: number, toMs: number) => void) {
    this.chartEl = h('div', { class: 'hist-chart' });
    this.messageEl = h('div', { class: 'hist-msg', hidden: true });
    this.root = h('div', { class: 'hist', 'data-testid': 'histogram' }, this.chartEl, this.messageEl);
    let width = 0;
    this.resize = new ResizeObserver(() => {
      const w = this.chartEl.clientWidth;
      if (w !== width && this.plot) {
        width = w;
        this.plot.setSize({ width: w, height: this.plotHeight() });
      }
    });
    this.resize.observe(this.chartEl);
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  /** Marks the range being loaded (and forgets the previous load's numbers). */
  setRange(fromNs: string, toNs: string): void {
    this.root.setAttribute('data-from-ns', fromNs);
    this.root.setAttribute('data-to-ns', toNs);
    this.root.removeAttribute('data-total');
    this.root.removeAttribute('data-buckets');
  }

  setTotal(total: number): void {
    this.root.setAttribute('data-total', String(total));
  }

  showMessage(text: string, isError = false): void {
    this.messageEl.hidden = false;
    this.messageEl.textContent = text;
    this.messageEl.classList.toggle('error', isError);
  }

  hideMessage(): void {
    this.messageEl.hidden = true;
  }

  clearChart(): void {
    this.plot?.destroy();
    this.plot = null;
    clear(this.chartEl);
  }

  private plotHeight(): number {
    const narrow = window.matchMedia('(max-width: 759px)').matches;
    if (this.tall) return narrow ? 220 : 300;
    return narrow ? 110 : 150;
  }

  private baseOptions(fromMs: number, toMs: number, counts: boolean): uPlot.Options {
    const axisStroke = cssVar('--fg-muted', '#6e7681');
    const grid = { stroke: cssVar('--grid', 'rgba(0,0,0,0.07)'), width: 1 };
    const onSelect = this.onSelect;
    return {
      width: Math.max(200, this.chartEl.clientWidth),
      height: this.plotHeight(),
      padding: [6, 24, 0, 0],
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { show: false },
      },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: {
        x: { time: true, range: () => [fromMs / 1000, toMs / 1000] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
      },
      axes: [
        { stroke: axisStroke, grid, ticks: { show: false }, size: 36, font: '11px system-ui, sans-serif', values: TIME_FORMATS },
        {
          stroke: axisStroke,
          grid,
          ticks: { show: false },
          size: 44,
          font: '11px system-ui, sans-serif',
          // Counts: whole numbers only, compact; a metric's values: as they are.
          values: (_u, splits) =>
            splits.map((v) => (counts ? (v === Math.floor(v) ? formatCompact(v) : '') : formatValue(v))),
        },
      ],
      legend: { show: true, live: true },
      series: [{}],
      hooks: {
        setSelect: [
          (u: uPlot) => {
            const { left, width } = u.select;
            if (width < 3) return;
            const a = u.posToVal(left, 'x') * 1000;
            const b = u.posToVal(left + width, 'x') * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            onSelect(Math.floor(a), Math.ceil(b));
          },
        ],
      },
    };
  }

  /** Stacked bars per level (stable order and colours: fatal at the bottom). */
  showLevels(b: LevelBuckets, fromMs: number, toMs: number): void {
    this.clearChart();
    this.hideMessage();
    const levels = sortLevels([...b.byLevel.keys()]);
    const xs = new Float64Array(b.count);
    for (let k = 0; k < b.count; k++) xs[k] = b.start + k * b.step - b.step / 2;
    // uPlot draws series in order: the tallest (cumulative) stack first, each smaller one
    // over it, so level i shows between the sums of levels < i and <= i.
    const cumulative: Float64Array[] = [];
    let acc = new Float64Array(b.count);
    for (const l of levels) {
      const raw = b.byLevel.get(l)!;
      const c = new Float64Array(b.count);
      for (let k = 0; k < b.count; k++) c[k] = acc[k] + raw[k];
      cumulative.push(c);
      acc = c;
    }
    this.tall = false;
    const opts = this.baseOptions(fromMs, toMs, true);
    const data: uPlot.AlignedData = [xs as unknown as number[]];
    const bars = uPlot.paths.bars!({ size: [0.86, 64], align: 0 });
    for (let i = levels.length - 1; i >= 0; i--) {
      const level = levels[i];
      const raw = b.byLevel.get(level)!;
      const color = levelColor(level);
      opts.series.push({
        label: level,
        stroke: color,
        fill: color,
        width: 0,
        paths: bars,
        points: { show: false },
        value: (_u, _v, _si, di) => (di === null || di === undefined ? '–' : formatInt(raw[di])),
      });
      data.push(cumulative[i] as unknown as number[]);
    }
    if (levels.length === 0) {
      opts.series.push({ label: 'lines', stroke: 'transparent', paths: bars });
      data.push(new Array<number>(b.count).fill(0));
    }
    opts.series[0] = {
      value: (_u, v) => (v === null || v === undefined ? '' : new Date(v * 1000).toLocaleString()),
    };
    this.plot = new uPlot(opts, data, this.chartEl);
    this.root.setAttribute('data-buckets', String(b.count));
  }

  /** A metric query's series as lines (at most 50 drawn). */
  showSeries(series: MatrixSeries[], fromMs: number, toMs: number): void {
    this.clearChart();
    this.hideMessage();
    const shown = series.slice(0, 50);
    const times = new Set<number>();
    for (const s of shown) for (const [t] of s.values) times.add(t);
    const xs = [...times].sort((a, b) => a - b);
    const index = new Map(xs.map((t, i) => [t, i]));
    this.tall = true;
    const opts = this.baseOptions(fromMs, toMs, false);
    opts.scales!.y = {
      range: (_u, min, max) => {
        const lo = Math.min(0, min);
        return [lo, max > lo ? max + (max - lo) * 0.08 : lo + 1];
      },
    };
    opts.series[0] = {
      value: (_u, v) => (v === null || v === undefined ? '' : new Date(v * 1000).toLocaleString()),
    };
    const data: uPlot.AlignedData = [xs];
    shown.forEach((s, i) => {
      const ys: (number | null)[] = new Array(xs.length).fill(null);
      for (const [t, v] of s.values) ys[index.get(t)!] = Number(v);
      const color = PALETTE[i % PALETTE.length];
      opts.series.push({ label: seriesName(s.metric), stroke: color, width: 1.5, points: { show: xs.length < 60, size: 4 } });
      data.push(ys);
    });
    this.plot = new uPlot(opts, data, this.chartEl);
    this.root.setAttribute('data-buckets', String(xs.length));
    if (series.length > shown.length) this.showMessage(`${series.length} series; the first ${shown.length} are drawn.`);
  }
}
