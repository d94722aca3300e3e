#!/usr/bin/env node
// Benchmark of Lode's web UI: headless Chromium (playwright-core) against a fresh `lode serve`
// fed by `lode gen`, on the machine at hand. Timing is reported, never asserted.
//
//   node bench/web_ui_bench.mjs --lode build/lode [--lines 300000] [--runs 5]
//
// Measures the bundle's size, the explore view's first load (three queries, against the
// server time of the same requests from the API), loading and scrolling 100,000 rows, and
// live-tail latency. Progress goes to stderr; the Markdown report and a last JSON line to
// stdout, the report also to bench/out/web-ui-<UTC time>.md. Exit 77 when Chromium or
// playwright-core is missing (as tests/e2e/test_web_ui.mjs). Server, browser and temporary
// directories are removed on exit, on errors and on Ctrl-C.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, CHROMIUM_ARGS, SKIP, LodeServer, poll } from '../tests/e2e/web_ui_harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VIEWPORT = { width: 1400, height: 900 };
const WAIT_MS = 60_000;
const HOUR_MS = 3_600_000;

// What the explore view asks for (web/src/explore.ts, timerange.ts, table.ts).
const FIRST_PAGE = 1000; // the default page size
const NICE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const ROW_HEIGHT = 24; // px, the virtualised table's fixed row height
const NEAR_END_ROWS = 150; // the table loads the next page this close to the end

const QUERIES = [
  { name: 'all lines', query: '{}' },
  { name: 'selective', query: '{} |= "timeout"' },
  // `__error__=""` keeps the count queries valid: without it the server refuses them (lines
  // logfmt cannot read carry __error__) and the UI asks again with `| drop __error__`.
  { name: 'parser', query: '{} | logfmt | __error__="" | status >= 500' },
];
const MANY_ROWS = 100_000;
const SCROLL_STEPS = 50;
const SCROLL_STOP_ROWS = NEAR_END_ROWS + 50; // stop this far above the bottom: no page is loaded
const TAIL_SERVICE = 'tail-probe';
const TAIL_LINES = 50;

// ---- set-up ------------------------------------------------------------------------------

function options() {
  const { values } = parseArgs({
    options: {
      lode: { type: 'string' },
      lines: { type: 'string', default: '300000' },
      runs: { type: 'string', default: '5' },
    },
  });
  const lines = Number(values.lines);
  const runs = Number(values.runs);
  if (!values.lode || !Number.isInteger(lines) || lines < 1 || !Number.isInteger(runs) || runs < 1) {
    console.error('usage: node bench/web_ui_bench.mjs --lode PATH [--lines 300000] [--runs 5]');
    process.exit(2);
  }
  return { lode: path.resolve(values.lode), lines, runs };
}

function loadPlaywright() {
  const skip = (why) => {
    console.log(`SKIP: ${why}`);
    process.exit(SKIP);
  };
  if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} is missing (Debian's chromium package; scripts/setup.sh installs it)`);
  try {
    return createRequire(import.meta.url)('../tests/clients/node_modules/playwright-core');
  } catch (e) {
    skip(`playwright-core is missing from tests/clients/node_modules (scripts/setup.sh installs it): ${e.message}`);
  }
}

