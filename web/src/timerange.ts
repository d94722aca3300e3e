// Time ranges: relative (`now-1h` … `now`) or absolute (epoch milliseconds), as they live in
// the URL; resolving them to instants; histogram steps. Pure functions, unit-tested in
// test/timerange.test.mjs.

export interface RangeSpec {
  from: string; // `now`, `now-15m`, or epoch milliseconds
  to: string;
}

export interface ResolvedRange {
  fromMs: number;
  toMs: number; // exclusive
}

export interface Preset {
  key: string; // data-range of the option
  label: string;
}

export const PRESETS: readonly Preset[] = [
  { key: '5m', label: 'Last 5 minutes' },
  { key: '15m', label: 'Last 15 minutes' },
  { key: '1h', label: 'Last 1 hour' },
  { key: '6h', label: 'Last 6 hours' },
  { key: '24h', label: 'Last 24 hours' },
  { key: '7d', label: 'Last 7 days' },
  { key: '30d', label: 'Last 30 days' },
];

export const DEFAULT_RANGE: RangeSpec = { from: 'now-1h', to: 'now' };

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** `90s`, `15m`, `1h30m`, `7d` → milliseconds; null when it is not a duration. */
export function parseDurationMs(text: string): number | null {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
  let total = 0;
  let i = 0;
  if (text === '') return null;
  while (i < text.length) {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) return null;
    total += Number(m[1]) * UNIT_MS[m[2]];
    i = re.lastIndex;
  }
  return total;
}

/** The spec of a preset key: `1h` → now-1h … now. */
export function presetRange(key: string): RangeSpec {
  return { from: `now-${key}`, to: 'now' };
}

/** The preset a spec is, if any (`now-1h`/`now` → `1h`). */
export function presetKey(spec: RangeSpec): string | null {
  if (spec.to !== 'now' || !spec.from.startsWith('now-')) return null;
  const key = spec.from.slice(4);
  return PRESETS.some((p) => p.key === key) ? key : null;
}

export function isRelative(spec: RangeSpec): boolean {
  return spec.to.startsWith('now');
}

/** One end of a range at `nowMs`: `now`, `now-5m`, epoch ms (or ns/s by length), RFC 3339. */
export function resolveTime(expr: string, nowMs: number): number | null {
  const t = expr.trim();
  if (t === 'now') return nowMs;
  const rel = /^now-(.+)$/.exec(t);
  if (rel) {
    const d = parseDurationMs(rel[1]);
    return d === null ? null : nowMs - d;
  }
  if (/^-?\d+$/.test(t)) {
    const digits = t.replace('-', '').length;
    if (digits >= 17) return Math.floor(Number(BigInt(t) / 1_000_000n)); // nanoseconds
    if (digits <= 10) return Number(t) * 1000; // seconds
    return Number(t);
  }
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

/** Both ends; falls back to the default range for ends that do not parse or are reversed. */
export function resolveRange(spec: RangeSpec, nowMs: number): ResolvedRange {
  let fromMs = resolveTime(spec.from, nowMs);
  let toMs = resolveTime(spec.to, nowMs);
  if (fromMs === null || toMs === null || fromMs >= toMs) {
    fromMs = nowMs - 3_600_000;
    toMs = nowMs;
  }
  return { fromMs, toMs };
}

/** Milliseconds as a decimal nanosecond string (for `start`/`end`). */
export function msToNs(ms: number): string {
  return (BigInt(Math.round(ms)) * 1_000_000n).toString();
}

/** The nice step values of the histogram, in seconds. */
export const NICE_STEPS: readonly number[] = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];

/** The histogram step for a range: the smallest nice step giving at most ~`buckets` bars. */
export function chooseStep(rangeSeconds: number, buckets = 120): number {
  const raw = rangeSeconds / buckets;
  for (const s of NICE_STEPS) if (s >= raw) return s;
  return Math.ceil(raw / 86400) * 86400;
}

/** Seconds as a LogQL duration: 30 → `30s`, 300 → `5m`, 7200 → `2h`, 86400 → `1d`. */
export function formatStep(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/**
 * The evaluation times (seconds) of a histogram over [fromMs, toMs) with `step`: the value
 * at t counts (t - step, t], so bucket k spans [t - step, t). Aligned to multiples of step.
 */
export function histogramPoints(
  fromMs: number,
  toMs: number,
  step: number,
): { start: number; end: number; count: number } {
  const stepMs = step * 1000;
  const start = (Math.floor(fromMs / stepMs) + 1) * step;
  const end = Math.max(start, Math.ceil(toMs / stepMs) * step);
  return { start, end, count: Math.round((end - start) / step) + 1 };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `2026-11-30T13:05` (local time) for a datetime-local input. */
export function toDatetimeLocal(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** A datetime-local input's value (local time) → epoch ms, or null when empty or invalid. */
export function fromDatetimeLocal(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(value);
  if (!m) return null;
  const d = new Date(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] ?? 0),
    Number((m[7] ?? '0').padEnd(3, '0')),
  );
  const t = d.getTime();
  return Number.isNaN(t) ? null : t;
}

/** `2026-11-30 13:05:07` in local time. */
export function formatLocal(ms: number, withSeconds = true): string {
  const d = new Date(ms);
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return withSeconds ? `${base}:${pad(d.getSeconds())}` : base;
}

/** What the range button shows: `Last 1 hour`, `Last 90m`, or `2026-11-30 13:00:00 → 13:10:00`. */
export function rangeLabel(spec: RangeSpec, nowMs: number): string {
  const key = presetKey(spec);
  if (key) return PRESETS.find((p) => p.key === key)!.label;
  if (spec.to === 'now' && spec.from.startsWith('now-')) return `Last ${spec.from.slice(4)}`;
  const { fromMs, toMs } = resolveRange(spec, nowMs);
  const a = formatLocal(fromMs);
  const b = formatLocal(toMs);
  // Same day: show the date once.
  return a.slice(0, 10) === b.slice(0, 10) ? `${a} → ${b.slice(11)}` : `${a} → ${b}`;
}

/**
 * The range twice as long around the same middle, as Grafana's zoom out: never past now
 * (a range reaching now stays a relative one, `now-<span>` to `now`, so it keeps moving).
 */
export function zoomOut(fromMs: number, toMs: number, nowMs: number): RangeSpec {
  const span = Math.max(toMs - fromMs, 1000);
  const mid = fromMs + span / 2;
  let to = Math.round(mid + span);
  let from = Math.round(mid - span);
  if (to >= nowMs - 1000) {
    to = nowMs;
    from = nowMs - 2 * span;
    return { from: `now-${formatStep(Math.round((to - from) / 1000))}`, to: 'now' };
  }
  return { from: String(from), to: String(to) };
}

