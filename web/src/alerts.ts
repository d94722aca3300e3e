// Alerts: the loaded rules with their groups and counts, and the pending and firing alerts
// with since when. Refreshed every 5 s while the tab is open.

import { fetchAlerts, fetchRules, isAbort, track, type Alert, type Rule, type RuleSet } from './api';
import { h, clear } from './dom';
import { formatAgo, formatInt, formatSeconds } from './format';
import { formatLocal } from './timerange';
import type { AppState } from './router';
import type { AppContext, ViewInstance } from './view';

const REFRESH_MS = 5000;

function labelChips(labels: Record<string, string>, skip: string[] = []): HTMLElement {
  const el = h('span', { class: 'label-chips' });
  for (const k of Object.keys(labels).sort()) {
    if (skip.includes(k)) continue;
    el.appendChild(h('span', { class: 'label-chip' }, h('span', { class: 'k' }, k), '=', labels[k]));
  }
  return el;
}

function ruleSummary(r: Rule): string {
  const parts: string[] = [];
  if (r.type === 'threshold') {
    parts.push(`${r.rate ? 'rate' : 'count'} over ${formatSeconds(r.window_seconds ?? 0)} ${r.condition ?? ''}`.trim());
  }
  if (r.for_seconds > 0) parts.push(`for ${formatSeconds(r.for_seconds)}`);
  if (r.by.length) parts.push(`by ${r.by.join(', ')}`);
  return parts.join(' · ');
}

export class AlertsView implements ViewInstance {
  readonly root: HTMLElement;
  private readonly rulesBody: HTMLElement;
  private readonly alertsBody: HTMLElement;
  private readonly rulesPanel: HTMLElement;
  private readonly alertsPanel: HTMLElement;
  private readonly status: HTMLElement;
  private readonly empty: HTMLElement;
  private timer = 0;
  private abort: AbortController | null = null;
  private started = false;

