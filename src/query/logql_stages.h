// LogQL pipeline-stage primitives: the parsers (`| json`, `| logfmt`,
// `| regexp`, `| pattern`), the pattern line filters (`|>`, `!>`), the value
// conversions of `unwrap` and label filters, and the text/template subset of
// `line_format` / `label_format`.
//
// Each type is built once per query by a static Make() that validates its
// argument (InvalidArgument with a message naming the problem), then used for
// every line. The objects do not change after Make(): copies are cheap
// (shared or small state) and const methods may be called from several
// threads at once, except where a declaration says otherwise
// (LogfmtExtractor::Extract). `line` arguments are only read during the
// call; nothing keeps a view of them.
//
// Semantics follow Grafana Loki 2.9/3.x. Where this file knowingly differs
// from Loki, the declaration says so.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "query/logql_ast.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace lode::logql {

// Appended (name, value) pairs. Names are already sanitized label names.
using ExtractedLabels = std::vector<std::pair<std::string, std::string>>;

// Replaces every character not in [A-Za-z0-9_] by '_', and prefixes '_' if the
// first char is a digit (Loki's label name sanitizing). "" stays "".
// As in Loki, leading and trailing ASCII whitespace is dropped first, and a
// character is a UTF-8 code point: "é" gives one '_' (an invalid byte, one '_').
std::string SanitizeLabelName(std::string_view name);
// Whether SanitizeLabelName(key) == name, without building the string.
bool SanitizesTo(std::string_view key, std::string_view name);

// | json  and  | json a="x.y", b="z[0]", c
class JsonExtractor {
 public:
  // params empty: extract every field. Otherwise each param's expression is a
  // JSON path: `a.b.c`, `a[0]`, `a["key with space"]`, `["x"].y`; an empty
  // expression means the label name itself is the path. InvalidArgument naming
  // the bad expression and the position of the problem when it does not parse.
  // Field names are [A-Za-z_][A-Za-z0-9_]* as in Loki; other keys need
  // `["..."]`, whose string may escape `"` and `\` with a backslash.
  static Result<JsonExtractor> Make(const std::vector<ExtractParam>& params);
  // Returns false (and appends nothing) when `line` is not a JSON object.
  // Without params: every leaf becomes a label; nested object keys joined with
  // '_' (e.g. {"a":{"b":1}} -> a_b="1"), names sanitized; arrays are skipped;
  // strings unquoted (JSON escapes decoded), numbers as their JSON text,
  // true/false as "true"/"false", null as "". With params: one label per
  // param whose path exists; a scalar gives its value as above, an object or
  // array gives its raw JSON text (minified is fine); a missing path gives no label.
  // A name appearing twice keeps the later value (in place of the earlier
  // pair); a path matching a duplicated key takes the first occurrence.
  // Differs from Loki, which gives a missing path the label "" and skips
  // null leaves without params; labels that are "" and absent ones are
  // mostly alike downstream.
  bool Extract(std::string_view line, ExtractedLabels* out) const;

 private:
  // One step of a JSON path: an object key or an array index.
  struct PathStep {
    bool is_index = false;
    std::string key;
    size_t index = 0;
  };
  struct Path {
    std::string label;
    std::vector<PathStep> steps;
  };
  std::vector<Path> paths_;  // empty: extract everything
};

// The flags of `| logfmt` (LogfmtStage): Loki's --strict and --keep-empty.
struct LogfmtOptions {
  bool strict = false;
  bool keep_empty = false;
};

