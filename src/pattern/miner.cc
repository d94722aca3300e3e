#include "pattern/miner.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"

namespace lode {

namespace {

constexpr std::string_view kWild = "<*>";
// The tree key of the catch-all template (no real key starts with 0x1e:
// leaf keys start with the token count).
constexpr std::string_view kOverflowKey = "\x1e";

constexpr bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
constexpr bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// A word with a short version number (ssh2, SOCKS5, utf8, IPv4) is a word.
bool IsVersionedWord(std::string_view tok) {
  size_t i = 0;
  while (i < tok.size() && IsAlpha(tok[i])) ++i;
  const size_t digits = tok.size() - i;
  return i >= 2 && digits >= 1 && digits <= 2 &&
         std::all_of(tok.begin() + static_cast<ptrdiff_t>(i), tok.end(), IsDigit);
}

// A token is a value when it holds a digit: counts, ids, addresses, times,
// sizes and durations all do, while the words of a message rarely do. A
// `key=value` token keeps its key (`host:port` does not: the host varies).
// Day and month names are parts of dates, so values.
bool IsDateWord(std::string_view tok) {
  static constexpr std::string_view kWords[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
                                                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                                "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (tok.size() != 3 || tok[0] < 'A' || tok[0] > 'W') return false;  // most words: at once
  return std::find(std::begin(kWords), std::end(kWords), tok) != std::end(kWords);
}

// Byte classes for the tokenizer: one table load per byte instead of a
// chain of compares.
constexpr uint8_t kSpaceByte = 1, kDigitByte = 2, kNonHexByte = 4, kSlashByte = 8, kEqualsByte = 16;
constexpr bool IsHexDigit(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    t[static_cast<size_t>(c)] =
        static_cast<uint8_t>((IsSpace(ch) ? kSpaceByte : 0) | (IsDigit(ch) ? kDigitByte : 0) |
                             (IsHexDigit(ch) ? 0 : kNonHexByte) | (ch == '/' ? kSlashByte : 0) |
                             (ch == '=' ? kEqualsByte : 0));
  }
  return t;
}();

// A path or URL: "/var/log/app.log", "./run", "~/x", "https://host/a".
bool IsPath(std::string_view tok) {
  return (tok.size() > 1 && tok[0] == '/') || tok.starts_with("./") || tok.starts_with("~/") ||
         tok.find("://") != std::string_view::npos;
}

// Whether `tok` (of byte classes `seen`) is a value.
bool IsValue(std::string_view tok, uint8_t seen) {
  if (seen & kDigitByte) return !IsVersionedWord(tok);
  // Hex ids without a digit ("deadbeef"), paths and URLs.
  return (tok.size() >= 8 && (seen & kNonHexByte) == 0) || IsPath(tok);
}

// The masked form of `tok` (of byte classes `seen`): the token itself,
// "<*>", or "key=<*>" written into *arena (which must not reallocate while
// views into it live: Tokenize reserves enough).
std::string_view Mask(std::string_view tok, uint8_t seen, std::string* arena) {
  // Most tokens are words: no digit, no slash, not all hex. (A date word is
  // one of them.)
  if ((seen & (kDigitByte | kSlashByte)) == 0 && ((seen & kNonHexByte) != 0 || tok.size() < 8)) {
    return IsDateWord(tok) ? kWild : tok;
  }
  size_t key_end = 0;
  if ((seen & kEqualsByte) == 0) key_end = tok.size();  // no key=
  if (key_end == 0) {
    while (key_end < tok.size() && (IsAlpha(tok[key_end]) || tok[key_end] == '_' ||
                                    tok[key_end] == '.' || tok[key_end] == '-')) {
      ++key_end;
    }
  }
  const bool keyed = key_end > 0 && key_end < tok.size() && tok[key_end] == '=';
  const std::string_view value = keyed ? tok.substr(key_end + 1) : tok;
  if (!IsValue(value, seen)) return tok;
  if (keyed) {
    const size_t at = arena->size();
    arena->append(tok.substr(0, key_end + 1));
    arena->append(kWild);
    return std::string_view(*arena).substr(at);
  }
  return kWild;
}

// Masked token sequences as the memo keeps them: each token followed by
// \x1f, compared token by token (so a token holding \x1f cannot fake a
// boundary: lengths are checked as well).
std::string JoinSequence(const std::vector<std::string_view>& tokens) {
  std::string out;
  for (std::string_view t : tokens) {
    out.append(t);
    out.push_back('\x1f');
  }
  return out;
}
bool SameSequence(std::string_view joined, const std::vector<std::string_view>& tokens) {
  size_t at = 0;
  for (std::string_view t : tokens) {
    if (joined.size() < at + t.size() + 1 || joined.compare(at, t.size(), t) != 0 ||
        joined[at + t.size()] != '\x1f') {
      return false;
    }
    at += t.size() + 1;
  }
  return at == joined.size();
}

// A fast hash for short tokens. Not collision-resistant: memo hits compare
// the sequence itself.
constexpr uint64_t Mix(uint64_t h) {
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}
uint64_t HashToken(std::string_view t) {
  uint64_t h = t.size() * 0x9e3779b97f4a7c15ull;
  size_t i = 0;
  for (; i + 8 <= t.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, t.data() + i, 8);
    h = Mix(h ^ w);
  }
  uint64_t tail = 0;
  for (; i < t.size(); ++i) tail = (tail << 8) | static_cast<unsigned char>(t[i]);
  return Mix(h ^ tail);
}

// Splits `message` on whitespace into masked tokens: views into `message`,
// into the static "<*>", or into *arena (cleared first). One pass, no
// allocation once the buffers have grown. (A SIMD classification of the
// bytes was tried: slower on log messages, whose tokens are short.)
void Tokenize(std::string_view message, std::vector<std::string_view>* out, std::string* arena) {
  out->clear();
  arena->clear();
  // A masked token is at most twice as long as the token ("a=1" -> "a=<*>").
  arena->reserve(2 * message.size());
  const auto* p = reinterpret_cast<const unsigned char*>(message.data());
  const size_t n = message.size();
  size_t i = 0;
  char quote = 0;  // inside a quoted string opened by this character
  while (i < n) {
    while (i < n && (kByteClass[p[i]] & kSpaceByte) != 0) ++i;
    const size_t start = i;
    uint8_t seen = 0;
    while (i < n && (kByteClass[p[i]] & kSpaceByte) == 0) seen |= kByteClass[p[i++]];
    if (i == start) break;
    const std::string_view tok = message.substr(start, i - start);
    // A quoted string is a value, whatever it holds: each of its tokens is
    // masked ("'a b'" -> <*> <*>; alignment copes with varying counts).
    if (quote != 0) {
      out->push_back(kWild);
      if (tok.back() == quote) quote = 0;
      continue;
    }
    if (tok[0] == '"' || tok[0] == '\'') {
      if (tok.size() < 2 || tok.back() != tok[0]) quote = tok[0];
      out->push_back(kWild);
      continue;
    }
    out->push_back(Mask(tok, seen, arena));
  }
}

}  // namespace

