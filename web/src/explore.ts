// Explore: query, time range, volume histogram, facets, the virtualised results table with
// infinite scroll, and live tail.

import {
  ApiError,
  CATEGORIZE,
  isAbort,
  queryInstant,
  queryRange,
  track,
  type QueryData,
  type QueryStats,
} from './api';
import { h, clear } from './dom';
import { formatBytes, formatCompact, formatInt, formatMs } from './format';
import { Histogram, type LevelBuckets } from './histogram';
import { rememberQuery } from './history';
import { levelColor, sortLevels } from './levels';
import { addFieldFilter, addLabelMatcher, countQuery, isMetricQuery, withoutErrorLabels } from './logql';
import { QueryBar } from './querybar';
import { sameQuery, type AppState } from './router';
import { dropSeen, nextCursor, nsPlusOne, streamsToRows, type LogRow } from './rows';
import { ResultsTable } from './table';
import { LiveTail, type TailState } from './tail';
import { chooseStep, formatStep, histogramPoints, isRelative, msToNs, resolveRange } from './timerange';
import type { AppContext, ViewInstance } from './view';

const PAGE_SIZES = [1000, 10000, 100000];
const PAGE_SIZE_KEY = 'lode.pageSize';
const LIVE_KEEP = 10_000;
const TOP_SERVICES = 20;

/** The server's largest `limit` (Loki's max_entries_limit_per_query); learnt from its 400. */
let maxEntries = 5000;

function savedPageSize(): number {
  const n = Number(localStorage.getItem(PAGE_SIZE_KEY));
  return PAGE_SIZES.includes(n) ? n : PAGE_SIZES[0];
}

interface StatsSum {
  lines: number;
  tookMs: number;
  scanned: number;
  bytes: number;
}

function addStats(acc: StatsSum, s: QueryStats | undefined): void {
  acc.tookMs += (s?.summary?.execTime ?? 0) * 1000;
  acc.scanned += s?.summary?.totalLinesProcessed ?? 0;
  acc.bytes += s?.summary?.totalBytesProcessed ?? 0;
}

/** A count query, again without parser errors if the server refuses series with __error__. */
async function countWithRetry<T>(q: string, run: (query: string) => Promise<T>): Promise<T> {
  try {
    return await run(q);
  } catch (e) {
    if (e instanceof ApiError && e.status === 400 && e.message.includes('__error__')) {
      return run(withoutErrorLabels(q));
    }
    throw e;
  }
}

function vectorCounts(d: QueryData, label: string): Map<string, number> {
  const out = new Map<string, number>();
  if (d.resultType !== 'vector') return out;
  for (const s of d.result) {
    const k = s.metric[label] ?? '';
    out.set(k, (out.get(k) ?? 0) + Number(s.value[1]));
  }
  return out;
}

export class ExploreView implements ViewInstance {
  readonly root: HTMLElement;
  private readonly bar: QueryBar;
  private readonly hist: Histogram;
  private readonly table: ResultsTable;
  private readonly facets: HTMLElement;
  private readonly facetLevel: HTMLElement;
  private readonly facetService: HTMLElement;
  private readonly statsEl: HTMLElement;
  private readonly countEl: HTMLElement;
  private readonly liveButton: HTMLButtonElement;
  private readonly liveStatus: HTMLElement;
  private readonly pageSizeSelect: HTMLSelectElement;
  private readonly resultsBox: HTMLElement;

  private lastRun: AppState | null = null;
  private runId = 0;
  private abort: AbortController | null = null;
  private query = '';
  private fromNs = '0';
  private toNs = '0';
  private relative = true;
  private metric = false;
  private total: number | null = null;
  private exhausted = false;
  private loadingMore = false;
  private endOverride: string | null = null; // skip entries at a timestamp that cannot be paged
  private stats: StatsSum = { lines: 0, tookMs: 0, scanned: 0, bytes: 0 };
  private errorShown = false;
  private firstPageLoaded = false; // the stats line describes the first page
  private pageSize = savedPageSize();

