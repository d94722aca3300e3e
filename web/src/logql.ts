// Query-text editing helpers: pure functions on LogQL source text (no DOM), unit-tested in
// test/logql.test.mjs. They scan the text rather than parse it, skipping string literals
// ("..." with escapes, `...` raw), so a brace or comma inside a string never confuses them.

/** The four indexed labels: a value of one of these is added to the stream selector. */
export const STREAM_LABELS: ReadonlySet<string> = new Set(['service', 'level', 'instance', 'source']);

/** A LogQL string literal: Go-style escaping of backslash, quote and control characters. */
export function quoteString(v: string): string {
  let out = '"';
  for (const ch of v) {
    switch (ch) {
      case '\\': out += '\\\\'; break;
      case '"': out += '\\"'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      default: out += ch;
    }
  }
  return out + '"';
}

/** A field name as label filters read it: every character outside [A-Za-z0-9_] becomes `_`. */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_') || '_';
}

/** Index just past the string literal opening at `i` (a `"` or a backquote). */
function skipString(q: string, i: number): number {
  const quote = q[i];
  let j = i + 1;
  while (j < q.length) {
    const c = q[j];
    if (quote === '"' && c === '\\') {
      j += 2;
      continue;
    }
    if (c === quote) return j + 1;
    j++;
  }
  return q.length;
}

/** Index of the first `ch` at or after `from` that is outside string literals, or -1. */
function indexOutsideStrings(q: string, ch: string, from = 0): number {
  for (let i = from; i < q.length; ) {
    const c = q[i];
    if (c === '"' || c === '`') {
      i = skipString(q, i);
      continue;
    }
    if (c === ch) return i;
    i++;
  }
  return -1;
}

/**
 * `q` followed by what separates it from text appended after it: a newline when its last
 * line ends in a `# comment` (which would swallow the text), else a space.
 */
function joinable(q: string): string {
  const lastLine = q.slice(q.lastIndexOf('\n') + 1);
  return q + (indexOutsideStrings(lastLine, '#') >= 0 ? '\n' : ' ');
}

/** Index of the `}` closing the `{` at `open` (strings skipped), or -1 when unclosed. */
function closingBrace(q: string, open: number): number {
  return indexOutsideStrings(q, '}', open + 1);
}

/**
 * True for a metric query (`sum(...)`, `rate(...)`, `count_over_time(...)`, `1 + ...`),
 * false for a log query: empty, `{...}`, or a bare line filter (`|= "x"`, `!= "x"`).
 */
export function isMetricQuery(q: string): boolean {
  const t = q.replace(/^\s+/, '');
  if (t === '') return false;
  return !(t[0] === '{' || t[0] === '|' || t[0] === '!');
}

export interface SelectorSpan {
  open: number; // index of `{`
  close: number; // index of `}`
}

/**
 * The stream selector to edit: for a log query the leading `{...}` (null when the query
 * starts with a line filter); for a metric query the first `{...}` anywhere.
 */
export function findSelector(q: string): SelectorSpan | null {
  let open: number;
  if (isMetricQuery(q)) {
    open = indexOutsideStrings(q, '{');
  } else {
    open = q.search(/\S/);
    if (open < 0 || q[open] !== '{') return null;
  }
  if (open < 0) return null;
  const close = closingBrace(q, open);
  return close < 0 ? null : { open, close };
}

