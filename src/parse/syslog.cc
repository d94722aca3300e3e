#include "parse/syslog.h"

#include <array>
#include <optional>
#include <string>
#include <utility>

#include "parse/level.h"
#include "parse/timestamp.h"

namespace lode {

namespace {

// Facility codes 0..23 (RFC 5424 table 1; 13 log audit, 14 log alert, 15 clock daemon).
constexpr std::array<std::string_view, 24> kFacilities = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7",
};

constexpr std::array<std::string_view, 8> kSeverities = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

constexpr std::array<std::string_view, 12> kMonths = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};

constexpr int kMaxPri = 191;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

char LowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

Status Error(std::string_view what, size_t pos) {
  std::string msg = "syslog: ";
  msg.append(what);
  msg += " at byte ";
  msg += std::to_string(pos);
  return Status::InvalidArgument(std::move(msg));
}

// The parse state shared by both formats: the input, and what goes into the record besides
// the fields written directly.
struct State {
  std::string_view msg;
  int64_t received_ns = 0;
  Record* out = nullptr;
  std::optional<std::string_view> original_timestamp;  // a timestamp that did not parse

  size_t size() const { return msg.size(); }
  // End of the run of non-space bytes starting at `pos`.
  size_t TokenEnd(size_t pos) const {
    while (pos < msg.size() && msg[pos] != ' ') ++pos;
    return pos;
  }
  void AddAttribute(std::string key, std::string_view value) {
    out->attributes.push_back(Attribute{std::move(key), std::string(value)});
  }
  // Sets the record's timestamp from `text`, or flags it invalid and keeps the text.
  void SetTimestamp(std::string_view text) {
    Result<int64_t> ts = ParseTimestamp(text, received_ns);
    if (ts.ok()) {
      out->timestamp_ns = *ts;
    } else {
      out->timestamp_ns = received_ns;
      out->flags |= kFlagTimestampInvalid;
      original_timestamp = text;
    }
  }
  void SetTimestampMissing() {
    out->timestamp_ns = received_ns;
    out->flags |= kFlagTimestampMissing;
  }
};

// ---- RFC 5424 ------------------------------------------------------------------------------

// Reads the header field at *pos (a run of non-space bytes) and steps over the one space after
// it, if any; a missing field is an error naming `name`.
Status HeaderField(State& s, size_t* pos, std::string_view name, std::string_view* field) {
  const size_t start = *pos;
  const size_t end = s.TokenEnd(start);
  if (end == start) return Error(std::string("missing ") + std::string(name), start);
  *field = s.msg.substr(start, end - start);
  *pos = end < s.size() ? end + 1 : end;
  return Status::OK();
}

// SD-NAME: any byte but '=', ' ', ']' and '"' (RFC 5424 also limits it to printable US-ASCII
// and 32 bytes; those limits are not enforced).
bool IsSdNameByte(char c) {
  return c != '=' && c != ' ' && c != ']' && c != '"';
}

// STRUCTURED-DATA at *pos: "-" or one or more [SD-ID *(SP PARAM="VALUE")]. Every parameter
// becomes attribute "<SD-ID>.<PARAM>"; an element without parameters becomes "<SD-ID>" = "".
Status StructuredData(State& s, size_t* pos) {
  const std::string_view m = s.msg;
  const size_t n = m.size();
  size_t p = *pos;
  if (p >= n) return Error("missing STRUCTURED-DATA", p);
  if (m[p] == '-') {
    *pos = p + 1;
    return Status::OK();
  }
  if (m[p] != '[') return Error("expected STRUCTURED-DATA ('-' or '[')", p);
  std::string value;
  while (p < n && m[p] == '[') {
    const size_t open = p++;
    const size_t id_start = p;
    while (p < n && IsSdNameByte(m[p])) ++p;
    if (p >= n) return Error("unterminated SD element", open);
    if (p == id_start) return Error("missing SD-ID", p);
    const std::string_view id = m.substr(id_start, p - id_start);
    bool has_params = false;
    for (;;) {
      if (p >= n) return Error("unterminated SD element", open);
      if (m[p] == ']') {
        ++p;
        break;
      }
      if (m[p] != ' ') return Error("expected ' ' or ']' in SD element", p);
      ++p;
      const size_t name_start = p;
      while (p < n && IsSdNameByte(m[p])) ++p;
      if (p >= n) return Error("unterminated SD element", open);
      if (p == name_start) return Error("missing SD-PARAM name", p);
      const std::string_view name = m.substr(name_start, p - name_start);
      if (m[p] != '=') return Error("expected '=' after SD-PARAM name", p);
      ++p;
      if (p >= n) return Error("unterminated SD element", open);
      if (m[p] != '"') return Error("expected '\"' to open SD-PARAM value", p);
      const size_t quote = p++;
      value.clear();
      for (;;) {
        if (p >= n) return Error("unterminated SD-PARAM value", quote);
        const char c = m[p];
        if (c == '"') {
          ++p;
          break;
        }
        // Only \" \\ \] are escapes; a backslash before anything else is kept (RFC 5424 6.3.3).
        if (c == '\\' && p + 1 < n && (m[p + 1] == '"' || m[p + 1] == '\\' || m[p + 1] == ']')) {
          value.push_back(m[p + 1]);
          p += 2;
          continue;
        }
        value.push_back(c);
        ++p;
      }
      std::string key;
      key.reserve(id.size() + 1 + name.size());
      key.append(id);
      key.push_back('.');
      key.append(name);
      s.AddAttribute(std::move(key), value);
      has_params = true;
    }
    if (!has_params) s.AddAttribute(std::string(id), "");
  }
  *pos = p;
  return Status::OK();
}