  private liveWanted = false;
  private tail: LiveTail | null = null;
  private liveReceived = 0;
  private liveDropped = 0; // lines the server could not send (its queue was full)
  private liveKeep = LIVE_KEEP;
  private liveRetries = 0; // reconnections since the tail was last live
  private liveTimer = 0;

  constructor(private readonly ctx: AppContext) {
    this.bar = new QueryBar({
      onRun: (q) => this.ctx.navigate({ q }),
      onRange: (spec) => this.ctx.navigate({ ...spec, q: this.bar.editor.value }),
    });
    this.hist = new Histogram((fromMs, toMs) =>
      this.ctx.navigate({ from: String(fromMs), to: String(toMs), q: this.bar.editor.value }),
    );
    this.table = new ResultsTable({
      onFilter: (key, value, exclude) =>
        this.ctx.navigate({ q: addFieldFilter(this.query, key, value, exclude) }),
      onNearEnd: () => void this.loadMore(),
    });
    this.facetLevel = h('div', { class: 'facet-list', 'data-testid': 'facet-level' });
    this.facetService = h('div', { class: 'facet-list', 'data-testid': 'facet-service' });
    this.facets = h(
      'aside',
      { class: 'facets', 'aria-label': 'Facets' },
      h('h3', null, 'Level'),
      this.facetLevel,
      h('h3', null, 'Service'),
      this.facetService,
    );
    this.facets.addEventListener('click', (e) => this.onFacetClick(e));

    this.statsEl = h('span', { class: 'stats', 'data-testid': 'stats' });
    this.countEl = h('span', { class: 'result-count', 'data-testid': 'result-count' });
    this.liveButton = h(
      'button',
      { class: 'btn live-btn', type: 'button', 'data-testid': 'live-toggle', 'aria-pressed': 'false', title: 'Stream new matching lines' },
      h('span', { class: 'live-dot' }),
      'Live',
    );
    this.liveButton.addEventListener('click', () => this.toggleLive());
    this.liveStatus = h('span', { class: 'live-status', 'data-testid': 'live-status', 'data-lines': '0', hidden: true });
    this.pageSizeSelect = h('select', { 'data-testid': 'page-size', 'aria-label': 'Rows per page' });
    for (const n of PAGE_SIZES) {
      const o = h('option', { value: n }, `${formatInt(n)} rows`);
      o.selected = n === this.pageSize;
      this.pageSizeSelect.appendChild(o);
    }
    this.pageSizeSelect.addEventListener('change', () => {
      this.pageSize = Number(this.pageSizeSelect.value);
      localStorage.setItem(PAGE_SIZE_KEY, String(this.pageSize));
      if (this.lastRun) this.run(this.lastRun);
    });
    const facetsToggle = h('button', { class: 'btn facets-toggle', type: 'button', 'aria-expanded': 'false' }, 'Filters');
    facetsToggle.addEventListener('click', () => {
      const open = this.facets.classList.toggle('open');
      facetsToggle.setAttribute('aria-expanded', String(open));
    });

    this.resultsBox = h(
      'section',
      { class: 'explore-results' },
      h('div', { class: 'hist-wrap' }, this.hist.root),
      h(
        'div',
        { class: 'results-bar' },
        facetsToggle,
        this.statsEl,
        h('span', { class: 'spacer' }),
        h('span', { class: 'live' }, this.liveButton, this.liveStatus),
        h('label', { class: 'page-size' }, this.pageSizeSelect),
        this.countEl,
      ),
      this.table.root,
    );
    this.root = h(
      'div',
      { class: 'view explore' },
      this.bar.root,
      h('div', { class: 'explore-main' }, this.facets, this.resultsBox),
    );
  }

  update(state: AppState, force: boolean): void {
    this.bar.set(state);
    if (force || !this.lastRun || !sameQuery(state, this.lastRun)) this.run(state);
  }