const started = Date.now();
function progress(text) {
  console.error(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${text}`);
}

// ---- numbers -----------------------------------------------------------------------------

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** Nearest-rank percentile. */
const percentile = (xs, p) => sorted(xs)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)];
const min = (xs) => Math.min(...xs);
const max = (xs) => Math.max(...xs);
const round1 = (x) => Math.round(x * 10) / 10;
const int = (x) => Math.round(x).toLocaleString('en-US');
const ms = (x) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x >= 100 ? int(x) : x.toFixed(1));
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const medMin = (xs) => `${ms(median(xs))} / ${ms(min(xs))}`;

// ---- the UI's requests, for the API timings --------------------------------------------

/** The histogram step for a range (timerange.ts chooseStep, ~120 bars). */
function chooseStep(rangeSeconds) {
  return NICE_STEPS.find((s) => s >= rangeSeconds / 120) ?? Math.ceil(rangeSeconds / 120 / 86400) * 86400;
}

const formatStep = (s) => (s % 86400 === 0 ? `${s / 86400}d` : s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`);
const countQuery = (q, by, range) => `sum by (${by}) (count_over_time(${q} [${range}]))`;

/** The four requests the explore view sends for `query` over [now - 1h, now). */
function uiRequests(query, nowMs) {
  const fromMs = nowMs - HOUR_MS;
  const fromNs = BigInt(fromMs) * 1_000_000n;
  const toNs = BigInt(nowMs) * 1_000_000n;
  const step = chooseStep(HOUR_MS / 1000);
  const stepMs = step * 1000;
  const histStart = (Math.floor(fromMs / stepMs) + 1) * step; // timerange.ts histogramPoints
  const histEnd = Math.max(histStart, Math.ceil(nowMs / stepMs) * step);
  const rangeNs = `${toNs - fromNs}ns`;
  const at = String(toNs - 1n);
  return [
    {
      key: 'lines', what: `log lines, limit ${FIRST_PAGE}, backward`,
      path: '/loki/api/v1/query_range',
      params: { query, start: String(fromNs), end: String(toNs), limit: String(FIRST_PAGE), direction: 'backward' },
      headers: { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' },
    },
    {
      key: 'histogram', what: `sum by (level) [${formatStep(step)}], step ${step}s`,
      path: '/loki/api/v1/query_range',
      params: { query: countQuery(query, 'level', formatStep(step)), start: `${histStart}000000000`, end: `${histEnd}000000000`, step: String(step) },
    },
    {
      key: 'levels', what: 'sum by (level) over the range, instant (the total)',
      path: '/loki/api/v1/query',
      params: { query: countQuery(query, 'level', rangeNs), time: at },
    },
    {
      key: 'services', what: 'sum by (service) over the range, instant',
      path: '/loki/api/v1/query',
      params: { query: countQuery(query, 'service', rangeNs), time: at },
    },
  ];
}

/** One request: wall ms until the whole body is read, and the server's own execTime. */
async function timeRequest(server, req) {
  const t0 = performance.now();
  const r = await server.fetch(`${req.path}?${new URLSearchParams(req.params)}`, { headers: req.headers ?? {} });
  const text = await r.text();
  const wall = performance.now() - t0;
  if (!r.ok) throw new Error(`GET ${req.path} ${JSON.stringify(req.params)}: HTTP ${r.status}: ${text}`);
  const exec = JSON.parse(text).data?.stats?.summary?.execTime;
  return { wall, exec: exec === undefined ? null : exec * 1000 };
}

// ---- 1. bundle -----------------------------------------------------------------------------

/** GET with exactly these headers (node:http: no automatic Accept-Encoding or decoding). */
function rawGet(url, headers) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, encoding: res.headers['content-encoding'] ?? null, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function measureBundle(server) {
  const out = [];
  for (const file of ['app.js', 'app.css', 'index.html']) {
    const raw = await rawGet(`${server.url}/${file}`, {});
    const gz = await rawGet(`${server.url}/${file}`, { 'Accept-Encoding': 'gzip' });
    if (raw.status !== 200 || gz.status !== 200) throw new Error(`GET /${file}: HTTP ${raw.status} / ${gz.status}`);
    const gzipped = gz.encoding === 'gzip';
    const same = gzipped ? zlib.gunzipSync(gz.body).equals(raw.body) : gz.body.equals(raw.body);
    if (!same) progress(`warning: the gzip answer for /${file} does not unzip to the plain one`);
    out.push({ file, raw: raw.body.length, gzip: gzipped ? gz.body.length : null });
  }
  return out;
}

// ---- the browser side ----------------------------------------------------------------------

// Runs before the app (an init script): the time, from navigation start, at which each part
// of the explore view first shows, as the DOM changes.
function installMarks() {
  const marks = {};
  window.__benchMarks = marks;
  const has = (sel) => document.querySelector(sel) !== null;
  new MutationObserver(() => {
    const t = performance.now();
    if (marks.row === undefined && has('[data-testid="result-row"]')) marks.row = t;
    if (marks.total === undefined && has('[data-testid="histogram"][data-total]')) marks.total = t;
    if (marks.facets === undefined && has('[data-testid="facet-level"] [data-testid="facet-item"]') &&
        has('[data-testid="facet-service"] [data-testid="facet-item"]')) marks.facets = t;
    // the view has started (the histogram has its range) and no request is in flight
    if (marks.idle === undefined && document.body?.dataset.loading === 'false' &&
        has('[data-testid="histogram"][data-from-ns]')) marks.idle = t;
  }).observe(document, { subtree: true, childList: true, attributes: true });
}

/** In the page: the marks once all four are set, and the DOMContentLoaded time. */
function readMarks() {
  const m = window.__benchMarks;
  if (!m || [m.row, m.total, m.facets, m.idle].some((t) => t === undefined)) return null;
  const nav = performance.getEntriesByType('navigation')[0];
  const total = Number(document.querySelector('[data-testid="histogram"]').getAttribute('data-total'));
  return { ...m, dcl: nav?.domContentLoadedEventEnd ?? null, matching: total };
}

/** In the page: the explore view is settled (results, total and no request in flight). */
function settled() {
  return document.body.dataset.loading === 'false' &&
    document.querySelector('[data-testid="histogram"][data-total]') !== null;
}

/** In the page: selects page size `size`; resolves when a page is loaded (`size` rows, or all
 *  there are) and when no request is left in flight (ms after the change). */
function selectPageSize({ size, timeoutMs }) {
  const select = document.querySelector('[data-testid="page-size"]');
  const count = document.querySelector('[data-testid="result-count"]');
  const full = () => {
    const loaded = Number(count.dataset.loaded);
    return loaded >= size || (count.dataset.total !== undefined && loaded >= Number(count.dataset.total));
  };
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let loadedMs;
    const observer = new MutationObserver(() => {
      if (loadedMs === undefined && full()) loadedMs = performance.now() - t0;
      if (loadedMs !== undefined && document.body.dataset.loading === 'false') {
        observer.disconnect();
        clearTimeout(timer);
        resolve({ loadedMs, idleMs: performance.now() - t0, loaded: Number(count.dataset.loaded) });
      }
    });
    observer.observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-loaded', 'data-loading'] });
    const timer = setTimeout(() => {
      observer.disconnect();
      reject(new Error(`page size ${size}: ${count.dataset.loaded} rows loaded after ${timeoutMs} ms`));
    }, timeoutMs);
    select.value = String(size);
    select.dispatchEvent(new Event('change'));
  });
}

