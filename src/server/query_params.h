// QueryParams: the decoded query string of a request target.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lode {

class QueryParams {
 public:
  // Parses the part of `target` after '?': pairs split on '&', names and
  // values percent-decoded with '+' as space. Malformed escapes are kept
  // literally. A name without '=' has an empty value.
  static QueryParams FromTarget(std::string_view target);

  // The first value of `name`, or nullopt.
  std::optional<std::string_view> Get(std::string_view name) const;
  // Every value of `name`, in order (for repeatable parameters).
  std::vector<std::string_view> GetAll(std::string_view name) const;
  // Names that are not in `known`, for "unknown parameter" errors.
  std::vector<std::string_view> Unknown(std::initializer_list<std::string_view> known) const;

  const std::vector<std::pair<std::string, std::string>>& pairs() const { return pairs_; }

  // Percent-decodes `s` ('+' becomes a space).
  static std::string Decode(std::string_view s);

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
};

}  // namespace lode
