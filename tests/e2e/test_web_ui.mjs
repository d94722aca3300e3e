#!/usr/bin/env node
// End-to-end test of Lode's web UI: headless Chromium driven by playwright-core against a
// real `lode serve` fed by `lode gen`. Every number the UI shows is checked against the
// server's own query API; waits are on conditions, never on fixed sleeps.
//
//   node tests/e2e/test_web_ui.mjs --lode build/lode [--artifacts DIR] [--web-dir web/dist]
//
// Exit 0: pass, 1: fail, 77: skipped (no /usr/bin/chromium or playwright-core).
// Screenshots (NN-<step>.png, narrow*.png) and console.log land in the artifacts directory.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import {
  CHROMIUM, CHROMIUM_ARGS, SKIP, CheckFailed, LodeServer, check, checkEq, nowNs, poll,
} from './web_ui_harness.mjs';

const WAIT_MS = 30_000;
const DESKTOP = { width: 1400, height: 900 };
const NARROW = { width: 420, height: 800 };
const MAX_DOM_ROWS = 400;
const SEC = 1_000_000_000n;
const MAIN_LINES = 3000; // one a second: the last 50 minutes
const BIG_LINES = 110_000; // one every 27 ms: the last 50 minutes

// Threshold windows are long (30m) so that no alert changes state while the test runs.
const RULES_YAML = `
rules:
  - name: ServiceErrors            # firing for every service with an error
    type: threshold
    query: '{level="error"}'
    by: [service]
    window: 30m
    condition: "> 0"
    for: 0s
    annotations: {summary: '{{ $labels.service }} logged {{ $value }} errors'}
  - name: ErrorsPending            # holds, but waits an hour: pending
    type: threshold
    query: '{level="error"}'
    window: 30m
    condition: "> 0"
    for: 1h
  - name: ConnectionReset          # a pattern rule: firing
    type: pattern
    query: '{} |= "connection reset"'
    resolve_after: 1h
  - name: NoSuchService            # never matches: no alert
    type: threshold
    query: '{service="no-such-service"}'
    condition: "> 0"
`;

// ---- set-up ------------------------------------------------------------------------------

function skip(reason) {
  console.log(`SKIP: ${reason}`);
  process.exit(SKIP);
}

function options() {
  const { values } = parseArgs({
    options: { lode: { type: 'string' }, artifacts: { type: 'string' }, 'web-dir': { type: 'string' } },
  });
  if (!values.lode) {
    console.error('usage: node test_web_ui.mjs --lode PATH [--artifacts DIR] [--web-dir DIR]');
    process.exit(2);
  }
  const webDir = values['web-dir'] ? path.resolve(values['web-dir']) : null;
  if (webDir && !fs.existsSync(path.join(webDir, 'index.html'))) {
    console.error(`FAIL: --web-dir ${webDir} has no index.html (build it: node web/build.mjs --outdir ${webDir})`);
    process.exit(1);
  }
  return { lode: path.resolve(values.lode), artifacts: values.artifacts ? path.resolve(values.artifacts) : null, webDir };
}

function artifactsDir(given) {
  const dir = given ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lode-webui-artifacts-'));
  fs.mkdirSync(dir, { recursive: true });
  // What an earlier run left (its steps may have had other numbers) goes first.
  for (const f of fs.readdirSync(dir)) {
    if (f.endsWith('.png') || f === 'console.log') fs.rmSync(path.join(dir, f));
  }
  return dir;
}

function loadPlaywright() {
  if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} is missing (Debian's chromium package; scripts/setup.sh installs it)`);
  try {
    return createRequire(import.meta.url)('../clients/node_modules/playwright-core');
  } catch (e) {
    skip(`playwright-core is missing from tests/clients/node_modules (scripts/setup.sh installs it): ${e.message}`);
  }
}

// ---- small pure helpers -------------------------------------------------------------------

const tid = (id) => `[data-testid="${id}"]`;
const reEscape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const logqlString = (s) => JSON.stringify(s); // "..." with \" and \\ escaped, as LogQL reads it

/** A regex source matching `key="value"` (or another operator) inside the stream selector. */
const selectorMatcherRe = (key, value, op = '=') =>
  `^\\s*\\{[^}]*\\b${reEscape(key)}\\s*${reEscape(op)}\\s*${reEscape(logqlString(value))}[^}]*\\}`;
/** A regex source matching the label filter `| key = "value"`. */
const labelFilterRe = (key, value) => `\\|\\s*${reEscape(key)}\\s*=\\s*${reEscape(logqlString(value))}`;

function hashParams(hash) {
  const i = hash.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : hash.slice(i + 1));
}

function checkNewestFirst(rows) {
  for (let i = 1; i < rows.length; i++) {
    check(BigInt(rows[i - 1].ts) >= BigInt(rows[i].ts),
      `rows are not newest first: row ${i - 1} at ${rows[i - 1].ts}, row ${i} at ${rows[i].ts}`);
  }
}

/** "2026-11-30T12:34" (a whole minute) for a datetime-local input; the browser runs in UTC. */
function datetimeLocal(ms) {
  return new Date(ms).toISOString().slice(0, 16);
}

// ---- the browser side ----------------------------------------------------------------------

// Runs before the app: counts changes of <body data-loading>, so that a wait after an action
// can tell the action's own load from the state before it.
function countLoadingChanges() {
  window.__loadingChanges = 0;
  new MutationObserver((records) => {
    for (const r of records) if (r.target === document.body) window.__loadingChanges++;
  }).observe(document, { attributes: true, attributeFilter: ['data-loading'], subtree: true });
}

/** In the page: whether the explore view settled in the state `want` describes. */
function exploreSettled(want) {
  const q = (id) => document.querySelector(`[data-testid="${id}"]`);
  if (document.body.dataset.loading !== 'false') return false;
  if (want.changesAfter !== undefined && window.__loadingChanges <= want.changesAfter) return false;
  const hist = q('histogram');
  if (!hist || !hist.hasAttribute('data-total')) return false;
  const query = q('query-input')?.value ?? '';
  if (want.query !== undefined && query !== want.query) return false;
  if (want.queryRe !== undefined && !want.queryRe.every((re) => new RegExp(re).test(query))) return false;
  if (want.fromNot !== undefined && hist.getAttribute('data-from-ns') === want.fromNot) return false;
  return true;
}