/**
 * In the page: scrolls the results from the top to `stopRows` rows above the bottom in
 * `steps` steps, one at a time. Per step:
 *  - step: from setting scrollTop to the start of the frame after the one that rendered the
 *    rows of the new position (so that frame was produced): what a user waits;
 *  - work: from the scroll event (dispatched at the start of a frame, the table's listener
 *    first) to after the table's render and a forced style and layout, checked in an
 *    animation-frame callback queued by our listener, so it runs right after the table's.
 */
async function scrollSteps({ steps, stopRows, rowHeight, timeoutMs }) {
  const el = document.querySelector('[data-testid="results"]');
  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  // Rows cover the top and the bottom edge of the view (reading their boxes forces style
  // and layout: the work of the frame is then done but for painting).
  const shown = () => {
    const view = el.getBoundingClientRect();
    const rows = [...el.querySelectorAll('[data-testid="result-row"]')].map((r) => r.getBoundingClientRect());
    const covered = (y) => rows.some((r) => r.top <= y && r.bottom > y);
    return covered(view.top + 1) && covered(view.bottom - 1);
  };
  const bottom = el.scrollHeight - el.clientHeight - stopRows * rowHeight;
  const out = [];
  await nextFrame();
  for (let i = 1; i <= steps; i++) {
    const rendered = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`scroll step ${i}: no rows in view after ${timeoutMs} ms`)), timeoutMs);
      let scrolledAt;
      const check = () => {
        if (!shown()) return void requestAnimationFrame(check);
        clearTimeout(timer);
        resolve(performance.now() - scrolledAt);
      };
      const onScroll = () => {
        scrolledAt = performance.now();
        el.removeEventListener('scroll', onScroll);
        requestAnimationFrame(check);
      };
      el.addEventListener('scroll', onScroll);
    });
    const t0 = performance.now();
    el.scrollTop = Math.round((bottom * i) / steps);
    const work = await rendered;
    const next = await nextFrame();
    out.push({ step: next - t0, work });
  }
  return { samples: out, scrolledRows: Math.round(bottom / rowHeight), domRows: el.querySelectorAll('[data-testid="result-row"]').length };
}