  destroy(): void {
    // A load still finishing must find its run stale: no tail opened, no chart drawn.
    this.runId++;
    this.liveWanted = false;
    this.abort?.abort();
    this.closeTail();
    this.bar.destroy();
    this.hist.destroy();
    this.table.destroy();
  }

  // ---- running a query -------------------------------------------------------------------

  private run(state: AppState): void {
    this.lastRun = state;
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    const run = ++this.runId;
    this.closeTail();

    this.query = state.q.trim() === '' ? '{}' : state.q;
    rememberQuery(state.q);
    const { fromMs, toMs } = resolveRange(state, Date.now());
    this.fromNs = msToNs(fromMs);
    this.toNs = msToNs(toMs);
    this.relative = isRelative(state);
    this.metric = isMetricQuery(this.query);
    this.total = null;
    this.exhausted = false;
    this.loadingMore = false;
    this.endOverride = null;
    this.stats = { lines: 0, tookMs: 0, scanned: 0, bytes: 0 };
    this.errorShown = false;
    this.firstPageLoaded = false;
    this.bar.editor.clearError();
    this.hist.setRange(this.fromNs, this.toNs);
    this.hist.hideMessage();
    this.table.setRows([]);
    this.table.setMessage('');
    this.statsEl.textContent = 'Loading…';
    this.statsEl.removeAttribute('data-took-ms');
    this.root.classList.toggle('metric', this.metric);
    this.liveButton.disabled = this.metric;
    this.updateCount();

    const step = chooseStep((toMs - fromMs) / 1000);
    const jobs = this.metric
      ? [this.runMetric(run, ac.signal, fromMs, toMs, step)]
      : [
          this.runHistogram(run, ac.signal, fromMs, toMs, step),
          this.runServices(run, ac.signal),
          this.loadMore(true).then(() => {
            if (run === this.runId && this.liveWanted) this.openTail();
          }),
        ];
    void track(Promise.allSettled(jobs));
  }

  private stale(run: number): boolean {
    return run !== this.runId;
  }

  /**
   * A failed request. A 400 of the user's own query goes to the query box, with its
   * position; a derived query's (histogram, facets) parse errors are left to that one, as
   * their positions point into the derived text. Anything else is shown in place.
   */
  private failed(run: number, e: unknown, userQuery: boolean, showIn?: (msg: string) => void): void {
    if (isAbort(e) || this.stale(run)) return;
    const err = e instanceof ApiError ? e : new ApiError(String((e as Error)?.message ?? e), 0);
    if (err.status === 400 && userQuery) {
      if (!this.errorShown) {
        this.errorShown = true;
        this.bar.editor.showError(err.message, err.position);
      }
      return;
    }
    if (err.status === 400 && (err.position || /^invalid regex/.test(err.message))) return;
    showIn?.(err.status ? `Error ${err.status}: ${err.message}` : err.message);
  }

  private async runMetric(run: number, signal: AbortSignal, fromMs: number, toMs: number, step: number): Promise<void> {
    clear(this.facetLevel);
    clear(this.facetService);
    try {
      const d = await queryRange({ query: this.query, start: this.fromNs, end: this.toNs, step }, { signal });
      if (this.stale(run)) return;
      addStats(this.stats, d.stats);
      if (d.resultType === 'matrix') {
        this.hist.showSeries(d.result, fromMs, toMs);
        const points = d.result.reduce((n, s) => n + s.values.length, 0);
        this.setStats(`${formatInt(d.result.length)} series, ${formatInt(points)} points`);
        if (d.result.length === 0) this.hist.showMessage('No data in this range.');
      } else {
        this.hist.clearChart();
        this.hist.showMessage(`The query answered a ${d.resultType}.`);
        this.setStats('');
      }
    } catch (e) {
      this.hist.clearChart();
      this.statsEl.textContent = '';
      this.failed(run, e, true, (m) => this.hist.showMessage(m, true));
    }
  }