// | logfmt  and  | logfmt --strict --keep-empty a="key", b
//
// The line is read as Loki's logfmt decoder reads it (pkg/logql/log/logfmt,
// adapted from go-logfmt). Bytes <= ' ' separate pairs. A key runs up to
// '=' or a separator; `key` alone and `key=` have no value. A value is either
// unquoted (up to the next separator) or double-quoted; a quoted value with
// backslash escapes is unquoted like a JSON string plus \' (\" \\ \/ \' \b
// \f \n \r \t \uXXXX, a lone surrogate giving U+FFFD), and nothing needs to
// separate the closing quote from the next key (`a="x"b=1`). Malformed:
//   - a key that is empty (`=v`), holds '"' (`a"b=1`), or holds invalid
//     UTF-8 or U+FFFD;
//   - an unquoted value holding '=' or '"' (`msg=a=b`: the whole pair, as in
//     Loki and go-logfmt, not msg="a=b");
//   - a quoted value with another escape, or with no closing quote
//     (`msg="open ...`: the rest of the line; Loki reads no value from it).
// A malformed pair is skipped up to the next separator (the rest of the line
// for an unterminated quote) and scanning goes on; with --strict scanning
// stops there instead, and Extract reports the error.
//
// Labels: the key sanitized (SanitizeLabelName); a later duplicate replaces
// the earlier value in out. A value holding invalid UTF-8 or U+FFFD counts as
// empty. A key whose value is empty is skipped unless --keep-empty, which
// gives it "".
//
// With params: only those keys (param.expression is the logfmt key, empty
// means the label name; a key matches as written or sanitized), under the
// param's label. A listed key that is in the line but has no value is
// extracted as "" without --keep-empty (Loki: no need for --keep-empty when
// a key is asked for), though an empty occurrence does not replace a value an
// earlier occurrence gave (with --keep-empty it does, as in Loki). A listed
// key that is not in the line gives no label; Loki gives it "", as for
// `| json` paths (see JsonExtractor).
class LogfmtExtractor {
 public:
  static Result<LogfmtExtractor> Make(const std::vector<ExtractParam>& params,
                                      LogfmtOptions options = {});
  // `| logfmt` without params when the rest of the query reads only the
  // labels `names` (Loki's parser hints): extracts what Make({}, options)
  // would, but only the labels named in `names`, and fails on the same lines.
  static LogfmtExtractor MakeHinted(const std::vector<std::string>& names, LogfmtOptions options);
  // Appends the labels of `line` to out. Returns false only with --strict,
  // at the first malformed pair: out then holds the labels of the pairs
  // before it, and *error (when not null) says what and where in Loki's
  // words, e.g. `logfmt syntax error at pos 7 : unexpected '='` (pos: the
  // 1-based byte). Without --strict every line succeeds.
  // Not thread-safe (scratch buffers): one extractor per thread.
  bool Extract(std::string_view line, ExtractedLabels* out, std::string* error = nullptr) const;

 private:
  struct Wanted {
    std::string label;
    std::string key;
  };
  std::vector<Wanted> wanted_;  // empty: extract every key (unless hinted_)
  bool hinted_ = false;         // wanted_ came from hints, not from params
  LogfmtOptions options_;
  // Scratch reused between calls (so Extract allocates only for kept labels);
  // an extractor therefore serves one thread at a time.
  mutable std::string name_;
  mutable std::string value_;
};

// | regexp "(?P<method>\\w+) (?P<path>\\S+)"   (RE2 syntax, also (?<name>...))
class RegexpExtractor {
 public:
  // InvalidArgument when the regex does not compile (RE2's message) or has no
  // named capture group.
  static Result<RegexpExtractor> Make(std::string_view regex);
  // Unanchored search; on a match appends every named group that participated
  // (name sanitized). Returns whether it matched. (Loki gives a group that
  // did not participate the label "".)
  bool Extract(std::string_view line, ExtractedLabels* out) const;

 private:
  std::shared_ptr<const re2::RE2> re_;
  std::vector<std::pair<int, std::string>> groups_;  // (group index, sanitized name)
  int num_groups_ = 0;
};