/** In the page: records when each live row `<prefix><n>` is added to the results (epoch ms). */
function recordArrivals(prefix) {
  window.__arrivals = {};
  const re = new RegExp(`${prefix}(\\d+)`);
  const results = document.querySelector('[data-testid="results"]');
  new MutationObserver((records) => {
    const t = performance.timeOrigin + performance.now();
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (!(n instanceof HTMLElement) || n.dataset.testid !== 'result-row') continue;
        const m = re.exec(n.textContent);
        if (m && !(m[1] in window.__arrivals)) window.__arrivals[m[1]] = t;
      }
    }
  }).observe(results, { childList: true });
  return Date.now() - (performance.timeOrigin + performance.now()); // the page clock's offset
}

async function newPage(browser, { marks = false } = {}) {
  const context = await browser.newContext({ viewport: VIEWPORT, timezoneId: 'UTC', locale: 'en-US' });
  if (marks) await context.addInitScript(installMarks);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (e) => progress(`page error: ${e.message}`));
  return { context, page };
}

const exploreUrl = (server, query, from = 'now-1h') =>
  `${server.url}/#/explore?${new URLSearchParams({ q: query, from, to: 'now' })}`;

async function openExplore(page, server, query, from) {
  await page.goto('about:blank');
  await page.goto(exploreUrl(server, query, from));
  await page.waitForFunction(settled, undefined, { timeout: WAIT_MS, polling: 50 });
}

async function heapUsed(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  return metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? null;
}

// ---- 2 and 3. explore's first view, and the same requests from the API -------------------

async function measureFirstView(browser, server, query, runs) {
  const { context, page } = await newPage(browser, { marks: true });
  try {
    const samples = [];
    let requests = 0; // the UI's API requests, to compare with the API timings
    page.on('request', (r) => void (r.url().includes('/loki/api/') && requests++));
    for (let i = 0; i < runs; i++) {
      await page.goto('about:blank');
      await page.goto(exploreUrl(server, query));
      const h = await page.waitForFunction(readMarks, undefined, { timeout: WAIT_MS, polling: 50 });
      samples.push(await h.jsonValue());
    }
    const pick = (k) => samples.map((s) => s[k]);
    return {
      matching: samples.at(-1).matching, requests: requests / runs,
      dcl: pick('dcl'), row: pick('row'), total: pick('total'), facets: pick('facets'), idle: pick('idle'),
    };
  } finally {
    await context.close();
  }
}

async function measureApi(server, query, runs) {
  const what = Object.fromEntries(uiRequests(query, Date.now()).map((r) => [r.key, r.what]));
  const seq = Object.fromEntries(Object.keys(what).map((k) => [k, { wall: [], exec: [] }]));
  const together = [];
  for (let i = 0; i < runs; i++) {
    for (const req of uiRequests(query, Date.now())) {
      const t = await timeRequest(server, req);
      seq[req.key].wall.push(t.wall);
      if (t.exec !== null) seq[req.key].exec.push(t.exec);
    }
    const t0 = performance.now();
    await Promise.all(uiRequests(query, Date.now()).map((req) => timeRequest(server, req)));
    together.push(performance.now() - t0);
  }
  return { seq, together, what };
}

// ---- 4. 100,000 rows -------------------------------------------------------------------------

async function measureManyRows(browser, server) {
  const { context, page } = await newPage(browser);
  try {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    await openExplore(page, server, '{}');
    const heapFirstPage = await heapUsed(cdp);

    let lineRequests = 0;
    const countRequest = (r) => {
      const u = r.url();
      if (u.includes('/loki/api/v1/query_range') && u.includes('direction=backward')) lineRequests++;
    };
    page.on('request', countRequest);
    const load = await page.evaluate(selectPageSize, { size: MANY_ROWS, timeoutMs: WAIT_MS });
    const total = Number(await page.getAttribute('[data-testid="result-count"]', 'data-total'));
    page.off('request', countRequest);
    const heapLoaded = await heapUsed(cdp);

    const scroll = await page.evaluate(scrollSteps, { steps: SCROLL_STEPS, stopRows: SCROLL_STOP_ROWS, rowHeight: ROW_HEIGHT, timeoutMs: 10_000 });
    const heapScrolled = await heapUsed(cdp);
    return {
      total, ...load, lineRequests,
      step: scroll.samples.map((s) => s.step), work: scroll.samples.map((s) => s.work),
      scrolledRows: scroll.scrolledRows, domRows: scroll.domRows,
      heap: { firstPage: heapFirstPage, loaded: heapLoaded, scrolled: heapScrolled },
    };
  } finally {
    await context.close();
  }
}