PatternMiner::PatternMiner(const Options& options) : options_(options) {}

std::vector<std::string> PatternMiner::MaskedTokens(std::string_view message) {
  std::vector<std::string_view> views;
  std::string arena;
  Tokenize(message, &views, &arena);
  return std::vector<std::string>(views.begin(), views.end());
}

// The share of positions holding a constant (in the template or the message)
// where both have the same constant: variables on both sides say nothing.
double PatternMiner::Similarity(const Entry& e, const std::vector<std::string_view>& tokens) const {
  if (e.tokens.size() != tokens.size()) return 0;
  // A constant facing a variable counts half: the variable may just have
  // held a value without digits there ("()" against "(10.1.2.3)").
  double same = 0, weight = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const bool a = e.tokens[i] == kWild, b = tokens[i] == kWild;
    if (a && b) continue;
    weight += a || b ? 0.5 : 1.0;
    if (e.tokens[i] == tokens[i]) same += 1;
  }
  if (weight == 0) return 1;
  return same / weight;
}

// Similarity of token lists of different lengths: their longest common
// subsequence of tokens, where unmatched values cost nothing and an unmatched
// constant next to a value costs half (a unit or a note beside a value that
// comes and goes: "(1.08 KB)", "<1 sec").
double PatternMiner::AlignedSimilarity(const std::vector<std::string>& a,
                                       const std::vector<std::string_view>& b) {
  const size_t n = a.size(), m = b.size();
  // The alignment is quadratic: long messages only match by equal length.
  if (n * m > 4096) return 0;
  std::vector<std::vector<uint16_t>> lcs(n + 1, std::vector<uint16_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? static_cast<uint16_t>(lcs[i + 1][j + 1] + 1)
                               : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::vector<uint8_t> in_a(n, 0), in_b(m, 0);
  for (size_t i = 0, j = 0; i < n && j < m;) {
    if (a[i] == b[j]) {
      in_a[i++] = in_b[j++] = 1;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      ++i;
    } else {
      ++j;
    }
  }
  constexpr double kFar = 100;  // an unmatched constant away from any value
  double matched = 0, cost = 0;
  auto unmatched = [&](const auto& t, const std::vector<uint8_t>& in) {
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] == kWild) continue;
      if (in[i]) {
        matched += 1;
        continue;
      }
      const bool near_value =
          (i > 0 && t[i - 1] == kWild) || (i + 1 < t.size() && t[i + 1] == kWild);
      cost += near_value ? 0.5 : kFar;
    }
  };
  unmatched(a, in_a);
  unmatched(b, in_b);
  // Only a little may differ, and only beside values: a different word
  // elsewhere ("Failed password for invalid user") is a different message.
  if (cost > 1.0) return 0;
  if (matched + cost == 0) return 1;
  return matched / (matched + cost);
}

