// Number, size and time formatting for display.

const intFmt = new Intl.NumberFormat('en-US');

/** 1234567 → `1,234,567`. */
export function formatInt(n: number): string {
  return intFmt.format(Math.round(n));
}

/** 12345 → `12.3 kB` (decimal units, as Loki's stats). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}`;
}

/** Milliseconds for a stats line: `0.8 ms`, `12 ms`, `1.24 s`. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Compact counts for facets: 980, 12.3k, 4.5M. */
export function formatCompact(n: number): string {
  if (n < 1000) return String(Math.round(n));
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)}k`;
  if (n < 1e9) return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)}M`;
  return `${(n / 1e9).toFixed(1)}G`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A nanosecond timestamp string → `2026-11-30 13:05:07.123` in local time. */
export function formatNsLocal(ns: string): string {
  const ms = nsToMs(ns);
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** A nanosecond timestamp string → epoch milliseconds (integer part). */
export function nsToMs(ns: string): number {
  return ns.length > 6 ? Number(ns.slice(0, -6)) : 0;
}

/** `12 min ago`, `3 h ago`, `in 5 s` relative to `nowMs`. */
export function formatAgo(ms: number, nowMs: number): string {
  const d = Math.round((nowMs - ms) / 1000);
  const a = Math.abs(d);
  let s: string;
  if (a < 60) s = `${a} s`;
  else if (a < 3600) s = `${Math.floor(a / 60)} min`;
  else if (a < 86400) s = `${Math.floor(a / 3600)} h ${Math.floor((a % 3600) / 60)} min`;
  else s = `${Math.floor(a / 86400)} d ${Math.floor((a % 86400) / 3600)} h`;
  return d >= 0 ? `${s} ago` : `in ${s}`;
}

/** Seconds as a short duration: 90 → `1m30s`, 3600 → `1h`. */
export function formatSeconds(sec: number): string {
  if (sec === 0) return '0s';
  const parts: string[] = [];
  let s = sec;
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
  }
  if (s > 0) parts.push(`${Number.isInteger(s) ? s : s.toFixed(3)}s`);
  return parts.join('');
}
