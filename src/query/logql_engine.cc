#include "query/logql_engine.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <unordered_map>

#include "query/logql_parser.h"
#include "query/logql_stages.h"
#include "query/regex_literals.h"

namespace lode::logql {

namespace {

constexpr int64_t kSecond = 1'000'000'000;

double MillisSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

bool IsStreamLabel(std::string_view name) {
  return name == "service" || name == "level" || name == "instance" || name == "source";
}

// Grafana and Loki's own tooling call the service label `service_name`.
std::string_view CanonicalSelectorLabel(std::string_view name) {
  return name == "service_name" ? std::string_view("service") : name;
}

std::unique_ptr<RE2> CompileAnchored(const std::string& re, Status* error) {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_dot_nl(true);
  auto r = std::make_unique<RE2>("^(?:" + re + ")$", opts);
  if (!r->ok()) {
    *error = Status::InvalidArgument("invalid regex \"" + re + "\": " + r->error());
    return nullptr;
  }
  return r;
}

bool MatchString(MatchOp op, std::string_view value, const std::string& want, const RE2* re) {
  switch (op) {
    case MatchOp::kEq: return value == want;
    case MatchOp::kNeq: return value != want;
    case MatchOp::kRe: return RE2::FullMatch(value, *re);
    case MatchOp::kNre: return !RE2::FullMatch(value, *re);
  }
  return false;
}

bool Compare(CmpOp op, double a, double b) {
  switch (op) {
    case CmpOp::kEq: return a == b;
    case CmpOp::kNeq: return a != b;
    case CmpOp::kGt: return a > b;
    case CmpOp::kGte: return a >= b;
    case CmpOp::kLt: return a < b;
    case CmpOp::kLte: return a <= b;
  }
  return false;
}

// ---------------------------------------------------------------------------
// The label set of one line while it runs through the pipeline. Slots are
// reused from line to line, so a steady state allocates nothing.

class LineLabels {
 public:
  // `patterns` (may be null) resolves Record::pattern_id for the pattern_id label.
  explicit LineLabels(const PatternIndex::Snapshot* patterns = nullptr) : patterns_(patterns) {}

  void Reset(const Record& r) {
    record_ = &r;
    n_ = 0;
    stream_mask_ = static_cast<uint8_t>((r.service.empty() ? 0 : 1) | (r.instance.empty() ? 0 : 2) |
                                        (r.source.empty() ? 0 : 4));
    if (!r.instance.empty()) Put("instance", r.instance);
    Put("level", LevelName(r.level));
    if (!r.service.empty()) Put("service", r.service);
    if (!r.source.empty()) Put("source", r.source);
  }

  // Copies attribute `name` into the label set when the line has no label of
  // that name (so series grouped by it carry it).
  void Materialize(std::string_view name) {
    for (size_t i = 0; i < n_; ++i) {
      if (slots_[i].first == name) return;
    }
    if (const std::string* v = Get(name); v != nullptr && !v->empty()) Put(name, *v);
  }

  // The label's value; falls back to the record's attributes (by sanitized
  // key), which act as Loki's structured metadata.
  const std::string* Get(std::string_view name) const {
    for (size_t i = 0; i < n_; ++i) {
      if (slots_[i].first == name) return &slots_[i].second;
    }
    if (record_ != nullptr) {
      if (name == kPatternIdLabel) {
        // Reserved: never an attribute (the scan's pattern filter relies on
        // it). The template as joined: every id of a joined template reads
        // the same.
        if (record_->pattern_id == 0) return nullptr;
        const uint32_t id =
            patterns_ != nullptr ? patterns_->Canonical(record_->pattern_id) : record_->pattern_id;
        pattern_text_ = std::to_string(id);
        return &pattern_text_;
      }
      for (const Attribute& a : record_->attributes) {
        if (a.key == name || SanitizesTo(a.key, name)) return &a.value;
      }
    }
    return nullptr;
  }

  void Set(std::string_view name, std::string_view value) {
    for (size_t i = 0; i < n_; ++i) {
      if (slots_[i].first == name) {
        slots_[i].second.assign(value);
        return;
      }
    }
    Put(name, value);
  }

  // A label a parser extracted: renamed `<name>_extracted` when the record's
  // stream has that indexed label (Loki's rule).
  void SetExtracted(std::string_view name, std::string_view value) {
    if (IsStreamLabel(name) && StreamHas(name)) {
      std::string renamed(name);
      renamed += "_extracted";
      Set(renamed, value);
    } else {
      Set(name, value);
    }
  }

  void Erase(std::string_view name) {
    for (size_t i = 0; i < n_; ++i) {
      if (slots_[i].first == name) {
        std::swap(slots_[i], slots_[n_ - 1]);
        --n_;
        return;
      }
    }
  }

  // A later error replaces an earlier one, as in Loki.
  void SetError(std::string_view error, std::string_view details) {
    Set("__error__", error);
    if (details.empty()) {
      Erase("__error_details__");
    } else {
      Set("__error_details__", details);
    }
  }
  bool has_error() const {
    for (size_t i = 0; i < n_; ++i) {
      if (slots_[i].first == "__error__") return true;
    }
    return false;
  }

  size_t size() const { return n_; }
  const std::pair<std::string, std::string>& at(size_t i) const { return slots_[i]; }
  // Keeps only the slots for which keep(name, value) is true; attributes
  // stop being visible (keep/drop define the label set exactly).
  template <typename Fn>
  void Filter(Fn keep) {
    size_t w = 0;
    for (size_t i = 0; i < n_; ++i) {
      if (keep(slots_[i].first, slots_[i].second)) {
        if (w != i) std::swap(slots_[w], slots_[i]);
        ++w;
      }
    }
    n_ = w;
  }
  void HideAttributes() { record_ = nullptr; }

  Labels Sorted() const {
    Labels out(slots_.begin(), slots_.begin() + static_cast<ptrdiff_t>(n_));
    std::sort(out.begin(), out.end());
    return out;
  }

  // A key identifying the label set (sorted names and values).
  void Key(std::string* out, std::vector<size_t>* order) const {
    order->resize(n_);
    std::iota(order->begin(), order->end(), 0);
    std::sort(order->begin(), order->end(),
              [&](size_t a, size_t b) { return slots_[a].first < slots_[b].first; });
    out->clear();
    for (size_t i : *order) {
      *out += slots_[i].first;
      out->push_back('\xff');
      *out += slots_[i].second;
      out->push_back('\xfe');
    }
  }

 private:
  const PatternIndex::Snapshot* patterns_ = nullptr;
  mutable std::string pattern_text_;
  void Put(std::string_view name, std::string_view value) {
    if (n_ < slots_.size()) {
      slots_[n_].first.assign(name);
      slots_[n_].second.assign(value);
    } else {
      slots_.emplace_back(std::string(name), std::string(value));
    }
    ++n_;
  }

  std::vector<std::pair<std::string, std::string>> slots_;
  bool StreamHas(std::string_view name) const {
    if (name == "level") return true;
    if (name == "service") return stream_mask_ & 1;
    if (name == "instance") return stream_mask_ & 2;
    return stream_mask_ & 4;
  }

  uint8_t stream_mask_ = 0;  // service, instance, source present in the record

  size_t n_ = 0;
  const Record* record_ = nullptr;
};

std::string KeyOf(const Labels& labels) {
  std::string key;
  for (const auto& [k, v] : labels) {
    key += k;
    key.push_back('\xff');
    key += v;
    key.push_back('\xfe');
  }
  return key;
}

// ---------------------------------------------------------------------------
// Compiled pipeline stages.

struct CLineFilter {
  LineFilterOp op;
  std::vector<std::string> values;
  std::vector<std::unique_ptr<RE2>> regexes;
  std::vector<PatternMatcher> patterns;

  bool Keep(std::string_view line) const {
    bool any = false;
    switch (op) {
      case LineFilterOp::kContains:
      case LineFilterOp::kNotContains:
        for (const auto& v : values) any = any || line.find(v) != std::string_view::npos;
        return op == LineFilterOp::kContains ? any : !any;
      case LineFilterOp::kMatch:
      case LineFilterOp::kNotMatch:
        for (const auto& re : regexes) any = any || RE2::PartialMatch(line, *re);
        return op == LineFilterOp::kMatch ? any : !any;
      case LineFilterOp::kPattern:
      case LineFilterOp::kNotPattern:
        for (const auto& p : patterns) any = any || p.Match(line);
        return op == LineFilterOp::kPattern ? any : !any;
    }
    return false;
  }
};

struct CLabelFilter;
using CLabelFilterPtr = std::unique_ptr<CLabelFilter>;
struct CLabelFilter {
  enum Kind { kString, kNumeric, kAnd, kOr } kind = kString;
  std::string label;
  MatchOp match = MatchOp::kEq;
  std::string value;
  std::unique_ptr<RE2> re;
  CmpOp cmp = CmpOp::kEq;
  LiteralKind literal = LiteralKind::kNumber;
  double number = 0;
  CLabelFilterPtr lhs, rhs;