/** In the page: what the explore view shows; rows in their on-screen order. */
function exploreSnapshot() {
  const q = (root, id) => root.querySelector(`[data-testid="${id}"]`);
  const attr = (id, name) => q(document, id)?.getAttribute(name) ?? null;
  const num = (id, name) => (attr(id, name) === null ? null : Number(attr(id, name)));
  const text = (el) => (el ? el.textContent.trim() : null);
  const rows = [...document.querySelectorAll('[data-testid="result-row"]')]
    .map((r) => ({
      top: r.getBoundingClientRect().top,
      ts: r.dataset.ts,
      level: r.dataset.level,
      service: text(q(r, 'cell-service')),
      message: text(q(r, 'cell-message')),
    }))
    .sort((a, b) => a.top - b.top);
  const facet = (id) =>
    [...document.querySelectorAll(`[data-testid="${id}"] [data-testid="facet-item"]`)].map((f) => ({
      value: f.dataset.value,
      count: Number(f.dataset.count),
    }));
  return {
    hash: location.hash,
    query: q(document, 'query-input')?.value ?? null,
    total: num('histogram', 'data-total'),
    buckets: num('histogram', 'data-buckets'),
    fromNs: attr('histogram', 'data-from-ns'),
    toNs: attr('histogram', 'data-to-ns'),
    hasCanvas: !!document.querySelector('[data-testid="histogram"] canvas'),
    loaded: num('result-count', 'data-loaded'),
    countTotal: num('result-count', 'data-total'),
    tookMs: attr('stats', 'data-took-ms'),
    rows,
    facets: { service: facet('facet-service'), level: facet('facet-level') },
  };
}

/** The page under test and the actions the scenarios share. */
class UI {
  constructor(page) {
    this.page = page;
  }

  el(id) {
    return this.page.locator(tid(id));
  }

  async loadingChanges() {
    return this.page.evaluate(() => window.__loadingChanges ?? 0);
  }

  async waitFor(fn, arg, what) {
    try {
      await this.page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 100 });
    } catch (e) {
      throw new CheckFailed(`timed out after ${WAIT_MS / 1000} s waiting for ${what} (${e.message.split('\n')[0]})`);
    }
  }

  async waitSettled(want, what) {
    await this.waitFor(exploreSettled, want, what);
    return this.snapshot();
  }

  snapshot() {
    return this.page.evaluate(exploreSnapshot);
  }

  /** Does `action` and waits until it led to a settled explore view described by `want`. */
  async act(action, want, what) {
    const changesAfter = await this.loadingChanges();
    await action();
    return this.waitSettled({ ...want, changesAfter }, what);
  }

  /** Loads the app afresh at a hash route of `base`: no state is left from earlier steps. */
  async open(base, route) {
    await this.page.goto('about:blank');
    await this.page.goto(`${base}/${route}`);
  }

  /** Opens explore on `query` over a relative range and waits for its results. */
  async explore(base, query, from = 'now-1h', to = 'now') {
    const params = new URLSearchParams({ q: query, from, to });
    await this.open(base, `#/explore?${params}`);
    return this.waitSettled({ query }, `explore to show ${query}`);
  }

  async clickAndWait(locator, want, what) {
    return this.act(() => locator.click(), want, what);
  }

  row(ts) {
    return this.page.locator(`${tid('result-row')}[data-ts="${ts}"]`).first();
  }

  /** Expands the row at `ts` and returns its detail values as {key: value}. */
  async expand(ts) {
    await this.row(ts).locator(tid('cell-message')).click();
    const details = this.el('row-details');
    await details.first().waitFor({ state: 'visible', timeout: WAIT_MS });
    return this.page.$$eval(`${tid('row-details')} ${tid('detail-value')}`, (els) =>
      Object.fromEntries(els.map((e) => [e.dataset.key, e.dataset.value])),
    );
  }

  detailValue(key) {
    return this.page.locator(`${tid('row-details')} ${tid('detail-value')}[data-key="${key}"]`).first();
  }

  async screenshot(file) {
    await this.page.screenshot({ path: file, fullPage: true });
  }
}

// ---- checks against the server's API -------------------------------------------------------

/** The histogram's total and the result count equal the server's count for the same query
 *  and range. */
async function checkCounts(server, s) {
  check(s.fromNs && s.toNs, `histogram has no data-from-ns/data-to-ns (${s.fromNs}, ${s.toNs})`);
  check(BigInt(s.fromNs) < BigInt(s.toNs), `histogram range is empty: ${s.fromNs}..${s.toNs}`);
  const want = await server.count(s.query, s.fromNs, s.toNs);
  checkEq(s.total, want, `histogram data-total for ${s.query} over [${s.fromNs}, ${s.toNs}) (the API's count)`);
  checkEq(s.countTotal, want, 'result-count data-total (the API\'s count)');
  check(s.buckets > 0, `histogram data-buckets is ${s.buckets}`);
  check(s.hasCanvas, 'the histogram has no canvas');
  return want;
}

/** Rows are newest first, inside the range, and the first ones are the API's first lines. */
async function checkRows(server, s, { compare = 50 } = {}) {
  checkNewestFirst(s.rows);
  for (const r of s.rows) {
    check(BigInt(r.ts) >= BigInt(s.fromNs) && BigInt(r.ts) < BigInt(s.toNs),
      `row at ${r.ts} is outside the range [${s.fromNs}, ${s.toNs})`);
  }
  const n = Math.min(compare, s.rows.length);
  const api = await server.lines(s.query, s.fromNs, s.toNs, Math.max(n, 1));
  check(s.rows.length > 0 || api.length === 0, `no result rows, but the API has lines for ${s.query}`);
  checkEq(s.rows.slice(0, n).map((r) => r.ts), api.slice(0, n).map((l) => l.ts),
    `timestamps of the first ${n} rows (the API's newest lines of ${s.query})`);
  return api;
}

async function checkExplore(server, s) {
  const total = await checkCounts(server, s);
  const api = await checkRows(server, s);
  return { total, api };
}

// ---- scenarios -----------------------------------------------------------------------------

