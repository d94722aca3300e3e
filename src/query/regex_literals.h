// RequiredLiterals: byte strings that every match of a regular expression
// must contain, so a text index can skip blocks that lack them before the
// regex itself runs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lode {

// Returns literal runs (at least `min_len` bytes each) that any match of the
// RE2 `pattern` contains, case-sensitively. Conservative: whenever the
// pattern has a construct this does not model (alternation `|`, a
// case-insensitive flag, a group), the literals inside it are not claimed;
// an empty result means "no prefilter". Never returns a literal a match
// could lack.
std::vector<std::string> RequiredLiterals(std::string_view pattern, size_t min_len = 3);

// For a pattern that is an alternation at the top (`timeout|refused`, or the
// same wrapped in one group): one literal per branch such that every match
// contains at least one of them. Empty when some branch has no required
// literal (or the pattern is no alternation): then this gives no prefilter.
std::vector<std::string> AlternativeLiterals(std::string_view pattern, size_t min_len = 3);

}  // namespace lode