  bool Eval(LineLabels* labels) const {
    switch (kind) {
      case kAnd: return lhs->Eval(labels) && rhs->Eval(labels);
      case kOr: return lhs->Eval(labels) || rhs->Eval(labels);
      case kString: {
        const std::string* v = labels->Get(label);
        return MatchString(match, v ? std::string_view(*v) : std::string_view(), value, re.get());
      }
      case kNumeric: {
        const std::string* v = labels->Get(label);
        if (v == nullptr) return false;
        Result<double> x = literal == LiteralKind::kNumber  ? ParseSampleValue(*v)
                           : literal == LiteralKind::kBytes ? ParseBytes(*v)
                                                            : ParseGoDurationSeconds(*v);
        if (!x.ok()) {
          // Loki keeps the line and marks it; `| __error__=""` drops such lines.
          // An earlier error (a parser's) stays: Loki's numeric filters do
          // not run on a line that has one.
          if (!labels->has_error()) labels->SetError("LabelFilterErr", x.status().message());
          return true;
        }
        double got = literal == LiteralKind::kDuration ? *x * 1e9 : *x;
        return Compare(cmp, got, number);
      }
    }
    return false;
  }
};

struct CLabelFormatItem {
  std::string dst;
  std::string src;  // rename
  std::optional<Template> tmpl;
};

struct CSelectItem {
  std::string label;
  std::optional<MatchOp> op;
  std::string value;
  std::unique_ptr<RE2> re;
  bool Matches(std::string_view name, std::string_view v) const {
    if (name != label) return false;
    return !op || MatchString(*op, v, value, re.get());
  }
};

struct CStage {
  enum Kind {
    kLineFilter,
    kJson,
    kLogfmt,
    kRegexp,
    kPattern,
    kLabelFilter,
    kLineFormat,
    kLabelFormat,
    kDrop,
    kKeep,
    kUnwrap,
    kSelectorFilter,
  } kind;
  CLineFilter line_filter;
  std::optional<JsonExtractor> json;
  std::optional<LogfmtExtractor> logfmt;
  std::optional<RegexpExtractor> regexp;
  std::optional<PatternMatcher> pattern;
  CLabelFilterPtr label_filter;
  std::optional<Template> line_format;
  std::vector<CLabelFormatItem> label_format;
  std::vector<CSelectItem> select;
  UnwrapStage unwrap;
};

Result<CLabelFilterPtr> CompileLabelFilter(const LabelFilterExpr& e) {
  auto out = std::make_unique<CLabelFilter>();
  if (const auto* s = std::get_if<StringLabelFilter>(&e.node)) {
    out->kind = CLabelFilter::kString;
    out->label = s->label;
    out->match = s->op;
    out->value = s->value;
    if (s->op == MatchOp::kRe || s->op == MatchOp::kNre) {
      Status err;
      out->re = CompileAnchored(s->value, &err);
      if (!out->re) return err;
    }
  } else if (const auto* n = std::get_if<NumericLabelFilter>(&e.node)) {
    out->kind = CLabelFilter::kNumeric;
    out->label = n->label;
    out->cmp = n->op;
    out->literal = n->kind;
    out->number = n->value;
  } else {
    const auto& b = std::get<LabelFilterBinary>(e.node);
    out->kind = b.is_or ? CLabelFilter::kOr : CLabelFilter::kAnd;
    LODE_ASSIGN_OR_RETURN(out->lhs, CompileLabelFilter(*b.lhs));
    LODE_ASSIGN_OR_RETURN(out->rhs, CompileLabelFilter(*b.rhs));
  }
  return out;
}

// What one line turned into.
struct LineOut {
  std::string_view line;
  double value = 0;  // the unwrapped value, when the pipeline unwraps
  bool unwrapped = false;
};

class Pipeline {
 public:
  // `needed`, when set, names every label the rest of the query reads: a
  // `| logfmt` without parameters then extracts only those (Loki's parser
  // hints), which saves building labels nobody looks at.
  static Result<Pipeline> Compile(const LogQuery& q, const std::vector<LabelMatcher>& residual,
                                  const std::set<std::string>* needed = nullptr) {
    Pipeline p;
    if (!residual.empty()) {
      // Selector terms on labels the store does not index: checked per line.
      CStage st;
      st.kind = CStage::kSelectorFilter;
      for (const LabelMatcher& m : residual) {
        CSelectItem item{m.name, m.op, m.value, nullptr};
        if (m.op == MatchOp::kRe || m.op == MatchOp::kNre) {
          Status err;
          item.re = CompileAnchored(m.value, &err);
          if (!item.re) return err;
        }
        st.select.push_back(std::move(item));
      }
      p.stages_.push_back(std::move(st));
    }
    for (const PipelineStage& stage : q.stages) {
      CStage st;
      if (const auto* lf = std::get_if<LineFilterStage>(&stage)) {
        st.kind = CStage::kLineFilter;
        st.line_filter.op = lf->op;
        st.line_filter.values = lf->values;
        for (const std::string& v : lf->values) {
          if (lf->op == LineFilterOp::kMatch || lf->op == LineFilterOp::kNotMatch) {
            RE2::Options opts;
            opts.set_log_errors(false);
            auto re = std::make_unique<RE2>(v, opts);
            if (!re->ok()) {
              return Status::InvalidArgument("invalid regex \"" + v + "\": " + re->error());
            }
            st.line_filter.regexes.push_back(std::move(re));
          } else if (lf->op == LineFilterOp::kPattern || lf->op == LineFilterOp::kNotPattern) {
            LODE_ASSIGN_OR_RETURN(PatternMatcher pm, PatternMatcher::Make(v, false));
            st.line_filter.patterns.push_back(std::move(pm));
          }
        }
      } else if (const auto* js = std::get_if<JsonStage>(&stage)) {
        st.kind = CStage::kJson;
        LODE_ASSIGN_OR_RETURN(JsonExtractor ex, JsonExtractor::Make(js->params));
        st.json.emplace(std::move(ex));
        p.parses_ = true;
      } else if (const auto* lg = std::get_if<LogfmtStage>(&stage)) {
        st.kind = CStage::kLogfmt;
        const LogfmtOptions options{.strict = lg->strict, .keep_empty = lg->keep_empty};
        if (lg->params.empty() && needed != nullptr) {
          std::vector<std::string> names(needed->begin(), needed->end());
          // An extracted label colliding with a stream label gets `_extracted`:
          // ask for the key under its own name.
          for (const std::string& name : *needed) {
            if (name.ends_with("_extracted")) names.push_back(name.substr(0, name.size() - 10));
          }
          st.logfmt.emplace(LogfmtExtractor::MakeHinted(names, options));
        } else {
          LODE_ASSIGN_OR_RETURN(LogfmtExtractor ex, LogfmtExtractor::Make(lg->params, options));
          st.logfmt.emplace(std::move(ex));
        }
        p.parses_ = true;
      } else if (const auto* rx = std::get_if<RegexpStage>(&stage)) {
        st.kind = CStage::kRegexp;
        LODE_ASSIGN_OR_RETURN(RegexpExtractor ex, RegexpExtractor::Make(rx->regex));
        st.regexp.emplace(std::move(ex));
        p.parses_ = true;
      } else if (const auto* pt = std::get_if<PatternStage>(&stage)) {
        st.kind = CStage::kPattern;
        LODE_ASSIGN_OR_RETURN(PatternMatcher pm, PatternMatcher::Make(pt->pattern, true));
        st.pattern.emplace(std::move(pm));
        p.parses_ = true;
      } else if (const auto* lab = std::get_if<LabelFilterStage>(&stage)) {
        st.kind = CStage::kLabelFilter;
        LODE_ASSIGN_OR_RETURN(st.label_filter, CompileLabelFilter(*lab->expr));
        p.reads_labels_ = true;
      } else if (const auto* lfmt = std::get_if<LineFormatStage>(&stage)) {
        st.kind = CStage::kLineFormat;
        LODE_ASSIGN_OR_RETURN(Template t, Template::Make(lfmt->tmpl));
        st.line_format.emplace(std::move(t));
        p.reads_labels_ = true;
      } else if (const auto* lbf = std::get_if<LabelFormatStage>(&stage)) {
        st.kind = CStage::kLabelFormat;
        for (const LabelFormatItem& item : lbf->items) {
          CLabelFormatItem c;
          c.dst = item.dst;
          if (item.rename) {
            c.src = item.value;
          } else {
            LODE_ASSIGN_OR_RETURN(Template t, Template::Make(item.value));
            c.tmpl.emplace(std::move(t));
          }
          st.label_format.push_back(std::move(c));
        }
        p.reads_labels_ = true;
      } else if (const auto* dr = std::get_if<DropStage>(&stage)) {
        st.kind = CStage::kDrop;
        LODE_RETURN_IF_ERROR(CompileSelect(dr->items, &st.select));
      } else if (const auto* kp = std::get_if<KeepStage>(&stage)) {
        st.kind = CStage::kKeep;
        LODE_RETURN_IF_ERROR(CompileSelect(kp->items, &st.select));
      } else if (const auto* uw = std::get_if<UnwrapStage>(&stage)) {
        st.kind = CStage::kUnwrap;
        st.unwrap = *uw;
        p.reads_labels_ = true;
      }
      p.stages_.push_back(std::move(st));
    }
    return p;
  }

  // Runs one record through the stages. False: the line was filtered out.
  bool Run(const Record& r, LineLabels* labels, std::string* buffer, LineOut* out) const {
    labels->Reset(r);
    std::string_view line = r.message;
    out->unwrapped = false;
    for (const CStage& st : stages_) {
      switch (st.kind) {
        case CStage::kSelectorFilter:
          for (const CSelectItem& item : st.select) {
            const std::string* v = labels->Get(item.label);
            if (!MatchString(*item.op, v ? std::string_view(*v) : std::string_view(), item.value,
                             item.re.get())) {
              return false;
            }
          }
          break;
        case CStage::kLineFilter:
          if (!st.line_filter.Keep(line)) return false;
          break;
        case CStage::kJson:
          extracted_.clear();
          if (!st.json->Extract(line, &extracted_)) {
            labels->SetError("JSONParserErr", "not a JSON object");
          }
          for (const auto& [k, v] : extracted_) labels->SetExtracted(k, v);
          break;
        case CStage::kLogfmt:
          extracted_.clear();
          if (!st.logfmt->Extract(line, &extracted_, &error_details_)) {
            labels->SetError("LogfmtParserErr", error_details_);
          }
          for (const auto& [k, v] : extracted_) labels->SetExtracted(k, v);
          break;
        case CStage::kRegexp:
          extracted_.clear();
          st.regexp->Extract(line, &extracted_);
          for (const auto& [k, v] : extracted_) labels->SetExtracted(k, v);
          break;
        case CStage::kPattern:
          extracted_.clear();
          st.pattern->Extract(line, &extracted_);
          for (const auto& [k, v] : extracted_) labels->SetExtracted(k, v);
          break;
        case CStage::kLabelFilter:
          if (!st.label_filter->Eval(labels)) return false;
          break;
        case CStage::kLineFormat: {
          Result<std::string> s = st.line_format->Render(Input(*labels, line, r.timestamp_ns));
          if (!s.ok()) {
            labels->SetError("TemplateFormatErr", s.status().message());
            break;
          }
          *buffer = std::move(*s);
          line = *buffer;
          break;
        }
        case CStage::kLabelFormat:
          for (const CLabelFormatItem& item : st.label_format) {
            if (item.tmpl) {
              Result<std::string> s = item.tmpl->Render(Input(*labels, line, r.timestamp_ns));
              if (!s.ok()) {
                labels->SetError("TemplateFormatErr", s.status().message());
                continue;
              }
              labels->Set(item.dst, *s);
            } else {
              const std::string* v = labels->Get(item.src);
              std::string value = v ? *v : std::string();
              labels->Erase(item.src);
              labels->Set(item.dst, value);
            }
          }
          break;
        case CStage::kDrop:
          labels->Filter([&](const std::string& name, const std::string& value) {
            for (const CSelectItem& item : st.select) {
              if (item.Matches(name, value)) return false;
            }
            return true;
          });
          break;
        case CStage::kKeep:
          labels->Filter([&](const std::string& name, const std::string& value) {
            // Loki's keep never removes the error labels.
            if (name == "__error__" || name == "__error_details__") return true;
            for (const CSelectItem& item : st.select) {
              if (item.Matches(name, value)) return true;
            }
            return false;
          });
          labels->HideAttributes();
          break;
        case CStage::kUnwrap: {
          const std::string* v = labels->Get(st.unwrap.label);
          // A line without the label (or with it empty) has no sample: Loki
          // skips it; only a value that does not convert is an error.
          if (v == nullptr || v->empty()) return false;
          Result<double> x = 0.0;
          {
            switch (st.unwrap.conversion) {
              case UnwrapConversion::kNone: x = ParseSampleValue(*v); break;
              case UnwrapConversion::kDuration:
              case UnwrapConversion::kDurationSeconds: x = ParseGoDurationSeconds(*v); break;
              case UnwrapConversion::kBytes: x = ParseBytes(*v); break;
            }
          }
          if (!x.ok()) {
            labels->SetError("SampleExtractionErr", x.status().message());
            out->value = 0;
          } else {
            out->value = *x;
          }
          out->unwrapped = true;
          // Loki drops the unwrapped label from the series.
          labels->Erase(st.unwrap.label);
          break;
        }
      }
    }
    out->line = line;
    return true;
  }

  bool parses() const { return parses_; }
  bool reads_labels() const { return reads_labels_; }

