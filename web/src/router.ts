// The app's state in the URL hash: `#/explore?q=...&from=now-1h&to=now`. Pure functions,
// unit-tested in test/router.test.mjs; main.ts listens to `hashchange`.

import { DEFAULT_RANGE } from './timerange';

export type View = 'explore' | 'patterns' | 'alerts';

export const VIEWS: readonly View[] = ['explore', 'patterns', 'alerts'];

export interface AppState {
  view: View;
  q: string;
  from: string;
  to: string;
}

export const DEFAULT_QUERY = '{}';

export function parseHash(hash: string): AppState {
  const h = hash.replace(/^#/, '');
  const qi = h.indexOf('?');
  const path = (qi < 0 ? h : h.slice(0, qi)).replace(/^\/+|\/+$/g, '');
  const params = new URLSearchParams(qi < 0 ? '' : h.slice(qi + 1));
  const view = (VIEWS as readonly string[]).includes(path) ? (path as View) : 'explore';
  return {
    view,
    q: params.get('q') ?? DEFAULT_QUERY,
    from: params.get('from') || DEFAULT_RANGE.from,
    to: params.get('to') || DEFAULT_RANGE.to,
  };
}

export function formatHash(s: AppState): string {
  const params = new URLSearchParams();
  params.set('q', s.q);
  params.set('from', s.from);
  params.set('to', s.to);
  // URLSearchParams writes spaces as '+'; %20 reads better in a shared link and is the same.
  return `#/${s.view}?${params.toString().replace(/\+/g, '%20')}`;
}

export function sameQuery(a: AppState, b: AppState): boolean {
  return a.q === b.q && a.from === b.from && a.to === b.to;
}