  private async runHistogram(run: number, signal: AbortSignal, fromMs: number, toMs: number, step: number): Promise<void> {
    const pts = histogramPoints(fromMs, toMs, step);
    const rangeNs = (BigInt(this.toNs) - BigInt(this.fromNs)).toString();
    const atNs = (BigInt(this.toNs) - 1n).toString();
    const hist = countWithRetry(this.query, (q) =>
      queryRange(
        {
          query: countQuery(q, 'level', formatStep(step)),
          start: (BigInt(pts.start) * 1_000_000_000n).toString(),
          end: (BigInt(pts.end) * 1_000_000_000n).toString(),
          step,
        },
        { signal },
      ),
    );
    // The exact count over [from, to): the instant window (t - range, t] at t = to - 1 ns.
    const levels = countWithRetry(this.query, (q) =>
      queryInstant({ query: countQuery(q, 'level', `${rangeNs}ns`), time: atNs }, { signal }),
    );
    const [hr, lr] = await Promise.allSettled([hist, levels]);
    if (this.stale(run)) return;
    let histTotal: number | null = null;
    if (hr.status === 'fulfilled') {
      const b: LevelBuckets = { start: pts.start, step, count: pts.count, byLevel: new Map() };
      histTotal = 0;
      if (hr.value.resultType === 'matrix') {
        for (const s of hr.value.result) {
          const level = s.metric.level || 'unknown';
          let arr = b.byLevel.get(level);
          if (!arr) b.byLevel.set(level, (arr = new Float64Array(pts.count)));
          for (const [t, v] of s.values) {
            const k = Math.round((t - pts.start) / step);
            if (k >= 0 && k < pts.count) {
              arr[k] += Number(v);
              histTotal += Number(v);
            }
          }
        }
      }
      this.hist.showLevels(b, fromMs, toMs);
      if (histTotal === 0) this.hist.showMessage('No matching lines in this range.');
    } else {
      this.hist.clearChart();
      this.failed(run, hr.reason, false, (m) => this.hist.showMessage(m, true));
    }
    let counts: Map<string, number> | null = null;
    if (lr.status === 'fulfilled') {
      counts = vectorCounts(lr.value, 'level');
      this.total = [...counts.values()].reduce((a, b) => a + b, 0);
    } else {
      this.failed(run, lr.reason, false);
      if (histTotal !== null) this.total = histTotal;
    }
    if (this.total !== null) {
      this.hist.setTotal(this.total);
      if (this.table.bodyRows.length >= this.total) this.exhausted = true;
    }
    this.renderFacet(
      this.facetLevel,
      'level',
      counts
        ? sortLevels(counts.keys()).map((l) => ({ value: l, count: counts!.get(l)! }))
        : lr.status === 'rejected' && lr.reason instanceof ApiError && lr.reason.status === 400
          ? undefined
          : null,
    );
    this.updateCount();
    this.renderStats();
  }