  constructor(private readonly ctx: AppContext) {
    this.rulesBody = h('tbody');
    this.alertsBody = h('tbody');
    this.status = h('span', { class: 'refresh-status' });
    this.empty = h(
      'div',
      { class: 'panel-msg', 'data-testid': 'alerts-empty', hidden: true },
    );
    this.alertsPanel = h(
      'section',
      { class: 'panel' },
      h('h2', null, 'Active alerts'),
      h(
        'div',
        { class: 'table-scroll' },
        h(
          'table',
          { class: 'data-table alerts-table', 'data-testid': 'alerts-table' },
          h(
            'thead',
            null,
            h('tr', null, h('th', null, 'State'), h('th', null, 'Rule'), h('th', null, 'Labels'), h('th', { class: 'num hide-narrow' }, 'Value'), h('th', null, 'Since'), h('th', { class: 'hide-narrow' }, 'Summary')),
          ),
          this.alertsBody,
        ),
      ),
    );
    this.rulesPanel = h(
      'section',
      { class: 'panel' },
      h('h2', null, 'Rules'),
      h(
        'div',
        { class: 'table-scroll' },
        h(
          'table',
          { class: 'data-table rules-table', 'data-testid': 'rules-table' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'Rule'),
              h('th', { class: 'hide-narrow' }, 'Type'),
              h('th', null, 'Query'),
              h('th', null, 'Condition'),
              h('th', { class: 'num hide-narrow' }, 'Groups'),
              h('th', { class: 'num hide-narrow' }, 'Pending'),
              h('th', { class: 'num' }, 'Firing'),
              h('th', { class: 'num hide-narrow' }, 'Matched'),
            ),
          ),
          this.rulesBody,
        ),
      ),
    );
    this.rulesBody.addEventListener('click', (e) => {
      const q = (e.target as Element).closest<HTMLElement>('[data-query]');
      if (q) this.ctx.navigate({ view: 'explore', q: q.dataset.query! });
    });
    this.root = h(
      'div',
      { class: 'view alerts' },
      h('div', { class: 'alerts-head' }, h('h1', null, 'Alerts'), this.status),
      this.empty,
      this.alertsPanel,
      this.rulesPanel,
    );
  }

  update(_state: AppState, force: boolean): void {
    if (!this.started || force) {
      this.started = true;
      this.refresh();
    }
  }

  destroy(): void {
    clearTimeout(this.timer);
    this.abort?.abort();
    this.abort = null; // a request finishing now does not schedule the next one
  }

  private refresh(): void {
    clearTimeout(this.timer);
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    void track(
      Promise.all([fetchRules({ signal: ac.signal }), fetchAlerts({ signal: ac.signal })]).then(
        ([ruleSet, alerts]) => this.render(ruleSet, alerts),
        (e) => {
          if (isAbort(e)) return;
          this.status.textContent = `Could not load: ${e instanceof Error ? e.message : String(e)}`;
          this.status.classList.add('error');
        },
      ),
    ).finally(() => {
      if (this.abort === ac) this.timer = window.setTimeout(() => this.refresh(), REFRESH_MS);
    });
  }

  private render({ enabled, rules }: RuleSet, alerts: Alert[]): void {
    const now = Date.now();
    this.status.classList.remove('error');
    this.status.textContent = `Updated ${new Date(now).toLocaleTimeString()} · every ${REFRESH_MS / 1000} s`;
    const none = rules.length === 0;
    this.empty.hidden = !none;
    this.empty.textContent = enabled
      ? 'The rules file has no rules. See docs/ALERTING.md.'
      : 'No alert rules are loaded: the server was started without --rules (or alerting.rules in ' +
        'its config). See docs/ALERTING.md.';
    this.rulesPanel.hidden = none;
    this.alertsPanel.hidden = none;

    clear(this.alertsBody);
    const order = (s: string) => (s === 'firing' ? 0 : s === 'pending' ? 1 : 2);
    const sorted = alerts.slice().sort((a, b) => order(a.state) - order(b.state) || a.rule.localeCompare(b.rule) || a.activeAt.localeCompare(b.activeAt));
    if (sorted.length === 0) {
      this.alertsBody.appendChild(h('tr', { class: 'empty-row' }, h('td', { colspan: 6 }, 'No pending or firing alerts.')));
    }
    for (const a of sorted) {
      const since = Date.parse(a.activeAt);
      this.alertsBody.appendChild(
        h(
          'tr',
          { class: `alert-row state-${a.state}`, 'data-testid': 'alert-row', 'data-rule': a.rule, 'data-state': a.state },
          h('td', null, h('span', { class: `state-chip state-${a.state}` }, a.state)),
          h('td', { class: 'strong' }, a.rule),
          h('td', null, labelChips(a.labels, ['alertname'])),
          h('td', { class: 'num hide-narrow' }, formatValue(a.value)),
          h(
            'td',
            { class: 'since', title: a.activeAt },
            Number.isNaN(since) ? a.activeAt : h('span', null, formatLocal(since), h('span', { class: 'ago' }, formatAgo(since, now))),
          ),
          h(
            'td',
            { class: 'summary hide-narrow' },
            a.annotations.summary ?? a.annotations.description ?? '',
            a.sample ? h('details', null, h('summary', null, 'sample'), h('pre', null, a.sample)) : null,
          ),
        ),
      );
    }

    clear(this.rulesBody);
    for (const r of rules) {
      this.rulesBody.appendChild(
        h(
          'tr',
          { class: 'rule-row', 'data-testid': 'rule-row', 'data-rule': r.name },
          h('td', { class: 'strong' }, r.name, r.tenant !== 'default' ? h('span', { class: 'muted' }, ` (${r.tenant})`) : null),
          h('td', { class: 'hide-narrow' }, r.type),
          h('td', { class: 'query-cell' }, h('code', { 'data-query': r.query, title: 'Open in Explore' }, r.query)),
          h('td', null, ruleSummary(r)),
          h('td', { class: 'num hide-narrow' }, formatInt(r.groups)),
          h('td', { class: `num hide-narrow${r.pending ? ' state-pending-text' : ''}` }, formatInt(r.pending)),
          h('td', { class: `num${r.firing ? ' state-firing-text' : ''}` }, formatInt(r.firing)),
          h('td', { class: 'num hide-narrow' }, formatInt(r.matched)),
        ),
      );
    }
  }
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? formatInt(v) : v.toFixed(v < 10 ? 2 : 1);
}
