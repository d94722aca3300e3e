import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const T = await load('timerange');

test('parseDurationMs', () => {
  assert.equal(T.parseDurationMs('5m'), 300_000);
  assert.equal(T.parseDurationMs('1h30m'), 5_400_000);
  assert.equal(T.parseDurationMs('7d'), 604_800_000);
  assert.equal(T.parseDurationMs('250ms'), 250);
  assert.equal(T.parseDurationMs('x'), null);
  assert.equal(T.parseDurationMs(''), null);
});

test('resolveTime and resolveRange', () => {
  const now = 1_800_000_000_000;
  assert.equal(T.resolveTime('now', now), now);
  assert.equal(T.resolveTime('now-15m', now), now - 900_000);
  assert.equal(T.resolveTime('1700000000000', now), 1_700_000_000_000);
  assert.equal(T.resolveTime('1700000000', now), 1_700_000_000_000);
  assert.equal(T.resolveTime('1700000000123456789', now), 1_700_000_000_123);
  assert.equal(T.resolveTime('2024-11-14T00:00:00Z', now), Date.UTC(2024, 10, 14));
  assert.equal(T.resolveTime('garbage', now), null);
  assert.deepEqual(T.resolveRange({ from: 'now-1h', to: 'now' }, now), { fromMs: now - 3_600_000, toMs: now });
  // Reversed or invalid: the default hour.
  assert.deepEqual(T.resolveRange({ from: 'now', to: 'now-1h' }, now), { fromMs: now - 3_600_000, toMs: now });
});

test('presets', () => {
  assert.deepEqual(T.presetRange('15m'), { from: 'now-15m', to: 'now' });
  assert.equal(T.presetKey({ from: 'now-24h', to: 'now' }), '24h');
  assert.equal(T.presetKey({ from: 'now-2h', to: 'now' }), null);
  assert.deepEqual(T.PRESETS.map((p) => p.key), ['5m', '15m', '1h', '6h', '24h', '7d', '30d']);
  assert.equal(T.rangeLabel({ from: 'now-1h', to: 'now' }, 0), 'Last 1 hour');
  assert.equal(T.rangeLabel({ from: 'now-2h', to: 'now' }, 0), 'Last 2h');
});

test('chooseStep gives nice steps near range/120', () => {
  assert.equal(T.chooseStep(300), 5);
  assert.equal(T.chooseStep(900), 10);
  assert.equal(T.chooseStep(3600), 30);
  assert.equal(T.chooseStep(6 * 3600), 300);
  assert.equal(T.chooseStep(24 * 3600), 900);
  assert.equal(T.chooseStep(7 * 86400), 7200);
  assert.equal(T.chooseStep(30 * 86400), 21600);
  assert.equal(T.chooseStep(360 * 86400), 3 * 86400);
  assert.equal(T.chooseStep(10), 1);
  for (const s of T.NICE_STEPS) assert.ok(T.formatStep(s));
  assert.equal(T.formatStep(30), '30s');
  assert.equal(T.formatStep(900), '15m');
  assert.equal(T.formatStep(10800), '3h');
  assert.equal(T.formatStep(86400), '1d');
});

test('histogramPoints aligns buckets to the step', () => {
  // [10:00:05, 10:01:05) with 30 s steps: buckets end at :30, 1:00, 1:30.
  const base = Date.UTC(2026, 0, 1, 10, 0, 0);
  const p = T.histogramPoints(base + 5000, base + 65_000, 30);
  assert.equal(p.start, base / 1000 + 30);
  assert.equal(p.end, base / 1000 + 90);
  assert.equal(p.count, 3);
  const q = T.histogramPoints(base, base + 3_600_000, 30);
  assert.equal(q.count, 120);
});

test('datetime-local round trip', () => {
  const ms = new Date(2026, 10, 30, 13, 5, 7).getTime();
  assert.equal(T.toDatetimeLocal(ms), '2026-11-30T13:05:07');
  assert.equal(T.fromDatetimeLocal('2026-11-30T13:05:07'), ms);
  assert.equal(T.fromDatetimeLocal('2026-11-30T13:05'), ms - 7000);
  assert.equal(T.fromDatetimeLocal(''), null);
  assert.equal(T.msToNs(1500), '1500000000');
});

test('zoomOut doubles the range around its middle, never past now', () => {
  const now = Date.UTC(2026, 10, 30, 12, 0, 0);
  const h = 3_600_000;
  // A range ending now stays relative.
  assert.deepEqual(T.zoomOut(now - h, now, now), { from: 'now-2h', to: 'now' });
  // One in the past grows both ways.
  assert.deepEqual(T.zoomOut(now - 5 * h, now - 3 * h, now), { from: String(now - 6 * h), to: String(now - 2 * h) });
  // One whose double would reach now or past it ends now.
  assert.deepEqual(T.zoomOut(now - 2 * h, now - h, now), { from: String(now - 2.5 * h), to: String(now - 0.5 * h) });
  assert.deepEqual(T.zoomOut(now - 1.25 * h, now - 0.25 * h, now), { from: 'now-2h', to: 'now' });
});

