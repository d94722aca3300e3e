import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const R = await load('rows');

test('compareNs orders decimal strings numerically', () => {
  assert.ok(R.compareNs('999', '1000') < 0);
  assert.ok(R.compareNs('1796044263043784382', '1796044263043784381') > 0);
  assert.equal(R.compareNs('5', '5'), 0);
});

test('streamsToRows merges streams newest first, with or without metadata', () => {
  const rows = R.streamsToRows([
    { stream: { service: 'a', level: 'info' }, values: [['30', 'a3'], ['10', 'a1']] },
    {
      stream: { service: 'b', level: 'error' },
      values: [['20', 'b2', { structuredMetadata: { pattern_id: '7' }, parsed: { status: '500' } }]],
    },
    { stream: { service: 'c' }, values: [['15', 'c', { structuredMetadata: [{ name: 'k', value: 'v' }] }]] },
  ]);
  assert.deepEqual(rows.map((r) => r.line), ['a3', 'b2', 'c', 'a1']);
  assert.deepEqual(rows[1].metadata, { pattern_id: '7' });
  assert.deepEqual(rows[1].parsed, { status: '500' });
  assert.deepEqual(rows[2].metadata, { k: 'v' });
  assert.equal(rows[0].metadata, null);
  assert.deepEqual(R.streamsToRows([{ stream: {}, values: [['2', 'x'], ['1', 'y']] }], true).map((r) => r.ts), ['1', '2']);
});

test('paging cursor repeats the oldest timestamp and drops what was shown', () => {
  const s = { service: 'a' };
  const shown = R.streamsToRows([{ stream: s, values: [['1796044263043784390', 'n'], ['1796044263043784382', 'x'], ['1796044263043784382', 'y']] }]);
  const c = R.nextCursor(shown, '1796044263043784999');
  assert.equal(c.end, '1796044263043784383');
  const next = R.streamsToRows([{ stream: s, values: [['1796044263043784382', 'x'], ['1796044263043784382', 'y'], ['1796044263043784382', 'z'], ['1796044263043784300', 'old']] }]);
  assert.deepEqual(R.dropSeen(next, c).map((r) => r.line).sort(), ['old', 'z']);
  // Two identical entries, one shown: the second stays.
  const dup = R.streamsToRows([{ stream: s, values: [['5', 'same']] }]);
  const c2 = R.nextCursor(dup, '10');
  const again = R.streamsToRows([{ stream: s, values: [['5', 'same'], ['5', 'same']] }]);
  assert.equal(R.dropSeen(again, c2).length, 1);
  assert.equal(R.nextCursor([], '10').end, '10');
});
