// The results table, virtualised: only the rows in view (plus an overscan) exist in the DOM,
// absolutely positioned. Rows are ROW_HEIGHT tall; an expanded row adds the measured height
// of its details, kept on the row (few rows are expanded, so offsets are computed from the
// sorted list of expanded rows instead of an array over every row).
//
// Rows live in two arrays so that neither a new page (older rows, at the bottom) nor a live
// line (newer, at the top) moves the others: `live` holds tailed rows oldest first (its end
// is the top of the table), `body` the query's rows newest first.

import { h } from './dom';
import { formatNsLocal } from './format';
import type { Labels } from './api';
import type { LogRow } from './rows';

export const ROW_HEIGHT = 24;
const OVERSCAN = 12;
const NEAR_END_ROWS = 150;
const MESSAGE_PREVIEW = 400; // characters of a line shown in the one-line cell

export interface TableHandlers {
  /** A value was clicked: a level chip (key `level`) or a detail value. */
  /** A value was clicked: keep only lines with it, or (`exclude`) drop them. */
  onFilter(key: string, value: string, exclude?: boolean): void;
  /** The view reached the last rows: load more. */
  onNearEnd(): void;
}

interface Slot {
  live: boolean;
  i: number; // index in its array
}

export class ResultsTable {
  readonly root: HTMLElement;
  /** data-testid=results: the scroll container. */
  readonly scroller: HTMLElement;
  private readonly sizer: HTMLElement;
  private readonly emptyEl: HTMLElement;
  private live: LogRow[] = [];
  private body: LogRow[] = [];
  private readonly slots = new WeakMap<LogRow, Slot>();
  private expanded: LogRow[] = [];
  private readonly rendered = new Map<LogRow, HTMLElement>();
  private readonly rowOf = new WeakMap<HTMLElement, LogRow>();
  private frame = 0;
  private width = 0;
  private readonly resize: ResizeObserver;

  constructor(private readonly handlers: TableHandlers) {
    this.sizer = h('div', { class: 'rt-sizer' });
    this.emptyEl = h('div', { class: 'rt-empty', hidden: true });
    this.scroller = h('div', { class: 'rt-scroll', 'data-testid': 'results', tabindex: 0 }, this.sizer, this.emptyEl);
    const header = h(
      'div',
      { class: 'rt-header rt-grid', 'aria-hidden': 'true' },
      h('span', { class: 'c-time' }, 'Time'),
      h('span', { class: 'c-level' }, 'Level'),
      h('span', { class: 'c-service' }, 'Service'),
      h('span', { class: 'c-msg' }, 'Message'),
    );
    this.root = h('div', { class: 'rt' }, header, this.scroller);
    this.scroller.style.setProperty('--row-h', `${ROW_HEIGHT}px`);
    this.scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.scroller.addEventListener('click', (e) => this.onClick(e));
    this.resize = new ResizeObserver(() => {
      const w = this.scroller.clientWidth;
      if (w !== this.width) {
        this.width = w;
        // Expanded rows re-wrap: measure them again.
        for (const r of this.expanded) r.extra = undefined;
        for (const [r, el] of this.rendered) if (r.expanded) el.remove(), this.rendered.delete(r);
      }
      this.schedule();
    });
    this.resize.observe(this.scroller);
  }

  destroy(): void {
    this.resize.disconnect();
    cancelAnimationFrame(this.frame);
  }

  get length(): number {
    return this.live.length + this.body.length;
  }

  /** The query's rows, newest first (the paging cursor reads the oldest). */
  get bodyRows(): readonly LogRow[] {
    return this.body;
  }

  get newest(): LogRow | undefined {
    return this.live.length ? this.live[this.live.length - 1] : this.body[0];
  }

  /** Replaces every row and scrolls to the top. */
  setRows(rows: LogRow[]): void {
    for (const el of this.rendered.values()) el.remove();
    this.rendered.clear();
    this.live = [];
    this.body = [];
    this.expanded = [];
    this.scroller.scrollTop = 0;
    this.appendRows(rows);
  }

  /** Older rows, below the others. */
  appendRows(rows: readonly LogRow[]): void {
    for (const r of rows) {
      this.slots.set(r, { live: false, i: this.body.length });
      this.body.push(r);
    }
    this.schedule();
  }

  /** Newer rows (newest first), above the others; the view stays put unless at the top. */
  prependLive(rowsNewestFirst: readonly LogRow[]): void {
    if (rowsNewestFirst.length === 0) return;
    for (let k = rowsNewestFirst.length - 1; k >= 0; k--) {
      const r = rowsNewestFirst[k];
      this.slots.set(r, { live: true, i: this.live.length });
      this.live.push(r);
    }
    if (this.scroller.scrollTop > 0) this.scroller.scrollTop += rowsNewestFirst.length * ROW_HEIGHT;
    this.schedule();
  }

