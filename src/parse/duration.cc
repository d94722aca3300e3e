#include "parse/duration.h"

#include <charconv>
#include <cmath>

namespace lode {

namespace {

constexpr int64_t kUs = 1000;
constexpr int64_t kMs = 1000 * kUs;
constexpr int64_t kS = 1000 * kMs;
constexpr int64_t kM = 60 * kS;
constexpr int64_t kH = 60 * kM;
constexpr int64_t kD = 24 * kH;
constexpr int64_t kW = 7 * kD;

Status Bad(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("invalid duration \"" + std::string(text) + "\": " +
                                 std::string(why));
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  if (text.empty()) return Bad(text, "empty");
  // Plain number: seconds.
  {
    double v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec == std::errc() && r.ptr == text.data() + text.size()) {
      if (!(v >= 0) || v * 1e9 > 9.2e18) return Bad(text, "out of range");
      return static_cast<int64_t>(std::llround(v * 1e9));
    }
  }
  int64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    double v = 0;
    auto r = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    if (r.ec != std::errc() || v < 0) return Bad(text, "expected a number");
    rest.remove_prefix(static_cast<size_t>(r.ptr - rest.data()));
    size_t n = 0;
    while (n < rest.size() && ((rest[n] >= 'a' && rest[n] <= 'z') || rest[n] == '\xC2' ||
                               rest[n] == '\xB5')) {
      ++n;
    }
    std::string_view unit = rest.substr(0, n);
    rest.remove_prefix(n);
    int64_t mult = 0;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s") mult = kUs;
    else if (unit == "ms") mult = kMs;
    else if (unit == "s") mult = kS;
    else if (unit == "m") mult = kM;
    else if (unit == "h") mult = kH;
    else if (unit == "d") mult = kD;
    else if (unit == "w") mult = kW;
    else if (unit.empty()) return Bad(text, "missing unit (ns, us, ms, s, m, h, d, w)");
    else return Bad(text, "unknown unit \"" + std::string(unit) + "\"");
    double part = v * static_cast<double>(mult);
    if (part > 9.2e18 || static_cast<double>(total) + part > 9.2e18) return Bad(text, "out of range");
    total += static_cast<int64_t>(std::llround(part));
  }
  return total;
}

std::string FormatDuration(int64_t ns) {
  if (ns == 0) return "0s";
  std::string out;
  if (ns < 0) {
    out = "-";
    ns = -ns;
  }
  struct Unit {
    int64_t size;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{kD, "d"}, {kH, "h"}, {kM, "m"}, {kS, "s"},
                                    {kMs, "ms"}, {kUs, "us"}, {1, "ns"}};
  for (const auto& u : kUnits) {
    if (ns >= u.size) {
      out += std::to_string(ns / u.size);
      out += u.name;
      ns %= u.size;
    }
  }
  return out;
}

}  // namespace lode
