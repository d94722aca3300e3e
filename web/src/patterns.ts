// Patterns: the message templates of the current query's lines, biggest first, with their
// volume over the range; clicking one opens Explore filtered by it.

import { ApiError, fetchPatterns, isAbort, track, type Pattern, type PatternsData } from './api';
import { h, clear, svg } from './dom';
import { formatInt, formatMs } from './format';
import { rememberQuery } from './history';
import { addLabelFilter, isMetricQuery } from './logql';
import { QueryBar } from './querybar';
import { sameQuery, type AppState } from './router';
import { chooseStep, msToNs, resolveRange } from './timerange';
import type { AppContext, ViewInstance } from './view';

const LIMIT = 50;

/** An inline SVG sparkline (area + line) of a volume series. */
export function sparkline(volume: readonly number[], width = 120, height = 24): SVGElement {
  const el = svg('svg', {
    class: 'sparkline',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: 'none',
    'data-testid': 'pattern-sparkline',
    'aria-hidden': 'true',
  });
  const n = volume.length;
  if (n === 0) return el;
  const max = Math.max(1, ...volume);
  const x = (i: number) => (n === 1 ? width / 2 : (i / (n - 1)) * width);
  const y = (v: number) => height - 1 - (v / max) * (height - 2);
  let line = '';
  volume.forEach((v, i) => (line += `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`));
  el.appendChild(svg('path', { d: `${line}L${x(n - 1).toFixed(1)},${height}L${x(0).toFixed(1)},${height}Z`, class: 'spark-area' }));
  el.appendChild(svg('path', { d: line, class: 'spark-line', fill: 'none' }));
  return el;
}

/** The pattern text with each `<*>` marked. */
function patternText(p: string): HTMLElement {
  const el = h('span', { class: 'pattern-text', 'data-testid': 'pattern-text', title: p });
  p.split('<*>').forEach((part, i) => {
    if (i > 0) el.appendChild(h('span', { class: 'wild' }, '<*>'));
    if (part) el.appendChild(document.createTextNode(part));
  });
  return el;
}

export class PatternsView implements ViewInstance {
  readonly root: HTMLElement;
  private readonly bar: QueryBar;
  private readonly summary: HTMLElement;
  private readonly body: HTMLElement;
  private readonly message: HTMLElement;
  private lastRun: AppState | null = null;
  private abort: AbortController | null = null;
  private runId = 0;
  private query = '';

