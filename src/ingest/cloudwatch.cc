#include "ingest/cloudwatch.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <array>

#include "ingest/content_decoding.h"
#include "parse/message_level.h"

namespace lode {

namespace {

constexpr int64_t kMilli = 1'000'000;

std::string_view Str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS) return {};
  return v;
}

}  // namespace

Result<std::string> DecodeBase64(std::string_view in) {
  static constexpr std::array<int8_t, 256> kValue = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i)
      t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return Status::InvalidArgument("base64: truncated (length)");
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const int8_t v = kValue[static_cast<unsigned char>(in[i])];
    if (v < 0) return Status::InvalidArgument(fmt::format("base64: bad character at byte {}", i));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

Status ParseCloudWatchPayload(std::string_view data, int64_t received_ns, size_t max_decoded,
                              RecordBatch* batch, CloudWatchOutcome* outcome) {
  std::string inflated;
  if (data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
      static_cast<unsigned char>(data[1]) == 0x8b) {
    LODE_RETURN_IF_ERROR(DecodeContent("gzip", data, max_decoded, &inflated));
    data = inflated;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(data.data(), data.size()).get(root); err) {
    return Status::InvalidArgument(std::string("CloudWatch payload is not valid JSON: ") +
                                   simdjson::error_message(err));
  }
  const std::string_view type = Str(root, "messageType");
  if (type == "CONTROL_MESSAGE") {
    outcome->control = true;
    return Status::OK();
  }
  if (!type.empty() && type != "DATA_MESSAGE") {
    return Status::InvalidArgument("CloudWatch payload: unknown messageType \"" +
                                   std::string(type) + "\"");
  }
  const std::string_view group = Str(root, "logGroup");
  if (group.empty()) return Status::InvalidArgument("CloudWatch payload: no \"logGroup\"");
  simdjson::dom::array events;
  if (root["logEvents"].get_array().get(events)) {
    return Status::InvalidArgument("CloudWatch payload: no \"logEvents\" array");
  }
  const std::string_view stream = Str(root, "logStream");
  const std::string_view owner = Str(root, "owner");
  size_t i = 0;
  for (simdjson::dom::element event : events) {
    const size_t index = i++;
    std::string_view message;
    int64_t ms = 0;
    auto reject = [&](std::string why) {
      ++outcome->rejected;
      if (outcome->errors.size() < 20) {
        outcome->errors.push_back(fmt::format("logEvents[{}]: {}", index, why));
      }
    };
    if (event["message"].get_string().get(message)) {
      reject("no \"message\" string");
      continue;
    }
    if (event["timestamp"].get_int64().get(ms)) {
      reject("no \"timestamp\" (milliseconds since the epoch)");
      continue;
    }
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
      message.remove_suffix(1);
    }
    Record r;
    r.tenant = batch->tenant;
    r.timestamp_ns = ms * kMilli;
    r.observed_ns = received_ns;
    r.service = std::string(group);
    r.instance = std::string(stream);
    r.source = "cloudwatch";
    r.message = std::string(message);
    r.level = LevelFromMessage(message);
    if (!owner.empty()) r.attributes.push_back({"cloudwatch.owner", std::string(owner)});
    if (std::string_view id = Str(event, "id"); !id.empty()) {
      r.attributes.push_back({"cloudwatch.event_id", std::string(id)});
    }
    batch->records.push_back(std::move(r));
    ++outcome->events;
  }
  return Status::OK();
}

}  // namespace lode