uint32_t PatternMiner::Add(std::string_view message, int64_t timestamp_ns) {
  start_ns_ = std::min(start_ns_, timestamp_ns);
  // Times are kept on the joined template's canonical entry.
  auto seen = [this, timestamp_ns](uint32_t id) {
    Entry& root = templates_[Canonical(id)];
    root.first_seen_ns = std::min(root.first_seen_ns, timestamp_ns);
    root.last_seen_ns = std::max(root.last_seen_ns, timestamp_ns);
  };
  // Scratch buffers keep their capacity between messages: a message that
  // joins a template allocates nothing.
  std::vector<std::string_view>& tokens = scratch_tokens_;
  Tokenize(message, &tokens, &scratch_arena_);
  // Most messages repeat a token sequence already seen, whose leaf has not
  // changed since: the answer is the same as then (see Memo).
  uint64_t hash = tokens.size();
  for (std::string_view t : tokens) hash = Mix(hash ^ HashToken(t));
  if (auto it = memo_.find(hash); it != memo_.end()) {
    const Memo& m = it->second;
    Entry& e = templates_[m.id];
    // The sequence itself is compared: a hash collision (which anyone who
    // writes log lines could craft) must not change an answer.
    const bool valid = leaf_versions_[m.leaf] == m.version && SameSequence(m.sequence, tokens) &&
                       (m.family == UINT32_MAX || family_versions_[m.family] == m.family_version);
    if (valid) {
      ++e.count;
      seen(m.id);
      return Canonical(m.id);
    }
  }
  std::string& key = scratch_key_;
  key.clear();
  key += std::to_string(tokens.size());
  for (int i = 0; i < options_.prefix_tokens && static_cast<size_t>(i) < tokens.size(); ++i) {
    key.push_back('\x1f');
    key += tokens[static_cast<size_t>(i)];
  }
  Leaf& leaf_entry = leaves_[key];
  if (leaf_entry.index == UINT32_MAX) {
    leaf_entry.index = static_cast<uint32_t>(leaf_versions_.size());
    leaf_versions_.push_back(0);
  }
  std::vector<uint32_t>& leaf = leaf_entry.ids;
  uint32_t best = UINT32_MAX;
  double best_sim = -1;
  size_t best_wild = 0;
  for (uint32_t id : leaf) {
    const Entry& e = templates_[id];
    const double sim = Similarity(e, tokens);
    const size_t wild = e.wildcards;
    if (sim > best_sim || (sim == best_sim && wild > best_wild)) {
      best = id;
      best_sim = sim;
      best_wild = wild;
    }
  }
  const bool full = leaf.size() >= options_.max_templates_per_leaf;
  if (best != UINT32_MAX && (best_sim >= options_.similarity || full)) {
    Entry& e = templates_[best];
    bool generalized = false;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (e.tokens[i] != tokens[i] && e.tokens[i] != kWild) {
        e.tokens[i] = kWild;
        ++e.wildcards;
        generalized = true;
      }
    }
    if (generalized) {
      ++leaf_versions_[leaf_entry.index];
      ++family_versions_[e.family_index];
    } else {
      // The leaf is as it was: this sequence gets `best` until it changes.
      if (memo_.size() >= kMaxMemo) memo_.clear();
      memo_[hash] = Memo{best, leaf_entry.index,    UINT32_MAX, leaf_versions_[leaf_entry.index],
                         0,    JoinSequence(tokens)};
    }
    ++e.count;
    seen(best);
    return Canonical(best);
  }
  // No template of this length fits: one of another length with the same
  // first tokens may, when they align.
  std::string family;
  for (int i = 0; i < options_.prefix_tokens && static_cast<size_t>(i) < tokens.size(); ++i) {
    family += tokens[static_cast<size_t>(i)];
    family.push_back('\x1f');
  }
  Leaf& family_entry = families_[family];
  if (family_entry.index == UINT32_MAX) {
    family_entry.index = static_cast<uint32_t>(family_versions_.size());
    family_versions_.push_back(0);
  }
  std::vector<uint32_t>& relatives = family_entry.ids;
  uint32_t aligned = UINT32_MAX;
  double aligned_sim = -1;
  std::vector<uint32_t> fits;
  for (uint32_t other : relatives) {
    if (templates_[other].tokens.size() == tokens.size()) continue;
    const double sim = AlignedSimilarity(templates_[other].tokens, tokens);
    if (sim < options_.similarity) continue;
    fits.push_back(other);
    if (sim > aligned_sim) {
      aligned = other;
      aligned_sim = sim;
    }
  }
  if (aligned != UINT32_MAX) {
    // A message that fits several shows they are one template: join them.
    for (uint32_t other : fits) Union(aligned, other);
    // Neither the leaf nor the family changed: the same sequence aligns the
    // same way (and its joins are made) until one of them does.
    if (memo_.size() >= kMaxMemo) memo_.clear();
    memo_[hash] = Memo{aligned,
                       leaf_entry.index,
                       family_entry.index,
                       leaf_versions_[leaf_entry.index],
                       family_versions_[family_entry.index],
                       JoinSequence(tokens)};
    ++templates_[aligned].count;
    seen(aligned);
    return Canonical(aligned);
  }
  if (templates_.size() >= options_.max_templates) {
    // Full: whatever fits nothing goes to one catch-all template, so a
    // service logging unstructured text cannot grow the dictionary forever.
    if (overflow_id_ == UINT32_MAX) {
      overflow_id_ = static_cast<uint32_t>(templates_.size());
      Entry all;
      all.tokens = {std::string(kWild)};
      all.wildcards = 1;
      all.first_seen_ns = all.last_seen_ns = timestamp_ns;
      all.leaf = all.family = kOverflowKey;
      templates_.push_back(std::move(all));
      parent_.push_back(overflow_id_);
    }
    ++templates_[overflow_id_].count;
    seen(overflow_id_);
    return overflow_id_;
  }
  const auto id = static_cast<uint32_t>(templates_.size());
  Entry fresh;
  fresh.tokens.assign(tokens.begin(), tokens.end());
  fresh.count = 1;
  fresh.first_seen_ns = fresh.last_seen_ns = timestamp_ns;
  fresh.wildcards = static_cast<size_t>(std::count(tokens.begin(), tokens.end(), kWild));
  fresh.leaf = key;
  fresh.family = family;
  fresh.family_index = family_entry.index;
  templates_.push_back(std::move(fresh));
  parent_.push_back(id);
  leaf.push_back(id);
  ++leaf_versions_[leaf_entry.index];
  relatives.push_back(id);
  ++family_versions_[family_entry.index];
  return id;
}