// ---- 5. live tail ------------------------------------------------------------------------------

async function measureLiveTail(browser, server) {
  const { context, page } = await newPage(browser);
  try {
    await openExplore(page, server, `{service="${TAIL_SERVICE}"}`, 'now-15m');
    const prefix = `wb-live-${process.pid}-${Date.now()}-`;
    const clockOffset = await page.evaluate(recordArrivals, prefix);
    await page.click('[data-testid="live-toggle"]');
    await page.waitForFunction(() => {
      const s = document.querySelector('[data-testid="live-status"]');
      return document.querySelector('[data-testid="live-toggle"]').getAttribute('aria-pressed') === 'true' &&
        s && !s.hidden && s.textContent !== 'Connecting…';
    }, undefined, { timeout: WAIT_MS, polling: 50 });

    const sent = [];
    for (let i = 0; i < TAIL_LINES; i++) {
      const at = Date.now();
      sent.push(at);
      await server.postLogs([{
        message: `${prefix}${i} sent_ms=${at}`, level: 'info', service: TAIL_SERVICE, timestamp: new Date(at).toISOString(),
      }]);
      await sleep(100 + ((i * 37) % 50)); // 100-150 ms apart: every phase of the tail's push interval
    }
    const arrivals = await poll(async () => {
      const a = await page.evaluate(() => window.__arrivals);
      return Object.keys(a).length >= TAIL_LINES && a;
    }, { timeoutMs: 30_000, intervalMs: 100 }) || (await page.evaluate(() => window.__arrivals));
    const latency = sent.map((at, i) => arrivals[i] - at).filter((x) => Number.isFinite(x));
    return { sent: sent.length, arrived: latency.length, latency, clockOffset };
  } finally {
    await context.close();
  }
}

// ---- report ------------------------------------------------------------------------------------