  private async runServices(run: number, signal: AbortSignal): Promise<void> {
    const rangeNs = (BigInt(this.toNs) - BigInt(this.fromNs)).toString();
    const atNs = (BigInt(this.toNs) - 1n).toString();
    try {
      const d = await countWithRetry(this.query, (q) =>
        queryInstant({ query: countQuery(q, 'service', `${rangeNs}ns`), time: atNs }, { signal }),
      );
      if (this.stale(run)) return;
      const items = [...vectorCounts(d, 'service')]
        .map(([value, count]) => ({ value, count }))
        .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value))
        .slice(0, TOP_SERVICES);
      this.renderFacet(this.facetService, 'service', items);
    } catch (e) {
      this.failed(run, e, false);
      if (!this.stale(run) && !isAbort(e)) {
        this.renderFacet(this.facetService, 'service', e instanceof ApiError && e.status === 400 ? undefined : null);
      }
    }
  }

  /**
   * Loads the next page (pageSize rows, in requests of at most maxEntries) backward from the
   * oldest row shown. The first load of a run sets the stats line.
   */
  private async loadMore(first = false): Promise<void> {
    if (this.metric || this.loadingMore || this.exhausted) return;
    if (!first && this.table.bodyRows.length === 0) return;
    const run = this.runId;
    const signal = this.abort!.signal;
    this.loadingMore = true;
    this.countEl.classList.add('loading');
    let want = this.pageSize;
    const work = async () => {
      while (want > 0 && !this.exhausted) {
        const cursor = nextCursor(this.table.bodyRows, this.toNs);
        if (this.endOverride !== null) {
          cursor.end = this.endOverride;
          cursor.seen.clear();
        }
        // Entries at the oldest timestamp come again (end is exclusive): ask for them too.
        let again = 0;
        for (const n of cursor.seen.values()) again += n;
        const limit = Math.min(maxEntries, want + again);
        let d: QueryData;
        try {
          d = await queryRange(
            { query: this.query, start: this.fromNs, end: cursor.end, limit, direction: 'backward' },
            { signal, headers: CATEGORIZE },
          );
        } catch (e) {
          const m = e instanceof ApiError && e.status === 400 && /max entries limit.*\(\d+ > (\d+)\)/.exec(e.message);
          if (m && Number(m[1]) < limit) {
            maxEntries = Number(m[1]);
            continue;
          }
          throw e;
        }
        if (this.stale(run)) return;
        if (d.resultType !== 'streams') {
          this.exhausted = true;
          break;
        }
        const page = streamsToRows(d.result);
        if (page.length === limit && limit >= maxEntries && page[0].ts === page[page.length - 1].ts) {
          // A whole page at one timestamp: more entries share it than one request returns,
          // and paging by time cannot get past them. Fetch them all, split by stream.
          const ts = page[0].ts;
          const all = await this.fetchTimestamp(ts, signal);
          if (this.stale(run)) return;
          const unseen = cursor.oldest === ts ? dropSeen(all, cursor) : all;
          const fresh = unseen.slice(0, want); // a page is pageSize rows; the rest come next
          if (first) this.stats.lines += fresh.length;
          this.table.appendRows(fresh);
          want -= fresh.length;
          // All shown: go on below it; else the rest of it comes with the next page.
          this.endOverride = fresh.length === unseen.length ? ts : null;
          this.updateCount();
          continue;
        }
        // At most the rest of the page (newest first): what is cut comes with the next one.
        const unseen = dropSeen(page, cursor);
        const fresh = unseen.slice(0, want);
        this.endOverride = null;
        if (first) {
          addStats(this.stats, d.stats);
          this.stats.lines += fresh.length;
        }
        this.table.appendRows(fresh);
        want -= fresh.length;
        if (page.length < limit && fresh.length === unseen.length) {
          this.exhausted = true; // the range has no more
        } else if (fresh.length === 0) {
          // More entries share one timestamp than a request can return: skip the rest of it.
          this.endOverride = cursor.oldest;
        }
        if (this.total !== null && this.table.bodyRows.length >= this.total) this.exhausted = true;
        this.updateCount();
      }
    };
    try {
      await track(work());
      if (this.stale(run)) return;
      this.loadingMore = false;
      if (first) {
        this.firstPageLoaded = true;
        this.renderStats();
        if (this.table.length === 0) this.table.setMessage('No log lines match this query in this range.');
      }
    } catch (e) {
      if (this.stale(run)) return;
      this.failed(run, e, true, (m) => this.table.setMessage(m, true));
      if (first) this.statsEl.textContent = '';
      this.exhausted = true; // do not retry on every scroll
    } finally {
      if (!this.stale(run)) {
        this.loadingMore = false;
        // Rows the user scrolled in stay while live lines arrive on top.
        this.liveKeep = Math.max(this.liveKeep, this.table.length);
        this.countEl.classList.remove('loading');
        this.updateCount();
        this.table.render();
      }
    }
  }

  /**
   * Every entry at one timestamp, when there are more than a request may return: counted
   * by service, then level, instance and source, and each group small enough fetched with
   * that label added to the selector.
   */
  private async fetchTimestamp(ts: string, signal: AbortSignal): Promise<LogRow[]> {
    const end = nsPlusOne(ts);
    const labels = ['service', 'level', 'instance', 'source'];
    const out: LogRow[] = [];
    const fetchRows = async (query: string) => {
      const d = await queryRange(
        { query, start: ts, end, limit: maxEntries, direction: 'backward' },
        { signal, headers: CATEGORIZE },
      );
      if (d.resultType === 'streams') for (const r of streamsToRows(d.result)) out.push(r);
    };
    const split = async (query: string, depth: number): Promise<void> => {
      if (depth === labels.length) return fetchRows(query); // as many as one request gives
      const name = labels[depth];
      const d = await countWithRetry(query, (q) => queryInstant({ query: countQuery(q, name, '1ns'), time: ts }, { signal }));
      for (const [value, n] of vectorCounts(d, name)) {
        const sub = addLabelMatcher(query, name, value);
        if (n <= maxEntries) await fetchRows(sub);
        else await split(sub, depth + 1);
      }
    };
    await split(this.query, 0);
    return out;
  }

  // ---- display ---------------------------------------------------------------------------

  private setStats(prefix: string): void {
    const s = this.stats;
    const parts = [
      `${prefix} in ${formatMs(s.tookMs)}`,
      `scanned ${formatInt(s.scanned)} lines (${formatBytes(s.bytes)})`,
    ];
    this.statsEl.textContent = prefix ? parts.join(' · ') : '';
    this.statsEl.setAttribute('data-took-ms', String(Math.round(s.tookMs)));
  }

  private renderStats(): void {
    if (this.metric || !this.firstPageLoaded) return;
    const s = this.stats;
    const lines = s.lines === 1 ? '1 line' : `${formatInt(s.lines)} lines`;
    this.setStats(lines);
    if (this.total !== null) this.statsEl.textContent += ` · ${formatInt(this.total)} matching`;
  }

  private updateCount(): void {
    const loaded = this.table.length;
    this.countEl.setAttribute('data-loaded', String(loaded));
    if (this.total !== null) {
      this.countEl.setAttribute('data-total', String(this.total));
      this.countEl.textContent = `${formatInt(loaded)} of ${formatInt(this.total)} lines`;
    } else {
      this.countEl.removeAttribute('data-total');
      this.countEl.textContent = this.metric ? '' : `${formatInt(loaded)} lines`;
    }
  }

  /** Facet items; null: the count failed; undefined: nothing to show (a query error). */
  private renderFacet(el: HTMLElement, key: string, items: { value: string; count: number }[] | null | undefined): void {
    clear(el);
    if (items === undefined) return;
    if (items === null) {
      el.appendChild(h('div', { class: 'facet-empty' }, 'Could not count.'));
      return;
    }
    if (items.length === 0) {
      el.appendChild(h('div', { class: 'facet-empty' }, 'None'));
      return;
    }
    const max = Math.max(...items.map((i) => i.count));
    for (const it of items) {
      const label = it.value === '' ? '(none)' : it.value;
      const bar = h('span', { class: 'facet-bar' });
      bar.style.width = `${max > 0 ? (it.count / max) * 100 : 0}%`;
      if (key === 'level') bar.style.background = levelColor(it.value);
      el.appendChild(
        h(
          'button',
          {
            type: 'button',
            class: `facet-item${key === 'level' ? ` lvl-${it.value}` : ''}`,
            'data-testid': 'facet-item',
            'data-key': key,
            'data-value': it.value,
            'data-count': it.count,
            title: `${key}="${it.value}": ${formatInt(it.count)} lines`,
          },
          bar,
          h('span', { class: 'facet-name' }, label),
          h('span', { class: 'facet-count' }, formatCompact(it.count)),
          h(
            'span',
            {
              class: 'facet-exclude',
              'data-testid': 'facet-exclude',
              role: 'button',
              title: `Filter out ${key}="${it.value}"`,
            },
            '\u2212',
          ),
        ),
      );
    }
  }

  private onFacetClick(e: Event): void {
    const target = e.target as Element;
    const item = target.closest<HTMLElement>('[data-testid="facet-item"]');
    if (!item) return;
    this.facets.classList.remove('open');
    const exclude = target.closest('[data-testid="facet-exclude"]') !== null;
    this.ctx.navigate({
      q: addLabelMatcher(this.query, item.dataset.key!, item.dataset.value!, exclude),
    });
  }

  // ---- live tail -------------------------------------------------------------------------

  private toggleLive(): void {
    if (this.liveWanted) {
      this.liveWanted = false;
      this.closeTail();
      this.renderLive('off');
    } else if (!this.metric) {
      this.liveWanted = true;
      this.openTail();
    }
  }

  /** Opens the tail; `resume` after a lost connection keeps the counts. */
  private openTail(resume = false): void {
    this.closeTail();
    if (!resume) {
      this.liveReceived = 0;
      this.liveDropped = 0;
      this.liveRetries = 0;
    }
    this.liveKeep = Math.max(LIVE_KEEP, this.table.length);
    const newest = this.table.newest;
    // Lines after the newest shown; for an absolute range in the past, from now on.
    const start = this.relative && newest ? (BigInt(newest.ts) + 1n).toString() : msToNs(Date.now());
    const query = this.query;
    // The backlog since the newest shown row: as many lines as one request may return, so
    // that what arrived while the page loaded is not cut.
    const tail = new LiveTail(query, start, maxEntries, {
      onRows: (rows: LogRow[]) => {
        if (this.tail !== tail) return;
        this.table.setMessage('');
        this.table.prependLive(rows);
        this.liveReceived += rows.length;
        if (this.total !== null) this.total += rows.length;
        // Never while a page is loading below (its rows would land after a gap).
        if (!this.loadingMore && this.table.trimTo(this.liveKeep) > 0) this.exhausted = false;
        this.updateCount();
        this.renderLive('live');
      },
      onDropped: (n: number) => {
        if (this.tail !== tail) return;
        this.liveDropped += n;
        this.renderLive('live');
      },
      onState: (state: TailState, message?: string, retry?: boolean) => {
        if (this.tail !== tail) return;
        if (state === 'error' && retry && this.liveWanted) {
          // Lost (a server restart, a network blip): open again, from the newest row shown.
          this.tail = null;
          const delayMs = Math.min(30_000, 1000 * 2 ** this.liveRetries++);
          this.renderLive('error', `${message ?? 'disconnected'}; reconnecting in ${delayMs / 1000} s`);
          this.liveTimer = window.setTimeout(() => {
            if (this.liveWanted && this.tail === null) this.openTail(true);
          }, delayMs);
        } else if (state === 'error' || (state === 'closed' && message)) {
          this.tail = null;
          this.liveWanted = false;
          this.renderLive('error', message);
        } else if (state !== 'closed') {
          if (state === 'live') this.liveRetries = 0;
          this.renderLive(state);
        }
      },
    });
    this.tail = tail;
    this.renderLive('connecting');
  }

  private closeTail(): void {
    clearTimeout(this.liveTimer);
    const t = this.tail;
    this.tail = null;
    t?.close();
  }

  private renderLive(state: TailState | 'off', message?: string): void {
    const on = state === 'live' || state === 'connecting';
    this.liveButton.setAttribute('aria-pressed', String(on));
    this.liveButton.classList.toggle('on', on);
    this.liveStatus.hidden = false;
    this.liveStatus.setAttribute('data-lines', String(this.liveReceived));
    this.liveStatus.classList.toggle('error', state === 'error');
    const n =
      `${formatInt(this.liveReceived)} new line${this.liveReceived === 1 ? '' : 's'}` +
      (this.liveDropped ? ` (${formatInt(this.liveDropped)}+ dropped by the server)` : '');
    this.liveStatus.textContent =
      state === 'connecting'
        ? 'Connecting…'
        : state === 'live'
          ? n
          : state === 'error'
            ? `Live tail stopped: ${message ?? 'disconnected'}`
            : `Paused · ${n}`;
  }
}
