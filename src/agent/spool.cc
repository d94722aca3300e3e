#include "agent/spool.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "common/env.h"
#include "common/json_writer.h"

namespace lode {

namespace {

constexpr std::string_view kSuffix = ".batch";

bool ParseSeq(std::string_view name, uint64_t* seq) {
  if (!name.ends_with(kSuffix)) return false;
  std::string_view digits = name.substr(0, name.size() - kSuffix.size());
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), *seq);
  return r.ec == std::errc() && r.ptr == digits.data() + digits.size();
}

}  // namespace

std::string Spool::PathOf(uint64_t seq) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu", static_cast<unsigned long long>(seq));
  return dir_ + "/" + name + std::string(kSuffix);
}

Result<std::unique_ptr<Spool>> Spool::Open(const std::string& dir) {
  Env* env = Env::Default();
  LODE_RETURN_IF_ERROR(env->CreateDirs(dir));
  std::unique_ptr<Spool> s(new Spool(dir));
  LODE_ASSIGN_OR_RETURN(auto names, env->ListDir(dir));
  for (const auto& name : names) {
    uint64_t seq = 0;
    if (name.find(".tmp") != std::string::npos) {  // WriteFileAtomic's <name>.tmp.<pid>.<n>
      LODE_RETURN_IF_ERROR(env->RemoveFile(dir + "/" + name));
      continue;
    }
    if (!ParseSeq(name, &seq)) continue;
    LODE_ASSIGN_OR_RETURN(uint64_t size, env->FileSize(dir + "/" + name));
    s->seqs_.emplace_back(seq, size);
    s->bytes_ += size;
    s->next_seq_ = std::max(s->next_seq_, seq + 1);
  }
  std::sort(s->seqs_.begin(), s->seqs_.end());
  return s;
}

Result<uint64_t> Spool::Push(std::string_view body, uint64_t records, std::string_view checkpoint,
                             std::string_view key_prefix) {
  const uint64_t seq = next_seq_;
  // The header is one line: the checkpoint goes in minified (and so checked).
  simdjson::dom::parser parser;
  simdjson::dom::element cp;
  if (parser.parse(simdjson::padded_string(checkpoint)).get(cp)) {
    return Status::InvalidArgument("spool: the checkpoint is not valid JSON");
  }
  const std::string compact = simdjson::minify(cp);
  std::string data;
  data.reserve(body.size() + checkpoint.size() + 64);
  JsonWriter w(&data);
  w.BeginObject();
  w.Key("seq").Uint(seq);
  w.Key("records").Uint(records);
  if (!key_prefix.empty()) w.Key("key").String(std::string(key_prefix) + std::to_string(seq));
  w.Key("checkpoint").Raw(compact);
  w.EndObject();
  data.push_back('\n');
  data.append(body);
  LODE_RETURN_IF_ERROR(Env::Default()->WriteFileAtomic(PathOf(seq), data));
  next_seq_ = seq + 1;
  seqs_.emplace_back(seq, data.size());
  bytes_ += data.size();
  return seq;
}

Result<Spool::Batch> Spool::Read(uint64_t seq) const {
  std::string data;
  const std::string path = PathOf(seq);
  LODE_RETURN_IF_ERROR(Env::Default()->ReadFile(path, &data));
  size_t nl = data.find('\n');
  simdjson::dom::parser parser;
  simdjson::dom::element header;
  Batch b;
  std::string_view seq_check;
  simdjson::dom::element cp;
  if (nl == std::string::npos ||
      parser.parse(simdjson::padded_string(std::string_view(data).substr(0, nl))).get(header) ||
      header["seq"].get_uint64().get(b.seq) || header["records"].get_uint64().get(b.records) ||
      header["checkpoint"].get(cp) || b.seq != seq) {
    return Status::Corruption("spool batch " + path + ": bad header");
  }
  b.checkpoint = simdjson::minify(cp);
  std::string_view key;
  if (!header["key"].get_string().get(key)) b.key = key;
  b.body = data.substr(nl + 1);
  return b;
}

Result<std::optional<Spool::Batch>> Spool::FirstReadable(bool newest) {
  while (!seqs_.empty()) {
    const uint64_t seq = newest ? seqs_.back().first : seqs_.front().first;
    auto b = Read(seq);
    if (b.ok()) return std::optional<Batch>(std::move(*b));
    if (b.status().code() != StatusCode::kCorruption) return b.status();
    // Written whole or not at all, so this is damage from outside: keep it
    // for inspection and go on with the next.
    spdlog::error("lode agent: {}; moved to {}/rejected/", b.status().message(), dir_);
    LODE_RETURN_IF_ERROR(Reject(seq));
  }
  return std::optional<Batch>();
}

Result<std::optional<Spool::Batch>> Spool::Front() {
  return FirstReadable(false);
}

Status Spool::Pop(uint64_t seq) {
  auto it = std::find_if(seqs_.begin(), seqs_.end(), [&](auto& p) { return p.first == seq; });
  if (it == seqs_.end()) return Status::NotFound("spool batch " + std::to_string(seq));
  LODE_RETURN_IF_ERROR(Env::Default()->RemoveFile(PathOf(seq)));
  bytes_ -= it->second;
  seqs_.erase(it);
  return Status::OK();
}

Status Spool::Reject(uint64_t seq) {
  auto it = std::find_if(seqs_.begin(), seqs_.end(), [&](auto& p) { return p.first == seq; });
  if (it == seqs_.end()) return Status::NotFound("spool batch " + std::to_string(seq));
  Env* env = Env::Default();
  LODE_RETURN_IF_ERROR(env->CreateDirs(dir_ + "/rejected"));
  std::string path = PathOf(seq);
  LODE_RETURN_IF_ERROR(env->RenameFile(path, dir_ + "/rejected/" + path.substr(dir_.size() + 1)));
  bytes_ -= it->second;
  seqs_.erase(it);
  return Status::OK();
}

Result<std::string> Spool::NewestCheckpoint() {
  LODE_ASSIGN_OR_RETURN(std::optional<Batch> b, FirstReadable(true));
  return b ? std::move(b->checkpoint) : std::string();
}

}  // namespace lode