int64_t PatternMiner::FirstSeen(uint32_t id) const {
  return templates_[Canonical(id)].first_seen_ns;
}

int64_t PatternMiner::LastSeen(uint32_t id) const {
  return templates_[Canonical(id)].last_seen_ns;
}

bool PatternMiner::IsNew(uint32_t id) const {
  return FirstSeen(id) >= start_ns_ + options_.warmup_ns;
}

uint32_t PatternMiner::Canonical(uint32_t id) const {
  while (parent_[id] != id) id = parent_[id];
  return id;
}

void PatternMiner::Union(uint32_t a, uint32_t b) {
  a = Canonical(a);
  b = Canonical(b);
  if (a == b) return;
  // The older template (smaller id) stays the canonical one and takes over
  // the other's times: a joined template was first seen when its earliest
  // member was.
  if (b < a) std::swap(a, b);
  parent_[b] = a;
  templates_[a].first_seen_ns = std::min(templates_[a].first_seen_ns, templates_[b].first_seen_ns);
  templates_[a].last_seen_ns = std::max(templates_[a].last_seen_ns, templates_[b].last_seen_ns);
}

namespace {

// One token list that fits both `a` and `b`: their longest common
// subsequence of tokens, with one "<*>" wherever either has tokens the other
// lacks (a variable that may span several tokens, or none).
std::vector<std::string> AlignMerge(const std::vector<std::string>& a,
                                    const std::vector<std::string>& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<uint32_t>> lcs(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::vector<std::string> out;
  auto wild = [&out] {
    if (out.empty() || out.back() != kWild) out.emplace_back(kWild);
  };
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      if (a[i] == kWild) {
        wild();
      } else {
        out.push_back(a[i]);
      }
      ++i;
      ++j;
    } else if (j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) {
      wild();
      ++i;
    } else {
      wild();
      ++j;
    }
  }
  return out;
}

}  // namespace