// `p` is just after "VERSION ".
Status Parse5424(State& s, size_t p) {
  Record* out = s.out;
  std::string_view field;
  LODE_RETURN_IF_ERROR(HeaderField(s, &p, "TIMESTAMP", &field));
  if (field == "-") {
    s.SetTimestampMissing();
  } else {
    s.SetTimestamp(field);
  }
  LODE_RETURN_IF_ERROR(HeaderField(s, &p, "HOSTNAME", &field));
  if (field != "-") out->instance.assign(field);
  LODE_RETURN_IF_ERROR(HeaderField(s, &p, "APP-NAME", &field));
  if (field != "-") out->service.assign(field);
  LODE_RETURN_IF_ERROR(HeaderField(s, &p, "PROCID", &field));
  if (field != "-") s.AddAttribute("syslog.procid", field);
  LODE_RETURN_IF_ERROR(HeaderField(s, &p, "MSGID", &field));
  if (field != "-") s.AddAttribute("syslog.msgid", field);
  LODE_RETURN_IF_ERROR(StructuredData(s, &p));
  if (p < s.size()) {
    if (s.msg[p] != ' ') return Error("expected ' ' after STRUCTURED-DATA", p);
    std::string_view text = s.msg.substr(p + 1);
    if (text.starts_with(kBom)) text.remove_prefix(kBom.size());
    out->message.assign(text);
  }
  return Status::OK();
}

// ---- RFC 3164 ------------------------------------------------------------------------------

// The end of a BSD timestamp at `p`, or 0 when there is none:
//   Mmm SP (SP D | D | DD) SP [YYYY SP] HH:MM:SS [.F+]
// followed by a space or the end. (Month names are matched case-insensitively; the values are
// checked by ParseTimestamp.)
size_t BsdTimestampEnd(std::string_view m, size_t p) {
  const size_t n = m.size();
  if (n - p < 3) return 0;
  bool month = false;
  for (std::string_view name : kMonths) {
    month |= LowerAscii(m[p]) == name[0] && LowerAscii(m[p + 1]) == name[1] &&
             LowerAscii(m[p + 2]) == name[2];
  }
  if (!month) return 0;
  p += 3;
  auto at = [&](size_t i, char c) { return i < n && m[i] == c; };
  auto digit = [&](size_t i) { return i < n && IsDigit(m[i]); };
  if (!at(p, ' ')) return 0;
  ++p;
  if (at(p, ' ')) ++p;  // space-padded day: "Nov  4"
  if (!digit(p)) return 0;
  ++p;
  if (digit(p)) ++p;
  if (!at(p, ' ')) return 0;
  ++p;
  if (digit(p) && digit(p + 1) && digit(p + 2) && digit(p + 3) && at(p + 4, ' ')) p += 5;  // year
  if (!(digit(p) && digit(p + 1) && at(p + 2, ':') && digit(p + 3) && digit(p + 4) &&
        at(p + 5, ':') && digit(p + 6) && digit(p + 7))) {
    return 0;
  }
  p += 8;
  if (at(p, '.') && digit(p + 1)) {
    p += 2;
    while (digit(p)) ++p;
  }
  if (p < n && m[p] != ' ') return 0;
  return p;
}

// The end of an RFC 3339 timestamp token at `p` (YYYY-MM-DDT...), or 0 when there is none.
size_t Rfc3339TokenEnd(std::string_view m, size_t p) {
  if (m.size() - p < 11) return 0;
  const std::string_view d = m.substr(p, 11);
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!IsDigit(d[i])) return 0;
  }
  if (d[4] != '-' || d[7] != '-' || (d[10] != 'T' && d[10] != 't')) return 0;
  size_t end = p;
  while (end < m.size() && m[end] != ' ') ++end;
  return end;
}

