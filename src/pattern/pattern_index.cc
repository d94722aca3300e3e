#include "pattern/pattern_index.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "common/coding.h"
#include "common/crc32c.h"

namespace lode {

namespace {

constexpr std::string_view kMagic = "LPIX";
constexpr uint8_t kVersion = 1;

// Heterogeneous lookup by string_view (no std::string built per record).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct PatternIndex::ServiceMiner {
  std::string name;
  PatternMiner miner;
  std::vector<uint32_t> ids;  // tenant-wide id of each local template id
};

struct PatternIndex::Tenant {
  std::unordered_map<std::string, std::unique_ptr<ServiceMiner>, StringHash, std::equal_to<>>
      services;
  // Id first_id + i is local template `second` of miner `first`.
  uint32_t first_id = 1;
  std::vector<std::pair<ServiceMiner*, uint32_t>> by_id;

  const std::pair<ServiceMiner*, uint32_t>* Find(uint32_t id) const {
    if (id < first_id || id - first_id >= by_id.size()) return nullptr;
    return &by_id[id - first_id];
  }
};

PatternIndex::PatternIndex(const Options& options) : options_(options) {}
PatternIndex::~PatternIndex() = default;

PatternIndex::Tenant& PatternIndex::TenantFor(const std::string& tenant) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) it = tenants_.emplace(tenant, std::make_unique<Tenant>()).first;
  return *it->second;
}

size_t PatternIndex::Assign(RecordBatch* batch) {
  std::unique_lock lock(mu_);
  Tenant& t = TenantFor(batch->tenant);
  size_t changed = 0;
  ServiceMiner* sm = nullptr;  // the previous record's: batches often run in services
  for (Record& r : batch->records) {
    if (sm == nullptr || sm->name != r.service) {
      auto it = t.services.find(r.service);
      if (it == t.services.end()) {
        auto fresh = std::make_unique<ServiceMiner>();
        fresh->name = r.service;
        fresh->miner = PatternMiner(options_.miner);
        it = t.services.emplace(r.service, std::move(fresh)).first;
      }
      sm = it->second.get();
    }
    const uint32_t local = sm->miner.Add(r.message, r.timestamp_ns);
    while (sm->ids.size() < sm->miner.size()) {
      const auto next_local = static_cast<uint32_t>(sm->ids.size());
      sm->ids.push_back(t.first_id + static_cast<uint32_t>(t.by_id.size()));
      t.by_id.emplace_back(sm, next_local);
    }
    const uint32_t id = sm->ids[local];
    if (r.pattern_id != id) ++changed;
    r.pattern_id = id;
  }
  return changed;
}

std::optional<PatternIndex::Info> PatternIndex::Lookup(std::string_view tenant, uint32_t id) const {
  std::shared_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return std::nullopt;
  const auto* where = it->second->Find(id);
  if (where == nullptr) return std::nullopt;
  const ServiceMiner& sm = *where->first;
  const uint32_t c = sm.miner.Canonical(where->second);
  Info info;
  info.id = sm.ids[c];
  info.service = sm.name;
  info.text = sm.miner.Template(c);
  info.first_seen_ns = sm.miner.FirstSeen(c);
  info.last_seen_ns = sm.miner.LastSeen(c);
  info.is_new = sm.miner.IsNew(c);
  return info;
}

bool PatternIndex::IsNew(std::string_view tenant, uint32_t id) const {
  std::shared_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return false;
  const auto* where = it->second->Find(id);
  return where != nullptr && where->first->miner.IsNew(where->second);
}

std::vector<uint32_t> PatternIndex::Snapshot::Members(uint32_t id) const {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < canonical.size(); ++i) {
    if (canonical[i] == id) out.push_back(first + static_cast<uint32_t>(i));
  }
  if (out.empty()) out.push_back(id);  // unknown: only itself
  return out;
}

PatternIndex::Snapshot PatternIndex::TakeSnapshot(std::string_view tenant) const {
  Snapshot snap;
  std::shared_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return snap;
  const Tenant& t = *it->second;
  snap.first = t.first_id;
  snap.canonical.resize(t.by_id.size());
  for (size_t i = 0; i < t.by_id.size(); ++i) {
    const auto& [sm, local] = t.by_id[i];
    snap.canonical[i] = sm->ids[sm->miner.Canonical(local)];
  }
  return snap;
}

