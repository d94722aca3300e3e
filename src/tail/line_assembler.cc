#include "tail/line_assembler.h"

#include "ingest/cloudwatch.h"  // DecodeBase64
#include "tail/container_format.h"

namespace lode {

namespace {

// Held text is kept in checkpoints as base64: it is any bytes (a Latin-1 log,
// a UTF-8 character split between two CRI pieces), and JSON strings are not.
std::string EncodeBase64(std::string_view in) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out.push_back(kChars[v >> 18]);
    out.push_back(kChars[(v >> 12) & 63]);
    out.push_back(kChars[(v >> 6) & 63]);
    out.push_back(kChars[v & 63]);
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out.push_back(kChars[v >> 18]);
    out.push_back(kChars[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kChars[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace

std::string_view FileFormatName(FileFormat f) {
  switch (f) {
    case FileFormat::kAuto: return "auto";
    case FileFormat::kPlain: return "plain";
    case FileFormat::kCri: return "cri";
    case FileFormat::kDocker: return "docker";
  }
  return "auto";
}

Result<FileFormat> ParseFileFormat(std::string_view name) {
  for (FileFormat f :
       {FileFormat::kAuto, FileFormat::kPlain, FileFormat::kCri, FileFormat::kDocker}) {
    if (name == FileFormatName(f)) return f;
  }
  return Status::InvalidArgument("unknown file format \"" + std::string(name) +
                                 "\" (auto, plain, cri, docker)");
}

LineAssembler::LineAssembler(const AssemblerOptions& options)
    : options_(options), format_(options.format) {}

LineAssembler::Stream& LineAssembler::StreamFor(std::string_view name) {
  for (auto& s : streams_) {
    if (s.name == name) return s;
  }
  streams_.emplace_back();
  streams_.back().name = name;
  return streams_.back();
}

void LineAssembler::Feed(std::string_view line, int64_t now_ns, std::vector<AssembledEntry>* out) {
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (format_ == FileFormat::kAuto) {
    ContainerLine probe;
    if (line.starts_with("{\"log\":") ||
        (line.starts_with('{') && ParseDockerLine(line, &parser_, &scratch_, &probe).ok())) {
      format_ = FileFormat::kDocker;
    } else if (ParseCriLine(line, &probe).ok()) {
      format_ = FileFormat::kCri;
    } else {
      format_ = FileFormat::kPlain;
    }
  }
  if (format_ == FileFormat::kPlain) {
    Stream& s = StreamFor("");
    s.last_ns = now_ns;
    TakeLine(s, 0, line, {}, out);
    return;
  }
  ContainerLine cl;
  Status st = format_ == FileFormat::kCri ? ParseCriLine(line, &cl)
                                          : ParseDockerLine(line, &parser_, &scratch_, &cl);
  if (!st.ok()) {
    // Kept, as plain text, and marked: never dropped.
    Stream& s = StreamFor("");
    s.last_ns = now_ns;
    TakeLine(s, 0, line, st.message(), out);
    return;
  }
  Stream& s = StreamFor(cl.stream);
  s.last_ns = now_ns;
  if (cl.partial || s.in_partial) {
    if (!s.in_partial) {
      s.in_partial = true;
      s.partial_cut = false;
      s.partial_ts = cl.timestamp_ns;
      s.partial.clear();
    }
    s.partial.append(cl.content);
    // A line that never ends is given out in max_bytes pieces.
    while (s.partial.size() >= options_.max_bytes) {
      TakeLine(s, s.partial_ts, std::string_view(s.partial).substr(0, options_.max_bytes), {}, out);
      s.partial.erase(0, options_.max_bytes);
      s.partial_cut = true;
    }
    if (!cl.partial) {
      s.in_partial = false;
      // What is left is the line's end; nothing left after cut pieces is no line.
      if (!s.partial.empty() || !s.partial_cut) {
        std::string whole = std::move(s.partial);
        s.partial.clear();
        TakeLine(s, s.partial_ts, whole, {}, out);
      }
    }
    return;
  }
  TakeLine(s, cl.timestamp_ns, cl.content, {}, out);
}

void LineAssembler::TakeLine(Stream& s, int64_t ts, std::string_view text, std::string_view error,
                             std::vector<AssembledEntry>* out) {
  const RE2* start = options_.multiline_start;
  if (!error.empty() || start == nullptr) {
    if (s.in_entry) Emit(s, out);
    AssembledEntry e;
    e.timestamp_ns = ts;
    e.stream = s.name;
    e.text = text;
    e.parse_error = error;
    out->push_back(std::move(e));
    return;
  }
  bool starts = RE2::PartialMatch(text, *start);
  if (s.in_entry && !starts && s.entry_lines < options_.max_lines &&
      s.entry.size() + 1 + text.size() <= options_.max_bytes) {
    s.entry.push_back('\n');
    s.entry.append(text);
    ++s.entry_lines;
    return;
  }
  if (s.in_entry) Emit(s, out);
  s.in_entry = true;
  s.entry_ts = ts;
  s.entry_lines = 1;
  s.entry.assign(text);
}

void LineAssembler::Emit(Stream& s, std::vector<AssembledEntry>* out) {
  AssembledEntry e;
  e.timestamp_ns = s.entry_ts;
  e.stream = s.name;
  e.text = std::move(s.entry);
  out->push_back(std::move(e));
  s.entry.clear();
  s.in_entry = false;
  s.entry_lines = 0;
}

void LineAssembler::Flush(int64_t now_ns, bool all, std::vector<AssembledEntry>* out) {
  for (auto& s : streams_) {
    if (!all && now_ns - s.last_ns < options_.flush_after_ns) continue;
    if (s.in_partial) {
      s.in_partial = false;
      std::string whole = std::move(s.partial);
      s.partial.clear();
      TakeLine(s, s.partial_ts, whole, {}, out);
    }
    if (s.in_entry) Emit(s, out);
  }
}

bool LineAssembler::HasPending() const {
  for (const auto& s : streams_) {
    if (s.in_partial || s.in_entry) return true;
  }
  return false;
}

void LineAssembler::SaveState(JsonWriter* w) const {
  w->BeginObject();
  w->Key("format").String(FileFormatName(format_));
  w->Key("streams").BeginArray();
  for (const auto& s : streams_) {
    if (!s.in_partial && !s.in_entry) continue;
    w->BeginObject();
    w->Key("name").String(s.name);
    if (s.in_partial) {
      w->Key("partial").String(EncodeBase64(s.partial));
      w->Key("partial_cut").Bool(s.partial_cut);
      w->Key("partial_ts").Int(s.partial_ts);
    }
    if (s.in_entry) {
      w->Key("entry").String(EncodeBase64(s.entry));
      w->Key("entry_ts").Int(s.entry_ts);
      w->Key("entry_lines").Int(s.entry_lines);
    }
    w->EndObject();
  }
  w->EndArray();
  w->EndObject();
}

Status LineAssembler::RestoreState(simdjson::dom::element state, int64_t now_ns) {
  std::string_view fmt;
  if (state["format"].get_string().get(fmt)) {
    return Status::Corruption("assembler state: no format");
  }
  LODE_ASSIGN_OR_RETURN(format_, ParseFileFormat(fmt));
  streams_.clear();
  simdjson::dom::array streams;
  if (state["streams"].get_array().get(streams)) {
    return Status::Corruption("assembler state: no streams");
  }
  for (simdjson::dom::element e : streams) {
    std::string_view name, text;
    if (e["name"].get_string().get(name)) return Status::Corruption("assembler state: stream name");
    Stream& s = StreamFor(name);
    s.last_ns = now_ns;
    if (!e["partial"].get_string().get(text)) {
      int64_t ts = 0;
      if (e["partial_ts"].get_int64().get(ts)) {
        return Status::Corruption("assembler state: partial_ts");
      }
      auto decoded = DecodeBase64(text);
      if (!decoded.ok()) return Status::Corruption("assembler state: partial: not base64");
      s.in_partial = true;
      s.partial = std::move(*decoded);
      s.partial_ts = ts;
      bool cut = false;
      if (!e["partial_cut"].get_bool().get(cut)) s.partial_cut = cut;
    }
    if (!e["entry"].get_string().get(text)) {
      int64_t ts = 0, lines = 0;
      if (e["entry_ts"].get_int64().get(ts) || e["entry_lines"].get_int64().get(lines)) {
        return Status::Corruption("assembler state: entry_ts/entry_lines");
      }
      auto decoded = DecodeBase64(text);
      if (!decoded.ok()) return Status::Corruption("assembler state: entry: not base64");
      s.in_entry = true;
      s.entry = std::move(*decoded);
      s.entry_ts = ts;
      s.entry_lines = static_cast<int>(lines);
    }
  }
  return Status::OK();
}

}  // namespace lode