 private:
  static Status CompileSelect(const std::vector<LabelSelectItem>& items,
                              std::vector<CSelectItem>* out) {
    for (const LabelSelectItem& i : items) {
      CSelectItem c{i.label, i.op, i.value, nullptr};
      if (i.op && (*i.op == MatchOp::kRe || *i.op == MatchOp::kNre)) {
        Status err;
        c.re = CompileAnchored(i.value, &err);
        if (!c.re) return err;
      }
      out->push_back(std::move(c));
    }
    return Status::OK();
  }

  static TemplateInput Input(const LineLabels& labels, std::string_view line, int64_t ts) {
    TemplateInput in;
    in.label = [&labels](std::string_view name) { return labels.Get(name); };
    in.line = line;
    in.timestamp_ns = ts;
    return in;
  }

  std::vector<CStage> stages_;
  mutable ExtractedLabels extracted_;  // scratch; a Pipeline is used by one thread
  mutable std::string error_details_;  // scratch for a parser's __error_details__
  bool parses_ = false;
  bool reads_labels_ = false;
};

// ---------------------------------------------------------------------------
// Planning: stream selector and leading line filters → ScanSpec.

struct ScanPlan {
  ScanSpec spec;
  bool empty = false;                  // the selector can match nothing
  std::vector<LabelMatcher> residual;  // selector terms checked per line
};

Status PlanSelector(const LogStore& store, const LogQuery& q, ScanPlan* plan) {
  ScanSpec& spec = plan->spec;
  std::map<std::string, std::vector<const LabelMatcher*>> by_label;
  std::vector<LabelMatcher> canonical;
  canonical.reserve(q.matchers.size());
  for (const LabelMatcher& m : q.matchers) {
    LabelMatcher c = m;
    c.name = std::string(CanonicalSelectorLabel(m.name));
    canonical.push_back(std::move(c));
  }
  for (const LabelMatcher& m : canonical) {
    if (IsStreamLabel(m.name)) {
      by_label[m.name].push_back(&m);
    } else {
      plan->residual.push_back(m);
    }
  }
  for (const auto& [name, matchers] : by_label) {
    std::vector<std::unique_ptr<RE2>> res;
    for (const LabelMatcher* m : matchers) {
      if (m->op == MatchOp::kRe || m->op == MatchOp::kNre) {
        Status err;
        res.push_back(CompileAnchored(m->value, &err));
        if (!res.back()) return err;
      } else {
        res.push_back(nullptr);
      }
    }
    auto all_match = [&](std::string_view v) {
      for (size_t i = 0; i < matchers.size(); ++i) {
        if (!MatchString(matchers[i]->op, v, matchers[i]->value, res[i].get())) return false;
      }
      return true;
    };
    if (name == "level") {
      uint32_t mask = 0;
      for (int l = 0; l < kLevelCount; ++l) {
        if (all_match(LevelName(static_cast<Level>(l)))) mask |= 1u << l;
      }
      spec.level_mask &= mask;
      if (spec.level_mask == 0) plan->empty = true;
      continue;
    }
    std::vector<std::string>* list = name == "service"    ? &spec.services
                                     : name == "instance" ? &spec.instances
                                                          : &spec.sources;
    // Equality pins the value; anything else is resolved against the values
    // the store has (an absent label reads as "", as in Prometheus).
    std::set<std::string> candidates;
    bool only_eq = false;
    for (const LabelMatcher* m : matchers) {
      if (m->op == MatchOp::kEq) {
        candidates = {m->value};
        only_eq = true;
        break;
      }
    }
    if (!only_eq) {
      ScanSpec all;
      all.tenant = spec.tenant;
      all.start_ns = spec.start_ns;
      all.end_ns = spec.end_ns;
      all.include_archive = spec.include_archive;
      all.cancel = spec.cancel;
      LODE_RETURN_IF_ERROR(store.LabelValues(all, name, &candidates));
      candidates.insert("");
    }
    std::vector<std::string> kept;
    for (const std::string& v : candidates) {
      if (all_match(v)) kept.push_back(v);
    }
    if (kept.empty()) {
      plan->empty = true;
    } else if (only_eq || kept.size() != candidates.size()) {
      *list = std::move(kept);
    }
  }
  return Status::OK();
}

// Line filters before anything rewrites the line give the store substrings
// every matching line contains.
void PlanLineFilters(const LogQuery& q, ScanSpec* spec) {
  for (const PipelineStage& stage : q.stages) {
    if (std::holds_alternative<LineFormatStage>(stage)) break;
    const auto* lf = std::get_if<LineFilterStage>(&stage);
    if (lf == nullptr) continue;
    if (lf->values.size() > 1) {
      // `|= "a" or "b"`: at least one of them.
      if (lf->op != LineFilterOp::kContains) continue;
      bool all = true;
      for (const auto& v : lf->values) all = all && !v.empty();
      if (all) spec->required_any.push_back(lf->values);
      continue;
    }
    if (lf->op == LineFilterOp::kContains && !lf->values[0].empty()) {
      spec->required_substrings.push_back(lf->values[0]);
    } else if (lf->op == LineFilterOp::kMatch) {
      for (auto& lit : RequiredLiterals(lf->values[0])) spec->required_substrings.push_back(lit);
      // `timeout|refused`: one literal per branch, at least one present.
      std::vector<std::string> alternatives = AlternativeLiterals(lf->values[0]);
      if (!alternatives.empty()) spec->required_any.push_back(std::move(alternatives));
    }
  }
}

// `| pattern_id = "17"` before anything that could set a pattern_id label
// (a parser, label_format) gives the store the stored ids that read as 17, so
// segments skip rows of other templates. The filter itself still runs.
void PlanPatternFilter(const LogQuery& q, const PatternIndex::Snapshot& patterns, ScanSpec* spec) {
  for (const PipelineStage& stage : q.stages) {
    if (std::holds_alternative<LineFilterStage>(stage)) continue;
    const auto* lf = std::get_if<LabelFilterStage>(&stage);
    if (lf == nullptr) return;
    const auto* f = std::get_if<StringLabelFilter>(&lf->expr->node);
    if (f == nullptr || f->label != kPatternIdLabel || f->op != MatchOp::kEq) continue;
    uint32_t id = 0;
    auto [end, ec] = std::from_chars(f->value.data(), f->value.data() + f->value.size(), id);
    if (ec != std::errc() || end != f->value.data() + f->value.size() || id == 0) return;
    std::vector<uint32_t> members = patterns.Members(id);
    if (spec->pattern_ids.empty()) {
      spec->pattern_ids = std::move(members);
    } else {
      std::vector<uint32_t> both;
      std::set_intersection(spec->pattern_ids.begin(), spec->pattern_ids.end(), members.begin(),
                            members.end(), std::back_inserter(both));
      spec->pattern_ids = both.empty() ? std::vector<uint32_t>{UINT32_MAX} : std::move(both);
    }
  }
}

uint32_t ColumnsFor(const LogQuery& q, bool needs_line) {
  uint32_t cols = kScanInstance | kScanSource;
  bool line = needs_line;
  bool attrs = false;
  for (const PipelineStage& stage : q.stages) {
    if (std::holds_alternative<LineFilterStage>(stage) ||
        std::holds_alternative<JsonStage>(stage) || std::holds_alternative<LogfmtStage>(stage) ||
        std::holds_alternative<RegexpStage>(stage) || std::holds_alternative<PatternStage>(stage) ||
        std::holds_alternative<LineFormatStage>(stage)) {
      line = true;
    }
    if (std::holds_alternative<LabelFilterStage>(stage) ||
        std::holds_alternative<LineFormatStage>(stage) ||
        std::holds_alternative<LabelFormatStage>(stage) ||
        std::holds_alternative<UnwrapStage>(stage)) {
      attrs = true;
    }
  }
  for (const LabelMatcher& m : q.matchers) {
    if (!IsStreamLabel(CanonicalSelectorLabel(m.name))) attrs = true;
  }
  if (line) cols |= kScanMessage;
  if (attrs) cols |= kScanAttributes | kScanPattern;
  return cols;
}

// ---------------------------------------------------------------------------
// Evaluation state shared by the parts of one query.

class Evaluation {
 public:
  Evaluation(const LogStore& store, const QueryLimits& limits, const QueryParams& params,
             Clock* clock, const PatternIndex* patterns)
      : store_(store), limits_(limits), params_(params), clock_(clock) {
    if (patterns != nullptr) patterns_ = patterns->TakeSnapshot(params.tenant);
    deadline_ns_ = clock->NowNanos() + limits.timeout_ns;
    steps_ = params.step_ns > 0
                 ? static_cast<size_t>((params.end_ns - params.start_ns) / params.step_ns) + 1
                 : 1;
  }

  size_t steps() const { return steps_; }
  int64_t StepTime(size_t k) const {
    return params_.step_ns > 0 ? params_.start_ns + static_cast<int64_t>(k) * params_.step_ns
                               : params_.end_ns;
  }
  int64_t first_eval() const { return StepTime(0); }
  int64_t step() const { return params_.step_ns; }

  Result<ScanPlan> Plan(const LogQuery& q, int64_t start_ns, int64_t end_ns) {
    ScanPlan plan;
    plan.spec.tenant = params_.tenant;
    plan.spec.start_ns = start_ns;
    plan.spec.end_ns = end_ns;
    plan.spec.include_archive = params_.include_archive;
    plan.spec.cancel = params_.cancel;
    plan.spec.clock = clock_;
    plan.spec.deadline_ns = deadline_ns_;
    plan.spec.stats = &scan_stats_;
    LODE_RETURN_IF_ERROR(PlanSelector(store_, q, &plan));
    PlanLineFilters(q, &plan.spec);
    PlanPatternFilter(q, patterns_, &plan.spec);
    return plan;
  }

  // Wraps a scan: converts a cancelled scan into the reason, checks the
  // deadline every few thousand lines.
  Status Scan(const ScanSpec& spec, const std::function<bool(const Record&)>& visit) {
    uint64_t n = 0;
    Status st = store_.Scan(spec, [&](const Record& r) {
      if ((++n & 1023) == 0 && clock_->NowNanos() > deadline_ns_) {
        timed_out_ = true;
        return false;
      }
      return visit(r);
    });
    return Finish(st);
  }

  Status Finish(Status st) {
    if (st.code() == StatusCode::kCancelled || timed_out_) {
      if (timed_out_ || clock_->NowNanos() > deadline_ns_) {
        return Status::DeadlineExceeded(fmt::format(
            "query timed out after {}s (the query timeout); narrow the time range or selector",
            limits_.timeout_ns / kSecond));
      }
      return Status::Cancelled("query cancelled: the client went away");
    }
    return st;
  }

  void FillStats(QueryStatistics* s) const {
    s->segments = scan_stats_.segments.load();
    s->blocks = scan_stats_.blocks.load();
    s->bytes_read = scan_stats_.bytes_read.load();
    s->rows = scan_stats_.rows.load();
    s->head_rows = scan_stats_.head_rows.load();
    s->head_bytes = scan_stats_.head_bytes.load();
  }

  const LogStore& store() const { return store_; }
  // Canonical pattern ids as of the query's start (empty without an index).
  const PatternIndex::Snapshot* patterns() const { return &patterns_; }
  const QueryLimits& limits() const { return limits_; }
  const QueryParams& params() const { return params_; }
  ScanStats* scan_stats() { return &scan_stats_; }
  std::atomic<uint64_t> lines{0};
  bool count_fast_path = false;

