import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './load.mjs';

const L = await load('logql');

test('quoteString escapes Go-style', () => {
  assert.equal(L.quoteString('plain'), '"plain"');
  assert.equal(L.quoteString('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(L.quoteString('x\ny\tz'), '"x\\ny\\tz"');
  assert.equal(L.quoteString('héllo ✓'), '"héllo ✓"');
});

test('sanitizeLabelName replaces characters outside [A-Za-z0-9_]', () => {
  assert.equal(L.sanitizeLabelName('k8s.namespace'), 'k8s_namespace');
  assert.equal(L.sanitizeLabelName('http-status/code'), 'http_status_code');
  assert.equal(L.sanitizeLabelName('pattern_id'), 'pattern_id');
});

test('isMetricQuery', () => {
  for (const q of ['', '  ', '{}', ' {service="a"} |= "x"', '|= "timeout"', '!= "x"']) {
    assert.equal(L.isMetricQuery(q), false, q);
  }
  for (const q of ['sum(rate({}[5m]))', 'count_over_time({}[1m])', 'topk(3, x)', '(1+2)', '1 + 2']) {
    assert.equal(L.isMetricQuery(q), true, q);
  }
});

test('addLabelMatcher inserts into the leading selector', () => {
  assert.equal(L.addLabelMatcher('{}', 'service', 'api'), '{service="api"}');
  assert.equal(L.addLabelMatcher('  { }  |= "x"', 'level', 'error'), '  {level="error"}  |= "x"');
  assert.equal(
    L.addLabelMatcher('{service="api"} |= "timeout"', 'level', 'error'),
    '{service="api", level="error"} |= "timeout"',
  );
});

test('addLabelMatcher replaces a matcher of the same name', () => {
  assert.equal(L.addLabelMatcher('{level=~"warn|error", service="a"}', 'level', 'warn'), '{level="warn", service="a"}');
  assert.equal(L.addLabelMatcher('{service="a"}', 'service', 'b'), '{service="b"}');
  assert.equal(L.addLabelMatcher('{service_name="a",level="info"}', 'service', 'b'), '{service="b", level="info"}');
  // Duplicates collapse into one.
  assert.equal(L.addLabelMatcher('{level!="debug", level!="trace"}', 'level', 'info'), '{level="info"}');
});

test('addLabelMatcher skips braces, commas and escaped quotes inside strings', () => {
  const q = '{service="we}ird, \\"x\\" {", instance=`a,}b`} | line_format "{{.x}}"';
  assert.equal(
    L.addLabelMatcher(q, 'level', 'error'),
    '{service="we}ird, \\"x\\" {", instance=`a,}b`, level="error"} | line_format "{{.x}}"',
  );
  assert.equal(
    L.addLabelMatcher(q, 'service', 'say "hi"'),
    '{service="say \\"hi\\"", instance=`a,}b`} | line_format "{{.x}}"',
  );
});

test('addLabelMatcher prefixes a selector when there is none', () => {
  assert.equal(L.addLabelMatcher('|= "timeout"', 'service', 'api'), '{service="api"} |= "timeout"');
  assert.equal(L.addLabelMatcher('', 'level', 'warn'), '{level="warn"}');
});

test('addLabelMatcher edits the first selector of a metric query', () => {
  assert.equal(
    L.addLabelMatcher('sum by (level) (count_over_time({service="a"} |= "}" [5m]))', 'level', 'error'),
    'sum by (level) (count_over_time({service="a", level="error"} |= "}" [5m]))',
  );
  assert.equal(L.addLabelMatcher('sum(rate(|= "x" [5m]))', 'level', 'error'), 'sum(rate(|= "x" [5m]))');
});

test('addLabelFilter appends a label filter', () => {
  assert.equal(L.addLabelFilter('{service="api"}  ', 'status', '500'), '{service="api"} | status = "500"');
  assert.equal(L.addLabelFilter('{}', 'k8s.namespace', 'prod'), '{} | k8s_namespace = "prod"');
  assert.equal(L.addLabelFilter('', 'pattern_id', '17'), '{} | pattern_id = "17"');
  assert.equal(L.addLabelFilter('|= "x"', 'user', 'a"b'), '|= "x" | user = "a\\"b"');
  assert.equal(
    L.addLabelFilter('sum(count_over_time({service="a"} |= "[" [5m]))', 'pattern_id', '3'),
    'sum(count_over_time({service="a"} |= "[" | pattern_id = "3" [5m]))',
  );
});

test('addFieldFilter picks the selector for stream labels', () => {
  assert.equal(L.addFieldFilter('{}', 'service', 'a'), '{service="a"}');
  assert.equal(L.addFieldFilter('{}', 'instance', 'i-1'), '{instance="i-1"}');
  assert.equal(L.addFieldFilter('{}', 'pattern_id', '4'), '{} | pattern_id = "4"');
});

test('parseErrorPosition reads Loki-style messages', () => {
  assert.deepEqual(L.parseErrorPosition('parse error at line 1, col 14: unexpected "|"'), { line: 1, col: 14 });
  assert.deepEqual(L.parseErrorPosition('parse error at line 3, col 2: x'), { line: 3, col: 2 });
  assert.equal(L.parseErrorPosition('query timed out after 120s'), null);
});

test('offsetOfPosition converts character columns to string offsets', () => {
  assert.equal(L.offsetOfPosition('{} | ', { line: 1, col: 6 }), 5);
  assert.equal(L.offsetOfPosition('{a="x"}', { line: 1, col: 1 }), 0);
  assert.equal(L.offsetOfPosition('ab\ncd|e', { line: 2, col: 3 }), 5);
  // The server counts characters: é is one column; an emoji one column but two UTF-16 units.
  assert.equal(L.offsetOfPosition('"é" |', { line: 1, col: 5 }), 4);
  assert.equal(L.offsetOfPosition('"😀" |', { line: 1, col: 5 }), 5);
  // Past the end of a line: the line's end.
  assert.equal(L.offsetOfPosition('ab\ncd', { line: 1, col: 9 }), 2);
  assert.equal(L.offsetOfPosition('ab', { line: 4, col: 1 }), 2);
});

test('countQuery and withoutErrorLabels', () => {
  assert.equal(L.countQuery('{service="a"}', 'level', '30s'), 'sum by (level) (count_over_time({service="a"} [30s]))');
  assert.equal(L.countQuery('  ', 'service', '1h'), 'sum by (service) (count_over_time({} [1h]))');
  assert.equal(L.withoutErrorLabels('{} | json'), '{} | json | drop __error__, __error_details__');
  // A trailing comment would swallow what comes after it on its line.
  assert.equal(L.countQuery('{} # all', 'level', '1m'), 'sum by (level) (count_over_time({} # all\n[1m]))');
  assert.equal(L.addLabelFilter('{}\n# the lot', 'a', 'b'), '{}\n# the lot\n| a = "b"');
  assert.equal(L.addLabelFilter('{} |= "#1"', 'a', 'b'), '{} |= "#1" | a = "b"');
});

test('excluding a value: != beside the name\'s other matchers, replacing what it contradicts', () => {
  assert.equal(L.addLabelMatcher('{service="a"}', 'level', 'debug', true), '{service="a", level!="debug"}');
  assert.equal(L.addLabelMatcher('{level!="debug"}', 'level', 'info', true), '{level!="debug", level!="info"}');
  assert.equal(L.addLabelMatcher('{level!="debug"}', 'level', 'debug', true), '{level!="debug"}');
  assert.equal(L.addLabelMatcher('{service="a", level="info"}', 'level', 'info', true), '{service="a", level!="info"}');
  assert.equal(L.addLabelMatcher('|= "x"', 'service', 'a', true), '{service!="a"} |= "x"');
  assert.equal(L.addLabelMatcher('sum(rate({service="a"}[1m]))', 'level', 'x', true), 'sum(rate({service="a", level!="x"}[1m]))');
  assert.equal(L.addFieldFilter('{}', 'status', '500', true), '{} | status != "500"');
  assert.equal(L.addFieldFilter('{}', 'service', 'q"x', true), '{service!="q\\"x"}');
});