// TAG[\[PID\]]: MSG at `p`, or just MSG when that shape is not there. The ':' must be followed
// by a space or the end, so "http://x" is not a tag.
void TagAndMessage(State& s, size_t p) {
  const std::string_view m = s.msg;
  const size_t n = m.size();
  size_t q = p;
  while (q < n && m[q] != '[' && m[q] != ':' && m[q] != ' ') ++q;
  if (q > p && q < n) {
    const std::string_view tag = m.substr(p, q - p);
    std::string_view pid;
    size_t r = q;
    bool shaped = true;
    if (m[r] == '[') {
      size_t close = r + 1;
      while (close < n && m[close] != ']' && m[close] != ' ') ++close;
      if (close < n && m[close] == ']') {
        pid = m.substr(r + 1, close - r - 1);
        r = close + 1;
      } else {
        shaped = false;
      }
    }
    if (shaped && r < n && m[r] == ':' && (r + 1 == n || m[r + 1] == ' ')) {
      s.out->service.assign(tag);
      if (!pid.empty()) s.AddAttribute("syslog.procid", pid);
      r += 1;
      if (r < n) ++r;  // the space
      s.out->message.assign(m.substr(r));
      return;
    }
  }
  s.out->message.assign(m.substr(p));
}

// `p` is just after <PRI>.
Status Parse3164(State& s, size_t p) {
  const std::string_view m = s.msg;
  const size_t n = m.size();
  size_t ts_end = BsdTimestampEnd(m, p);
  if (ts_end == 0) ts_end = Rfc3339TokenEnd(m, p);
  if (ts_end == 0) {
    s.SetTimestampMissing();
    TagAndMessage(s, p);
    return Status::OK();
  }
  s.SetTimestamp(m.substr(p, ts_end - p));
  p = ts_end;
  while (p < n && m[p] == ' ') ++p;
  // HOSTNAME, unless the token is already the tag ("myapp:", "myapp[42]:", as sent to a local
  // socket such as /dev/log) or the last token (then it is the message).
  const size_t host_end = s.TokenEnd(p);
  if (host_end > p && host_end < n && m[host_end - 1] != ':') {
    s.out->instance.assign(m.substr(p, host_end - p));
    p = host_end + 1;
  }
  TagAndMessage(s, p);
  return Status::OK();
}

}  // namespace

std::string_view SyslogFacilityName(int facility) {
  if (facility < 0 || facility >= static_cast<int>(kFacilities.size())) return {};
  return kFacilities[static_cast<size_t>(facility)];
}

std::string_view SyslogSeverityName(int severity) {
  if (severity < 0 || severity >= static_cast<int>(kSeverities.size())) return {};
  return kSeverities[static_cast<size_t>(severity)];
}

Status ParseSyslog(std::string_view msg, int64_t received_ns, Record* out) {
  out->timestamp_ns = received_ns;
  out->observed_ns = received_ns;
  out->level = Level::kUnknown;
  out->flags = 0;
  out->service.clear();
  out->instance.clear();
  out->source.assign("syslog");
  out->message.clear();
  out->attributes.clear();

  // One trailing line end belongs to the transport, not the message.
  if (msg.ends_with('\n')) {
    msg.remove_suffix(1);
    if (msg.ends_with('\r')) msg.remove_suffix(1);
  }

  // <PRI>: 1 to 3 digits, 0..191.
  const size_t n = msg.size();
  if (n == 0 || msg[0] != '<') return Error("missing <PRI>", 0);
  size_t p = 1;
  int pri = 0;
  while (p < n && IsDigit(msg[p]) && p <= 3) pri = pri * 10 + (msg[p++] - '0');
  if (p == 1) return Error("expected PRI digits after '<'", 1);
  if (p < n && IsDigit(msg[p])) return Error("PRI longer than 3 digits", 1);
  if (p >= n || msg[p] != '>') return Error("expected '>' after PRI", p);
  if (pri > kMaxPri) {
    return Status::InvalidArgument("syslog: PRI " + std::to_string(pri) + " out of range 0-191");
  }
  ++p;
  const int facility = pri / 8;
  const int severity = pri % 8;
  out->level = LevelFromSyslogSeverity(severity);
  out->attributes.push_back(
      Attribute{"syslog.facility", std::string(kFacilities[static_cast<size_t>(facility)])});
  out->attributes.push_back(
      Attribute{"syslog.severity", std::string(kSeverities[static_cast<size_t>(severity)])});

  State s;
  s.msg = msg;
  s.received_ns = received_ns;
  s.out = out;

  // RFC 5424 when a VERSION (1 to 3 digits, not starting with 0) and a space follow.
  size_t v = p;
  while (v < n && v - p < 4 && IsDigit(msg[v])) ++v;
  const bool is_5424 = v > p && v - p <= 3 && msg[p] != '0' && v < n && msg[v] == ' ';
  LODE_RETURN_IF_ERROR(is_5424 ? Parse5424(s, v + 1) : Parse3164(s, p));

  if (s.original_timestamp) {
    out->attributes.push_back(
        Attribute{std::string(kAttrOriginalTimestamp), std::string(*s.original_timestamp)});
  }
  return Status::OK();
}

}  // namespace lode