async function scenarioExplore({ ui, main, topService }) {
  await ui.open(main.url, '#/explore');
  await ui.waitSettled({}, 'the first results');
  await ui.el('range-button').click();
  await ui.page.locator(`${tid('range-option')}[data-range="1h"]`).click();
  await ui.waitSettled({}, 'the results of the 1h range');
  const query = `{service="${topService}"}`;
  await ui.el('query-input').fill(query);
  const s = await ui.clickAndWait(ui.el('run-query'), { query }, `results of ${query}`);
  const { total } = await checkExplore(main, s);
  check(total > 0, `the API has no lines of ${query}: the test data is wrong`);
  for (const r of s.rows) checkEq(r.service, topService, `cell-service of the row at ${r.ts}`);
  const span = BigInt(s.toNs) - BigInt(s.fromNs);
  check(span >= 3599n * SEC && span <= 3601n * SEC, `range "1h" spans ${span} ns`);
  const params = hashParams(s.hash);
  checkEq(params.get('q'), query, 'the query in the URL hash');
  checkEq([params.get('from'), params.get('to')], ['now-1h', 'now'], 'the range in the URL hash');
  const took = Number(s.tookMs);
  check(s.tookMs !== null && Number.isFinite(took) && took >= 0, `stats data-took-ms is ${s.tookMs}`);
  check((await ui.el('stats').textContent()).trim() !== '', 'the stats element is empty');
}

async function scenarioFacets({ ui, main }) {
  const s = await ui.explore(main.url, '{}');
  await checkCounts(main, s);
  for (const label of ['level', 'service']) {
    const api = await main.countBy(label, s.query, s.fromNs, s.toNs);
    const shown = s.facets[label];
    check(shown.length > 0, `facet-${label} has no items`);
    for (const f of shown) checkEq(f.count, api.get(f.value) ?? 0, `facet-${label} count of ${f.value}`);
    const shownValues = new Set(shown.map((f) => f.value));
    const smallestShown = Math.min(...shown.map((f) => f.count));
    for (const [value, count] of api) {
      check(shownValues.has(value) || count <= smallestShown,
        `facet-${label} misses ${value} (${count} lines) but shows one with ${smallestShown}`);
    }
    if (label === 'level') checkEq([...shownValues].sort(), [...api.keys()].sort(), 'facet-level values');
  }
  // Clicking a service facet filters by it.
  const service = s.facets.service[1] ?? s.facets.service[0];
  const filtered = await ui.clickAndWait(
    ui.page.locator(`${tid('facet-service')} ${tid('facet-item')}[data-value="${service.value}"]`),
    { queryRe: [selectorMatcherRe('service', service.value)] }, `the query to gain service="${service.value}"`);
  check(filtered.rows.length > 0, `no rows after clicking the ${service.value} facet`);
  for (const r of filtered.rows) checkEq(r.service, service.value, `cell-service of the row at ${r.ts}`);
  checkEq(await checkCounts(main, filtered), service.count, `the total after clicking the ${service.value} facet`);
}

async function scenarioLevelFilter({ ui, main }) {
  const before = await ui.explore(main.url, '{}');
  const target = before.rows.find((r) => r.level === 'error') ?? before.rows[0];
  check(target, 'no rows to click a level on');
  const level = target.level;
  const s = await ui.clickAndWait(ui.row(target.ts).locator(tid('cell-level')),
    { queryRe: [selectorMatcherRe('level', level)] }, `the query to gain level="${level}"`);
  check(s.rows.length > 0, 'no rows after filtering by level');
  for (const r of s.rows) checkEq(r.level, level, `data-level of the row at ${r.ts}`);
  await checkExplore(main, s);
}

async function scenarioFilterOut({ ui, main }) {
  // Filtering a value out, from a row's details (a stream label: the selector gains !=)
  // and from the level facet.
  const before = await ui.explore(main.url, '{}');
  const row = before.rows[0];
  check(row, 'no rows to expand');
  await ui.expand(row.ts);
  const service = row.service;
  await ui.detailValue('service').hover(); // the filter-out button shows beside the value pointed at
  let s = await ui.clickAndWait(
    ui.page.locator(`${tid('row-details')} ${tid('detail-exclude')}[data-key="service"]`).first(),
    { queryRe: [selectorMatcherRe('service', service, '!=')] },
    `the query to gain service!="${service}"`);
  check(s.rows.length > 0, `no rows left after filtering out ${service}`);
  for (const r of s.rows) check(r.service !== service, `the row at ${r.ts} is of ${service}, filtered out`);
  await checkExplore(main, s);
  const level = s.facets.level[0].value;
  const facet = ui.page.locator(`${tid('facet-level')} ${tid('facet-item')}[data-value="${level}"]`);
  await facet.hover();
  s = await ui.clickAndWait(facet.locator(tid('facet-exclude')),
    { queryRe: [selectorMatcherRe('level', level, '!='), selectorMatcherRe('service', service, '!=')] },
    `the query to gain level!="${level}" as well`);
  for (const r of s.rows) check(r.level !== level, `the row at ${r.ts} is ${level}, filtered out`);
  await checkExplore(main, s);
}

async function scenarioRowDetails({ ui, main }) {
  const before = await ui.explore(main.url, '{}');
  const api = await checkRows(main, before, { compare: 20 });
  // a row with a plain attribute besides pattern_id, to filter by
  const simple = (k, v) => k !== 'pattern_id' && /^[A-Za-z_]\w*$/.test(k) && /^[\w.:-]{1,40}$/.test(v);
  const unique = api.filter((l) => api.filter((o) => o.ts === l.ts).length === 1);
  const line = unique.find((l) => Object.entries(l.attributes).some(([k, v]) => simple(k, v))) ?? unique[0];
  check(line, 'no lines to expand');
  const details = await ui.expand(line.ts);
  const expected = { ...line.labels, ...line.attributes };
  for (const [k, v] of Object.entries(expected)) checkEq(details[k], v, `detail-value ${k} of the row at ${line.ts}`);

  const service = line.labels.service;
  let s = await ui.clickAndWait(ui.detailValue('service'),
    { queryRe: [selectorMatcherRe('service', service)] }, `the query to gain service="${service}"`);
  for (const r of s.rows) checkEq(r.service, service, `cell-service of the row at ${r.ts}`);
  await checkExplore(main, s);

  const [key, value] = Object.entries(line.attributes).find(([k, v]) => simple(k, v)) ?? ['pattern_id', line.attributes.pattern_id];
  await ui.expand(line.ts); // still among the first rows: the filter only removed rows
  s = await ui.clickAndWait(ui.detailValue(key),
    { queryRe: [selectorMatcherRe('service', service), labelFilterRe(key, value)] },
    `the query to gain | ${key} = "${value}"`);
  check(s.rows.some((r) => r.ts === line.ts), `the expanded row (${line.ts}) is no longer shown`);
  await checkExplore(main, s);
  checkEq((await ui.expand(line.ts))[key], value, `detail-value ${key} of the row at ${line.ts} after filtering by it`);
}