function report(r) {
  const L = [];
  const add = (...lines) => L.push(...lines);
  add('# Lode web UI benchmark', '');
  add(`${r.date} · nproc ${r.nproc} · load average before ${r.loadBefore.map((x) => x.toFixed(2)).join(' ')} ` +
    `(after ${r.loadAfter.map((x) => x.toFixed(2)).join(' ')}) · Chromium ${r.chromium} (headless, playwright-core ${r.playwright}) · ` +
    `Node ${process.version} · ${r.lode}`);
  add('', `${int(r.lines)} lines of \`lode gen --seed 1\` over the last hour, fed in ${(r.feedMs / 1000).toFixed(1)} s and ` +
    `flushed in ${ms(r.flushMs)} ms; viewport ${VIEWPORT.width}×${VIEWPORT.height}; ${r.runs} runs of each measurement.`, '');

  add('## Bundle (bytes as served)', '', '| file | raw | gzip | gzip/raw |', '|---|---:|---:|---:|');
  for (const b of r.bundle) {
    add(`| ${b.file} | ${int(b.raw)} | ${b.gzip === null ? 'not gzipped' : int(b.gzip)} | ${b.gzip === null ? '' : `${((100 * b.gzip) / b.raw).toFixed(1)}%`} |`);
  }
  const tot = r.bundle.reduce((a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + (b.gzip ?? b.raw) }), { raw: 0, gzip: 0 });
  add(`| total | ${int(tot.raw)} | ${int(tot.gzip)} | ${((100 * tot.gzip) / tot.raw).toFixed(1)}% |`, '');

  add('## Explore, first view (ms from navigation start, median / min)', '',
    '`/#/explore?q=Q&from=now-1h&to=now` in a fresh document (about:blank, then the URL). Each time is when the DOM first shows it: ' +
    'a result row; the histogram\'s `data-total`; level and service facets; `<body data-loading="false">` (every request answered). ' +
    'API: the same four requests sent at once from Node (median); overhead: idle − API.', '',
    '| query | matching | UI requests | DOMContentLoaded | first row | histogram total | facets | idle | API, 4 at once | overhead |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const q of r.explore) {
    const v = q.ui;
    add(`| \`${q.query.replaceAll('|', '\\|')}\` | ${int(v.matching)} | ${v.requests} | ${medMin(v.dcl)} | ${medMin(v.row)} | ${medMin(v.total)} | ` +
      `${medMin(v.facets)} | ${medMin(v.idle)} | ${ms(median(q.api.together))} | ${ms(median(v.idle) - median(q.api.together))} |`);
  }
  add('');

  add('## Server time of the UI\'s requests (one at a time from Node; median wall ms / median `execTime` ms)', '');
  const what = r.explore[0].api.what;
  const kinds = Object.keys(what);
  add(`| query | ${kinds.map((k) => `${k}: ${what[k]}`).join(' | ')} |`, `|---|${kinds.map(() => '---:').join('|')}|`);
  for (const q of r.explore) {
    add(`| \`${q.query.replaceAll('|', '\\|')}\` | ${kinds.map((k) => `${ms(median(q.api.seq[k].wall))} / ${ms(median(q.api.seq[k].exec))}`).join(' | ')} |`);
  }
  add('');

  const m = r.manyRows;
  add(`## ${int(MANY_ROWS)} rows`, '', '| figure | value |', '|---|---|');
  add(`| \`{}\` over the hour (${int(m.total)} lines): page size ${int(MANY_ROWS)} selected → \`data-loaded\` ≥ ${int(Math.min(MANY_ROWS, m.total))} | ` +
    `${ms(m.loadedMs)} ms (${m.lineRequests} line requests, ${int(m.loaded)} rows loaded) |`);
  add(`| … → every request answered (histogram and facets again too) | ${ms(m.idleMs)} ms |`);
  add(`| scroll ${SCROLL_STEPS} steps over ${int(m.scrolledRows)} rows: step (scrollTop set → next frame after the rows rendered), p50 / p99 / max | ` +
    `${ms(percentile(m.step, 50))} / ${ms(percentile(m.step, 99))} / ${ms(max(m.step))} ms |`);
  add(`| … work (scroll event → table rendered + style + layout), p50 / p99 / max | ` +
    `${ms(percentile(m.work, 50))} / ${ms(percentile(m.work, 99))} / ${ms(max(m.work))} ms |`);
  add(`| result-row elements in the DOM after scrolling | ${m.domRows} |`);
  add(`| JS heap used after GC: first page (${int(FIRST_PAGE)} rows) / ${int(m.loaded)} rows / after scrolling | ` +
    `${mib(m.heap.firstPage)} / ${mib(m.heap.loaded)} / ${mib(m.heap.scrolled)} (${int((m.heap.loaded - m.heap.firstPage) / Math.max(1, m.loaded - FIRST_PAGE))} B per row) |`, '');

  const t = r.tail;
  add('## Live tail', '',
    `\`{service="${TAIL_SERVICE}"}\` with live on; ${t.sent} lines posted one at a time 100-150 ms apart; latency = Node's Date.now() before ` +
    'the POST → the row added to the DOM (page clock: timeOrigin + now()).', '',
    '| arrived | p50 | p90 | max | min | page clock − Node clock |', '|---:|---:|---:|---:|---:|---:|');
  add(t.latency.length
    ? `| ${t.arrived} of ${t.sent} | ${ms(percentile(t.latency, 50))} | ${ms(percentile(t.latency, 90))} | ${ms(max(t.latency))} | ${ms(min(t.latency))} | ${ms(-t.clockOffset)} ms |`
    : `| 0 of ${t.sent} | | | | | |`);
  return L.join('\n') + '\n';
}

