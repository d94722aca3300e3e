#include "ingest/loki_push.h"

#include <snappy.h>

#include "ingest/protobuf_wire.h"

namespace lode {

namespace {

using protowire::Field;
using protowire::NextField;

Status Malformed(std::string_view what, std::string_view all, std::string_view at) {
  return Status::InvalidArgument("protobuf push: " + std::string(what) + " at byte " +
                                 std::to_string(all.size() - at.size()));
}

}  // namespace

Status SnappyUncompress(std::string_view in, size_t max_out, std::string* out) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &n)) {
    return Status::InvalidArgument("push body is not snappy-compressed (bad length header)");
  }
  if (n > max_out) {
    return Status::TooLarge("push body uncompresses to " + std::to_string(n) +
                            " bytes, over the limit of " + std::to_string(max_out));
  }
  if (!snappy::Uncompress(in.data(), in.size(), out)) {
    return Status::InvalidArgument("push body: corrupt snappy data");
  }
  return Status::OK();
}

Status ParsePrometheusLabels(std::string_view text, LabelPairs* out) {
  out->clear();
  size_t i = 0;
  auto bad = [&](std::string_view what) {
    return Status::InvalidArgument("labels " + std::string(text) + ": " + std::string(what) +
                                   " at offset " + std::to_string(i));
  };
  auto space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  };
  space();
  if (i == text.size()) return Status::OK();
  if (text[i] != '{') return bad("expected {");
  ++i;
  for (;;) {
    space();
    if (i < text.size() && text[i] == '}') {
      ++i;
      break;
    }
    const size_t start = i;
    while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) ||
                               text[i] == '_' || text[i] == '.' || text[i] == '-')) {
      ++i;
    }
    if (i == start) return bad("expected a label name");
    std::string name(text.substr(start, i - start));
    space();
    if (i >= text.size() || text[i] != '=') return bad("expected =");
    ++i;
    space();
    if (i >= text.size() || text[i] != '"') return bad("expected a quoted value");
    ++i;
    std::string value;
    for (;;) {
      if (i >= text.size()) return bad("unterminated value");
      const char c = text[i++];
      if (c == '"') break;
      if (c == '\\') {
        if (i >= text.size()) return bad("unterminated escape");
        const char e = text[i++];
        value.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
      } else {
        value.push_back(c);
      }
    }
    out->emplace_back(std::move(name), std::move(value));
    space();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == '}') {
      ++i;
      break;
    }
    return bad("expected , or }");
  }
  space();
  if (i != text.size()) return bad("trailing characters");
  return Status::OK();
}

Status DecodePushRequest(std::string_view proto, std::vector<PushStream>* streams) {
  streams->clear();
  std::string_view in = proto;
  Field f;
  while (!in.empty()) {
    if (!NextField(&in, &f)) return Malformed("malformed field", proto, in);
    if (f.number != 1) continue;
    if (f.wire != 2) return Malformed("stream is not a message", proto, in);
    PushStream stream;
    std::string_view s = f.bytes;
    Field g;
    while (!s.empty()) {
      if (!NextField(&s, &g)) return Malformed("malformed stream field", proto, in);
      if (g.number == 1 && g.wire == 2) {
        stream.labels_text = std::string(g.bytes);
      } else if (g.number == 2 && g.wire == 2) {
        PushEntry entry;
        std::string_view e = g.bytes;
        Field h;
        while (!e.empty()) {
          if (!NextField(&e, &h)) return Malformed("malformed entry field", proto, in);
          if (h.number == 1 && h.wire == 2) {
            int64_t seconds = 0, nanos = 0;
            std::string_view t = h.bytes;
            Field k;
            while (!t.empty()) {
              if (!NextField(&t, &k)) return Malformed("malformed timestamp", proto, in);
              if (k.number == 1 && k.wire == 0) seconds = static_cast<int64_t>(k.varint);
              if (k.number == 2 && k.wire == 0) nanos = static_cast<int32_t>(k.varint);
            }
            entry.timestamp_ns = seconds * 1'000'000'000 + nanos;
          } else if (h.number == 2 && h.wire == 2) {
            entry.line = std::string(h.bytes);
          } else if (h.number == 3 && h.wire == 2) {
            std::string name, value;
            std::string_view p = h.bytes;
            Field k;
            while (!p.empty()) {
              if (!NextField(&p, &k)) return Malformed("malformed metadata", proto, in);
              if (k.number == 1 && k.wire == 2) name = std::string(k.bytes);
              if (k.number == 2 && k.wire == 2) value = std::string(k.bytes);
            }
            entry.metadata.emplace_back(std::move(name), std::move(value));
          }
        }
        stream.entries.push_back(std::move(entry));
      }
    }
    Status st = ParsePrometheusLabels(stream.labels_text, &stream.labels);
    if (!st.ok()) return st.WithContext("stream " + std::to_string(streams->size()));
    streams->push_back(std::move(stream));
  }
  return Status::OK();
}

}  // namespace lode