size_t PatternIndex::size(std::string_view tenant) const {
  std::shared_lock lock(mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : it->second->by_id.size();
}

void PatternIndex::Clear() {
  std::unique_lock lock(mu_);
  tenants_.clear();
}

void PatternIndex::ReserveIds(const std::string& tenant, uint32_t next_id) {
  std::unique_lock lock(mu_);
  Tenant& t = TenantFor(tenant);
  // Only an index that has handed out nothing yet can move its first id.
  if (t.by_id.empty()) t.first_id = std::max(t.first_id, next_id);
}

// Format (all integers varints unless said):
//   "LPIX" | u8 version | covered_seq | tenant_count | tenant...
//   tenant  := string name | first_id | service_count | service...
//   service := string name | string miner bytes (PatternMiner::Encode) |
//              id_count | id_count x tenant-wide id of local id 0, 1, ...
//   fixed32 masked CRC-32C of everything before it
std::string PatternIndex::Encode(uint64_t covered_seq) const {
  std::shared_lock lock(mu_);
  std::string out(kMagic);
  out.push_back(static_cast<char>(kVersion));
  PutVarint64(&out, covered_seq);
  PutVarint64(&out, tenants_.size());
  for (const auto& [name, t] : tenants_) {
    PutLengthPrefixed(&out, name);
    PutVarint32(&out, t->first_id);
    PutVarint64(&out, t->services.size());
    for (const auto& [service, sm] : t->services) {
      PutLengthPrefixed(&out, service);
      PutLengthPrefixed(&out, sm->miner.Encode());
      PutVarint64(&out, sm->ids.size());
      for (uint32_t id : sm->ids) PutVarint32(&out, id);
    }
  }
  PutFixed32(&out, crc32c::Mask(crc32c::Value(out)));
  return out;
}

Status PatternIndex::Decode(std::string_view bytes, uint64_t* covered_seq) {
  const size_t total = bytes.size();
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption("pattern index: " + what + " (at byte " +
                              std::to_string(total - 4 - bytes.size()) + ")");
  };
  decltype(tenants_) tenants;
  if (total < kMagic.size() + 1 + 4 || bytes.substr(0, kMagic.size()) != kMagic) {
    return Status::Corruption("pattern index: not a pattern index (bad magic or too short)");
  }
  const std::string_view body = bytes.substr(0, total - 4);
  if (crc32c::Unmask(DecodeFixed32(bytes.data() + body.size())) != crc32c::Value(body)) {
    return Status::Corruption("pattern index: checksum mismatch over " +
                              std::to_string(body.size()) + " bytes");
  }
  bytes = body.substr(kMagic.size());
  if (static_cast<uint8_t>(bytes[0]) != kVersion) {
    // Intact but newer: refuse rather than quarantine a file a newer binary
    // still needs.
    return Status::InvalidArgument("pattern index: unsupported version " +
                                   std::to_string(static_cast<uint8_t>(bytes[0])) +
                                   " (this reader knows version 1)");
  }
  bytes.remove_prefix(1);
  uint64_t seq = 0, tenant_count = 0;
  if (!GetVarint64(&bytes, &seq) || !GetVarint64(&bytes, &tenant_count)) {
    return corrupt("truncated header");
  }
  for (uint64_t ti = 0; ti < tenant_count; ++ti) {
    std::string_view name;
    uint32_t first_id = 0;
    uint64_t service_count = 0;
    if (!GetLengthPrefixed(&bytes, &name) || !GetVarint32(&bytes, &first_id) ||
        !GetVarint64(&bytes, &service_count) || first_id == 0) {
      return corrupt("bad tenant header");
    }
    auto t = std::make_unique<Tenant>();
    t->first_id = first_id;
    for (uint64_t si = 0; si < service_count; ++si) {
      std::string_view service, miner_bytes;
      uint64_t id_count = 0;
      if (!GetLengthPrefixed(&bytes, &service) || !GetLengthPrefixed(&bytes, &miner_bytes)) {
        return corrupt("bad service header");
      }
      auto sm = std::make_unique<ServiceMiner>();
      sm->name = std::string(service);
      Result<PatternMiner> miner = PatternMiner::Decode(miner_bytes, options_.miner);
      if (!miner.ok()) {
        return miner.status().WithContext("pattern index: tenant " + std::string(name) +
                                          ", service " + sm->name);
      }
      sm->miner = std::move(*miner);
      if (!GetVarint64(&bytes, &id_count) || id_count != sm->miner.size()) {
        return corrupt("id table does not match the miner of service " + sm->name);
      }
      sm->ids.resize(id_count);
      for (auto& id : sm->ids) {
        if (!GetVarint32(&bytes, &id) || id < first_id) return corrupt("bad id");
      }
      t->services.emplace(sm->name, std::move(sm));
    }
    // Rebuild id -> (miner, local id); every id below the highest must be taken
    // exactly once.
    size_t n = 0;
    for (const auto& [_, sm] : t->services) n += sm->ids.size();
    t->by_id.assign(n, {nullptr, 0});
    for (const auto& [_, sm] : t->services) {
      for (size_t local = 0; local < sm->ids.size(); ++local) {
        const uint64_t slot = sm->ids[local] - first_id;
        if (slot >= n || t->by_id[slot].first != nullptr) return corrupt("ids not dense");
        t->by_id[slot] = {sm.get(), static_cast<uint32_t>(local)};
      }
    }
    tenants.emplace(std::string(name), std::move(t));
  }
  if (!bytes.empty()) return corrupt("trailing bytes");
  std::unique_lock lock(mu_);
  tenants_ = std::move(tenants);
  *covered_seq = seq;
  return Status::OK();
}

}  // namespace lode