async function scenarioQueryError({ ui, main }) {
  await ui.explore(main.url, '{}');
  // Non-ASCII before the error: the server counts columns in characters, the page in UTF-16.
  const bad = '{level="error"}\n  |= "é😀" | json | status >= ';
  const message = await main.queryError(bad);
  const m = /line (\d+), col (\d+): (.*)/.exec(message ?? '');
  check(m, `the server's error for the bad query names no position: ${message}`);
  const input = ui.el('query-input');
  await input.fill(bad);
  await input.press('Control+Enter');
  const error = ui.el('query-error');
  await error.waitFor({ state: 'visible', timeout: WAIT_MS });
  checkEq([await error.getAttribute('data-line'), await error.getAttribute('data-col')], [m[1], m[2]],
    `query-error data-line/data-col (the server says: ${message})`);
  const text = await error.textContent();
  check(text.includes(m[3]), `query-error says ${JSON.stringify(text)}, not the server's ${JSON.stringify(m[3])}`);
  // The caret is put at that line and column (counted in characters, as the server does).
  const lineStart = bad.split('\n').slice(0, Number(m[1]) - 1).reduce((n, l) => n + l.length + 1, 0);
  const lineText = bad.split('\n')[Number(m[1]) - 1];
  const within = [...lineText].slice(0, Number(m[2]) - 1).join('').length;
  checkEq(await input.evaluate((el) => el.selectionStart), lineStart + within,
    `the caret's offset for line ${m[1]}, col ${m[2]}`);
}

async function scenarioQueryErrorCleared({ ui }) {
  const error = ui.el('query-error');
  check(await error.isVisible(), 'no query-error to clear (the previous step failed)');
  await ui.el('query-input').fill('{}');
  await ui.clickAndWait(ui.el('run-query'), { query: '{}' }, 'the corrected query to run');
  check(!(await error.isVisible()), 'query-error is still shown after a good query');
}

async function scenarioHistory({ ui, main, topService }) {
  await ui.explore(main.url, '{}');
  await ui.el('history-button').click();
  const items = ui.el('history-item');
  await items.first().waitFor({ state: 'visible', timeout: WAIT_MS });
  const texts = (await items.allTextContents()).map((t) => t.trim());
  const earlier = `{service="${topService}"}`;
  check(texts.includes(earlier), `history does not list ${earlier}: ${JSON.stringify(texts)}`);
  await items.filter({ hasText: new RegExp(`^\\s*${reEscape(earlier)}\\s*$`) }).first().click();
  await ui.waitSettled({ query: earlier }, `the history item to put ${earlier} in the query box`);
}

async function scenarioZoom({ ui, main }) {
  const old = await ui.explore(main.url, '{}');
  const over = ui.el('histogram').locator('.u-over');
  const box = await over.boundingBox();
  check(box && box.width > 100, `the histogram's plot area is ${JSON.stringify(box)}`);
  const [fa, fb] = [0.4, 0.8];
  const y = box.y + box.height / 2;
  const s = await ui.act(async () => {
    await ui.page.mouse.move(box.x + box.width * fa, y);
    await ui.page.mouse.down();
    for (let i = 1; i <= 10; i++) await ui.page.mouse.move(box.x + box.width * (fa + ((fb - fa) * i) / 10), y);
    await ui.page.mouse.up();
  }, { fromNot: old.fromNs }, 'the histogram to zoom');
  const [of, ot, nf, nt] = [old.fromNs, old.toNs, s.fromNs, s.toNs].map(BigInt);
  check(of < nf && nf < nt && nt < ot, `zoomed range ${nf}..${nt} is not strictly inside ${of}..${ot}`);
  const span = Number(ot - of);
  const near = (ns, f) => Math.abs(Number(ns - of) - f * span) <= 0.03 * span;
  check(near(nf, fa) && near(nt, fb),
    `zoomed to ${(Number(nf - of) / span).toFixed(3)}..${(Number(nt - of) / span).toFixed(3)} of the range, dragged ${fa}..${fb}`);
  const params = hashParams(s.hash);
  check(!/now/.test(`${params.get('from')} ${params.get('to')}`),
    `the range in the hash is still relative: from=${params.get('from')} to=${params.get('to')}`);
  const { total } = await checkExplore(main, s);
  check(total > 0, 'the zoomed range has no lines: the test data is wrong');

  // Zoom out: twice the span around the same middle (the drag was 40%..80%: the new range
  // ends before now, so it stays absolute).
  const out = await ui.clickAndWait(ui.el('zoom-out'), { fromNot: s.fromNs }, 'the histogram to zoom out');
  const [zf, zt] = [out.fromNs, out.toNs].map(BigInt);
  const inner = nt - nf;
  const tolerance = inner / 1000n + 2_000_000n; // the page works in milliseconds
  const close = (a, b) => (a > b ? a - b : b - a) <= tolerance;
  check(close(zt - zf, 2n * inner), `zoomed out to ${zt - zf} ns, not twice ${inner}`);
  check(close(zf + zt, nf + nt), `zoomed out around ${(zf + zt) / 2n}, not the middle ${(nf + nt) / 2n}`);
  await checkExplore(main, out);
}

async function scenarioRangePicker({ ui, main }) {
  const old = await ui.explore(main.url, '{}');
  const fromMs = Math.floor((Date.now() - 40 * 60_000) / 60_000) * 60_000;
  const toMs = fromMs + 20 * 60_000;
  // lines exactly at both ends: the range is [From, To), like query_range's start and end
  await main.postLogs([fromMs, toMs].map((ms) => ({
    message: `range-edge-${ms}`, level: 'info', service: 'range-edge', timestamp: new Date(ms).toISOString(),
  })));
  await ui.el('range-button').click();
  await ui.el('range-from').fill(datetimeLocal(fromMs));
  await ui.el('range-to').fill(datetimeLocal(toMs));
  const s = await ui.clickAndWait(ui.el('range-apply'), { fromNot: old.fromNs }, 'the custom range to apply');
  checkEq(s.fromNs, String(BigInt(fromMs) * 1_000_000n), `data-from-ns for From ${datetimeLocal(fromMs)}`);
  const to = BigInt(s.toNs);
  const toNs = BigInt(toMs) * 1_000_000n;
  check(to >= toNs && to <= toNs + 60n * SEC, `data-to-ns ${s.toNs} is not To ${datetimeLocal(toMs)}`);
  const { total } = await checkExplore(main, s);
  check(total > 0, 'the custom range has no lines: the test data is wrong');
}