  constructor(private readonly ctx: AppContext) {
    this.bar = new QueryBar({
      onRun: (q) => this.ctx.navigate({ q }),
      onRange: (spec) => this.ctx.navigate({ ...spec, q: this.bar.editor.value }),
    });
    this.summary = h('div', { class: 'patterns-summary' });
    this.message = h('div', { class: 'panel-msg', hidden: true });
    this.body = h('tbody');
    const table = h(
      'table',
      { class: 'data-table patterns-table', 'data-testid': 'patterns-table' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { class: 'num' }, 'Count'),
          h('th', { class: 'num col-share' }, 'Share'),
          h('th', { class: 'col-spark' }, 'Volume'),
          h('th', { class: 'col-service' }, 'Service'),
          h('th', null, 'Pattern'),
        ),
      ),
      this.body,
    );
    table.addEventListener('click', (e) => {
      const row = (e.target as Element).closest<HTMLElement>('[data-testid="pattern-row"]');
      if (row) this.open(row.dataset.patternId!);
    });
    table.addEventListener('keydown', (e) => {
      const row = (e.target as Element).closest<HTMLElement>('[data-testid="pattern-row"]');
      if (row && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        this.open(row.dataset.patternId!);
      }
    });
    this.root = h(
      'div',
      { class: 'view patterns' },
      this.bar.root,
      h('div', { class: 'panel' }, this.summary, this.message, h('div', { class: 'table-scroll' }, table)),
    );
  }

  update(state: AppState, force: boolean): void {
    this.bar.set(state);
    if (force || !this.lastRun || !sameQuery(state, this.lastRun)) this.run(state);
  }

  destroy(): void {
    this.abort?.abort();
    this.bar.destroy();
  }

  private open(id: string): void {
    this.ctx.navigate({ view: 'explore', q: addLabelFilter(this.query, 'pattern_id', id) });
  }

  private showMessage(text: string, isError = false): void {
    this.message.hidden = text === '';
    this.message.textContent = text;
    this.message.classList.toggle('error', isError);
  }

  private run(state: AppState): void {
    this.lastRun = state;
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    const run = ++this.runId;
    this.query = state.q.trim() === '' ? '{}' : state.q;
    rememberQuery(state.q);
    this.bar.editor.clearError();
    this.showMessage('');
    clear(this.body);
    this.summary.textContent = 'Loading…';
    if (isMetricQuery(this.query)) {
      this.summary.textContent = '';
      this.showMessage('Patterns need a log query (a selector and filters), not a metric query.', true);
      return;
    }
    const { fromMs, toMs } = resolveRange(state, Date.now());
    const step = chooseStep((toMs - fromMs) / 1000, 60);
    const t0 = performance.now();
    void track(
      fetchPatterns(
        { query: this.query, start: msToNs(fromMs), end: msToNs(toMs), step, limit: LIMIT },
        { signal: ac.signal },
      ).then(
        (d) => {
          if (run === this.runId) this.render(d, performance.now() - t0);
        },
        (e) => {
          if (isAbort(e) || run !== this.runId) return;
          this.summary.textContent = '';
          if (e instanceof ApiError && e.status === 400) this.bar.editor.showError(e.message, e.position);
          else this.showMessage(e instanceof ApiError && e.status ? `Error ${e.status}: ${e.message}` : String(e.message ?? e), true);
        },
      ),
    );
  }

  private render(d: PatternsData, tookMs: number): void {
    const lines = d.lines ?? d.patterns.reduce((n, p) => n + p.count, 0);
    const total = d.total_patterns ?? d.patterns.length;
    this.summary.textContent =
      `${formatInt(lines)} lines · ${formatInt(total)} pattern${total === 1 ? '' : 's'}` +
      (total > d.patterns.length ? ` (top ${d.patterns.length} shown)` : '') +
      (d.unpatterned ? ` · ${formatInt(d.unpatterned)} without a pattern` : '') +
      ` · ${formatMs(tookMs)}`;
    if (d.patterns.length === 0) this.showMessage('No patterns: no lines match this query in this range.');
    const frag = document.createDocumentFragment();
    for (const p of d.patterns) frag.appendChild(this.row(p, lines));
    this.body.appendChild(frag);
  }

  private row(p: Pattern, lines: number): HTMLElement {
    const share = lines > 0 ? (p.count / lines) * 100 : 0;
    const shareBar = h('span', { class: 'share-fill' });
    shareBar.style.width = `${Math.min(100, Math.max(share, 1))}%`;
    return h(
      'tr',
      {
        class: 'pattern-row',
        'data-testid': 'pattern-row',
        'data-pattern-id': p.id,
        tabindex: 0,
        title: p.sample ? `e.g. ${p.sample}` : null,
      },
      h('td', { class: 'num', 'data-testid': 'pattern-count', 'data-count': p.count }, formatInt(p.count)),
      h('td', { class: 'num col-share' }, h('span', { class: 'share' }, `${share < 0.1 ? share.toFixed(2) : share.toFixed(1)}%`, h('span', { class: 'share-track' }, shareBar))),
      h('td', { class: 'col-spark' }, sparkline(p.volume ?? [])),
      h('td', { class: 'col-service' }, p.service),
      h(
        'td',
        { class: 'col-pattern' },
        p.new ? h('span', { class: 'badge badge-new', title: 'First seen recently (after the service warm-up)' }, 'new') : null,
        patternText(p.pattern || '(unknown template)'),
      ),
    );
  }
}