/** Splits the inside of a selector into its matchers' source text (commas in strings kept). */
export function splitMatchers(inner: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < inner.length; ) {
    const c = inner[i];
    if (c === '"' || c === '`') {
      i = skipString(inner, i);
      continue;
    }
    if (c === ',') {
      out.push(inner.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  out.push(inner.slice(start));
  return out.map((m) => m.trim()).filter((m) => m !== '');
}

/** The label name a matcher's text starts with (`service` of `service=~"a|b"`). */
function matcherName(m: string): string {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(m);
  return match ? match[1] : '';
}

function sameLabel(a: string, b: string): boolean {
  const norm = (n: string) => (n === 'service_name' ? 'service' : n);
  return norm(a) === norm(b);
}

/**
 * Adds `name="value"` to the query's stream selector, replacing any matcher of that name
 * (`service_name` counts as `service`). A log query without a leading selector gets one
 * (`{name="value"} |= "x"`); a metric query has the first selector inside it edited, and is
 * returned unchanged when it has none.
 *
 * `exclude` adds `name!="value"` instead, beside the name's other matchers (several
 * values can be excluded), replacing only a `name="value"` it contradicts.
 */
export function addLabelMatcher(q: string, name: string, value: string, exclude = false): string {
  if (exclude) return addExcludingMatcher(q, name, value);
  const matcher = `${name}=${quoteString(value)}`;
  const span = findSelector(q);
  if (!span) {
    if (isMetricQuery(q)) return q;
    const rest = q.trim();
    return rest === '' ? `{${matcher}}` : `{${matcher}} ${rest}`;
  }
  const inner = q.slice(span.open + 1, span.close);
  const matchers = splitMatchers(inner);
  const out: string[] = [];
  let placed = false;
  for (const m of matchers) {
    if (sameLabel(matcherName(m), name)) {
      if (!placed) out.push(matcher);
      placed = true;
    } else {
      out.push(m);
    }
  }
  if (!placed) out.push(matcher);
  return q.slice(0, span.open + 1) + out.join(', ') + q.slice(span.close);
}

function addExcludingMatcher(q: string, name: string, value: string): string {
  const quoted = quoteString(value);
  const matcher = `${name}!=${quoted}`;
  const span = findSelector(q);
  if (!span) {
    if (isMetricQuery(q)) return q;
    const rest = q.trim();
    return rest === '' ? `{${matcher}}` : `{${matcher}} ${rest}`;
  }
  const normal = (m: string) => m.replace(/\s+/g, '');
  const contradicted = normal(`${name}=${quoted}`);
  const matchers = splitMatchers(q.slice(span.open + 1, span.close)).filter(
    (m) => !(sameLabel(matcherName(m), name) && normal(m) === contradicted),
  );
  if (!matchers.some((m) => sameLabel(matcherName(m), name) && normal(m) === normal(matcher))) {
    matchers.push(matcher);
  }
  return q.slice(0, span.open + 1) + matchers.join(', ') + q.slice(span.close);
}

/**
 * Adds a label filter ` | name = "value"` (name sanitized, value quoted; with `exclude`,
 * ` | name != "value"`). A log query gets it at the end; a metric query before the range of
 * its first range aggregation (best effort: unchanged when there is no `[`). An empty query
 * becomes `{} | name = "value"`.
 */
export function addLabelFilter(q: string, name: string, value: string, exclude = false): string {
  const filter = `| ${sanitizeLabelName(name)} ${exclude ? '!=' : '='} ${quoteString(value)}`;
  if (!isMetricQuery(q)) {
    const t = q.replace(/\s+$/, '');
    return t.trim() === '' ? `{} ${filter}` : `${joinable(t)}${filter}`;
  }
  const span = findSelector(q);
  const bracket = indexOutsideStrings(q, '[', span ? span.close + 1 : 0);
  if (bracket < 0) return q;
  const before = q.slice(0, bracket).replace(/\s+$/, '');
  return `${joinable(before)}${filter} ${q.slice(bracket)}`;
}

/**
 * Adds the filter a clicked field value stands for: a stream label goes into the selector,
 * anything else (structured metadata, parsed labels, pattern_id) becomes a label filter.
 */
export function addFieldFilter(q: string, key: string, value: string, exclude = false): string {
  return STREAM_LABELS.has(key)
    ? addLabelMatcher(q, key, value, exclude)
    : addLabelFilter(q, key, value, exclude);
}

export interface ErrorPosition {
  line: number; // 1-based
  col: number; // 1-based, in characters (code points), as the server counts
}

/** The position in a server error such as `parse error at line 1, col 14: unexpected "|"`. */
export function parseErrorPosition(message: string): ErrorPosition | null {
  const m = /\bline (\d+), col(?:umn)? (\d+)/.exec(message);
  if (!m) return null;
  return { line: Number(m[1]), col: Number(m[2]) };
}

/**
 * The string index (UTF-16) of a line and a character column in `text`. A column past the
 * end of its line gives the line's end; a line past the end gives the text's length.
 */
export function offsetOfPosition(text: string, pos: ErrorPosition): number {
  let line = 1;
  let col = 1;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) as number;
    if (line === pos.line && col >= pos.col) return i;
    if (cp === 10) {
      if (line === pos.line) return i;
      line++;
      col = 1;
    } else {
      col++;
    }
    i += cp > 0xffff ? 2 : 1;
  }
  return text.length;
}

/**
 * A metric query counting the log query's lines per `by` label over `range` (a LogQL
 * duration): `sum by (level) (count_over_time(Q [30s]))`. An empty query counts `{}`.
 */
export function countQuery(q: string, by: string, range: string): string {
  const inner = q.trim() === '' ? '{}' : q.trim();
  return `sum by (${by}) (count_over_time(${joinable(inner)}[${range}]))`;
}

/**
 * The log query with parser errors dropped, for a count: the server refuses a metric query
 * whose series carry `__error__` (a line `| json` could not read), but the log query keeps
 * such lines, so their count should too.
 */
export function withoutErrorLabels(q: string): string {
  return `${joinable(q.trim() === '' ? '{}' : q.trim())}| drop __error__, __error_details__`;
}