  // How many parallel scans a query of this store gets: one per worker
  // when the store is large enough for it to pay.
  size_t Shards() const {
    if (limits_.parallelism <= 1) return 1;
    return store_.Stats().records >= limits_.parallel_min_records ? limits_.parallelism : 1;
  }

  // Runs body(spec of shard i, i) for shards i = 0..n-1 on n threads (this one
  // included); returns the first error.
  Status RunShards(const ScanSpec& spec, size_t n,
                   const std::function<Status(const ScanSpec&, size_t)>& body) {
    if (n <= 1) return body(spec, 0);
    std::vector<ScanSpec> specs(n, spec);
    std::vector<std::future<Status>> others;
    for (size_t i = 0; i < n; ++i) {
      specs[i].shard = static_cast<uint32_t>(i);
      specs[i].shards = static_cast<uint32_t>(n);
    }
    for (size_t i = 1; i < n; ++i) {
      others.push_back(std::async(std::launch::async, [&, i] { return body(specs[i], i); }));
    }
    Status first = body(specs[0], 0);
    for (auto& f : others) {
      Status st = f.get();
      if (first.ok()) first = st;
    }
    return first;
  }

 private:
  const LogStore& store_;
  const QueryLimits& limits_;
  const QueryParams& params_;
  Clock* clock_;
  int64_t deadline_ns_ = 0;
  size_t steps_ = 1;
  std::atomic<bool> timed_out_{false};
  ScanStats scan_stats_;
  PatternIndex::Snapshot patterns_;
};

// ---------------------------------------------------------------------------
// Log queries.

// A record's structured metadata for categorize_labels: its attributes under
// the names queries read them by, and its template's id.
Labels MetadataOf(const Record& r, const PatternIndex::Snapshot* patterns) {
  Labels out;
  out.reserve(r.attributes.size() + 1);
  for (const Attribute& a : r.attributes) out.emplace_back(SanitizeLabelName(a.key), a.value);
  if (r.pattern_id != 0) {
    const uint32_t id = patterns != nullptr ? patterns->Canonical(r.pattern_id) : r.pattern_id;
    out.emplace_back(std::string(kPatternIdLabel), std::to_string(id));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end(),
                        [](const auto& a, const auto& b) { return a.first == b.first; }),
            out.end());
  return out;
}

Result<std::vector<Stream>> RunLogQuery(Evaluation* ev, const LogQuery& q) {
  const QueryParams& params = ev->params();
  LODE_ASSIGN_OR_RETURN(ScanPlan plan, ev->Plan(q, params.start_ns, params.end_ns));
  if (plan.empty || params.limit == 0) return std::vector<Stream>{};
  plan.spec.columns = ColumnsFor(q, true);

  // Each shard keeps its best `limit` lines in a heap whose top is the worst
  // kept one; the shards' lines then merge by time.
  struct Kept {
    int64_t ts;
    uint64_t seq;  // shard-major arrival order: ties break the same way every time
    std::string line;
    Labels labels;
    Labels metadata;  // categorize_labels only
  };
  const bool backward = params.direction == Direction::kBackward;
  auto better = [backward](const Kept& a, const Kept& b) {
    return backward ? std::tie(a.ts, a.seq) > std::tie(b.ts, b.seq)
                    : std::tie(a.ts, a.seq) < std::tie(b.ts, b.seq);
  };
  const size_t shards = ev->Shards();
  std::vector<std::vector<Kept>> heaps(shards);
  Status scanned = ev->RunShards(plan.spec, shards, [&](const ScanSpec& spec, size_t shard) {
    Result<Pipeline> compiled = Pipeline::Compile(q, plan.residual);
    if (!compiled.ok()) return compiled.status();
    const Pipeline& pipeline = *compiled;
    std::vector<Kept>& heap = heaps[shard];
    LineLabels labels(ev->patterns());
    std::string buffer;
    LineOut out;
    uint64_t seq = static_cast<uint64_t>(shard) << 48;
    return ev->Scan(spec, [&](const Record& r) {
      if (!pipeline.Run(r, &labels, &buffer, &out)) return true;
      ev->lines.fetch_add(1, std::memory_order_relaxed);
      const uint64_t s = seq++;
      if (heap.size() == params.limit) {
        const Kept& worst = heap.front();
        const bool wins = backward ? std::tie(r.timestamp_ns, s) > std::tie(worst.ts, worst.seq)
                                   : std::tie(r.timestamp_ns, s) < std::tie(worst.ts, worst.seq);
        if (!wins) return true;
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.pop_back();
      }
      heap.push_back(Kept{r.timestamp_ns, s, std::string(out.line), labels.Sorted(),
                          params.categorize_labels ? MetadataOf(r, ev->patterns()) : Labels{}});
      std::push_heap(heap.begin(), heap.end(), better);
      return true;
    });
  });
  LODE_RETURN_IF_ERROR(scanned);
  std::vector<Kept> kept;
  for (auto& h : heaps) {
    for (auto& k : h) kept.push_back(std::move(k));
  }
  std::sort(kept.begin(), kept.end(), better);
  if (kept.size() > params.limit) kept.resize(params.limit);
  std::map<Labels, size_t> index;
  std::vector<Stream> streams;
  for (Kept& k : kept) {
    Entry e{k.ts, std::move(k.line), std::move(k.metadata), {}};
    if (params.categorize_labels) {
      // The indexed labels key the stream; what the pipeline added is parsed.
      auto parsed = std::stable_partition(k.labels.begin(), k.labels.end(),
                                          [](const auto& l) { return IsStreamLabel(l.first); });
      e.parsed.assign(std::make_move_iterator(parsed), std::make_move_iterator(k.labels.end()));
      k.labels.erase(parsed, k.labels.end());
    }
    auto [it, inserted] = index.emplace(k.labels, streams.size());
    if (inserted) streams.push_back(Stream{std::move(k.labels), {}});
    streams[it->second].entries.push_back(std::move(e));
  }
  std::sort(streams.begin(), streams.end(),
            [](const Stream& a, const Stream& b) { return a.labels < b.labels; });
  return streams;
}

// ---------------------------------------------------------------------------
// Metric queries: values per evaluation step.

struct StepSeries {
  Labels labels;
  std::vector<double> v;
  std::vector<uint8_t> has;
};

struct StepValue {
  bool is_scalar = false;
  double scalar = 0;
  std::vector<StepSeries> series;
};

bool Unwraps(const LogQuery& q) {
  for (const PipelineStage& s : q.stages) {
    if (std::holds_alternative<UnwrapStage>(s)) return true;
  }
  return false;
}

bool IsAdditive(RangeOp op) {
  return op == RangeOp::kCountOverTime || op == RangeOp::kRate || op == RangeOp::kBytesOverTime ||
         op == RangeOp::kBytesRate || op == RangeOp::kSumOverTime;
}

Labels ApplyGrouping(const Labels& in, const Grouping& g) {
  Labels out;
  for (const auto& kv : in) {
    bool listed = std::find(g.labels.begin(), g.labels.end(), kv.first) != g.labels.end();
    if (listed != g.without) out.push_back(kv);
  }
  return out;
}

double Quantile(double phi, std::vector<double>* values) {
  if (values->empty()) return std::nan("");
  if (phi < 0) return -std::numeric_limits<double>::infinity();
  if (phi > 1) return std::numeric_limits<double>::infinity();
  std::sort(values->begin(), values->end());
  const double rank = phi * static_cast<double>(values->size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values->size() - 1);
  const double w = rank - static_cast<double>(lo);
  return (*values)[lo] * (1 - w) + (*values)[hi] * w;
}

// One series of a range aggregation while the scan runs: additive buckets
// (bucket j holds samples in (base + j*g, base + (j+1)*g]) or raw samples.
struct RangeAcc {
  Labels labels;
  std::vector<double> buckets;
  std::vector<uint32_t> present;  // samples per bucket, when values may sum to 0
  std::vector<std::pair<int64_t, double>> samples;
};

class RangeEvaluator {
 public:
  RangeEvaluator(Evaluation* ev, const RangeAggregation& ra) : ev_(ev), ra_(ra) {
    // Windows are (t - offset - range, t - offset] for each evaluation time t.
    base_ = ev->first_eval() - ra.offset_ns - ra.range_ns;
    span_ = (ev->steps() - 1) * static_cast<uint64_t>(std::max<int64_t>(ev->step(), 0)) +
            static_cast<uint64_t>(ra.range_ns);
    if (IsAdditive(ra.op)) {
      g_ = ev->step() > 0 ? std::gcd(ev->step(), ra.range_ns) : ra.range_ns;
      nbuckets_ = span_ / static_cast<uint64_t>(g_);
      // A fine common divisor over a long range would make huge arrays: keep samples.
      bucketed_ = nbuckets_ <= 20'000;
      // Counting adds 1 per line, so a non-zero bucket is a non-empty one.
      track_presence_ =
          !(ra.op == RangeOp::kCountOverTime || (ra.op == RangeOp::kRate && !Unwraps(ra.query)));
    }
  }

  int64_t scan_start() const { return base_ + 1; }
  int64_t scan_end() const { return ev_->StepTime(ev_->steps() - 1) - ra_.offset_ns + 1; }

  // Adds sample (ts, v) to the series `key`; make_labels() gives the label
  // set of a series seen for the first time.
  template <typename MakeLabels>
  Status AddSample(const std::string& key, int64_t ts, double v, const MakeLabels& make_labels) {
    auto it = accs_.find(key);
    if (it == accs_.end()) {
      if (accs_.size() >= ev_->limits().max_inner_series) return TooManySeries();
      Labels labels = make_labels();
      it = accs_.emplace(key, RangeAcc{std::move(labels), {}, {}, {}}).first;
      if (bucketed_) it->second.buckets.assign(nbuckets_, 0);
      if (bucketed_ && track_presence_) it->second.present.assign(nbuckets_, 0);
    }
    RangeAcc& acc = it->second;
    if (bucketed_) {
      const int64_t off = ts - base_ - 1;
      if (off < 0) return Status::OK();
      const auto j = static_cast<uint64_t>(off / g_);
      if (j < nbuckets_) {
        acc.buckets[j] += v;
        if (track_presence_) ++acc.present[j];
      }
    } else {
      acc.samples.emplace_back(ts, v);
    }
    return Status::OK();
  }

  // Adds `n` to the bucket holding bucket-start `bucket` (the count fast path,
  // whose buckets are aligned to base + 1).
  Status AddBucket(const Labels& labels, int64_t bucket_start, double n) {
    return AddSample(KeyOf(labels), bucket_start + g_ - 1, n, [&] { return labels; });
  }

  // Adds another shard's partial series: buckets add, samples concatenate.
  Status Merge(RangeEvaluator&& other) {
    for (auto& [key, acc] : other.accs_) {
      auto it = accs_.find(key);
      if (it == accs_.end()) {
        if (accs_.size() >= ev_->limits().max_inner_series) return TooManySeries();
        accs_.emplace(key, std::move(acc));
        continue;
      }
      RangeAcc& mine = it->second;
      for (size_t j = 0; j < mine.buckets.size() && j < acc.buckets.size(); ++j) {
        mine.buckets[j] += acc.buckets[j];
      }
      for (size_t j = 0; j < mine.present.size() && j < acc.present.size(); ++j) {
        mine.present[j] += acc.present[j];
      }
      mine.samples.insert(mine.samples.end(), acc.samples.begin(), acc.samples.end());
    }
    return Status::OK();
  }

