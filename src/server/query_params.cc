#include "server/query_params.h"

#include <algorithm>

namespace lode {

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string QueryParams::Decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

QueryParams QueryParams::FromTarget(std::string_view target) {
  QueryParams p;
  size_t q = target.find('?');
  if (q == std::string_view::npos) return p;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view name = part.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    p.pairs_.emplace_back(Decode(name), Decode(value));
  }
  return p;
}

std::optional<std::string_view> QueryParams::Get(std::string_view name) const {
  for (const auto& [k, v] : pairs_) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string_view> QueryParams::GetAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : pairs_) {
    if (k == name) out.emplace_back(v);
  }
  return out;
}

std::vector<std::string_view> QueryParams::Unknown(
    std::initializer_list<std::string_view> known) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : pairs_) {
    if (std::find(known.begin(), known.end(), k) == known.end()) out.emplace_back(k);
  }
  return out;
}

}  // namespace lode
