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

  // The template of `id` with `<*>` for variables, tokens joined by spaces.
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
  };
  double Similarity(const Entry& e, const std::vector<std::string>& tokens) const;
  void Union(uint32_t a, uint32_t b);
  static double AlignedSimilarity(const std::vector<std::string>& a,
                                  const std::vector<std::string>& b);

  Options options_;
  std::vector<Entry> templates_;
  std::vector<uint32_t> parent_;  // union-find over template ids
  int64_t start_ns_ = INT64_MAX;  // the earliest message time seen
  std::vector<std::string> scratch_tokens_;
  std::string scratch_key_;
  // Tree leaves: key (token count + leading constant tokens) -> template ids.
  std::unordered_map<std::string, std::vector<uint32_t>> leaves_;
  // Templates by their leading tokens alone, across lengths.
  std::unordered_map<std::string, std::vector<uint32_t>> families_;
};

}  // namespace lode
