// Lode's web UI: the shell (header, tabs) and hash routing between the views.

import { AlertsView } from './alerts';
import { settleInitialLoading } from './api';
import { h } from './dom';
import { ExploreView } from './explore';
import { installLevelColors } from './levels';
import { PatternsView } from './patterns';
import { formatHash, parseHash, sameQuery, VIEWS, type AppState, type View } from './router';
import type { AppContext, ViewInstance } from './view';

const TITLES: Record<View, string> = { explore: 'Explore', patterns: 'Patterns', alerts: 'Alerts' };

class App implements AppContext {
  private current: AppState;
  private view: ViewInstance | null = null;
  private viewName: View | null = null;
  private readonly main: HTMLElement;
  private readonly links = new Map<View, HTMLAnchorElement>();

  constructor(root: HTMLElement) {
    installLevelColors(document.documentElement);
    const nav = h('nav', { class: 'nav', 'aria-label': 'Views' });
    for (const v of VIEWS) {
      const a = h('a', { class: 'nav-link', 'data-testid': `nav-${v}`, href: `#/${v}` }, TITLES[v]);
      this.links.set(v, a);
      nav.appendChild(a);
    }
    const brand = h('a', { class: 'brand', href: '#/explore', title: 'Lode' }, h('span', { class: 'brand-mark' }), 'Lode');
    this.main = h('main', { class: 'main' });
    root.append(h('header', { class: 'header' }, brand, nav), this.main);

    this.current = parseHash(location.hash);
    // Make the default state visible in the URL without a history entry.
    const canonical = formatHash(this.current);
    if (location.hash !== canonical) history.replaceState(null, '', canonical);
    window.addEventListener('hashchange', () => this.route(parseHash(location.hash), false));
    this.route(this.current, true);
  }

  state(): AppState {
    return this.current;
  }

  navigate(patch: Partial<AppState>): void {
    const next = { ...this.current, ...patch };
    const now = parseHash(location.hash);
    if (now.view === next.view && sameQuery(now, next)) {
      this.route(next, true); // the same query again: run it again
    } else {
      location.hash = formatHash(next); // → hashchange → route
    }
  }

  private route(state: AppState, force: boolean): void {
    const prev = this.current;
    this.current = state;
    for (const [v, a] of this.links) {
      a.href = formatHash({ ...state, view: v });
      a.classList.toggle('active', v === state.view);
      if (v === state.view) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.title = `${TITLES[state.view]} · Lode`;
    if (this.viewName !== state.view || !this.view) {
      this.view?.destroy();
      this.main.replaceChildren();
      this.viewName = state.view;
      this.view =
        state.view === 'patterns' ? new PatternsView(this) : state.view === 'alerts' ? new AlertsView(this) : new ExploreView(this);
      this.main.appendChild(this.view.root);
      this.view.update(state, true);
    } else {
      this.view.update(state, force || !sameQuery(prev, state));
    }
    settleInitialLoading();
  }
}

new App(document.getElementById('app') ?? document.body);
