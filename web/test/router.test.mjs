import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const Ro = await load('router');
const H = await load('history');

test('parseHash and formatHash round-trip', () => {
  const s = { view: 'patterns', q: '{service="a b"} |= "x&y"', from: 'now-6h', to: 'now' };
  const h = Ro.formatHash(s);
  assert.ok(h.startsWith('#/patterns?q='));
  assert.ok(!h.includes('+'));
  assert.deepEqual(Ro.parseHash(h), s);
  assert.deepEqual(Ro.parseHash(''), { view: 'explore', q: '{}', from: 'now-1h', to: 'now' });
  assert.deepEqual(Ro.parseHash('#/nowhere'), { view: 'explore', q: '{}', from: 'now-1h', to: 'now' });
  assert.equal(Ro.parseHash('#/alerts?q=1%2B1').q, '1+1');
});

test('pushHistory keeps 50 distinct queries, newest first', () => {
  let list = [];
  for (let i = 0; i < 60; i++) list = H.pushHistory(list, `q${i % 55}`);
  assert.equal(list.length, 50);
  assert.equal(list[0], 'q4');
  list = H.pushHistory(['a', 'b', 'c'], ' b ');
  assert.deepEqual(list, ['b', 'a', 'c']);
  assert.deepEqual(H.pushHistory(['a'], '   '), ['a']);
});
