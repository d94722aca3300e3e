// Log rows: merging a streams answer into one time-ordered list, and the paging cursor of
// a backward query. Pure functions, unit-tested in test/rows.test.mjs.

import type { EntryMetadata, Labels, Stream } from './api';

export interface LogRow {
  ts: string; // nanoseconds since the epoch, decimal
  line: string;
  labels: Labels; // stream labels
  metadata: Labels | null; // structured metadata (attributes, pattern_id)
  parsed: Labels | null; // labels a parser extracted
  // View state, kept on the row so it survives re-rendering and index shifts.
  expanded?: boolean;
  extra?: number; // height of the expanded details, px
}

/** Compares nanosecond strings numerically (no BigInt: length first, then text). */
export function compareNs(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function toLabels(v: EntryMetadata['parsed']): Labels | null {
  if (!v) return null;
  if (Array.isArray(v)) {
    const out: Labels = {};
    for (const p of v) out[p.name] = p.value;
    return Object.keys(out).length ? out : null;
  }
  return Object.keys(v).length ? v : null;
}

/** All streams' values as rows, newest first (or oldest first with `forward`). */
export function streamsToRows(streams: Stream[], forward = false): LogRow[] {
  const rows: LogRow[] = [];
  for (const s of streams) {
    for (const v of s.values) {
      const meta = v.length > 2 ? (v[2] as EntryMetadata) : null;
      rows.push({
        ts: v[0],
        line: v[1],
        labels: s.stream,
        metadata: meta ? toLabels(meta.structuredMetadata) : null,
        parsed: meta ? toLabels(meta.parsed) : null,
      });
    }
  }
  rows.sort(forward ? (a, b) => compareNs(a.ts, b.ts) : (a, b) => compareNs(b.ts, a.ts));
  return rows;
}

/** Identity of an entry for de-duplication across pages: time, line and stream. */
export function rowKey(r: LogRow): string {
  let k = r.ts + '\u0000' + r.line;
  for (const name of Object.keys(r.labels).sort()) k += '\u0000' + name + '=' + r.labels[name];
  return k;
}

/** Adds one nanosecond to a decimal string. */
export function nsPlusOne(ns: string): string {
  return (BigInt(ns) + 1n).toString();
}

export interface PageCursor {
  end: string; // the next request's `end` (exclusive)
  seen: Map<string, number>; // entries at the oldest timestamp already shown, by rowKey
  oldest: string;
}

/**
 * Where the next backward page starts: `end` = oldest shown + 1 ns, so entries sharing
 * that timestamp come again; `seen` counts the ones already shown, to drop them.
 * `rows` is newest first.
 */
export function nextCursor(rows: readonly LogRow[], rangeEnd: string): PageCursor {
  if (rows.length === 0) return { end: rangeEnd, seen: new Map(), oldest: '' };
  const oldest = rows[rows.length - 1].ts;
  const seen = new Map<string, number>();
  for (let i = rows.length - 1; i >= 0 && rows[i].ts === oldest; i--) {
    const k = rowKey(rows[i]);
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return { end: nsPlusOne(oldest), seen, oldest };
}

/** The page's rows without the ones the cursor says were already shown. */
export function dropSeen(page: readonly LogRow[], cursor: PageCursor): LogRow[] {
  if (cursor.seen.size === 0) return page.slice();
  const left = new Map(cursor.seen);
  const out: LogRow[] = [];
  for (const r of page) {
    if (r.ts === cursor.oldest) {
      const k = rowKey(r);
      const n = left.get(k) ?? 0;
      if (n > 0) {
        left.set(k, n - 1);
        continue;
      }
    }
    out.push(r);
  }
  return out;
}