async function scenarioPatterns({ ui, main, state }) {
  await ui.explore(main.url, '{}');
  await ui.el('nav-patterns').click();
  const rows = ui.el('pattern-row');
  await rows.first().waitFor({ state: 'visible', timeout: WAIT_MS });
  await ui.waitFor(() => document.body.dataset.loading === 'false', undefined, 'patterns to load');
  check((await ui.page.evaluate(() => location.hash)).startsWith('#/patterns'), 'the hash route is not #/patterns');
  check(await ui.el('patterns-table').isVisible(), 'patterns-table is not visible');
  const api = new Map((await main.patterns('{}', '1h')).map((p) => [p.id, p]));
  const shown = await ui.page.$$eval(tid('pattern-row'), (els) =>
    els.map((r) => ({
      id: r.dataset.patternId,
      count: r.querySelector('[data-testid="pattern-count"]')?.textContent.replace(/\D/g, ''),
      text: r.querySelector('[data-testid="pattern-text"]')?.textContent ?? '',
      sparkMarks: r.querySelector('svg[data-testid="pattern-sparkline"]')?.querySelectorAll('*').length ?? -1,
    })),
  );
  for (const p of shown.slice(0, 30)) {
    const want = api.get(p.id);
    check(want, `pattern-row ${p.id} is not among the API's patterns`);
    checkEq(Number(p.count), want.count, `pattern-count of pattern ${p.id}`);
    for (const part of want.pattern.split('<*>').map((x) => x.trim()).filter(Boolean)) {
      check(p.text.includes(part), `pattern-text of ${p.id} (${JSON.stringify(p.text)}) lacks ${JSON.stringify(part)}`);
    }
    check(p.sparkMarks > 0, `pattern ${p.id} has no svg pattern-sparkline with marks`);
  }
  const counts = shown.map((p) => Number(p.count));
  checkEq(counts[0], Math.max(...[...api.values()].map((p) => p.count)), 'the first pattern\'s count (the largest)');
  for (let i = 1; i < counts.length; i++) check(counts[i - 1] >= counts[i], `patterns are not by count: ${counts.slice(0, i + 1)}`);
  const pick = shown.find((p) => Number(p.count) >= 3 && Number(p.count) < 300) ?? shown[0];
  state.pattern = api.get(pick.id);
}

async function scenarioPatternFilter({ ui, main, state }) {
  const p = state.pattern;
  check(p, 'the patterns step found no pattern to click');
  const s = await ui.clickAndWait(ui.page.locator(`${tid('pattern-row')}[data-pattern-id="${p.id}"] ${tid('pattern-text')}`),
    { queryRe: [labelFilterRe('pattern_id', p.id)] }, `explore to filter by pattern_id ${p.id}`);
  check(s.hash.startsWith('#/explore'), `clicking a pattern led to ${s.hash}, not #/explore`);
  const { total } = await checkExplore(main, s);
  checkEq(total, p.count, `lines of pattern ${p.id} in explore (the patterns API's count)`);
  const details = await ui.expand(s.rows[0].ts);
  checkEq(details.pattern_id, p.id, 'pattern_id in the first row\'s details');
}

/** The alerts view shows exactly the rules and the alerts of the API, with their states. */
async function compareAlerts(ui, server) {
  const [rules, alerts] = await Promise.all([server.rules(), server.alerts()]);
  const shown = await ui.page.evaluate(() => ({
    rules: [...document.querySelectorAll('[data-testid="rule-row"]')].map((r) => ({ rule: r.dataset.rule, text: r.textContent })),
    alerts: [...document.querySelectorAll('[data-testid="alert-row"]')].map((r) => ({
      rule: r.dataset.rule, state: r.dataset.state, text: r.textContent,
    })),
  }));
  const problems = [];
  const same = (a, b, what) => JSON.stringify(a) === JSON.stringify(b) || problems.push(`${what}: API ${JSON.stringify(b)}, UI ${JSON.stringify(a)}`);
  same(shown.rules.map((r) => r.rule).sort(), rules.map((r) => r.name).sort(), 'rule rows');
  same(shown.alerts.map((a) => `${a.rule}:${a.state}`).sort(), alerts.map((a) => `${a.rule}:${a.state}`).sort(), 'alert rows (rule:state)');
  for (const a of alerts) {
    const values = Object.entries(a.labels).filter(([k]) => k !== 'alertname').map(([, v]) => v);
    if (!shown.alerts.some((r) => r.rule === a.rule && r.state === a.state && values.every((v) => r.text.includes(v)))) {
      problems.push(`no alert-row for ${a.rule} ${JSON.stringify(a.labels)} (${a.state})`);
    }
  }
  for (const r of rules) {
    if (!shown.rules.some((s) => s.rule === r.name && s.text.includes(r.query))) problems.push(`rule-row ${r.name} does not show its query`);
  }
  return { problems, rules, alerts };
}

async function scenarioAlerts({ ui, main }) {
  const apiAlerts = await poll(async () => {
    const a = await main.alerts();
    return a.some((x) => x.state === 'firing') && a.some((x) => x.state === 'pending') && a;
  });
  check(apiAlerts, `the rules did not give firing and pending alerts (API: ${JSON.stringify(await main.alerts())}); server log:\n${main.logTail(1500)}`);
  await ui.explore(main.url, '{}');
  await ui.el('nav-alerts').click();
  await ui.el('rule-row').first().waitFor({ state: 'visible', timeout: WAIT_MS });
  check(await ui.el('rules-table').isVisible(), 'rules-table is not visible');
  check(await ui.el('alerts-table').isVisible(), 'alerts-table is not visible');
  let last;
  const same = await poll(async () => {
    last = await compareAlerts(ui, main);
    return last.problems.length === 0;
  });
  check(same, `the alerts view differs from the API:\n  ${last?.problems.join('\n  ')}`);
  check(!(await ui.el('alerts-empty').isVisible()), 'alerts-empty is shown although there are rules');
}

function waitLive(ui, pressed) {
  return ui.waitFor((v) => document.querySelector('[data-testid="live-toggle"]')?.getAttribute('aria-pressed') === v,
    String(pressed), `live-toggle aria-pressed="${pressed}"`);
}

/** The result rows of probe lines (message ui-live-<uuid>). */
function probeRows(ui) {
  return ui.page.$$eval(tid('result-row'), (els) => els
    .map((r) => ({
      message: r.querySelector('[data-testid="cell-message"]')?.textContent ?? '',
      service: r.querySelector('[data-testid="cell-service"]')?.textContent.trim(),
      level: r.dataset.level,
    }))
    .filter((r) => r.message.includes('ui-live-')));
}