  bool bucketed() const { return bucketed_; }
  int64_t bucket_width() const { return g_; }
  int64_t base() const { return base_; }

  Result<StepValue> Finish() {
    StepValue out;
    const size_t steps = ev_->steps();
    const double range_s = static_cast<double>(ra_.range_ns) / 1e9;
    if (ra_.op == RangeOp::kAbsentOverTime) {
      StepSeries s;
      for (const auto& m : ra_.query.matchers) {
        if (m.op == MatchOp::kEq)
          s.labels.emplace_back(std::string(CanonicalSelectorLabel(m.name)), m.value);
      }
      std::sort(s.labels.begin(), s.labels.end());
      s.v.assign(steps, 1);
      s.has.assign(steps, 1);
      for (auto& [key, acc] : accs_) {
        std::sort(acc.samples.begin(), acc.samples.end());
        bool seen = false;
        for (size_t k = 0; k < steps; ++k) {
          auto [lo, hi] = Window(acc, k);
          if (hi > lo) s.has[k] = 0;
          seen = seen || hi > lo;
        }
        if (seen) LODE_RETURN_IF_ERROR(PipelineError(acc.labels));
      }
      out.series.push_back(std::move(s));
      return out;
    }
    std::vector<double> scratch;
    for (auto& [key, acc] : accs_) {
      StepSeries s;
      s.labels = std::move(acc.labels);

      s.v.assign(steps, 0);
      s.has.assign(steps, 0);
      if (bucketed_) {
        // Prefix sums: a window is a run of range/g buckets.
        std::vector<double> prefix(acc.buckets.size() + 1, 0);
        for (size_t j = 0; j < acc.buckets.size(); ++j) prefix[j + 1] = prefix[j] + acc.buckets[j];
        std::vector<uint32_t> nonzero(acc.buckets.size() + 1, 0);
        for (size_t j = 0; j < acc.buckets.size(); ++j) {
          const bool any = track_presence_ ? acc.present[j] > 0 : acc.buckets[j] != 0;
          nonzero[j + 1] = nonzero[j] + (any ? 1 : 0);
        }
        const uint64_t per_window = static_cast<uint64_t>(ra_.range_ns / g_);
        const uint64_t per_step = ev_->step() > 0 ? static_cast<uint64_t>(ev_->step() / g_) : 0;
        for (size_t k = 0; k < steps; ++k) {
          const uint64_t lo = k * per_step, hi = lo + per_window;
          if (nonzero[hi] == nonzero[lo]) continue;
          double sum = prefix[hi] - prefix[lo];
          s.v[k] =
              (ra_.op == RangeOp::kRate || ra_.op == RangeOp::kBytesRate) ? sum / range_s : sum;
          s.has[k] = 1;
        }
      } else {
        std::sort(acc.samples.begin(), acc.samples.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        for (size_t k = 0; k < steps; ++k) {
          auto [lo, hi] = Window(acc, k);
          if (hi <= lo) continue;
          s.has[k] = 1;
          s.v[k] = Reduce(acc, lo, hi, range_s, &scratch);
        }
      }
      // Like Loki, a series that carries an error fails the query, unless
      // none of its lines falls in a window.
      if (std::find(s.has.begin(), s.has.end(), 1) != s.has.end()) {
        LODE_RETURN_IF_ERROR(PipelineError(s.labels));
      }
      out.series.push_back(std::move(s));
    }
    return out;
  }

 private:
  static Status PipelineError(const Labels& labels) {
    for (const auto& [k, val] : labels) {
      if (k != "__error__") continue;
      return Status::InvalidArgument(fmt::format(
          "pipeline error: '{}' for series {}; use a label filter to intentionally skip "
          "this error (e.g. | __error__!=\"{}\")",
          val, LabelsToString(labels), val));
    }
    return Status::OK();
  }

  Status TooManySeries() const {
    return Status::ResourceExhausted(fmt::format(
        "the query touches more than {} series; add a `sum by (...)` or a narrower selector",
        ev_->limits().max_inner_series));
  }

  std::pair<size_t, size_t> Window(const RangeAcc& acc, size_t k) const {
    const int64_t hi_t = ev_->StepTime(k) - ra_.offset_ns;
    const int64_t lo_t = hi_t - ra_.range_ns;
    auto lo = std::upper_bound(acc.samples.begin(), acc.samples.end(), lo_t,
                               [](int64_t t, const auto& s) { return t < s.first; });
    auto hi = std::upper_bound(acc.samples.begin(), acc.samples.end(), hi_t,
                               [](int64_t t, const auto& s) { return t < s.first; });
    return {static_cast<size_t>(lo - acc.samples.begin()),
            static_cast<size_t>(hi - acc.samples.begin())};
  }

  double Reduce(const RangeAcc& acc, size_t lo, size_t hi, double range_s,
                std::vector<double>* scratch) const {
    const auto n = static_cast<double>(hi - lo);
    double sum = 0, mn = std::numeric_limits<double>::infinity(), mx = -mn;
    for (size_t i = lo; i < hi; ++i) {
      const double v = acc.samples[i].second;
      sum += v;
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
    switch (ra_.op) {
      case RangeOp::kCountOverTime: return n;
      case RangeOp::kRate: return sum / range_s;
      case RangeOp::kBytesOverTime:
      case RangeOp::kSumOverTime: return sum;
      case RangeOp::kBytesRate: return sum / range_s;
      case RangeOp::kAvgOverTime: return sum / n;
      case RangeOp::kMinOverTime: return mn;
      case RangeOp::kMaxOverTime: return mx;
      case RangeOp::kStddevOverTime:
      case RangeOp::kStdvarOverTime: {
        const double mean = sum / n;
        double sq = 0;
        for (size_t i = lo; i < hi; ++i) {
          const double d = acc.samples[i].second - mean;
          sq += d * d;
        }
        const double var = sq / n;
        return ra_.op == RangeOp::kStddevOverTime ? std::sqrt(var) : var;
      }
      case RangeOp::kQuantileOverTime: {
        scratch->clear();
        for (size_t i = lo; i < hi; ++i) scratch->push_back(acc.samples[i].second);
        return Quantile(ra_.param.value_or(0), scratch);
      }
      case RangeOp::kFirstOverTime: return acc.samples[lo].second;
      case RangeOp::kLastOverTime: return acc.samples[hi - 1].second;
      case RangeOp::kAbsentOverTime: return 1;
    }
    return 0;
  }

  Evaluation* ev_;
  const RangeAggregation& ra_;
  int64_t base_ = 0;
  uint64_t span_ = 0;
  int64_t g_ = 1;
  uint64_t nbuckets_ = 0;
  bool bucketed_ = false;
  bool track_presence_ = false;
  std::unordered_map<std::string, RangeAcc> accs_;
};

void LabelFilterNames(const LabelFilterExpr& e, std::set<std::string>* out) {
  if (const auto* s = std::get_if<StringLabelFilter>(&e.node)) {
    out->insert(s->label);
  } else if (const auto* n = std::get_if<NumericLabelFilter>(&e.node)) {
    out->insert(n->label);
  } else {
    const auto& b = std::get<LabelFilterBinary>(e.node);
    LabelFilterNames(*b.lhs, out);
    LabelFilterNames(*b.rhs, out);
  }
}

// The labels a range aggregation reads after its parsers, when its output
// keeps only `grouping`'s labels; nullopt when that cannot be known (no
// grouping, `without`, drop/keep/label_format), and then parsers extract all.
std::optional<std::set<std::string>> NeededLabels(const LogQuery& q, const Grouping* grouping) {
  if (grouping == nullptr || grouping->without) return std::nullopt;
  std::set<std::string> needed(grouping->labels.begin(), grouping->labels.end());
  for (const PipelineStage& stage : q.stages) {
    if (std::holds_alternative<DropStage>(stage) || std::holds_alternative<KeepStage>(stage) ||
        std::holds_alternative<LabelFormatStage>(stage)) {
      return std::nullopt;
    }
    if (const auto* lf = std::get_if<LabelFilterStage>(&stage))
      LabelFilterNames(*lf->expr, &needed);
    if (const auto* uw = std::get_if<UnwrapStage>(&stage)) needed.insert(uw->label);
    if (const auto* fmt = std::get_if<LineFormatStage>(&stage)) {
      Result<Template> t = Template::Make(fmt->tmpl);
      if (!t.ok()) return std::nullopt;  // the pipeline reports the error
      needed.insert(t->referenced_labels().begin(), t->referenced_labels().end());
    }
  }
  return needed;
}

// `sum [by (level|service)] (count_over_time|rate({indexed selector} |= "literal"... [range]))`:
// the store counts from block statistics without building records.
const RangeAggregation* CountFastPathCandidate(const MetricExpr& e, std::vector<std::string>* by) {
  const auto* va = std::get_if<VectorAggregation>(&e.node);
  if (va == nullptr || va->op != VectorOp::kSum) return nullptr;
  if (va->grouping) {
    if (va->grouping->without) return nullptr;
    for (const std::string& l : va->grouping->labels) {
      if (l != "level" && l != "service") return nullptr;
    }
    *by = va->grouping->labels;
  }
  const auto* ra = std::get_if<RangeAggregation>(&va->inner->node);
  if (ra == nullptr || (ra->op != RangeOp::kCountOverTime && ra->op != RangeOp::kRate)) {
    return nullptr;
  }
  for (const LabelMatcher& m : ra->query.matchers) {
    if (!IsStreamLabel(CanonicalSelectorLabel(m.name))) return nullptr;
  }
  for (const PipelineStage& s : ra->query.stages) {
    const auto* lf = std::get_if<LineFilterStage>(&s);
    if (lf == nullptr || lf->op != LineFilterOp::kContains || lf->values.size() != 1 ||
        lf->values[0].empty()) {
      return nullptr;
    }
  }
  return ra;
}

// Every label name a `by (...)` of the expression names.
void GroupingNames(const MetricExpr& e, std::set<std::string>* out) {
  if (const auto* ra = std::get_if<RangeAggregation>(&e.node)) {
    if (ra->grouping && !ra->grouping->without) {
      out->insert(ra->grouping->labels.begin(), ra->grouping->labels.end());
    }
  } else if (const auto* va = std::get_if<VectorAggregation>(&e.node)) {
    if (va->grouping && !va->grouping->without) {
      out->insert(va->grouping->labels.begin(), va->grouping->labels.end());
    }
    GroupingNames(*va->inner, out);
  } else if (const auto* be = std::get_if<BinaryExpr>(&e.node)) {
    GroupingNames(*be->lhs, out);
    GroupingNames(*be->rhs, out);
  }
}

class MetricEvaluator {
 public:
  // Attributes named by a `by (...)` anywhere in `root` become labels of the
  // range aggregations' series, so every form of grouping sees them.
  MetricEvaluator(Evaluation* ev, const MetricExpr& root) : ev_(ev) {
    GroupingNames(root, &grouping_names_);
    for (std::string_view l : kStreamLabelNames) grouping_names_.erase(std::string(l));
  }

  Result<StepValue> Eval(const MetricExpr& e) {
    std::vector<std::string> by;
    if (const RangeAggregation* ra = CountFastPathCandidate(e, &by)) {
      RangeEvaluator re(ev_, *ra);
      if (re.bucketed()) return CountFastPath(*ra, by, &re);
    }
    if (const auto* ra = std::get_if<RangeAggregation>(&e.node)) return EvalRange(*ra, nullptr);
    if (const auto* va = std::get_if<VectorAggregation>(&e.node)) return EvalVector(*va);
    if (const auto* be = std::get_if<BinaryExpr>(&e.node)) return EvalBinary(*be);
    StepValue v;
    v.is_scalar = true;
    v.scalar = std::get<NumberLiteral>(e.node).value;
    return v;
  }

 private:
  Result<StepValue> CountFastPath(const RangeAggregation& ra, const std::vector<std::string>& by,
                                  RangeEvaluator* rep) {
    RangeEvaluator& re = *rep;
    LODE_ASSIGN_OR_RETURN(ScanPlan plan, ev_->Plan(ra.query, re.scan_start(), re.scan_end()));
    ev_->count_fast_path = true;
    StepValue out;
    if (!plan.empty) {
      CountSpec cs;
      cs.by_level = std::find(by.begin(), by.end(), "level") != by.end();
      cs.by_service = std::find(by.begin(), by.end(), "service") != by.end();
      cs.step_ns = re.bucket_width();
      cs.align_ns = re.base() + 1;
      CountResult counts;
      LODE_RETURN_IF_ERROR(ev_->Finish(ev_->store().Count(plan.spec, cs, &counts)));
      ev_->lines += counts.matched;
      for (const auto& [key, n] : counts.counts) {
        Labels labels;
        if (cs.by_level)
          labels.emplace_back("level", std::string(LevelName(static_cast<Level>(key.level))));
        if (cs.by_service && !key.service.empty()) labels.emplace_back("service", key.service);
        LODE_RETURN_IF_ERROR(re.AddBucket(labels, key.bucket, static_cast<double>(n)));
      }
    }
    LODE_ASSIGN_OR_RETURN(out, re.Finish());
    // sum by (...) over the per-group counts is the identity.
    return out;
  }

  // `reduce`: the grouping of an enclosing `sum`, applied while accumulating
  // (exact for additive functions, and it keeps the series few).
  Result<StepValue> EvalRange(const RangeAggregation& ra, const Grouping* reduce) {
    const Grouping* grouping = ra.grouping ? &*ra.grouping : reduce;
    RangeEvaluator probe(ev_, ra);
    LODE_ASSIGN_OR_RETURN(ScanPlan plan, ev_->Plan(ra.query, probe.scan_start(), probe.scan_end()));
    if (plan.empty) return probe.Finish();
    const bool bytes = ra.op == RangeOp::kBytesOverTime || ra.op == RangeOp::kBytesRate;
    plan.spec.columns = ColumnsFor(ra.query, bytes);
    if (grouping != nullptr) plan.spec.columns |= kScanAttributes | kScanPattern;
    const std::optional<std::set<std::string>> needed = NeededLabels(ra.query, grouping);
    // One evaluator per shard; their partial series merge at the end.
    const size_t shards = ev_->Shards();
    std::vector<std::unique_ptr<RangeEvaluator>> parts;
    for (size_t i = 0; i < shards; ++i) parts.push_back(std::make_unique<RangeEvaluator>(ev_, ra));
    Status scanned = ev_->RunShards(plan.spec, shards, [&](const ScanSpec& spec, size_t shard) {
      Result<Pipeline> compiled =
          Pipeline::Compile(ra.query, plan.residual, needed ? &*needed : nullptr);
      if (!compiled.ok()) return compiled.status();
      const Pipeline& pipeline = *compiled;
      RangeEvaluator& re = *parts[shard];
      LineLabels labels(ev_->patterns());
      std::string buffer, key;
      std::vector<size_t> order;
      LineOut out;
      Status err;
      Status st = ev_->Scan(spec, [&](const Record& r) {
        if (!pipeline.Run(r, &labels, &buffer, &out)) return true;
        ev_->lines.fetch_add(1, std::memory_order_relaxed);
        double v = out.unwrapped ? out.value : bytes ? static_cast<double>(out.line.size()) : 1.0;
        if (grouping != nullptr && !grouping->without) {
          // Grouping may name attributes: resolve them, and build the label
          // set only for a new series.
          key.clear();
          for (const std::string& name : grouping->labels) {
            const std::string* val = labels.Get(name);
            if (val != nullptr) key += *val;
            key.push_back('\xfe');
          }
          const std::string* error = labels.has_error() ? labels.Get("__error__") : nullptr;
          if (error != nullptr) key += *error;
          err = re.AddSample(key, r.timestamp_ns, v, [&] {
            Labels grouped;
            for (const std::string& name : grouping->labels) {
              const std::string* val = labels.Get(name);
              if (val != nullptr && !val->empty()) grouped.emplace_back(name, *val);
            }
            if (error != nullptr) grouped.emplace_back("__error__", *error);
            std::sort(grouped.begin(), grouped.end());
            grouped.erase(std::unique(grouped.begin(), grouped.end()), grouped.end());
            return grouped;
          });
        } else if (grouping != nullptr) {
          for (const std::string& name : grouping_names_) labels.Materialize(name);
          Labels grouped = ApplyGrouping(labels.Sorted(), *grouping);
          err = re.AddSample(KeyOf(grouped), r.timestamp_ns, v, [&] { return grouped; });
        } else {
          for (const std::string& name : grouping_names_) labels.Materialize(name);
          labels.Key(&key, &order);
          err = re.AddSample(key, r.timestamp_ns, v, [&] { return labels.Sorted(); });
        }
        return err.ok();
      });
      return st.ok() ? err : st;
    });
    LODE_RETURN_IF_ERROR(scanned);
    for (size_t i = 1; i < parts.size(); ++i) {
      LODE_RETURN_IF_ERROR(parts[0]->Merge(std::move(*parts[i])));
    }
    return parts[0]->Finish();
  }

  Result<StepValue> EvalVector(const VectorAggregation& va) {
    const auto* inner_range = std::get_if<RangeAggregation>(&va.inner->node);
    if (va.op == VectorOp::kSum && inner_range != nullptr && !inner_range->grouping &&
        IsAdditive(inner_range->op) && inner_range->op != RangeOp::kAbsentOverTime) {
      static const Grouping kAll;  // no `by`: one group
      return EvalRange(*inner_range, va.grouping ? &*va.grouping : &kAll);
    }
    LODE_ASSIGN_OR_RETURN(StepValue in, Eval(*va.inner));
    if (in.is_scalar) return Status::InvalidArgument("vector aggregation over a scalar");
    const size_t steps = ev_->steps();
    StepValue out;
    // Group the input series.
    std::map<Labels, std::vector<size_t>> groups;
    for (size_t i = 0; i < in.series.size(); ++i) {
      Labels g = va.grouping ? ApplyGrouping(in.series[i].labels, *va.grouping) : Labels{};
      groups[g].push_back(i);
    }
    if (va.op == VectorOp::kTopk || va.op == VectorOp::kBottomk) {
      const auto k = static_cast<size_t>(std::max<int64_t>(va.param.value_or(1), 0));
      std::vector<uint8_t> chosen(in.series.size(), 0);
      std::vector<StepSeries> result = in.series;
      for (auto& s : result) std::fill(s.has.begin(), s.has.end(), 0);
      std::vector<size_t> idx;
      for (const auto& [g, members] : groups) {
        for (size_t t = 0; t < steps; ++t) {
          idx.clear();
          for (size_t i : members) {
            if (in.series[i].has[t]) idx.push_back(i);
          }
          auto better = [&](size_t a, size_t b) {
            double x = in.series[a].v[t], y = in.series[b].v[t];
            if (x != y) return va.op == VectorOp::kTopk ? x > y : x < y;
            return in.series[a].labels < in.series[b].labels;
          };
          const size_t n = std::min(k, idx.size());
          std::partial_sort(idx.begin(), idx.begin() + static_cast<ptrdiff_t>(n), idx.end(),
                            better);
          for (size_t j = 0; j < n; ++j) {
            result[idx[j]].has[t] = 1;
            chosen[idx[j]] = 1;
          }
        }
      }
      for (size_t i = 0; i < result.size(); ++i) {
        if (chosen[i]) out.series.push_back(std::move(result[i]));
      }
      return out;
    }
    for (const auto& [g, members] : groups) {
      StepSeries s;
      s.labels = g;
      s.v.assign(steps, 0);
      s.has.assign(steps, 0);
      for (size_t t = 0; t < steps; ++t) {
        double sum = 0, mn = std::numeric_limits<double>::infinity(), mx = -mn;
        size_t n = 0;
        for (size_t i : members) {
          if (!in.series[i].has[t]) continue;
          const double v = in.series[i].v[t];
          sum += v;
          mn = std::min(mn, v);
          mx = std::max(mx, v);
          ++n;
        }
        if (n == 0) continue;
        s.has[t] = 1;
        const double mean = sum / static_cast<double>(n);
        switch (va.op) {
          case VectorOp::kSum: s.v[t] = sum; break;
          case VectorOp::kAvg: s.v[t] = mean; break;
          case VectorOp::kMin: s.v[t] = mn; break;
          case VectorOp::kMax: s.v[t] = mx; break;
          case VectorOp::kCount: s.v[t] = static_cast<double>(n); break;
          case VectorOp::kStddev:
          case VectorOp::kStdvar: {
            double sq = 0;
            for (size_t i : members) {
              if (!in.series[i].has[t]) continue;
              const double d = in.series[i].v[t] - mean;
              sq += d * d;
            }
            const double var = sq / static_cast<double>(n);
            s.v[t] = va.op == VectorOp::kStddev ? std::sqrt(var) : var;
            break;
          }
          default: break;
        }
      }
      out.series.push_back(std::move(s));
    }
    return out;
  }

  static bool IsComparison(BinaryOp op) {
    return op == BinaryOp::kEq || op == BinaryOp::kNeq || op == BinaryOp::kGt ||
           op == BinaryOp::kGte || op == BinaryOp::kLt || op == BinaryOp::kLte;
  }

  static double Arith(BinaryOp op, double a, double b) {
    switch (op) {
      case BinaryOp::kAdd: return a + b;
      case BinaryOp::kSub: return a - b;
      case BinaryOp::kMul: return a * b;
      case BinaryOp::kDiv: return a / b;
      case BinaryOp::kMod: return std::fmod(a, b);
      case BinaryOp::kPow: return std::pow(a, b);
      case BinaryOp::kEq: return a == b;
      case BinaryOp::kNeq: return a != b;
      case BinaryOp::kGt: return a > b;
      case BinaryOp::kGte: return a >= b;
      case BinaryOp::kLt: return a < b;
      case BinaryOp::kLte: return a <= b;
      default: return 0;
    }
  }

  Result<StepValue> EvalBinary(const BinaryExpr& be) {
    LODE_ASSIGN_OR_RETURN(StepValue lhs, Eval(*be.lhs));
    LODE_ASSIGN_OR_RETURN(StepValue rhs, Eval(*be.rhs));
    const bool cmp = IsComparison(be.op);
    const bool set_op =
        be.op == BinaryOp::kAnd || be.op == BinaryOp::kOr || be.op == BinaryOp::kUnless;
    if (lhs.is_scalar && rhs.is_scalar) {
      if (set_op) return Status::InvalidArgument("set operator and/or/unless needs two vectors");
      if (cmp && !be.return_bool) {
        return Status::InvalidArgument("comparisons between scalars must use the bool modifier");
      }
      StepValue v;
      v.is_scalar = true;
      v.scalar = Arith(be.op, lhs.scalar, rhs.scalar);
      return v;
    }
    if (lhs.is_scalar || rhs.is_scalar) {
      if (set_op) return Status::InvalidArgument("set operator and/or/unless needs two vectors");
      const bool scalar_left = lhs.is_scalar;
      StepValue out = scalar_left ? std::move(rhs) : std::move(lhs);
      const double c = scalar_left ? lhs.scalar : rhs.scalar;
      for (StepSeries& s : out.series) {
        for (size_t t = 0; t < s.v.size(); ++t) {
          if (!s.has[t]) continue;
          const double a = scalar_left ? c : s.v[t], b = scalar_left ? s.v[t] : c;
          const double r = Arith(be.op, a, b);
          if (cmp && !be.return_bool) {
            if (r == 0) s.has[t] = 0;  // filter: the vector's value stays
          } else {
            s.v[t] = r;
          }
        }
      }
      return out;
    }
    // Vector with vector: one-to-one on identical label sets.
    std::map<Labels, size_t> rindex;
    for (size_t i = 0; i < rhs.series.size(); ++i) rindex[rhs.series[i].labels] = i;
    StepValue out;
    if (be.op == BinaryOp::kOr) {
      std::map<Labels, size_t> lindex;
      for (size_t i = 0; i < lhs.series.size(); ++i) lindex[lhs.series[i].labels] = i;
      out.series = lhs.series;
      for (StepSeries& r : rhs.series) {
        auto it = lindex.find(r.labels);
        if (it != lindex.end()) {
          StepSeries& l = out.series[it->second];
          for (size_t t = 0; t < l.v.size(); ++t) {
            if (!l.has[t] && r.has[t]) {
              l.has[t] = 1;
              l.v[t] = r.v[t];
            }
          }
        } else {
          // No lhs series has these labels: every rhs sample is added.
          out.series.push_back(std::move(r));
        }
      }
      return out;
    }
    for (StepSeries& l : lhs.series) {
      auto it = rindex.find(l.labels);
      const StepSeries* r = it == rindex.end() ? nullptr : &rhs.series[it->second];
      for (size_t t = 0; t < l.v.size(); ++t) {
        if (!l.has[t]) continue;
        const bool rhas = r != nullptr && r->has[t];
        if (be.op == BinaryOp::kAnd) {
          if (!rhas) l.has[t] = 0;
        } else if (be.op == BinaryOp::kUnless) {
          if (rhas) l.has[t] = 0;
        } else if (!rhas) {
          l.has[t] = 0;
        } else {
          const double res = Arith(be.op, l.v[t], r->v[t]);
          if (cmp && !be.return_bool) {
            if (res == 0) l.has[t] = 0;
          } else {
            l.v[t] = res;
          }
        }
      }
      out.series.push_back(std::move(l));
    }
    return out;
  }

  Evaluation* ev_;
  std::set<std::string> grouping_names_;
};

}  // namespace

std::string LabelsToString(const Labels& labels) {
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ", ";
    out += labels[i].first;
    out += "=\"";
    for (char c : labels[i].second) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        default: out.push_back(c);
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string_view ResultTypeName(ResultType type) {
  switch (type) {
    case ResultType::kStreams: return "streams";
    case ResultType::kMatrix: return "matrix";
    case ResultType::kVector: return "vector";
    case ResultType::kScalar: return "scalar";
  }
  return "unknown";
}

std::string FormatSampleValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

Engine::Engine(const LogStore* store, QueryLimits limits, Clock* clock,
               const PatternIndex* patterns)
    : store_(store), limits_(limits), clock_(clock), patterns_(patterns) {}

Result<QueryResult> Engine::Run(std::string_view query, const QueryParams& params) const {
  LODE_ASSIGN_OR_RETURN(LogqlExpr expr, ParseLogql(query));
  return Run(expr, params);
}

Result<QueryResult> Engine::Run(const LogqlExpr& expr, const QueryParams& params) const {
  const auto t0 = std::chrono::steady_clock::now();
  if (params.end_ns < params.start_ns) {
    return Status::InvalidArgument("the end of the query range is before its start");
  }
  if (params.step_ns < 0) return Status::InvalidArgument("step must be positive");
  QueryResult result;
  Evaluation ev(*store_, limits_, params, clock_, patterns_);
  if (const auto* q = std::get_if<LogQuery>(&expr)) {
    result.type = ResultType::kStreams;
    LODE_ASSIGN_OR_RETURN(result.streams, RunLogQuery(&ev, *q));
    result.stats.series = result.streams.size();
  } else {
    if (params.step_ns > 0 && ev.steps() > limits_.max_points) {
      return Status::InvalidArgument(fmt::format(
          "a range query may have at most {} steps; this one has {} (increase the step)",
          limits_.max_points, ev.steps()));
    }
    MetricEvaluator me(&ev, std::get<MetricExpr>(expr));
    LODE_ASSIGN_OR_RETURN(StepValue v, me.Eval(std::get<MetricExpr>(expr)));
    if (v.is_scalar) {
      result.type = params.step_ns > 0 ? ResultType::kMatrix : ResultType::kScalar;
      if (params.step_ns > 0) {
        logql::Series s;
        for (size_t k = 0; k < ev.steps(); ++k) s.points.push_back(Point{ev.StepTime(k), v.scalar});
        result.matrix.push_back(std::move(s));
      } else {
        result.scalar = Point{params.end_ns, v.scalar};
      }
    } else if (params.step_ns > 0) {
      result.type = ResultType::kMatrix;
      for (StepSeries& s : v.series) {
        logql::Series out{std::move(s.labels), {}};
        for (size_t k = 0; k < s.v.size(); ++k) {
          if (s.has[k]) out.points.push_back(Point{ev.StepTime(k), s.v[k]});
        }
        if (!out.points.empty()) result.matrix.push_back(std::move(out));
      }
      std::sort(result.matrix.begin(), result.matrix.end(),
                [](const logql::Series& a, const logql::Series& b) { return a.labels < b.labels; });
    } else {
      result.type = ResultType::kVector;
      for (StepSeries& s : v.series) {
        if (s.has[0]) result.vector.push_back(Sample{std::move(s.labels), params.end_ns, s.v[0]});
      }
      std::sort(result.vector.begin(), result.vector.end(),
                [](const Sample& a, const Sample& b) { return a.labels < b.labels; });
      // An instant topk/bottomk answers in rank order, as Prometheus does.
      if (const auto* va = std::get_if<VectorAggregation>(&std::get<MetricExpr>(expr).node);
          va != nullptr && (va->op == VectorOp::kTopk || va->op == VectorOp::kBottomk)) {
        const bool top = va->op == VectorOp::kTopk;
        std::stable_sort(result.vector.begin(), result.vector.end(),
                         [top](const Sample& a, const Sample& b) {
                           return top ? a.value > b.value : a.value < b.value;
                         });
      }
    }
    result.stats.series =
        result.type == ResultType::kMatrix ? result.matrix.size() : result.vector.size();
    if (result.stats.series > limits_.max_series) {
      return Status::ResourceExhausted(fmt::format(
          "maximum number of series ({}) reached for a single query; the result has {}. "
          "Aggregate with `sum by (...)` or narrow the selector",
          limits_.max_series, result.stats.series));
    }
  }
  ev.FillStats(&result.stats);
  result.stats.lines = ev.lines.load();
  result.stats.count_fast_path = ev.count_fast_path;
  result.stats.took_ms = MillisSince(t0);
  return result;
}

Result<std::vector<Labels>> Engine::Series(const std::vector<LogQuery>& selectors,
                                           const QueryParams& params) const {
  const LogQuery everything;
  std::vector<const LogQuery*> all;
  for (const LogQuery& q : selectors) all.push_back(&q);
  if (all.empty()) all.push_back(&everything);
  std::set<Labels> seen;
  Evaluation ev(*store_, limits_, params, clock_, patterns_);
  for (const LogQuery* qp : all) {
    const LogQuery& q = *qp;
    LODE_ASSIGN_OR_RETURN(ScanPlan plan, ev.Plan(q, params.start_ns, params.end_ns));
    if (plan.empty) continue;
    LogQuery bare;
    bare.matchers = q.matchers;  // the selector only: /series ignores pipelines
    LODE_ASSIGN_OR_RETURN(Pipeline pipeline, Pipeline::Compile(bare, plan.residual));
    plan.spec.columns = ColumnsFor(bare, false);
    LineLabels labels(ev.patterns());
    std::string buffer;
    LineOut out;
    Status err;
    LODE_RETURN_IF_ERROR(ev.Scan(plan.spec, [&](const Record& r) {
      if (!pipeline.Run(r, &labels, &buffer, &out)) return true;
      seen.insert(labels.Sorted());
      if (seen.size() > limits_.max_inner_series) {
        err = Status::ResourceExhausted(
            fmt::format("more than {} series match; narrow the selector or the time range",
                        limits_.max_inner_series));
        return false;
      }
      return true;
    }));
    LODE_RETURN_IF_ERROR(err);
  }
  return std::vector<Labels>(seen.begin(), seen.end());
}

Result<std::vector<std::string>> Engine::LabelValues(std::string_view name,
                                                     const LogQuery* selector,
                                                     const QueryParams& params) const {
  const std::string_view canonical = CanonicalSelectorLabel(name);
  if (!IsStreamLabel(canonical)) return std::vector<std::string>{};
  const LogQuery everything;
  const LogQuery& q = selector != nullptr ? *selector : everything;
  Evaluation ev(*store_, limits_, params, clock_, patterns_);
  LODE_ASSIGN_OR_RETURN(ScanPlan plan, ev.Plan(q, params.start_ns, params.end_ns));
  if (plan.empty) return std::vector<std::string>{};
  std::set<std::string> values;
  if (plan.residual.empty()) {
    LODE_RETURN_IF_ERROR(ev.Finish(store_->LabelValues(plan.spec, canonical, &values)));
  } else {
    std::vector<LogQuery> one;
    one.emplace_back();
    one.back().matchers = q.matchers;
    LODE_ASSIGN_OR_RETURN(std::vector<Labels> series, Series(one, params));
    for (const Labels& l : series) {
      for (const auto& [k, v] : l) {
        if (k == canonical) values.insert(v);
      }
    }
  }
  return std::vector<std::string>(values.begin(), values.end());
}

Result<std::vector<std::string>> Engine::LabelNames(const LogQuery* selector,
                                                    const QueryParams& params) const {
  std::vector<std::string> names;
  for (std::string_view name : kStreamLabelNames) {
    LODE_ASSIGN_OR_RETURN(std::vector<std::string> values, LabelValues(name, selector, params));
    if (!values.empty()) names.emplace_back(name);
  }
  return names;
}

Result<Engine::IndexStats> Engine::Stats(const LogQuery& selector,
                                         const QueryParams& params) const {
  Evaluation ev(*store_, limits_, params, clock_, patterns_);
  LODE_ASSIGN_OR_RETURN(ScanPlan plan, ev.Plan(selector, params.start_ns, params.end_ns));
  IndexStats out;
  if (plan.empty) return out;
  LogQuery bare;
  bare.matchers = selector.matchers;
  LODE_ASSIGN_OR_RETURN(Pipeline pipeline, Pipeline::Compile(bare, plan.residual));
  plan.spec.columns = ColumnsFor(bare, true);
  std::set<std::string> streams;
  LineLabels labels(ev.patterns());
  std::string buffer, key;
  std::vector<size_t> order;
  LineOut line;
  LODE_RETURN_IF_ERROR(ev.Scan(plan.spec, [&](const Record& r) {
    if (!pipeline.Run(r, &labels, &buffer, &line)) return true;
    ++out.entries;
    out.bytes += line.line.size();
    labels.Key(&key, &order);
    if (streams.size() < limits_.max_inner_series) streams.insert(key);
    return true;
  }));
  out.streams = streams.size();
  out.chunks = ev.scan_stats()->blocks.load() + (ev.scan_stats()->head_rows.load() > 0 ? 1 : 0);
  return out;
}

Result<Engine::PatternsResult> Engine::Patterns(const LogQuery& q, const QueryParams& params,
                                                bool only_new) const {
  const auto t0 = std::chrono::steady_clock::now();
  if (patterns_ == nullptr) {
    return Status::Unavailable("patterns are not mined on this server");
  }
  if (params.end_ns < params.start_ns) {
    return Status::InvalidArgument("the end of the query range is before its start");
  }
  if (params.step_ns <= 0) return Status::InvalidArgument("step must be positive");
  const uint64_t span =
      static_cast<uint64_t>(params.end_ns) - static_cast<uint64_t>(params.start_ns);
  const uint64_t buckets =
      std::max<uint64_t>(1, (span + static_cast<uint64_t>(params.step_ns) - 1) /
                                static_cast<uint64_t>(params.step_ns));
  if (buckets > limits_.max_points) {
    return Status::InvalidArgument(fmt::format(
        "a pattern volume series may have at most {} steps; this one has {} (increase the step)",
        limits_.max_points, buckets));
  }
  Evaluation ev(*store_, limits_, params, clock_, patterns_);
  PatternsResult result;
  LODE_ASSIGN_OR_RETURN(ScanPlan plan, ev.Plan(q, params.start_ns, params.end_ns));
  if (plan.empty) return result;
  plan.spec.columns = ColumnsFor(q, false) | kScanPattern;
  const bool reads_lines = (plan.spec.columns & kScanMessage) != 0;

  struct Acc {
    uint64_t count = 0;
    int64_t first = INT64_MAX;
    int64_t last = INT64_MIN;
    int64_t sample_ns = INT64_MIN;
    std::string sample;
    std::vector<uint64_t> volume;
  };
  struct Part {
    std::unordered_map<uint32_t, Acc> by_id;
    uint64_t lines = 0;
    uint64_t unpatterned = 0;
  };
  // Volumes are dense (patterns x steps counters): bounded like the series
  // of a metric query.
  constexpr uint64_t kMaxVolumeCells = 16 << 20;  // 128 MiB of counters
  std::atomic<uint64_t> cells{0};
  auto count = [&](Part& part, uint32_t id, int64_t ts, std::string_view line) {
    Acc& a = part.by_id[id];
    if (a.volume.empty()) {
      if (cells.fetch_add(buckets) + buckets > kMaxVolumeCells) return false;
      a.volume.resize(buckets);
    }
    ++a.count;
    a.first = std::min(a.first, ts);
    a.last = std::max(a.last, ts);
    ++a.volume[static_cast<uint64_t>(ts - params.start_ns) / static_cast<uint64_t>(params.step_ns)];
    if (reads_lines && ts >= a.sample_ns) {
      a.sample_ns = ts;
      a.sample.assign(line);
    }
    return true;
  };
  const size_t shards = ev.Shards();
  std::vector<Part> parts(shards);
  const PatternIndex::Snapshot& snap = *ev.patterns();
  LODE_RETURN_IF_ERROR(ev.RunShards(plan.spec, shards, [&](const ScanSpec& spec, size_t shard) {
    LODE_ASSIGN_OR_RETURN(Pipeline pipeline, Pipeline::Compile(q, plan.residual));
    Part& part = parts[shard];
    LineLabels labels(&snap);
    std::string buffer;
    LineOut out;
    return ev.Scan(spec, [&](const Record& r) {
      if (!pipeline.Run(r, &labels, &buffer, &out)) return true;
      ++part.lines;
      if (r.pattern_id == 0) {
        ++part.unpatterned;
        return true;
      }
      return count(part, snap.Canonical(r.pattern_id), r.timestamp_ns, out.line);
    });
  }));
  if (cells.load() > kMaxVolumeCells) {
    return Status::ResourceExhausted(fmt::format(
        "too many patterns x steps for their volumes (more than {} counters); increase the "
        "step or narrow the query",
        kMaxVolumeCells));
  }
  // Merge the shards.
  Part all = std::move(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    all.lines += parts[i].lines;
    all.unpatterned += parts[i].unpatterned;
    for (auto& [id, a] : parts[i].by_id) {
      auto [it, fresh] = all.by_id.try_emplace(id, std::move(a));
      if (fresh) continue;
      Acc& b = it->second;
      b.count += a.count;
      b.first = std::min(b.first, a.first);
      b.last = std::max(b.last, a.last);
      for (size_t k = 0; k < buckets; ++k) b.volume[k] += a.volume[k];
      if (a.sample_ns > b.sample_ns) {
        b.sample_ns = a.sample_ns;
        b.sample = std::move(a.sample);
      }
    }
  }
  result.lines = all.lines;
  result.unpatterned = all.unpatterned;
  std::vector<std::pair<uint32_t, Acc*>> order;
  for (auto& [id, a] : all.by_id) {
    if (only_new && !patterns_->IsNew(params.tenant, id)) continue;
    order.emplace_back(id, &a);
  }
  result.total_patterns = order.size();
  std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    return x.second->count != y.second->count ? x.second->count > y.second->count
                                              : x.first < y.first;
  });
  if (order.size() > params.limit) order.resize(params.limit);