std::string PatternMiner::Template(uint32_t id) const {
  // A joined template reads as one text that fits every member.
  const uint32_t root = Canonical(id);
  std::vector<std::string> tokens = templates_.at(root).tokens;
  for (uint32_t other = 0; other < templates_.size(); ++other) {
    if (other != root && parent_[other] != other && Canonical(other) == root) {
      tokens = AlignMerge(tokens, templates_[other].tokens);
    }
  }
  std::string out;
  for (const std::string& t : tokens) {
    if (!out.empty()) out.push_back(' ');
    out += t;
  }
  return out;
}

// Format: "LPAT" 1 (varint version), varint count, then per template: leaf
// key, family key (length-prefixed), varint parent, varint count, first and
// last seen (zigzag varints), varint token count and the tokens
// (length-prefixed); then the CRC32C of all that.
std::string PatternMiner::Encode() const {
  std::string out = "LPAT";
  PutVarint32(&out, 1);
  PutVarint64(&out, templates_.size());
  for (size_t id = 0; id < templates_.size(); ++id) {
    const Entry& e = templates_[id];
    PutLengthPrefixed(&out, e.leaf);
    PutLengthPrefixed(&out, e.family);
    PutVarint32(&out, parent_[id]);
    PutVarint64(&out, e.count);
    PutVarint64(&out, ZigZagEncode64(e.first_seen_ns));
    PutVarint64(&out, ZigZagEncode64(e.last_seen_ns));
    PutVarint64(&out, e.tokens.size());
    for (const std::string& t : e.tokens) PutLengthPrefixed(&out, t);
  }
  PutFixed32(&out, crc32c::Value(out));
  return out;
}