async function scenarioLiveTail({ ui, main }) {
  await ui.explore(main.url, '{service="tail-probe"}', 'now-15m');
  await ui.el('live-toggle').click();
  await waitLive(ui, true);
  const post = (ids) => main.postLogs(ids.map((id) => ({
    message: `ui-live-${id}`, level: 'warn', service: 'tail-probe', timestamp: new Date().toISOString(),
  })));
  // The tail may still be connecting: post a line a second until one shows...
  const arrived = await poll(async () => {
    await post([randomUUID()]);
    return (await probeRows(ui)).length > 0;
  }, { intervalMs: 1000 });
  check(arrived, 'no tailed line appeared within 30 s of posting lines');
  // ...then lines posted later must arrive too.
  const later = [randomUUID(), randomUUID()];
  await post(later);
  const all = await poll(async () => {
    const rows = await probeRows(ui);
    return later.every((id) => rows.some((r) => r.message.includes(id))) && rows;
  });
  check(all, 'lines posted while tailing did not appear within 30 s');
  for (const r of all) checkEq([r.level, r.service], ['warn', 'tail-probe'], `level and service of the tailed row ${r.message}`);
  const lines = Number(await ui.el('live-status').getAttribute('data-lines'));
  check(lines >= later.length, `live-status data-lines is ${lines}, after ${later.length} lines arrived while tailing`);
}

async function scenarioLiveTailReconnect({ ui, main }) {
  // The server restarts under a live tail: the page connects again by itself and shows
  // what was stored meanwhile.
  check((await ui.el('live-toggle').getAttribute('aria-pressed')) === 'true', 'live tail is not on');
  await main.restart();
  const id = randomUUID();
  await main.postLogs([{ message: `ui-live-${id}`, level: 'warn', service: 'tail-probe', timestamp: new Date().toISOString() }]);
  const back = await poll(async () => (await probeRows(ui)).some((r) => r.message.includes(id)));
  check(back, 'a line stored after the server restarted did not appear within 30 s');
  await waitLive(ui, true);
}

async function scenarioLiveTailStop({ ui }) {
  check((await ui.el('live-toggle').getAttribute('aria-pressed')) === 'true', 'live tail is not on (the previous step failed)');
  await ui.el('live-toggle').click();
  await waitLive(ui, false);
}

/** No horizontal overflow of the page, and each element is within the viewport's width or
 *  inside a horizontally scrollable box that is (a wide table may scroll on its own). */
async function checkFits(ui, ids, view) {
  const m = await ui.page.evaluate((ids) => {
    const fits = (r) => r.width > 0 && r.left >= -0.5 && r.right <= window.innerWidth + 0.5;
    const scroller = (el) => {
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return p;
      }
      return null;
    };
    return {
      doc: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
      body: [document.body.scrollWidth, document.body.clientWidth],
      inner: window.innerWidth,
      outside: ids.filter((id) => {
        const el = document.querySelector(`[data-testid="${id}"]`);
        if (!el) return true;
        if (fits(el.getBoundingClientRect())) return false;
        const box = scroller(el);
        return !(box && fits(box.getBoundingClientRect()));
      }),
    };
  }, ids);
  check(m.doc[0] <= m.doc[1] && m.body[0] <= m.body[1],
    `${view} overflows horizontally at ${m.inner} px: document ${m.doc[0]} > ${m.doc[1]} or body ${m.body[0]} > ${m.body[1]}`);
  check(m.outside.length === 0, `${view}: wider than the ${m.inner} px window and not in a scrollable box: ${m.outside.join(', ')}`);
}

async function scenarioNarrow({ ui, main, artifacts }) {
  await ui.page.setViewportSize(NARROW);
  try {
    const s = await ui.explore(main.url, '{}');
    check(s.rows.length > 0, 'no rows on the narrow window');
    await ui.screenshot(path.join(artifacts, 'narrow.png'));
    await checkFits(ui, ['query-input', 'run-query', 'range-button', 'histogram', 'results', 'result-row', 'nav-alerts'], 'explore');
    for (const view of ['patterns', 'alerts']) {
      await ui.el(`nav-${view}`).click();
      await ui.el(view === 'patterns' ? 'pattern-row' : 'rule-row').first().waitFor({ state: 'visible', timeout: WAIT_MS });
      await ui.waitFor(() => document.body.dataset.loading === 'false', undefined, `${view} to load`);
      await ui.screenshot(path.join(artifacts, `narrow-${view}.png`));
      await checkFits(ui, view === 'patterns' ? ['patterns-table'] : ['alerts-table', 'rules-table'], view);
    }
  } finally {
    await ui.page.setViewportSize(DESKTOP);
  }
}

/** Positions (0: the newest) the line at `ts` can have among the results of `s`'s query:
 *  lines with the same timestamp may come in any order. */
async function positions(server, s, ts) {
  const newer = await server.count(s.query, BigInt(ts) + 1n, s.toNs);
  const upTo = await server.count(s.query, ts, s.toNs);
  return [newer, upTo - 1];
}

/** The rows in the DOM are consecutive results (no gap, no repeat); returns the positions
 *  of the first and the last. */
async function checkConsecutive(server, s) {
  const n = s.rows.length;
  const [a0, a1] = await positions(server, s, s.rows[0].ts);
  const [b0, b1] = await positions(server, s, s.rows.at(-1).ts);
  const lo = Math.max(a0, b0 - (n - 1));
  const hi = Math.min(a1, b1 - (n - 1));
  check(lo <= hi, `the ${n} rows in the DOM are not consecutive results: the first is result ${a0}..${a1}, the last ${b0}..${b1}`);
  return { first: lo, last: hi + n - 1 };
}

function checkBoundedDom(s) {
  check(s.rows.length > 0 && s.rows.length < MAX_DOM_ROWS,
    `${s.rows.length} result-row elements in the DOM with ${s.loaded} rows loaded (want 1..${MAX_DOM_ROWS - 1})`);
  checkNewestFirst(s.rows);
}

/** Sets the page size (rows loaded per page); the results load again. */
async function selectPageSize(ui, s, size) {
  if ((await ui.el('page-size').inputValue()) !== String(size)) {
    s = await ui.act(() => ui.el('page-size').selectOption(String(size)), {}, `the results at page size ${size}`);
  }
  checkEq(s.loaded, Math.min(size, s.countTotal), `result-count data-loaded at page size ${size}`);
  checkBoundedDom(s);
  return s;
}