  /** Drops the oldest rows beyond `max`; returns how many were dropped. */
  trimTo(max: number): number {
    let drop = this.length - max;
    if (drop <= 0) return 0;
    const dropped = drop;
    const fromBody = Math.min(drop, this.body.length);
    if (fromBody > 0) {
      this.body.length -= fromBody;
      drop -= fromBody;
    }
    if (drop > 0) {
      this.live.splice(0, drop);
      this.live.forEach((r, i) => (this.slots.get(r)!.i = i));
    }
    this.expanded = this.expanded.filter((r) => this.indexOf(r) >= 0);
    for (const [r, el] of this.rendered) {
      if (this.indexOf(r) < 0) {
        el.remove();
        this.rendered.delete(r);
      }
    }
    this.schedule();
    return dropped;
  }

  /** A message in place of rows (no results, an error); empty text hides it. */
  setMessage(text: string, isError = false): void {
    this.emptyEl.hidden = text === '';
    this.emptyEl.textContent = text;
    this.emptyEl.classList.toggle('error', isError);
  }

  private rowAt(i: number): LogRow {
    const n = this.live.length;
    return i < n ? this.live[n - 1 - i] : this.body[i - n];
  }

  /** The row's index in the table, or -1 when it was trimmed. */
  private indexOf(r: LogRow): number {
    const s = this.slots.get(r);
    if (!s) return -1;
    if (s.live) return this.live[s.i] === r ? this.live.length - 1 - s.i : -1;
    return this.body[s.i] === r ? this.live.length + s.i : -1;
  }

  /** Expanded rows with their indexes, in table order. */
  private expandedIndexes(): { i: number; extra: number }[] {
    return this.expanded
      .map((r) => ({ i: this.indexOf(r), extra: r.extra ?? 0 }))
      .filter((e) => e.i >= 0)
      .sort((a, b) => a.i - b.i);
  }

  private static offsetOf(i: number, exp: { i: number; extra: number }[]): number {
    let y = i * ROW_HEIGHT;
    for (const e of exp) {
      if (e.i >= i) break;
      y += e.extra;
    }
    return y;
  }