  for (auto& [id, a] : order) {
    PatternStats p;
    p.id = id;
    p.count = a->count;
    p.first_in_range_ns = a->first;
    p.last_in_range_ns = a->last;
    p.volume = std::move(a->volume);
    if (!reads_lines) {
      // The counting pass read no lines: fetch the newest line of this
      // pattern alone (the store skips blocks and rows of other patterns).
      ScanSpec one = plan.spec;
      one.columns |= kScanMessage;
      one.pattern_ids = snap.Members(id);
      one.start_ns = a->last;
      one.end_ns = a->last + 1;
      LODE_ASSIGN_OR_RETURN(Pipeline pipeline, Pipeline::Compile(q, plan.residual));
      LineLabels labels(&snap);
      std::string buffer;
      LineOut out;
      LODE_RETURN_IF_ERROR(ev.Scan(one, [&](const Record& r) {
        if (!pipeline.Run(r, &labels, &buffer, &out)) return true;
        a->sample.assign(out.line);
        a->sample_ns = r.timestamp_ns;
        return false;
      }));
    }
    p.sample = std::move(a->sample);
    p.sample_ns = a->sample_ns;
    if (auto info = patterns_->Lookup(params.tenant, id)) {
      p.service = std::move(info->service);
      p.text = std::move(info->text);
      p.first_seen_ns = info->first_seen_ns;
      p.last_seen_ns = info->last_seen_ns;
      p.is_new = info->is_new;
    }
    result.patterns.push_back(std::move(p));
  }
  ev.FillStats(&result.stats);
  result.stats.lines = result.lines;
  result.stats.series = result.patterns.size();
  result.stats.took_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

struct RecordMatcher::Impl {
  Pipeline pipeline;
  // Cheap checks done on the record before the pipeline (which repeats them):
  // equality on the four stream labels and leading `|=` / `!=` line filters.
  // Rules mostly reject a record here, without building its label set.
  std::vector<std::pair<std::string, std::string>> eq;  // stream label, value
  std::vector<std::string> contains, not_contains;
  bool complete = false;  // the checks are the whole query: no need to run it

