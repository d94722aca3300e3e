// PatternMiner: an online message-template miner (issue 5, first part: not
// yet wired into ingest, storage or the API).
//
// Each message is split into tokens on whitespace; tokens that look like
// values (anything with a digit, hex runs, quoted strings, the value of a
// key=value pair) are masked as `<*>` before matching. Masked token lists
// are then clustered Drain-style: a fixed-depth tree keyed by the token
// count and the leading constant tokens leads to a short list of templates,
// and a message joins the most similar one (share of equal constant
// positions) when the similarity reaches the threshold, turning the
// positions where they differ into `<*>`; otherwise it starts a template.
// A template keeps its id when it generalizes.
//
// Not thread-safe: one miner per tenant and service, fed by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace lode {

class PatternMiner {
 public:
  struct Options {
    // A message joins a template when at least this share of the positions
    // where either holds a constant hold the same constant (a constant facing
    // a variable weighs half). 0.8 is the best single value over the eight
    // LogHub systems (src/pattern/miner_test.cc prints the accuracy table;
    // 0.5, Drain's usual value, merges too much once variables are masked).
    double similarity = 0.8;
    // Leading tokens used as tree keys (after the token count).
    int prefix_tokens = 2;
    // Templates per leaf before new messages are forced into the best match.
    size_t max_templates_per_leaf = 200;
    // Templates in all; past it, messages that fit none go to one catch-all
    // template "<*>" (bounds memory for services logging free text).
    size_t max_templates = 5000;
    // A template first seen this long after the miner's first message is
    // new (the service's warm-up is over): the alerting "new pattern" signal.
    int64_t warmup_ns = 3'600'000'000'000;
  };

  PatternMiner() : PatternMiner(Options{}) {}
  explicit PatternMiner(const Options& options);

  // Mines `message`; returns the id (dense, from 0) of its template.
  // `timestamp_ns` is the message's time (for first/last seen and newness).
  uint32_t Add(std::string_view message, int64_t timestamp_ns = 0);

  // When the template (as joined: its canonical id) was first and last seen,
  // and whether it appeared only after the warm-up.
  int64_t FirstSeen(uint32_t id) const;
  int64_t LastSeen(uint32_t id) const;
  bool IsNew(uint32_t id) const;

  // Templates found to be one (a message fitting several) are joined; an id
  // handed out earlier then stands for the joined template, whose canonical
  // id (the oldest) this returns. Ids stay valid forever.
  uint32_t Canonical(uint32_t id) const;

  // The template `id` stands for (as joined), with `<*>` for variables,
  // tokens joined by spaces. A joined template's text fits all its members:
  // where their tokens differ in number, one `<*>` stands for any tokens.
  std::string Template(uint32_t id) const;
  size_t size() const { return templates_.size(); }

  // The dictionary (templates, their tree keys and joins) as bytes, and back:
  // a miner restored from its bytes hands out the same ids for the same
  // messages, so ids stay stable across restarts. Decode returns Corruption
  // when the bytes are damaged (a CRC32C covers them).
  std::string Encode() const;
  static Result<PatternMiner> Decode(std::string_view bytes, const Options& options);
  // Encode() written atomically (temporary file, fsync, rename) / read back.
  Status Save(Env* env, const std::string& path) const;
  static Result<PatternMiner> Load(Env* env, const std::string& path, const Options& options);

  // The message's tokens with variables masked as "<*>" (exposed for tests).
  static std::vector<std::string> MaskedTokens(std::string_view message);

 private:
  struct Entry {
    std::vector<std::string> tokens;  // "<*>" for variables
    uint64_t count = 0;
    int64_t first_seen_ns = 0;  // of the joined template, on its canonical entry
    int64_t last_seen_ns = 0;
    size_t wildcards = 0;  // of tokens
    std::string leaf;      // the tree keys it was filed under
    std::string family;
    uint32_t family_index = 0;  // into family_versions_
  };
  double Similarity(const Entry& e, const std::vector<std::string_view>& tokens) const;
  void Union(uint32_t a, uint32_t b);
  static double AlignedSimilarity(const std::vector<std::string>& a,
                                  const std::vector<std::string_view>& b);

  Options options_;
  std::vector<Entry> templates_;
  std::vector<uint32_t> parent_;       // union-find over template ids
  int64_t start_ns_ = INT64_MAX;       // the earliest message time seen
  uint32_t overflow_id_ = UINT32_MAX;  // the catch-all template, once full
  // Scratch buffers reused from message to message (tokens view the message
  // or the arena).
  std::vector<std::string_view> scratch_tokens_;
  std::string scratch_arena_;
  std::string scratch_key_;
  // Tree leaves: key (token count + leading constant tokens) -> template ids.
  struct Leaf {
    std::vector<uint32_t> ids;
    uint32_t index = UINT32_MAX;  // into leaf_versions_
  };
  std::unordered_map<std::string, Leaf> leaves_;
  // Bumped whenever a leaf gains a template or one of its templates
  // generalizes: matching against a leaf depends on nothing else.
  std::vector<uint64_t> leaf_versions_;
  // Memo of matching (a pure cache: results are what the full search gives,
  // so it is not saved): hash of a masked token sequence -> the template it
  // joined without changing it, valid while that leaf's version stays (and,
  // for a template of another length it aligned with, its family's).
  struct Memo {
    uint32_t id;
    uint32_t leaf;
    uint32_t family;  // UINT32_MAX: a same-length match (checked with Fits)
    uint64_t version;
    uint64_t family_version;
    std::string sequence;  // the masked tokens, each followed by \x1f: hits compare it
  };
  static constexpr size_t kMaxMemo = 1 << 14;
  std::unordered_map<uint64_t, Memo> memo_;
  // Templates by their leading tokens alone, across lengths.
  std::unordered_map<std::string, Leaf> families_;
  std::vector<uint64_t> family_versions_;  // as leaf_versions_
};

}  // namespace lode
