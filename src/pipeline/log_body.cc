#include "pipeline/log_body.h"

#include <cstring>

#include "parse/message_level.h"

namespace lode {

namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

void Reject(size_t line, std::string reason, const BodyLimits& limits, BodyOutcome* out) {
  ++out->rejected;
  if (out->rejections.size() < limits.max_reported_errors) {
    out->rejections.push_back(Rejection{line, std::move(reason)});
  }
}

// Calls fn(line_number, line) for each non-blank line; stops on a non-OK status.
template <typename Fn>
Status ForEachLine(std::string_view body, const BodyLimits& limits, Fn&& fn) {
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    const void* nl = std::memchr(body.data() + pos, '\n', body.size() - pos);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - body.data()) : body.size();
    ++line_no;
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits.max_line_bytes) {
      return Status::TooLarge("line " + std::to_string(line_no) + " is " +
                              std::to_string(line.size()) + " bytes, over the limit of " +
                              std::to_string(limits.max_line_bytes));
    }
    if (Trim(line).empty()) continue;
    fn(line_no, line);
  }
  return Status::OK();
}

Status ParseArray(std::string_view body, const ParseContext& ctx, const BodyLimits& limits,
                  JsonRecordParser* parser, BodyOutcome* out) {
  out->items_are_array_elements = true;
  simdjson::dom::element root;
  auto err = parser->dom_parser().parse(body.data(), body.size(), false).get(root);
  if (err) {
    return Status::InvalidArgument(std::string("body is not a valid JSON array: ") +
                                   simdjson::error_message(err));
  }
  simdjson::dom::array items;
  if (root.get_array().get(items)) return Status::InvalidArgument("body is not a JSON array");
  size_t index = 0;
  for (simdjson::dom::element item : items) {
    ++index;
    Record r;
    Status s = parser->FromElement(item, {}, ctx, &r);
    if (!s.ok()) {
      Reject(index, std::string(s.message()), limits, out);
      continue;
    }
    out->batch.records.push_back(std::move(r));
  }
  return Status::OK();
}

}  // namespace

Status ParseLogBody(std::string_view body, BodyFormat format, const ParseContext& ctx,
                    const BodyLimits& limits, JsonRecordParser* parser, BodyOutcome* out) {
  out->batch.tenant.assign(ctx.tenant);
  std::string_view trimmed = Trim(body);
  if (trimmed.empty()) return Status::OK();

  if (format == BodyFormat::kText) {
    return ForEachLine(body, limits, [&](size_t, std::string_view line) {
      Record r;
      r.timestamp_ns = ctx.observed_ns;
      r.observed_ns = ctx.observed_ns;
      r.flags = kFlagTimestampMissing;
      r.tenant.assign(ctx.tenant);
      r.source.assign(ctx.default_source);
      r.message.assign(line);
      r.level = LevelFromMessage(r.message);
      out->batch.records.push_back(std::move(r));
    });
  }

  if (trimmed.front() == '[') return ParseArray(trimmed, ctx, limits, parser, out);

  // NDJSON; a pretty-printed single object is recognized when its first line
  // does not parse on its own but the whole body does.
  std::vector<Record>& records = out->batch.records;
  size_t first_rejected_at = records.size();
  bool first_line_failed = false;
  bool first_line = true;
  Status s = ForEachLine(body, limits, [&](size_t line_no, std::string_view line) {
    Record r;
    Status ls = parser->ParseObject(line, ctx, &r);
    if (first_line) {
      first_line = false;
      first_line_failed = !ls.ok();
    }
    if (!ls.ok()) {
      Reject(line_no, std::string(ls.message()), limits, out);
      return;
    }
    records.push_back(std::move(r));
  });
  LODE_RETURN_IF_ERROR(s);

  if (first_line_failed && trimmed.front() == '{' && out->rejected > 0) {
    Record whole;
    if (parser->ParseObject(trimmed, ctx, &whole).ok()) {
      records.resize(first_rejected_at);
      records.push_back(std::move(whole));
      out->rejected = 0;
      out->rejections.clear();
    }
  }
  return Status::OK();
}

}  // namespace lode