/** The figures, rounded, as one JSON object. */
function summary(r) {
  const mm = (xs) => ({ median: round1(median(xs)), min: round1(min(xs)) });
  const m = r.manyRows;
  return {
    bench: 'web_ui', date: r.date, nproc: r.nproc, load_before: r.loadBefore, load_after: r.loadAfter,
    chromium: r.chromium, lines: r.lines, runs: r.runs, feed_ms: Math.round(r.feedMs), flush_ms: round1(r.flushMs),
    bundle: Object.fromEntries(r.bundle.map((b) => [b.file, { raw: b.raw, gzip: b.gzip }])),
    explore: r.explore.map((q) => ({
      query: q.query, matching: q.ui.matching, ui_requests: q.ui.requests,
      ui_ms: { dcl: mm(q.ui.dcl), first_row: mm(q.ui.row), total: mm(q.ui.total), facets: mm(q.ui.facets), idle: mm(q.ui.idle) },
      api_ms: {
        together: round1(median(q.api.together)),
        ...Object.fromEntries(Object.entries(q.api.seq).map(([k, v]) => [k, { wall: round1(median(v.wall)), exec: round1(median(v.exec)) }])),
      },
    })),
    many_rows: {
      rows: m.loaded, total: m.total, line_requests: m.lineRequests, loaded_ms: round1(m.loadedMs), idle_ms: round1(m.idleMs),
      scroll_step_ms: { p50: round1(percentile(m.step, 50)), p99: round1(percentile(m.step, 99)), max: round1(max(m.step)) },
      scroll_work_ms: { p50: round1(percentile(m.work, 50)), p99: round1(percentile(m.work, 99)), max: round1(max(m.work)) },
      dom_rows: m.domRows, heap_bytes: m.heap,
    },
    live_tail_ms: r.tail.latency.length
      ? { sent: r.tail.sent, arrived: r.tail.arrived, p50: round1(percentile(r.tail.latency, 50)), p90: round1(percentile(r.tail.latency, 90)), max: round1(max(r.tail.latency)) }
      : { sent: r.tail.sent, arrived: 0 },
  };
}

// ---- running -------------------------------------------------------------------------------------

async function main() {
  const opts = options();
  const playwright = loadPlaywright();
  const loadBefore = os.loadavg();
  const server = new LodeServer(opts.lode, { name: 'bench' });
  let browser = null;
  let cleaning = null;
  let interrupted = false;
  const cleanup = () => (cleaning ??= (async () => {
    await browser?.close().catch(() => {});
    await server.cleanup().catch(() => {});
  })());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      interrupted = true;
      progress(`interrupted by ${sig}: cleaning up`);
      cleanup().finally(() => process.exit(130));
    });
  }

  try {
    const r = {
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), nproc: os.availableParallelism(), loadBefore,
      lode: opts.lode, lines: opts.lines, runs: opts.runs,
      playwright: JSON.parse(fs.readFileSync(path.join(HERE, '../tests/clients/node_modules/playwright-core/package.json'), 'utf8')).version,
    };
    progress(`load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}; starting ${opts.lode} serve`);
    await server.start();
    progress(`feeding ${int(opts.lines)} lines over the last hour`);
    let t0 = performance.now();
    await server.gen({ count: opts.lines, seed: 1, intervalMs: HOUR_MS / opts.lines });
    r.feedMs = performance.now() - t0;
    t0 = performance.now();
    const flush = await server.fetch('/api/v1/admin/flush', { method: 'POST' });
    if (!flush.ok) throw new Error(`POST /api/v1/admin/flush: HTTP ${flush.status}: ${await flush.text()}`);
    await flush.arrayBuffer();
    r.flushMs = performance.now() - t0;

    r.bundle = await measureBundle(server);
    browser = await playwright.chromium.launch({
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
      handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false, // cleanup() closes it
    });
    r.chromium = browser.version();

    r.explore = [];
    for (const { name, query } of QUERIES) {
      progress(`explore, first view: ${name} (${query})`);
      const ui = await measureFirstView(browser, server, query, opts.runs);
      const api = await measureApi(server, query, opts.runs);
      r.explore.push({ name, query, ui, api });
    }
    progress(`${int(MANY_ROWS)} rows: load and scroll`);
    r.manyRows = await measureManyRows(browser, server);
    progress('live tail');
    r.tail = await measureLiveTail(browser, server);

    await browser.close();
    browser = null;
    await server.stop();
    r.loadAfter = os.loadavg();

    const text = report(r);
    process.stdout.write(text);
    const outDir = path.join(HERE, 'out');
    fs.mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `web-ui-${r.date.replace(/[-:]/g, '')}.md`);
    fs.writeFileSync(file, text);
    progress(`saved to ${path.relative(process.cwd(), file)}`);
    process.stdout.write(`${JSON.stringify(summary(r))}\n`);
  } catch (e) {
    if (interrupted) return; // what failed was the browser or the server going away
    console.error(`FAILED: ${e.stack || e}`);
    if (server.logPath) console.error(`--- server log (tail) ---\n${server.logTail()}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();
process.exit(); // the harness's stop() leaves a 30 s timer behind
