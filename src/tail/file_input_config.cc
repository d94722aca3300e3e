#include "tail/file_input_config.h"

#include <charconv>

#include "parse/duration.h"

namespace lode {

namespace {

Status StringList(const YAML::Node& n, std::vector<std::string>* out) {
  if (n.IsScalar()) {
    out->push_back(n.as<std::string>());
    return Status::OK();
  }
  if (!n.IsSequence()) return Status::InvalidArgument("expected a string or a list of strings");
  for (const auto& item : n) {
    if (!item.IsScalar()) return Status::InvalidArgument("expected a list of strings");
    out->push_back(item.as<std::string>());
  }
  return Status::OK();
}

Status ParseOne(const YAML::Node& node, FileInput* in) {
  if (!node.IsMap()) return Status::InvalidArgument("an input must be a mapping (paths: ...)");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    Status s;
    auto scalar = [&](std::string* out) {
      if (!v.IsScalar()) return Status::InvalidArgument("expected a string");
      *out = v.as<std::string>();
      return Status::OK();
    };
    if (key == "paths") {
      s = StringList(v, &in->paths);
    } else if (key == "exclude") {
      s = StringList(v, &in->exclude);
    } else if (key == "format") {
      std::string f;
      s = scalar(&f);
      if (s.ok()) {
        auto r = ParseFileFormat(f);
        if (r.ok()) in->format = *r;
        s = r.status();
      }
    } else if (key == "service") {
      s = scalar(&in->service);
    } else if (key == "instance") {
      s = scalar(&in->instance);
    } else if (key == "labels") {
      if (!v.IsMap()) {
        s = Status::InvalidArgument("expected a mapping of names to values");
      } else {
        for (const auto& l : v) {
          if (!l.second.IsScalar()) {
            s = Status::InvalidArgument("label \"" + l.first.as<std::string>() +
                                        "\": expected a string value");
            break;
          }
          in->labels.push_back({l.first.as<std::string>(), l.second.as<std::string>()});
        }
      }
    } else if (key == "start_at") {
      std::string w;
      s = scalar(&w);
      if (s.ok() && w != "beginning" && w != "end") {
        s = Status::InvalidArgument("expected beginning or end, got \"" + w + "\"");
      }
      in->start_at_end = w == "end";
    } else if (key == "multiline") {
      if (!v.IsMap()) {
        s = Status::InvalidArgument("expected a mapping (start, max_lines, timeout)");
      } else {
        for (const auto& m : v) {
          const std::string mk = m.first.as<std::string>();
          if (!m.second.IsScalar()) {
            s = Status::InvalidArgument("multiline." + mk + ": expected a single value");
            break;
          }
          std::string text = m.second.as<std::string>();
          if (mk == "start") {
            in->multiline_start = text;
          } else if (mk == "max_lines") {
            int n = 0;
            auto r = std::from_chars(text.data(), text.data() + text.size(), n);
            if (r.ec != std::errc() || r.ptr != text.data() + text.size() || n < 1) {
              s = Status::InvalidArgument(
                  "multiline.max_lines: expected a positive integer, got \"" + text + "\"");
            }
            in->multiline_max_lines = n;
          } else if (mk == "timeout") {
            auto d = ParseDuration(text);
            if (d.ok())
              in->multiline_timeout_ns = *d;
            else
              s = Status::InvalidArgument("multiline.timeout: " +
                                          std::string(d.status().message()));
          } else {
            s = Status::InvalidArgument("unknown key \"multiline." + mk +
                                        "\" (start, max_lines, timeout)");
          }
          if (!s.ok()) break;
        }
      }
    } else {
      s = Status::InvalidArgument("unknown key \"" + key +
                                  "\" (paths, exclude, format, service, instance, labels, "
                                  "multiline, start_at)");
    }
    if (!s.ok()) {
      return Status::InvalidArgument("line " + std::to_string(kv.first.Mark().line + 1) + ", \"" +
                                     key + "\": " + std::string(s.message()));
    }
  }
  if (in->paths.empty()) return Status::InvalidArgument("no paths");
  return Status::OK();
}

}  // namespace

Status ParseFileInputs(const YAML::Node& node, std::vector<FileInput>* out) {
  if (!node.IsSequence())
    return Status::InvalidArgument("expected a list of inputs (- paths: ...)");
  size_t i = 0;
  for (const auto& item : node) {
    ++i;
    FileInput in;
    Status s = ParseOne(item, &in);
    if (!s.ok()) {
      return Status::InvalidArgument("input " + std::to_string(i) + ": " +
                                     std::string(s.message()));
    }
    out->push_back(std::move(in));
  }
  return Status::OK();
}

}  // namespace lode
