#include "pattern/miner.h"

#include <algorithm>

#include "common/coding.h"
#include "common/crc32c.h"

namespace lode {

namespace {

constexpr std::string_view kWild = "<*>";

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsAlpha(char c) {
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
  if (tok.size() != 3) return false;
  return std::find(std::begin(kWords), std::end(kWords), tok) != std::end(kWords);
}

// Writes the masked form of `tok` into *out (reusing its buffer).
void MaskInto(std::string_view tok, std::string* out) {
  if (IsDateWord(tok)) {
    out->assign(kWild);
    return;
  }
  if (std::none_of(tok.begin(), tok.end(), IsDigit) || IsVersionedWord(tok)) {
    out->assign(tok);
    return;
  }
  size_t key_end = 0;
  while (key_end < tok.size() && (IsAlpha(tok[key_end]) || tok[key_end] == '_' ||
                                  tok[key_end] == '.' || tok[key_end] == '-')) {
    ++key_end;
  }
  if (key_end > 0 && key_end < tok.size() && tok[key_end] == '=') {
    out->assign(tok.substr(0, key_end + 1));
    out->append(kWild);
    return;
  }
  out->assign(kWild);
}

// Splits `message` on whitespace into masked tokens, reusing *out's strings;
// returns the token count (entries past it are stale).
size_t Tokenize(std::string_view message, std::vector<std::string>* out) {
  size_t n = 0, i = 0;
  while (i < message.size()) {
    while (i < message.size() && IsSpace(message[i])) ++i;
    const size_t start = i;
    while (i < message.size() && !IsSpace(message[i])) ++i;
    if (i == start) continue;
    if (n == out->size()) out->emplace_back();
    MaskInto(message.substr(start, i - start), &(*out)[n++]);
  }
  return n;
}

}  // namespace

PatternMiner::PatternMiner(const Options& options) : options_(options) {}

std::vector<std::string> PatternMiner::MaskedTokens(std::string_view message) {
  std::vector<std::string> out;
  out.resize(Tokenize(message, &out));
  return out;
}

// The share of positions holding a constant (in the template or the message)
// where both have the same constant: variables on both sides say nothing.
double PatternMiner::Similarity(const Entry& e, const std::vector<std::string>& tokens) const {
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
                                       const std::vector<std::string>& b) {
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
  auto unmatched = [&](const std::vector<std::string>& t, const std::vector<uint8_t>& in) {
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
  std::vector<std::string>& tokens = scratch_tokens_;
  tokens.resize(Tokenize(message, &tokens));
  std::string& key = scratch_key_;
  key = std::to_string(tokens.size());
  for (int i = 0; i < options_.prefix_tokens && static_cast<size_t>(i) < tokens.size(); ++i) {
    key.push_back('\x1f');
    key += tokens[static_cast<size_t>(i)];
  }
  std::vector<uint32_t>& leaf = leaves_[key];
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
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (e.tokens[i] != tokens[i] && e.tokens[i] != kWild) {
        e.tokens[i] = kWild;
        ++e.wildcards;
      }
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
  std::vector<uint32_t>& relatives = families_[family];
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
    ++templates_[aligned].count;
    seen(aligned);
    return Canonical(aligned);
  }
  const auto id = static_cast<uint32_t>(templates_.size());
  Entry fresh;
  fresh.tokens = tokens;
  fresh.count = 1;
  fresh.first_seen_ns = fresh.last_seen_ns = timestamp_ns;
  fresh.wildcards = static_cast<size_t>(std::count(tokens.begin(), tokens.end(), kWild));
  fresh.leaf = key;
  fresh.family = family;
  templates_.push_back(std::move(fresh));
  parent_.push_back(id);
  leaf.push_back(id);
  relatives.push_back(id);
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

std::string PatternMiner::Template(uint32_t id) const {
  std::string out;
  for (const std::string& t : templates_.at(id).tokens) {
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
    m.leaves_[e.leaf].push_back(static_cast<uint32_t>(id));
    m.families_[e.family].push_back(static_cast<uint32_t>(id));
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