  static std::string_view StreamLabel(const Record& r, std::string_view name) {
    if (name == "service") return r.service;
    if (name == "level") return LevelName(r.level);
    if (name == "instance") return r.instance;
    return r.source;
  }
};

namespace {
struct MatcherScratch {
  LineLabels labels;
  std::string buffer;
};
}  // namespace

Result<RecordMatcher> RecordMatcher::Make(std::string_view log_query) {
  LODE_ASSIGN_OR_RETURN(LogqlExpr expr, ParseLogql(log_query));
  const LogQuery* q = std::get_if<LogQuery>(&expr);
  if (q == nullptr) {
    return Status::InvalidArgument(
        "expected a log query (a selector and filters), got a metric query");
  }
  // No index here: every selector term is checked on the record.
  std::vector<LabelMatcher> residual = q->matchers;
  for (auto& m : residual) m.name = std::string(CanonicalSelectorLabel(m.name));
  auto impl = std::make_shared<Impl>();
  LODE_ASSIGN_OR_RETURN(impl->pipeline, Pipeline::Compile(*q, residual));
  size_t covered = 0;
  for (const auto& m : residual) {
    if (m.op == MatchOp::kEq && IsStreamLabel(m.name)) {
      impl->eq.emplace_back(m.name, m.value);
      ++covered;
    }
  }
  size_t leading = 0;
  for (const auto& stage : q->stages) {
    const auto* lf = std::get_if<LineFilterStage>(&stage);
    if (lf == nullptr || lf->values.size() != 1 ||
        (lf->op != LineFilterOp::kContains && lf->op != LineFilterOp::kNotContains)) {
      break;
    }
    (lf->op == LineFilterOp::kContains ? impl->contains : impl->not_contains)
        .push_back(lf->values[0]);
    ++leading;
  }
  impl->complete = covered == residual.size() && leading == q->stages.size();
  RecordMatcher m;
  m.impl_ = std::move(impl);
  return m;
}

bool RecordMatcher::Match(const Record& r, const std::vector<std::string>& names,
                          std::vector<std::string>* values) {
  const Impl& impl = *impl_;
  for (const auto& [label, value] : impl.eq) {
    if (Impl::StreamLabel(r, label) != value) return false;
  }
  for (const auto& c : impl.contains) {
    if (r.message.find(c) == std::string::npos) return false;
  }
  for (const auto& c : impl.not_contains) {
    if (r.message.find(c) != std::string::npos) return false;
  }
  if (impl.complete && std::all_of(names.begin(), names.end(), [](const std::string& n) {
        return IsStreamLabel(CanonicalSelectorLabel(n));
      })) {
    values->resize(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      (*values)[i] = std::string(Impl::StreamLabel(r, CanonicalSelectorLabel(names[i])));
    }
    return true;
  }
  if (!scratch_) scratch_ = std::make_shared<MatcherScratch>();
  auto* s = static_cast<MatcherScratch*>(scratch_.get());
  LineOut out;
  if (!impl_->pipeline.Run(r, &s->labels, &s->buffer, &out)) return false;
  if (!names.empty()) {
    values->resize(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string* v = s->labels.Get(CanonicalSelectorLabel(names[i]));
      (*values)[i] = v ? *v : std::string();
    }
  }
  return true;
}

}  // namespace lode::logql