Result<PatternMiner> PatternMiner::Decode(std::string_view bytes, const Options& options) {
  auto bad = [](std::string_view what) {
    return Status::Corruption("pattern dictionary: " + std::string(what));
  };
  if (bytes.size() < 8 || bytes.substr(0, 4) != "LPAT") return bad("not a pattern dictionary");
  const std::string_view body = bytes.substr(0, bytes.size() - 4);
  if (crc32c::Value(body) != DecodeFixed32(bytes.data() + body.size())) {
    return bad("checksum mismatch");
  }
  std::string_view in = body.substr(4);
  uint32_t version = 0;
  uint64_t count = 0;
  if (!GetVarint32(&in, &version) || version != 1) return bad("unknown version");
  if (!GetVarint64(&in, &count) || count > in.size()) return bad("bad template count");
  PatternMiner m(options);
  for (uint64_t id = 0; id < count; ++id) {
    Entry e;
    std::string_view leaf, family;
    uint32_t parent = 0;
    uint64_t n = 0, first = 0, last = 0;
    if (!GetLengthPrefixed(&in, &leaf) || !GetLengthPrefixed(&in, &family) ||
        !GetVarint32(&in, &parent) || !GetVarint64(&in, &e.count) || !GetVarint64(&in, &first) ||
        !GetVarint64(&in, &last) || !GetVarint64(&in, &n) || parent > id || n > in.size()) {
      return bad("truncated template " + std::to_string(id));
    }
    for (uint64_t k = 0; k < n; ++k) {
      std::string_view t;
      if (!GetLengthPrefixed(&in, &t)) return bad("truncated template " + std::to_string(id));
      e.tokens.emplace_back(t);
    }
    e.wildcards = static_cast<size_t>(std::count(e.tokens.begin(), e.tokens.end(), kWild));
    e.first_seen_ns = ZigZagDecode64(first);
    e.last_seen_ns = ZigZagDecode64(last);
    m.start_ns_ = std::min(m.start_ns_, e.first_seen_ns);
    e.leaf = std::string(leaf);
    e.family = std::string(family);
    if (e.leaf == kOverflowKey) {
      m.overflow_id_ = static_cast<uint32_t>(id);
      m.parent_.push_back(parent);
      m.templates_.push_back(std::move(e));
      continue;
    }
    Leaf& l = m.leaves_[e.leaf];
    if (l.index == UINT32_MAX) {
      l.index = static_cast<uint32_t>(m.leaf_versions_.size());
      m.leaf_versions_.push_back(0);
    }
    l.ids.push_back(static_cast<uint32_t>(id));
    Leaf& f = m.families_[e.family];
    if (f.index == UINT32_MAX) {
      f.index = static_cast<uint32_t>(m.family_versions_.size());
      m.family_versions_.push_back(0);
    }
    f.ids.push_back(static_cast<uint32_t>(id));
    e.family_index = f.index;
    m.parent_.push_back(parent);
    m.templates_.push_back(std::move(e));
  }
  if (!in.empty()) return bad("trailing bytes");
  return m;
}

Status PatternMiner::Save(Env* env, const std::string& path) const {
  return env->WriteFileAtomic(path, Encode());
}

Result<PatternMiner> PatternMiner::Load(Env* env, const std::string& path, const Options& options) {
  std::string bytes;
  LODE_RETURN_IF_ERROR(env->ReadFile(path, &bytes));
  Result<PatternMiner> m = Decode(bytes, options);
  if (!m.ok()) return m.status().WithContext(path);
  return m;
}

}  // namespace lode