/** Scrolls the results to the bottom until a further page is loaded; checks what is shown. */
async function scrollForPage(ui, server, s) {
  const loaded = s.loaded;
  const changesAfter = await ui.loadingChanges();
  await ui.waitFor((n) => {
    const el = document.querySelector('[data-testid="results"]');
    el.scrollTop = el.scrollHeight; // to the bottom again as rows come, until a page is added
    return Number(document.querySelector('[data-testid="result-count"]').dataset.loaded) > n;
  }, loaded, `a further page after ${loaded} rows when scrolled to the bottom`);
  s = await ui.waitSettled({ changesAfter }, 'the further page to load');
  check(s.loaded > loaded && s.loaded <= s.countTotal, `data-loaded went from ${loaded} to ${s.loaded} of ${s.countTotal}`);
  checkBoundedDom(s);
  const { last } = await checkConsecutive(server, s);
  check(last >= loaded - MAX_DOM_ROWS, `scrolled to the bottom of ${loaded} rows, but the rows in the DOM end at result ${last}`);
  return s;
}

async function scenarioManyRows({ ui, big }) {
  let s = await ui.explore(big.url, '{}');
  await checkCounts(big, s);
  check(s.countTotal >= 100_000, `result-count data-total is ${s.countTotal}, fewer than 100,000`);
  await checkRows(big, s);
  checkBoundedDom(s);
  const newest = s.rows[0].ts;
  const sizes = (await ui.el('page-size').locator('option').evaluateAll((os) => os.map((o) => Number(o.value))))
    .filter((n) => n > 0).sort((a, b) => a - b);
  // a page size that takes several scrolls, then the largest, to have (nearly) all loaded
  const several = sizes.filter((n) => 3 * n <= s.countTotal).at(-1);
  check(several, `page-size has no option of at most a third of ${s.countTotal} rows: ${sizes}`);
  s = await selectPageSize(ui, s, several);
  for (let i = 0; i < 2; i++) s = await scrollForPage(ui, big, s);
  s = await selectPageSize(ui, s, sizes.at(-1));
  for (let i = 0; i < 3 && s.loaded < s.countTotal; i++) s = await scrollForPage(ui, big, s);
  check(s.loaded >= 100_000, `only ${s.loaded} rows loaded after scrolling with the largest page size`);

  const t0 = Date.now();
  await ui.page.evaluate(() => document.querySelectorAll('[data-testid="result-row"]').length);
  console.log(`  ${s.loaded} rows loaded, ${s.rows.length} in the DOM; an evaluate round-trip took ${Date.now() - t0} ms`);
  await ui.el('results').evaluate((el) => { el.scrollTop = 0; });
  await ui.waitFor((ts) => [...document.querySelectorAll('[data-testid="result-row"]')]
    .some((r) => r.dataset.ts === ts && r.getBoundingClientRect().top >= 0),
  newest, 'the newest row to show again after scrolling back to the top');
  s = await ui.snapshot();
  checkBoundedDom(s);
  const { first } = await checkConsecutive(big, s);
  checkEq(first, 0, 'the result position of the first row after scrolling back to the top');
  const details = await ui.expand(s.rows[1].ts);
  check(Object.keys(details).length > 0, 'the expanded row has no detail values');
}

/** Every row of the results, read by scrolling through them a screen at a time in the page. */
function allRowMessages(ui) {
  return ui.el('results').evaluate(async (el) => {
    const seen = new Map(); // ts + message → times seen at distinct positions
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    el.scrollTop = 0;
    await frame();
    for (;;) {
      for (const r of el.querySelectorAll('[data-testid="result-row"]')) {
        const msg = r.querySelector('[data-testid="cell-message"]').textContent;
        // a row is identified by its offset in the table: the same row seen twice counts once
        seen.set(`${r.style.transform}|${msg}`, msg);
      }
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1) break;
      el.scrollTop += Math.max(1, el.clientHeight - 40);
      await frame();
    }
    return [...seen.values()];
  });
}

async function scenarioCrowdedTimestamps({ ui, big }) {
  // As many lines at one exact timestamp as one request returns (5,000), then more at an
  // older one: the UI fetches them split by label, and must show each line once, none
  // missing — also when a page ends inside the second timestamp (10,000 rows a page:
  // 5,000 + 5,000 of its 6,000).
  const counts = [5000, 6000];
  const total = counts[0] + counts[1];
  const stamps = [nowNs() - 600n * SEC, nowNs() - 1200n * SEC].map((ns) => ns - (ns % SEC));
  const levels = ['info', 'warn', 'error'];
  let n = 0;
  for (const [k, ts] of stamps.entries()) {
    const at = new Date(Number(ts / 1_000_000n)).toISOString();
    const batch = [];
    for (let i = 0; i < counts[k]; i++, n++) {
      batch.push({ message: `crowd-${n}`, service: 'crowd', level: levels[n % 3], timestamp: at });
    }
    await big.postLogs(batch);
  }
  let s = await ui.explore(big.url, '{service="crowd"}');
  checkEq(s.countTotal, total, 'result-count data-total of the crowded lines');
  s = await selectPageSize(ui, s, 10000);
  while (s.loaded < s.countTotal) s = await scrollForPage(ui, big, s);
  checkEq(s.loaded, total, 'rows loaded once every page came');
  const messages = await allRowMessages(ui);
  const unique = new Set(messages);
  checkEq(messages.length - unique.size, 0, 'rows shown twice');
  checkEq(unique.size, total, 'distinct crowded lines shown');
}

async function scenarioAlertsEmpty({ ui, big }) {
  await ui.explore(big.url, '{}');
  await ui.el('nav-alerts').click();
  await ui.el('alerts-empty').waitFor({ state: 'visible', timeout: WAIT_MS });
  checkEq(await ui.el('rule-row').count(), 0, 'rule-row elements without rules');
}

// ---- running ---------------------------------------------------------------------------------

class Steps {
  constructor(ui, artifacts, failed) {
    this.ui = ui;
    this.artifacts = artifacts;
    this.failed = failed; // names of failed steps, shared with main()
    this.shots = 0;
  }

