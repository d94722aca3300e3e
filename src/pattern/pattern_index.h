// PatternIndex: the message templates of every tenant and service, as the
// store assigns them at ingest (issue 5).
//
// One PatternMiner per (tenant, service) mines the messages; the index turns
// each miner's dense local ids into ids unique within the tenant (1, 2, ...,
// in order of creation; 0 means "no pattern"), which is what records carry
// (Record::pattern_id), queries filter on (`| pattern_id = "17"`) and the
// patterns API returns. A template that generalizes keeps its id; templates
// the miner finds to be one are joined, and every id handed out stays valid
// and reads as the joined template's canonical (oldest) id.
//
// Ids are a deterministic function of the order in which batches are
// assigned. The store assigns them in WAL order, under its WAL lock, and
// saves the index (Encode) together with the WAL sequence number it covers;
// after a crash it re-assigns the batches past that number, which hands out
// the same ids again. That is how ids stay stable across restarts; merges
// copy ids as they are.
//
// Thread-safety: all methods are thread-safe. Assign takes an exclusive
// lock for a batch; lookups take a shared one. Queries that resolve many ids
// take a Snapshot once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/record.h"
#include "common/status.h"
#include "pattern/miner.h"

namespace lode {

class PatternIndex {
 public:
  struct Options {
    PatternMiner::Options miner;
  };

  PatternIndex() : PatternIndex(Options{}) {}
  explicit PatternIndex(const Options& options);
  ~PatternIndex();

  // Mines every record of `batch` (of batch->tenant) with its service's
  // miner and sets its pattern_id, in batch order: ids are a function of
  // the sequence of batches. Returns how many records changed id (a
  // record may arrive with an id already, e.g. when replayed).
  size_t Assign(RecordBatch* batch);

  // What a query needs to know about one template.
  struct Info {
    uint32_t id = 0;      // canonical id
    std::string service;  // whose miner found it
    std::string text;     // tokens with <*> for variables
    int64_t first_seen_ns = 0;
    int64_t last_seen_ns = 0;
    bool is_new = false;  // first seen after the service's warm-up
  };
  // The template `id` belongs to (as joined), or nullopt for an unknown id.
  std::optional<Info> Lookup(std::string_view tenant, uint32_t id) const;
  // Lookup(...)->is_new, without building the text.
  bool IsNew(std::string_view tenant, uint32_t id) const;

  // Canonical ids of a tenant at one moment: the canonical id of every id
  // handed out so far; other ids (0, unknown ones) read as themselves.
  struct Snapshot {
    uint32_t first = 1;               // the id canonical[0] is for
    std::vector<uint32_t> canonical;  // of ids first, first + 1, ...
    uint32_t Canonical(uint32_t id) const {
      return id >= first && id - first < canonical.size() ? canonical[id - first] : id;
    }
    // Every id whose canonical id is `id` (itself included), ascending.
    std::vector<uint32_t> Members(uint32_t id) const;
  };
  Snapshot TakeSnapshot(std::string_view tenant) const;

  // Templates of a tenant (for tests and diagnostics).
  size_t size(std::string_view tenant) const;

  // The whole index as bytes, stamped with `covered_seq` (the WAL sequence
  // number of the last batch assigned), and back. Decode replaces the
  // contents; Corruption (the bytes carry a CRC32C) leaves the index as it was.
  std::string Encode(uint64_t covered_seq) const;
  Status Decode(std::string_view bytes, uint64_t* covered_seq);

  // Forgets everything (back to a new index).
  void Clear();

  // After the index was lost, ids are handed out from `next_id` on in
  // `tenant`, so that they never collide with ids already stored.
  void ReserveIds(const std::string& tenant, uint32_t next_id);

 private:
  struct ServiceMiner;
  struct Tenant;
  Tenant& TenantFor(const std::string& tenant);  // REQUIRES: mu_ held exclusively

  const Options options_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<Tenant>, std::less<>> tenants_;
};

}  // namespace lode
