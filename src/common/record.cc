#include "common/record.h"

#include <array>

namespace lode {

namespace {
constexpr std::array<std::string_view, kLevelCount> kLevelNames = {
    "unknown", "trace", "debug", "info", "warn", "error", "fatal"};
}  // namespace

std::string_view LevelName(Level level) {
  auto i = static_cast<size_t>(level);
  return i < kLevelNames.size() ? kLevelNames[i] : "unknown";
}

std::optional<Level> LevelFromName(std::string_view name) {
  for (size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == name) return static_cast<Level>(i);
  }
  return std::nullopt;
}

std::optional<std::string_view> Record::Attr(std::string_view key) const {
  for (const auto& a : attributes) {
    if (a.key == key) return std::string_view(a.value);
  }
  return std::nullopt;
}

size_t Record::ApproxBytes() const {
  size_t n = sizeof(Record) + tenant.size() + service.size() + instance.size() + source.size() +
             message.size();
  for (const auto& a : attributes) n += sizeof(Attribute) + a.key.size() + a.value.size();
  return n;
}

size_t RecordBatch::ApproxBytes() const {
  size_t n = sizeof(RecordBatch) + tenant.size();
  for (const auto& r : records) n += r.ApproxBytes();
  return n;
}

}  // namespace lode
