// Query history: the last 50 distinct queries run, newest first, kept in localStorage.

export const HISTORY_MAX = 50;
const KEY = 'lode.queryHistory';

/** The list after running `q`: it moves to the front, duplicates and blanks dropped. */
export function pushHistory(list: readonly string[], q: string, max = HISTORY_MAX): string[] {
  const t = q.trim();
  if (t === '') return list.slice(0, max);
  return [t, ...list.filter((x) => x !== t)].slice(0, max);
}

export function loadHistory(): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function saveHistory(list: readonly string[]): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    // Storage full or disabled: history is a convenience.
  }
}

export function rememberQuery(q: string): string[] {
  const list = pushHistory(loadHistory(), q);
  saveHistory(list);
  return list;
}