// Loki's pattern syntax: literal text and captures `<name>`; `<_>` captures
// without naming. Used by `| pattern "..."` (extract) and the line filters
// `|> "..."` / `!> "..."` (match).
class PatternMatcher {
 public:
  // InvalidArgument when two captures are adjacent (`<a><b>`), a capture name
  // is not a valid identifier, or (when require_named) there is no named
  // capture. The pattern's text must not be empty.
  // A `<` only opens a capture when a `>` follows before any space or `<`;
  // otherwise it is literal text (`a < b`). A name used twice is an error.
  static Result<PatternMatcher> Make(std::string_view pattern, bool require_named);
  // Matching as Loki does: the line is consumed left to right; a leading
  // literal must be at the start of the line; each capture extends to the
  // FIRST occurrence of the literal that follows it (or to the end of the
  // line if the capture is last); a trailing literal must occur (the rest
  // after it is ignored). Returns false when some literal is not found.
  // Loki differs in two corner cases: its `| pattern` keeps the captures
  // found so far (the last one taking the rest of the line) when a literal
  // is missing, and its `|>` needs a trailing literal to end the line.
  bool Match(std::string_view line) const;
  // Match() plus appending named captures.
  bool Extract(std::string_view line, ExtractedLabels* out) const;

 private:
  struct Part {
    bool capture = false;
    std::string text;  // the literal, or the capture name ("_" = unnamed)
  };
  // Matches `line`; when `out` is set, appends named captures to it.
  bool Run(std::string_view line, ExtractedLabels* out) const;
  std::vector<Part> parts_;
};

// Byte sizes as Loki accepts them: "10", "10B", "1.5KB", "2KiB", "3MB", "1GiB",
// "4TB"; SI units are powers of 1000, IEC (KiB..) of 1024; case-insensitive
// unit; optional space. InvalidArgument naming the text otherwise.
// As go-humanize (Loki's parser): "k", "Ki", "M"... without the "B" are
// accepted too, ',' digit separators are ignored, and the result is truncated
// to a whole number of bytes ("1.5B" is 1).
Result<double> ParseBytes(std::string_view text);

// Go-style durations for `unwrap duration(x)`: "1h2m3.5s", "250ms", "1.5s",
// "300us", "-2s", "0"; units ns us µs ms s m h. Returns seconds.
// InvalidArgument naming the text otherwise.
Result<double> ParseGoDurationSeconds(std::string_view text);

// A number label value: decimal/float/scientific, optional sign, "+Inf",
// "-Inf", "NaN" (case-insensitive). Surrounding spaces NOT allowed.
// Also "Inf"/"Infinity" with or without a sign, as Go's ParseFloat.
Result<double> ParseSampleValue(std::string_view text);

// What a template may read.
struct TemplateInput {
  // The value of a label, or nullptr when absent (absent renders as "").
  std::function<const std::string*(std::string_view name)> label;
  std::string_view line;     // for {{ __line__ }}
  int64_t timestamp_ns = 0;  // for {{ __timestamp__ }}
};

// The Go text/template subset Loki's line_format / label_format users write.
// Values are strings, integers, floats, booleans and (from __timestamp__)
// times; a time renders as RFC 3339 in UTC with trailing zeros of the
// fraction trimmed, a float without ".0" when it is integral. Functions take
// Loki's arguments (`regexReplaceAll regex src replacement`, `count regex
// src`); a label holding a number may be used where a number is needed
// (an absent or empty one counts as 0); text that is not a number there is a
// render error, where Go's Sprig would silently use 0. Case mapping
// (upper, lower, title) is ASCII only.
class Template {
 public:
  // InvalidArgument naming the position (byte offset) and problem for
  // unbalanced {{ }}, unknown functions, bad if/else/end nesting, etc.
  static Result<Template> Make(std::string_view text);
  // Renders. InvalidArgument on runtime errors (e.g. a function given a
  // non-number where it needs one).
  Result<std::string> Render(const TemplateInput& in) const;
  // Label names the template reads (`.name` references), for planning.
  const std::vector<std::string>& referenced_labels() const;

 private:
  struct Program;  // the parsed template; defined in the .cc
  explicit Template(std::shared_ptr<const Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const Program> program_;  // immutable, shared by copies
};

}  // namespace lode::logql
