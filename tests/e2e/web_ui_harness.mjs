// Helpers for test_web_ui.mjs: a real `lode serve` on a free loopback port with a
// temporary data directory (the JavaScript twin of lodetest.py's Server), `lode gen` to
// feed it, and the server's own query API as ground truth. Node's standard library only.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const SKIP = 77;

// Debian's chromium, headless as root: no sandbox, and none of its background connections
// (this machine's network is closed; they fail by the dozen otherwise).
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage', // containers often have a small /dev/shm
];
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

export class CheckFailed extends Error {}

export function check(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

export function checkEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new CheckFailed(`${what}: expected ${e}, got ${a}`);
}

/** Polls `fn` (async) until it returns a truthy value or `timeoutMs` passes; returns the
 *  last value (falsy on timeout). Polling only waits: it never decides a test by itself. */
export async function poll(fn, { timeoutMs = 30_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await sleep(intervalMs);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function nowNs() {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Runs a program to completion; resolves with its stdout, rejects naming its stderr. */
export function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err}`)),
    );
  });
}

const live = new Set(); // servers not yet cleaned up, killed if the process exits early
process.on('exit', () => {
  for (const s of live) s.killNow();
});

/** A `lode serve` process with its own temporary directory (data, rules file, log). */
export class LodeServer {
  constructor(lode, { name = 'lode', rulesYaml = null, webDir = null } = {}) {
    this.lode = lode;
    this.name = name;
    this.rulesYaml = rulesYaml;
    this.webDir = webDir;
    this.proc = null;
    this.exited = null; // resolves with the exit code
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.root = await fsp.mkdtemp(path.join(os.tmpdir(), `lode-webui-${this.name}-`));
    this.logPath = path.join(this.root, 'server.log');
    this.port = await freePort();
    await this.launch();
  }

  /** SIGTERM, then the same server again: same data, same port. */
  async restart() {
    await this.stop();
    await this.launch();
  }

  async launch() {
    const args = ['serve', '--data', path.join(this.root, 'data'), '--http', `127.0.0.1:${this.port}`];
    if (this.rulesYaml !== null) {
      const rules = path.join(this.root, 'rules.yaml');
      await fsp.writeFile(rules, this.rulesYaml);
      args.push('--rules', rules);
    }
    if (this.webDir) args.push('--web-dir', this.webDir);
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(this.lode, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => resolve(code ?? signal));
      this.proc.on('error', (e) => resolve(`an error: ${e.message}`)); // e.g. no such file
    });
    let exitCode;
    this.exited.then((c) => (exitCode = c));
    const ready = await poll(
      async () => exitCode !== undefined || (await this.isReady()),
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: 50 },
    );
    if (exitCode !== undefined) throw new Error(`${this.name}: lode serve exited with ${exitCode}:\n${this.logTail()}`);
    if (!ready) throw new Error(`${this.name}: lode serve was not ready within 30 s:\n${this.logTail()}`);
    return this;
  }

  async isReady() {
    try {
      const r = await this.fetch('/readyz');
      await r.arrayBuffer();
      return r.status === 200;
    } catch {
      return false; // not listening yet
    }
  }

  /** SIGTERM and wait; throws when it does not stop cleanly within 30 s. */
  async stop() {
    if (!this.running()) return;
    this.proc.kill('SIGTERM');
    const timer = new AbortController(); // so a prompt stop does not keep Node alive 30 s
    const code = await Promise.race([
      this.exited,
      sleep(STOP_TIMEOUT_MS, 'timeout', { signal: timer.signal }).catch(() => 'aborted'),
    ]);
    timer.abort();
    if (code === 'timeout') {
      this.killNow();
      throw new Error(`${this.name}: lode serve did not stop within 30 s of SIGTERM`);
    }
    if (code !== 0) throw new Error(`${this.name}: lode serve exited with ${code}:\n${this.logTail()}`);
  }

  running() {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  killNow() {
    if (this.running()) this.proc.kill('SIGKILL');
  }

  /** Kills the process if still running and removes the temporary directory. */
  async cleanup() {
    if (this.running()) {
      this.killNow();
      await this.exited;
    }
    live.delete(this);
    if (this.root) await fsp.rm(this.root, { recursive: true, force: true });
  }

  logTail(chars = 4000) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').slice(-chars);
    } catch {
      return '';
    }
  }

  fetch(pathAndQuery, init = {}) {
    return fetch(this.url + pathAndQuery, { ...init, signal: AbortSignal.timeout(60_000) });
  }

  async getJson(pathname, params = {}, headers = {}) {
    const r = await this.fetch(`${pathname}?${new URLSearchParams(params)}`, { headers });
    const text = await r.text();
    if (!r.ok) throw new CheckFailed(`GET ${pathname} ${JSON.stringify(params)}: HTTP ${r.status}: ${text}`);
    return JSON.parse(text);
  }

  /** The error text of a query the server refuses (400), or null when it accepts it. */
  async queryError(query) {
    const r = await this.fetch(`/loki/api/v1/query_range?${new URLSearchParams({ query, limit: '1' })}`);
    return r.ok ? null : (await r.text()).trim();
  }

  /** POST /api/v1/logs with one JSON object per line. */
  async postLogs(records) {
    const body = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const r = await this.fetch('/api/v1/logs', { method: 'POST', body, headers: { 'Content-Type': 'application/x-ndjson' } });
    check(r.ok, `POST /api/v1/logs: HTTP ${r.status}: ${await r.text()}`);
  }

  /** `lode gen` sending `count` lines, `intervalMs` apart, the last about now. */
  async gen({ count, seed, intervalMs }) {
    const span = BigInt(Math.round(count * intervalMs)) * 1_000_000n;
    await run(this.lode, [
      'gen', '--url', this.url, '--count', String(count), '--rate', '0', '--quiet',
      '--seed', String(seed), '--start', String(nowNs() - span), '--interval', `${intervalMs}ms`,
    ]);
    const stored = await poll(async () => (await this.count('{}', nowNs() - 2n * span, nowNs())) >= count);
    check(stored, `${this.name}: the ${count} generated lines were not all queryable within 30 s`);
  }

  // ---- ground truth from the server's own query API --------------------------------------

  // Ranges are [from, to), as query_range reads start and end: an instant count at to - 1 ns
  // over to - from covers (from - 1, to - 1], the same lines.

  /** Lines matching the log query `query` with timestamps in [fromNs, toNs). */
  async count(query, fromNs, toNs) {
    const byNothing = await this.countBy(null, query, fromNs, toNs);
    return byNothing.get('') ?? 0;
  }

  /** Map label value -> matching lines in [fromNs, toNs); label null: one total under ''. */
  async countBy(label, query, fromNs, toNs) {
    const range = BigInt(toNs) - BigInt(fromNs);
    const agg = label ? `sum by (${label})` : 'sum';
    const metric = `${agg} (count_over_time(${query} [${range}ns]))`;
    const j = await this.getJson('/loki/api/v1/query', { query: metric, time: String(BigInt(toNs) - 1n) });
    return new Map(j.data.result.map((s) => [label ? s.metric[label] ?? '' : '', Number(s.value[1])]));
  }

  /** Up to `limit` lines of `query` in [fromNs, toNs), newest first, each
   *  {ts, line, labels, attributes} (attributes: structured metadata and parsed labels). */
  async lines(query, fromNs, toNs, limit = 100) {
    const j = await this.getJson(
      '/loki/api/v1/query_range',
      { query, start: String(fromNs), end: String(toNs), limit: String(limit), direction: 'backward' },
      { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' },
    );
    const out = [];
    for (const s of j.data.result) {
      for (const [ts, line, meta = {}] of s.values) {
        out.push({ ts, line, labels: s.stream, attributes: { ...meta.structuredMetadata, ...meta.parsed } });
      }
    }
    return out.sort((a, b) => (BigInt(b.ts) > BigInt(a.ts) ? 1 : BigInt(b.ts) < BigInt(a.ts) ? -1 : 0));
  }

  async rules() {
    return (await this.getJson('/api/v1/rules')).rules;
  }

  async alerts() {
    return (await this.getJson('/api/v1/alerts')).alerts;
  }

  async patterns(query, since) {
    return (await this.getJson('/api/v1/patterns', { query, since, limit: '1000' })).data.patterns;
  }
}