  private static indexAt(y: number, exp: { i: number; extra: number }[]): number {
    let acc = 0;
    for (const e of exp) {
      const top = e.i * ROW_HEIGHT + acc;
      if (y < top) break;
      if (y < top + ROW_HEIGHT + e.extra) return e.i;
      acc += e.extra;
    }
    return Math.floor((y - acc) / ROW_HEIGHT);
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Renders now (the view calls this after a load, so tests see rows without a frame). */
  render(): void {
    for (let pass = 0; pass < 3; pass++) if (!this.renderPass()) break;
  }

  /** One layout pass; true when an expanded row was measured and layout must run again. */
  private renderPass(): boolean {
    const n = this.length;
    const exp = this.expandedIndexes();
    let extraTotal = 0;
    for (const e of exp) extraTotal += e.extra;
    this.sizer.style.height = `${n * ROW_HEIGHT + extraTotal}px`;
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 600;
    const first = Math.max(0, ResultsTable.indexAt(top, exp) - OVERSCAN);
    const last = Math.min(n - 1, ResultsTable.indexAt(top + height, exp) + OVERSCAN);
    const keep = new Set<LogRow>();
    let y = ResultsTable.offsetOf(first, exp);
    let measured = false;
    for (let i = first; i <= last; i++) {
      const r = this.rowAt(i);
      keep.add(r);
      let el = this.rendered.get(r);
      if (!el) {
        el = this.build(r);
        this.rendered.set(r, el);
        this.rowOf.set(el, r);
        this.scroller.appendChild(el);
      }
      el.style.transform = `translateY(${y}px)`;
      if (r.expanded && r.extra === undefined) {
        r.extra = Math.max(0, el.offsetHeight - ROW_HEIGHT);
        measured = true;
      }
      y += ROW_HEIGHT + (r.expanded ? r.extra ?? 0 : 0);
    }
    for (const [r, el] of this.rendered) {
      if (!keep.has(r)) {
        el.remove();
        this.rendered.delete(r);
      }
    }
    if (!measured && n > 0 && last >= n - NEAR_END_ROWS) this.handlers.onNearEnd();
    return measured;
  }

  private build(r: LogRow): HTMLElement {
    const level = r.labels.level || 'unknown';
    const service = r.labels.service ?? '';
    const msg = r.line.length > MESSAGE_PREVIEW ? r.line.slice(0, MESSAGE_PREVIEW) + '…' : r.line;
    const row = h(
      'div',
      {
        class: `rt-row lvl-${level}${r.expanded ? ' expanded' : ''}`,
        'data-testid': 'result-row',
        'data-ts': r.ts,
        'data-level': level,
        'aria-expanded': r.expanded ? 'true' : 'false',
      },
      h(
        'div',
        { class: 'rt-line rt-grid' },
        timeCell(r.ts),
        h(
          'span',
          { class: 'c-level' },
          h('span', { class: `chip lvl-${level}`, 'data-testid': 'cell-level', title: `Filter level="${level}"` }, level),
        ),
        h('span', { class: 'c-service', 'data-testid': 'cell-service', title: service }, service),
        h('span', { class: 'c-msg', 'data-testid': 'cell-message' }, msg),
      ),
    );
    if (r.expanded) row.appendChild(this.details(r));
    return row;
  }

  private details(r: LogRow): HTMLElement {
    const group = (title: string, labels: Labels | null) => {
      if (!labels) return null;
      const keys = Object.keys(labels).sort();
      if (keys.length === 0) return null;
      const grid = h('div', { class: 'kv' });
      for (const k of keys) {
        grid.append(
          h('span', { class: 'kv-k' }, k),
          h(
            'span',
            { class: 'kv-cell' },
            h(
              'span',
              {
                class: labels[k] === '' ? 'kv-v kv-empty' : 'kv-v',
                'data-testid': 'detail-value',
                'data-key': k,
                'data-value': labels[k],
                title: 'Show only lines with this value',
              },
              labels[k] === '' ? '""' : labels[k],
            ),
            h(
              'button',
              {
                type: 'button',
                class: 'kv-exclude',
                'data-testid': 'detail-exclude',
                'data-key': k,
                'data-value': labels[k],
                title: 'Filter out lines with this value',
                'aria-label': `Filter out ${k}=${labels[k]}`,
              },
              '\u2212',
            ),
          ),
        );
      }
      return h('section', { class: 'kv-group' }, h('h4', null, title), grid);
    };
    return h(
      'div',
      { class: 'rt-details', 'data-testid': 'row-details' },
      h(
        'div',
        { class: 'rt-msg-full' },
        h(
          'div',
          { class: 'rt-msg-head' },
          h('span', { class: 'rt-ts' }, `${formatNsLocal(r.ts)} · ${r.ts} ns`),
          h('button', { class: 'btn btn-small rt-copy', type: 'button', title: 'Copy the message' }, 'Copy'),
        ),
        h('pre', null, r.line),
      ),
      h(
        'div',
        { class: 'kv-groups' },
        group('Stream labels', r.labels),
        group('Structured metadata', r.metadata),
        group('Parsed', r.parsed),
      ),
    );
  }

  private onClick(e: MouseEvent): void {
    const target = e.target as Element;
    const rowEl = target.closest<HTMLElement>('[data-testid="result-row"]');
    if (!rowEl) return;
    const r = this.rowOf.get(rowEl);
    if (!r) return;
    const chip = target.closest<HTMLElement>('[data-testid="cell-level"]');
    if (chip) {
      this.handlers.onFilter('level', r.labels.level || 'unknown');
      return;
    }
    const value = target.closest<HTMLElement>('[data-testid="detail-value"]');
    if (value) {
      this.handlers.onFilter(value.dataset.key!, value.dataset.value!);
      return;
    }
    const exclude = target.closest<HTMLElement>('[data-testid="detail-exclude"]');
    if (exclude) {
      this.handlers.onFilter(exclude.dataset.key!, exclude.dataset.value!, true);
      return;
    }
    if (target.closest('.rt-copy')) {
      copyText(r.line).then(
        () => flash(target as HTMLElement, 'Copied'),
        () => flash(target as HTMLElement, 'Copy failed'),
      );
      return;
    }
    if (target.closest('[data-testid="row-details"]')) return; // selecting text in the details
    if (String(window.getSelection() ?? '') !== '') return; // a drag to select text
    this.toggle(r);
  }

  private toggle(r: LogRow): void {
    r.expanded = !r.expanded;
    r.extra = undefined;
    if (r.expanded) this.expanded.push(r);
    else this.expanded = this.expanded.filter((x) => x !== r);
    const el = this.rendered.get(r);
    if (el) {
      el.remove();
      this.rendered.delete(r);
    }
    this.render();
  }
}

/** `2026-11-30 13:05:07.123`, the date in its own span (narrow windows hide it). */
function timeCell(ts: string): HTMLElement {
  const t = formatNsLocal(ts);
  return h('span', { class: 'c-time', 'data-testid': 'cell-time', title: t }, h('span', { class: 'c-date' }, t.slice(0, 11)), t.slice(11));
}

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Permission refused: try the old way.
    }
  }
  // Plain http on another host (no Clipboard API): the old way.
  const ta = h('textarea', { class: 'offscreen' });
  ta.value = text;
  document.body.appendChild(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  if (!ok) throw new Error('copy refused');
}

function flash(button: HTMLElement, text: string): void {
  const old = button.textContent;
  button.textContent = text;
  setTimeout(() => (button.textContent = old), 1200);
}
