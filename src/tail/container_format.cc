#include "tail/container_format.h"

#include "parse/timestamp.h"

namespace lode {

namespace {

// Splits off the text up to the next space; false when there is none.
bool NextField(std::string_view* rest, std::string_view* field) {
  size_t sp = rest->find(' ');
  if (sp == std::string_view::npos) return false;
  *field = rest->substr(0, sp);
  rest->remove_prefix(sp + 1);
  return true;
}

Status TimeOf(std::string_view text, int64_t* ns) {
  auto t = ParseTimestamp(text, 0);
  if (!t.ok())
    return Status::InvalidArgument("bad time \"" + std::string(text.substr(0, 40)) + "\"");
  *ns = *t;
  return Status::OK();
}

// Kubernetes' alphabet for generated name parts (k8s.io/apimachinery rand.SafeEncodeString).
bool IsSafeEncoded(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (std::string_view("bcdfghjklmnpqrstvwxz2456789").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The last '-'-separated part of `name`, and what comes before it.
bool SplitLast(std::string_view name, std::string_view* head, std::string_view* last) {
  size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return false;
  *head = name.substr(0, dash);
  *last = name.substr(dash + 1);
  return true;
}

}  // namespace

Status ParseCriLine(std::string_view line, ContainerLine* out) {
  std::string_view rest = line, time, stream, tags;
  if (!NextField(&rest, &time)) return Status::InvalidArgument("not a CRI line: no time field");
  LODE_RETURN_IF_ERROR(TimeOf(time, &out->timestamp_ns));
  if (!NextField(&rest, &stream)) return Status::InvalidArgument("not a CRI line: no stream field");
  if (stream != "stdout" && stream != "stderr") {
    return Status::InvalidArgument("not a CRI line: stream \"" + std::string(stream.substr(0, 20)) +
                                   "\"");
  }
  // The tags end at the next space; an empty message may leave no space at all.
  if (!NextField(&rest, &tags)) {
    tags = rest;
    rest = {};
  }
  std::string_view tag = tags.substr(0, tags.find(':'));
  if (tag != "P" && tag != "F") {
    return Status::InvalidArgument("not a CRI line: tag \"" + std::string(tags.substr(0, 20)) +
                                   "\"");
  }
  out->stream = stream;
  out->partial = tag == "P";
  out->content = rest;
  return Status::OK();
}

Status ParseDockerLine(std::string_view line, simdjson::dom::parser* parser, std::string* scratch,
                       ContainerLine* out) {
  simdjson::dom::element doc;
  if (auto err = parser->parse(line.data(), line.size(), false).get(doc)) {
    return Status::InvalidArgument(std::string("not a Docker json-file line: ") +
                                   simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) {
    return Status::InvalidArgument("not a Docker json-file line: not a JSON object");
  }
  std::string_view log, stream, time;
  if (obj["log"].get_string().get(log)) {
    return Status::InvalidArgument("not a Docker json-file line: no \"log\" string");
  }
  if (obj["stream"].get_string().get(stream)) stream = "stdout";
  if (obj["time"].get_string().get(time)) {
    return Status::InvalidArgument("not a Docker json-file line: no \"time\" string");
  }
  LODE_RETURN_IF_ERROR(TimeOf(time, &out->timestamp_ns));
  // The views point into the parser's buffers, which the next parse reuses:
  // copy them out (stream first, then the content).
  scratch->assign(stream);
  scratch->append(log);
  out->stream = std::string_view(*scratch).substr(0, stream.size());
  out->content = std::string_view(*scratch).substr(stream.size());
  out->partial = !out->content.ends_with('\n');
  if (!out->partial) out->content.remove_suffix(1);
  if (out->content.ends_with('\r') && !out->partial) out->content.remove_suffix(1);
  return Status::OK();
}

std::optional<PodLogPath> ParsePodLogPath(std::string_view path) {
  // The last three components: <pod dir>/<container>/<file>.
  auto split_last = [](std::string_view* p) {
    size_t slash = p->rfind('/');
    std::string_view last = slash == std::string_view::npos ? *p : p->substr(slash + 1);
    *p = slash == std::string_view::npos ? std::string_view() : p->substr(0, slash);
    return last;
  };
  std::string_view p = path;
  std::string_view file = split_last(&p);
  std::string_view container = split_last(&p);
  std::string_view pod_dir = split_last(&p);

  // /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log[.<suffix>]
  size_t dot = file.find(".log");
  if (dot != std::string_view::npos && IsDigits(file.substr(0, dot)) && !container.empty()) {
    size_t u1 = pod_dir.find('_');
    size_t u2 = u1 == std::string_view::npos ? u1 : pod_dir.find('_', u1 + 1);
    if (u2 != std::string_view::npos && pod_dir.find('_', u2 + 1) == std::string_view::npos &&
        u1 > 0 && u2 > u1 + 1 && u2 + 1 < pod_dir.size()) {
      PodLogPath r;
      r.namespace_name = pod_dir.substr(0, u1);
      r.pod = pod_dir.substr(u1 + 1, u2 - u1 - 1);
      r.pod_uid = pod_dir.substr(u2 + 1);
      r.container = container;
      return r;
    }
  }
  // /var/log/containers/<pod>_<namespace>_<container>-<id>.log
  if (file.ends_with(".log")) {
    std::string_view stem = file.substr(0, file.size() - 4);
    size_t u1 = stem.find('_');
    size_t u2 = u1 == std::string_view::npos ? u1 : stem.find('_', u1 + 1);
    if (u2 == std::string_view::npos || stem.find('_', u2 + 1) != std::string_view::npos) {
      return std::nullopt;
    }
    std::string_view tail = stem.substr(u2 + 1), name, id;
    if (u1 == 0 || u2 == u1 + 1 || !SplitLast(tail, &name, &id) || id.size() != 64 || !IsHex(id)) {
      return std::nullopt;
    }
    PodLogPath r;
    r.pod = stem.substr(0, u1);
    r.namespace_name = stem.substr(u1 + 1, u2 - u1 - 1);
    r.container = name;
    r.container_id = id;
    return r;
  }
  return std::nullopt;
}

std::string_view PodOwnerName(std::string_view pod) {
  std::string_view head, last;
  if (!SplitLast(pod, &head, &last)) return pod;
  if (last.size() == 5 && IsSafeEncoded(last)) {
    // <deployment>-<pod-template-hash>-<5>, <cronjob>-<minutes since epoch>-<5>,
    // or <daemonset|job>-<5>.
    std::string_view head2, middle;
    if (SplitLast(head, &head2, &middle)) {
      if ((middle.size() >= 6 && middle.size() <= 10 && IsSafeEncoded(middle)) ||
          (middle.size() >= 8 && IsDigits(middle))) {
        return head2;
      }
    }
    return head;
  }
  if (IsDigits(last) && last.size() <= 5) return head;  // <statefulset>-<ordinal>
  return pod;
}

}  // namespace lode