  /** Runs one scenario, prints ok/FAIL, and takes a screenshot named `NN-name.png`. */
  async run(name, fn, ctx, { shot = true } = {}) {
    const t0 = Date.now();
    let ok = true;
    try {
      await fn(ctx);
      console.log(`ok ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      ok = false;
      this.failed.push(name);
      console.log(`FAIL ${name}: ${e instanceof CheckFailed ? e.message : e.stack}`);
    }
    if (shot) {
      const file = path.join(this.artifacts, `${String(++this.shots).padStart(2, '0')}-${name}.png`);
      await this.ui.screenshot(file).catch((e) => console.log(`  (no screenshot ${file}: ${e.message})`));
    }
    return ok;
  }
}

/** Keeps what the page said: console messages, uncaught errors, failed requests. */
function recordConsole(page) {
  const log = { lines: [], pageErrors: [] };
  const add = (line) => log.lines.push(`${new Date().toISOString()} ${line}`);
  page.on('console', (m) => add(`console.${m.type()}: ${m.text()} (${m.location().url}:${m.location().lineNumber})`));
  page.on('pageerror', (e) => {
    log.pageErrors.push(e.stack || String(e));
    add(`pageerror: ${e.stack || e}`);
  });
  page.on('requestfailed', (r) => add(`requestfailed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => r.status() >= 400 && add(`response ${r.status()}: ${r.request().method()} ${r.url()}`));
  return log;
}

const SCENARIOS = [
  ['explore', scenarioExplore],
  ['facets', scenarioFacets],
  ['level-filter', scenarioLevelFilter],
  ['filter-out', scenarioFilterOut],
  ['row-details', scenarioRowDetails],
  ['query-error', scenarioQueryError],
  ['query-error-cleared', scenarioQueryErrorCleared],
  ['history', scenarioHistory],
  ['histogram-zoom', scenarioZoom],
  ['range-picker', scenarioRangePicker],
  ['patterns', scenarioPatterns],
  ['pattern-filter', scenarioPatternFilter],
  ['alerts', scenarioAlerts],
  ['live-tail', scenarioLiveTail],
  ['live-tail-reconnect', scenarioLiveTailReconnect],
  ['live-tail-stop', scenarioLiveTailStop],
  ['narrow', scenarioNarrow, { shot: false }], // its own narrow.png, narrow-patterns.png, narrow-alerts.png
  ['100k-rows', scenarioManyRows],
  ['crowded-timestamps', scenarioCrowdedTimestamps],
  ['alerts-empty', scenarioAlertsEmpty],
];

async function scenarioUiLoads({ ui, main }) {
  await ui.open(main.url, '');
  try {
    for (const id of ['nav-explore', 'nav-patterns', 'nav-alerts', 'query-input']) {
      await ui.el(id).waitFor({ state: 'visible', timeout: WAIT_MS });
    }
  } catch (e) {
    const body = (await ui.page.evaluate(() => document.body?.innerText ?? '')).slice(0, 300);
    throw new CheckFailed(`the web UI did not load (is it built into this lode, or is --web-dir right?): ${e.message.split('\n')[0]}; the page says: ${JSON.stringify(body)}`);
  }
}

/** Like Promise.all, but waits for every promise before throwing the first error. */
async function all(promises) {
  const results = await Promise.allSettled(promises);
  const failure = results.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
}

/** Starts both servers and feeds them; returns what the scenarios need to know. */
async function prepareServers(main, big) {
  const t0 = Date.now();
  await all([main.start(), big.start()]);
  await all([
    main.gen({ count: MAIN_LINES, seed: 7, intervalMs: 1000 }),
    big.gen({ count: BIG_LINES, seed: 11, intervalMs: 27 }),
  ]);
  console.log(`servers ready and fed in ${((Date.now() - t0) / 1000).toFixed(1)} s (main ${main.url}, big ${big.url})`);
  const byService = await main.countBy('service', '{}', nowNs() - 2n * 3600n * SEC, nowNs());
  return { topService: [...byService].sort((a, b) => b[1] - a[1])[0][0] };
}

async function openBrowser(chromium) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false, // main() cleans up, servers too
  });
  const context = await browser.newContext({ viewport: DESKTOP, timezoneId: 'UTC', locale: 'en-US' });
  await context.addInitScript(countLoadingChanges);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  return { browser, page };
}

async function main() {
  const opts = options();
  const { chromium } = loadPlaywright();
  const t0 = Date.now();
  opts.artifacts = artifactsDir(opts.artifacts);
  console.log(`artifacts: ${opts.artifacts}`);
  const mainServer = new LodeServer(opts.lode, { name: 'main', rulesYaml: RULES_YAML, webDir: opts.webDir });
  const bigServer = new LodeServer(opts.lode, { name: 'big', webDir: opts.webDir });
  const servers = [mainServer, bigServer];
  const failed = [];
  let browser = null;
  let log = null;
  let interrupted = null;
  const stopAll = async () => {
    await browser?.close().catch(() => {});
    for (const s of servers) await s.cleanup();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      interrupted = sig;
      console.log(`interrupted by ${sig}: cleaning up`);
      stopAll().finally(() => process.exit(1));
    });
  }
  try {
    const facts = await prepareServers(mainServer, bigServer);
    let page;
    ({ browser, page } = await openBrowser(chromium));
    log = recordConsole(page);
    const ui = new UI(page);
    const steps = new Steps(ui, opts.artifacts, failed);
    const ctx = { ui, main: mainServer, big: bigServer, artifacts: opts.artifacts, state: {}, ...facts };
    if (await steps.run('ui-loads', scenarioUiLoads, ctx, { shot: false })) {
      for (const [name, fn, how] of SCENARIOS) if (!interrupted) await steps.run(name, fn, ctx, how);
    }
    if (log.pageErrors.length > 0) {
      failed.push('no-page-errors');
      console.log(`FAIL no-page-errors: the page threw ${log.pageErrors.length} uncaught error(s):\n  ${log.pageErrors.join('\n  ')}`);
    } else {
      console.log('ok no-page-errors');
    }
    await browser.close();
    for (const s of servers) await s.stop();
  } catch (e) {
    failed.push('harness');
    console.log(`FAIL harness: ${e.stack || e}`);
  } finally {
    if (log) fs.writeFileSync(path.join(opts.artifacts, 'console.log'), log.lines.join('\n') + '\n');
    if (failed.length > 0) {
      for (const s of servers) if (s.logPath) console.log(`--- ${s.name} server log (tail) ---\n${s.logTail()}`);
    }
    await stopAll();
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`${failed.length ? `FAILED: ${failed.join(', ')}` : 'all passed'} in ${secs} s; artifacts in ${opts.artifacts}`);
  process.exit(failed.length ? 1 : 0);
}

await main();
