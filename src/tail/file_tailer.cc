#include "tail/file_tailer.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "common/crc32c.h"
#include "common/env.h"
#include "parse/message_level.h"
#include "tail/container_format.h"

namespace lode {

namespace {

// Bytes of a file's start whose checksum tells it from another file that got
// the same inode after the first was deleted.
constexpr uint64_t kFingerprintBytes = 1024;

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// "nginx-access.log.1" → "nginx-access": the name without ".log" and what follows.
std::string ServiceFromFileName(std::string_view path) {
  std::string_view base = BaseName(path);
  size_t dot = base.find(".log");
  if (dot != std::string_view::npos && dot > 0) return std::string(base.substr(0, dot));
  dot = base.find('.');
  return std::string(dot == std::string_view::npos || dot == 0 ? base : base.substr(0, dot));
}

bool IsCompressed(std::string_view path) {
  for (std::string_view ext : {".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4"}) {
    if (path.ends_with(ext)) return true;
  }
  return false;
}

Status ReadAt(int fd, uint64_t offset, size_t n, std::string* out, size_t padding) {
  out->resize(n + padding);
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, out->data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("pread: ") + strerror(errno));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  out->resize(got + padding);
  return Status::OK();
}

// Replaces each byte that is not part of a valid UTF-8 sequence with U+FFFD,
// as the JSON the records travel in (and queries answer in) must be UTF-8.
// Only a line's assembled text is converted: a CRI or Docker piece may end
// in the middle of a character that the next piece completes.
void MakeValidUtf8(std::string* text) {
  if (simdjson::validate_utf8(text->data(), text->size())) return;
  std::string out;
  out.reserve(text->size() + 16);
  const auto* p = reinterpret_cast<const unsigned char*>(text->data());
  const size_t n = text->size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len > 1) {
      // No overlong forms, surrogates or code points above U+10FFFF.
      uint32_t cp = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3F);
      ok = (len == 2 && cp >= 0x80) || (len == 3 && cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) ||
           (len == 4 && cp >= 0x10000 && cp <= 0x10FFFF);
    }
    if (ok) {
      out.append(text->data() + i, len);
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      i += 1;
    }
  }
  *text = std::move(out);
}

uint32_t Fingerprint(int fd, uint64_t len) {
  std::string buf;
  if (!ReadAt(fd, 0, len, &buf, 0).ok() || buf.size() < len) return 0;
  return crc32c::Value(buf);
}

}  // namespace

struct FileTailer::Saved {
  std::string path;
  std::string real_path;  // with symlinks resolved (/var/log/containers → /var/log/pods)
  uint64_t offset = 0;
  uint64_t fp_len = 0;
  uint32_t fp = 0;
  std::string state;  // the assembler's JSON
};

struct FileTailer::Tracked {
  std::string path;
  std::string real_path;
  size_t input = 0;
  uint64_t dev = 0, ino = 0;
  int fd = -1;
  uint64_t offset = 0;  // start of the first line not yet fed
  uint64_t fp_len = 0;
  uint32_t fp = 0;
  std::unique_ptr<LineAssembler> assembler;
  std::string service, instance;
  bool kubernetes = false;
  std::vector<Attribute> attributes;  // of every record of the file
  bool gone = false;                  // no longer under any glob path (rotated or deleted)
  uint64_t last_size = 0;             // at the last read
  int64_t last_growth_ns = 0;

  ~Tracked() {
    if (fd >= 0) close(fd);
  }
};

FileTailer::FileTailer(const TailerOptions& options) : options_(options) {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) hostname_ = host;
}

FileTailer::~FileTailer() = default;

Result<std::unique_ptr<FileTailer>> FileTailer::Create(const TailerOptions& options,
                                                       std::string_view checkpoint) {
  std::unique_ptr<FileTailer> t(new FileTailer(options));
  for (size_t i = 0; i < options.inputs.size(); ++i) {
    const FileInput& in = options.inputs[i];
    if (in.paths.empty()) {
      return Status::InvalidArgument("files input " + std::to_string(i + 1) + ": no paths");
    }
    if (in.multiline_start.empty()) {
      t->multiline_.push_back(nullptr);
      continue;
    }
    RE2::Options ro;
    ro.set_log_errors(false);
    auto re = std::make_unique<RE2>(in.multiline_start, ro);
    if (!re->ok()) {
      return Status::InvalidArgument("files input " + std::to_string(i + 1) +
                                     ": multiline start pattern \"" + in.multiline_start +
                                     "\": " + re->error());
    }
    t->multiline_.push_back(std::move(re));
  }
  if (checkpoint.empty()) return t;

  simdjson::dom::parser parser;
  simdjson::padded_string text(checkpoint);
  simdjson::dom::element doc;
  simdjson::dom::array files;
  if (parser.parse(text).get(doc) || doc["files"].get_array().get(files)) {
    return Status::Corruption("file positions: not a checkpoint (no \"files\" array)");
  }
  for (simdjson::dom::element f : files) {
    auto saved = std::make_unique<Saved>();
    std::string_view path;
    uint64_t dev = 0, ino = 0, fp = 0;
    simdjson::dom::element state;
    if (f["path"].get_string().get(path) || f["dev"].get_uint64().get(dev) ||
        f["ino"].get_uint64().get(ino) || f["offset"].get_uint64().get(saved->offset) ||
        f["fp_len"].get_uint64().get(saved->fp_len) || f["fp"].get_uint64().get(fp) ||
        f["state"].get(state)) {
      return Status::Corruption(
          "file positions: an entry lacks path, dev, ino, offset, fp or state");
    }
    saved->path = path;
    std::string_view real;
    saved->real_path = f["real_path"].get_string().get(real) ? saved->path : std::string(real);
    saved->fp = static_cast<uint32_t>(fp);
    saved->state = simdjson::minify(state);
    t->saved_[{dev, ino}] = std::move(saved);
  }
  return t;
}

bool FileTailer::Follow(const std::string& path, size_t input, uint64_t dev, uint64_t ino,
                        const Saved* saved, bool at_end, int64_t now_ns) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    spdlog::warn("lode files: cannot open {}: {}", path, strerror(errno));
    return false;
  }
  struct stat id {};
  if (fstat(fd, &id) != 0 || static_cast<uint64_t>(id.st_dev) != dev ||
      static_cast<uint64_t>(id.st_ino) != ino) {
    close(fd);  // renamed between stat and open: the next scan sees what is there now
    return false;
  }
  auto t = std::make_unique<Tracked>();
  t->path = path;
  if (char* real = realpath(path.c_str(), nullptr)) {
    t->real_path = real;
    free(real);
  } else {
    t->real_path = path;
  }
  t->input = input;
  t->dev = dev;
  t->ino = ino;
  t->fd = fd;
  t->last_growth_ns = now_ns;
  const FileInput& in = options_.inputs[input];
  AssemblerOptions ao;
  ao.format = in.format;
  ao.multiline_start = multiline_[input].get();
  ao.max_lines = in.multiline_max_lines;
  ao.max_bytes = options_.max_line_bytes;
  ao.flush_after_ns = in.multiline_timeout_ns;
  t->assembler = std::make_unique<LineAssembler>(ao);

  struct stat st {};
  fstat(fd, &st);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (saved != nullptr) {
    // The same file only if it still starts with the bytes it started with.
    bool same = size >= saved->offset && size >= saved->fp_len &&
                (saved->fp_len == 0 || Fingerprint(fd, saved->fp_len) == saved->fp);
    simdjson::dom::parser p;
    simdjson::dom::element state;
    if (same && !p.parse(simdjson::padded_string(saved->state)).get(state) &&
        t->assembler->RestoreState(state, now_ns).ok()) {
      t->offset = saved->offset;
      t->fp_len = saved->fp_len;
      t->fp = saved->fp;
    } else {
      t->assembler = std::make_unique<LineAssembler>(ao);
      spdlog::info("lode files: {} is not the file its saved position was for; reading from 0",
                   path);
    }
  } else if (at_end) {
    t->offset = size;
  }

  // What the path says about the records.
  t->service = in.service;
  t->instance = in.instance;
  if (auto pod = ParsePodLogPath(path)) {
    t->kubernetes = true;
    if (t->service.empty()) t->service = PodOwnerName(pod->pod);
    if (t->instance.empty()) t->instance = pod->pod;
    t->attributes.push_back({"namespace", pod->namespace_name});
    t->attributes.push_back({"pod", pod->pod});
    t->attributes.push_back({"container", pod->container});
    if (!pod->pod_uid.empty()) t->attributes.push_back({"pod_uid", pod->pod_uid});
    if (!pod->container_id.empty()) t->attributes.push_back({"container_id", pod->container_id});
  } else {
    if (t->service.empty()) t->service = ServiceFromFileName(path);
    if (t->instance.empty()) t->instance = hostname_;
  }
  t->attributes.push_back({"filename", path});
  for (const auto& a : in.labels) t->attributes.push_back(a);
  for (auto& a : t->attributes) MakeValidUtf8(&a.value);
  files_.push_back(std::move(t));
  return true;
}

void FileTailer::Scan(int64_t now_ns) {
  last_scan_ns_ = now_ns;
  // (dev, ino) → (path, input): every regular file under the globs, once.
  std::map<std::pair<uint64_t, uint64_t>, std::pair<std::string, size_t>> found;
  for (size_t i = 0; i < options_.inputs.size(); ++i) {
    const FileInput& in = options_.inputs[i];
    for (const auto& pattern : in.paths) {
      glob_t g{};
      if (glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
        for (size_t k = 0; k < g.gl_pathc; ++k) {
          std::string path = g.gl_pathv[k];
          if (IsCompressed(path)) continue;
          if (!simdjson::validate_utf8(path.data(), path.size())) {
            // Records and checkpoints are JSON, which cannot name it.
            if (warned_paths_.insert(path).second) {
              spdlog::warn("lode files: skipping \"{}\": its name is not UTF-8", path);
            }
            continue;
          }
          bool excluded = false;
          for (const auto& ex : in.exclude) excluded |= fnmatch(ex.c_str(), path.c_str(), 0) == 0;
          struct stat st {};
          if (excluded || stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
          found.try_emplace({static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)},
                            path, i);
        }
      }
      globfree(&g);
    }
  }
  for (auto& t : files_) {
    auto it = found.find({t->dev, t->ino});
    if (it == found.end()) {
      if (!t->gone) ++stats_.rotations;
      t->gone = true;
      continue;
    }
    if (t->path != it->second.first) {
      t->path = it->second.first;
      for (auto& a : t->attributes) {
        if (a.key == "filename") a.value = t->path;
      }
    }
    t->gone = false;
    found.erase(it);
  }
  const bool first = !first_scan_done_;
  for (auto& [id, where] : found) {
    auto s = saved_.find(id);
    const Saved* saved = s == saved_.end() ? nullptr : s->second.get();
    bool followed = Follow(where.first, where.second, id.first, id.second, saved,
                           first && options_.inputs[where.second].start_at_end, now_ns);
    if (saved && followed) saved_.erase(s);  // else the position waits for the next scan
  }
  if (first) {
    // Files that were followed when the checkpoint was taken and have been
    // rotated away since: find them by inode beside their old name, finish them.
    for (auto& [id, saved] : saved_) {
      // Rotated files stay beside the real file (a /var/log/containers
      // symlink points into the pod's directory).
      std::vector<std::string> dirs = {DirName(saved->real_path)};
      if (DirName(saved->path) != dirs[0]) dirs.push_back(DirName(saved->path));
      bool finished = false;
      for (const auto& dir : dirs) {
        auto names = Env::Default()->ListDir(dir);
        if (!names.ok() || finished) continue;
        for (const auto& name : *names) {
          std::string path = dir + "/" + name;
          struct stat st {};
          if (stat(path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_ino) != id.second ||
              static_cast<uint64_t>(st.st_dev) != id.first || !S_ISREG(st.st_mode)) {
            continue;
          }
          size_t input = 0;
          for (size_t i = 0; i < options_.inputs.size(); ++i) {
            for (const auto& pattern : options_.inputs[i].paths) {
              if (fnmatch(pattern.c_str(), saved->path.c_str(), 0) == 0) input = i;
            }
          }
          if (!Follow(path, input, id.first, id.second, saved.get(), false, now_ns)) continue;
          files_.back()->gone = true;
          finished = true;
          spdlog::info("lode files: {} was rotated to {}; reading it from offset {}", saved->path,
                       path, saved->offset);
          break;
        }
      }
      if (!finished) {
        spdlog::warn(
            "lode files: {} (inode {}) is gone; what was written to it after offset {} "
            "was not read",
            saved->path, id.second, saved->offset);
      }
    }
    saved_.clear();
    first_scan_done_ = true;
  }
  stats_.files = files_.size();
}

void FileTailer::Emit(Tracked& t, std::vector<AssembledEntry>& entries, int64_t now_ns,
                      std::vector<Record>* out, size_t* out_bytes) {
  for (auto& e : entries) {
    Record r;
    r.observed_ns = now_ns;
    if (e.timestamp_ns != 0) {
      r.timestamp_ns = e.timestamp_ns;
    } else {
      r.timestamp_ns = now_ns;
      r.flags |= kFlagTimestampMissing;
    }
    r.service = t.service;
    r.instance = t.instance;
    FileFormat f = t.assembler->format();
    r.source = t.kubernetes ? "k8s" : f == FileFormat::kDocker ? "docker" : "file";
    MakeValidUtf8(&e.text);
    r.level = LevelFromMessage(e.text);
    r.message = std::move(e.text);
    r.attributes = t.attributes;
    if (!e.stream.empty()) r.attributes.push_back({"stream", std::move(e.stream)});
    if (!e.parse_error.empty()) {
      ++stats_.parse_errors;
      spdlog::warn("lode files: {}: a line near offset {} kept as plain text: {}", t.path, t.offset,
                   e.parse_error);
      MakeValidUtf8(&e.parse_error);
      r.attributes.push_back({"parse_error", std::move(e.parse_error)});
    }
    *out_bytes += r.message.size() + 64;
    out->push_back(std::move(r));
    ++stats_.entries;
  }
  entries.clear();
}

bool FileTailer::ReadFile(Tracked& t, int64_t now_ns, std::vector<Record>* out, size_t max_records,
                          size_t max_bytes, size_t* out_bytes) {
  std::vector<AssembledEntry> entries;
  struct stat st {};
  if (fstat(t.fd, &st) != 0) return false;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  bool rewritten = false;
  if (size != t.last_size && t.fp_len > 0 && size >= t.fp_len) {
    // Truncated and written again past our offset between two polls: the
    // first bytes are no longer the ones we read.
    rewritten = Fingerprint(t.fd, t.fp_len) != t.fp;
  }
  t.last_size = size;
  if (size < t.offset || rewritten) {
    // Truncated in place (copytruncate): what is held is complete, the rest starts over.
    ++stats_.truncations;
    spdlog::info("lode files: {} was truncated ({} → {} bytes); reading from 0", t.path, t.offset,
                 size);
    t.assembler->Flush(now_ns, true, &entries);
    Emit(t, entries, now_ns, out, out_bytes);
    t.offset = 0;
    t.fp_len = 0;
    t.fp = 0;
  }
  const size_t padding = simdjson::SIMDJSON_PADDING;
  bool grew = false;
  while (out->size() < max_records && *out_bytes < max_bytes && t.offset < size) {
    // A chunk holds a whole line of max_line_bytes and its "\n", or shows the line is longer.
    size_t want = static_cast<size_t>(std::min<uint64_t>(
        std::max(options_.read_chunk_bytes, options_.max_line_bytes + 1), size - t.offset));
    if (!ReadAt(t.fd, t.offset, want, &buf_, padding).ok()) break;
    std::string_view data(buf_.data(), buf_.size() - padding);
    if (data.empty()) break;
    size_t pos = 0;
    while (pos < data.size() && out->size() < max_records && *out_bytes < max_bytes) {
      size_t nl = data.find('\n', pos);
      size_t line_end, next;  // the line is [pos, line_end); the next starts at `next`
      if (nl == std::string_view::npos) {
        // An unterminated line: wait for its end, unless it is already too
        // long, or the file is finished (rotated away and idle).
        size_t rest = data.size() - pos;
        bool finished = t.gone && now_ns - t.last_growth_ns >= options_.rotate_grace_ns &&
                        t.offset + rest == size;
        if (rest <= options_.max_line_bytes && !finished) break;
        line_end = next = pos + std::min(rest, options_.max_line_bytes);
      } else if (nl - pos > options_.max_line_bytes) {
        line_end = next = pos + options_.max_line_bytes;  // cut; the rest is the next line
      } else {
        line_end = nl;
        next = nl + 1;
      }
      t.assembler->Feed(data.substr(pos, line_end - pos), now_ns, &entries);
      size_t consumed = next - pos;
      t.offset += consumed;
      stats_.bytes_read += consumed;
      pos += consumed;
      grew = true;
      Emit(t, entries, now_ns, out, out_bytes);
    }
    if (pos == 0) break;  // nothing complete in this chunk
  }
  if (grew || size > t.offset) t.last_growth_ns = grew ? now_ns : t.last_growth_ns;
  if (t.fp_len < kFingerprintBytes && t.offset > t.fp_len) {
    t.fp_len = std::min(t.offset, kFingerprintBytes);
    t.fp = Fingerprint(t.fd, t.fp_len);
  }
  bool idle = now_ns - t.last_growth_ns >= options_.rotate_grace_ns;
  if (t.gone && idle && t.offset >= size && out->size() < max_records) {
    t.assembler->Flush(now_ns, true, &entries);
    Emit(t, entries, now_ns, out, out_bytes);
    return false;
  }
  t.assembler->Flush(now_ns, false, &entries);
  Emit(t, entries, now_ns, out, out_bytes);
  return true;
}

size_t FileTailer::Poll(std::vector<Record>* out, size_t max_records, size_t max_bytes) {
  const int64_t now = options_.clock->NowNanos();
  if (!first_scan_done_ || now - last_scan_ns_ >= options_.scan_interval_ns) Scan(now);
  const size_t before = out->size();
  size_t bytes = 0;
  if (files_.empty()) return 0;
  next_file_ %= files_.size();
  std::vector<bool> keep(files_.size(), true);
  for (size_t k = 0; k < files_.size(); ++k) {
    size_t i = (next_file_ + k) % files_.size();
    if (out->size() >= max_records || bytes >= max_bytes) {
      next_file_ = i;  // the next poll starts with the file that did not get its turn
      break;
    }
    keep[i] = ReadFile(*files_[i], now, out, max_records, max_bytes, &bytes);
  }
  // Finished files leave only once their last records are out, i.e. now: the
  // caller's next checkpoint no longer needs them.
  size_t w = 0;
  for (size_t i = 0; i < files_.size(); ++i) {
    if (keep[i]) files_[w++] = std::move(files_[i]);
  }
  files_.resize(w);
  stats_.files = files_.size();
  return out->size() - before;
}

std::string FileTailer::Checkpoint() const {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("version").Int(1);
  w.Key("files").BeginArray();
  auto entry = [&w](const std::string& path, const std::string& real_path, uint64_t dev,
                    uint64_t ino, uint64_t offset, uint64_t fp_len, uint32_t fp,
                    std::string_view state) {
    w.BeginObject();
    w.Key("path").String(path);
    w.Key("real_path").String(real_path);
    w.Key("dev").Uint(dev);
    w.Key("ino").Uint(ino);
    w.Key("offset").Uint(offset);
    w.Key("fp_len").Uint(fp_len);
    w.Key("fp").Uint(fp);
    w.Key("state").Raw(state);
    w.EndObject();
  };
  std::string state;
  for (const auto& t : files_) {
    state.clear();
    JsonWriter sw(&state);
    t->assembler->SaveState(&sw);
    entry(t->path, t->real_path, t->dev, t->ino, t->offset, t->fp_len, t->fp, state);
  }
  // Positions read from the checkpoint whose files were not found yet stay.
  for (const auto& [id, s] : saved_) {
    entry(s->path, s->real_path, id.first, id.second, s->offset, s->fp_len, s->fp, s->state);
  }
  w.EndArray();
  w.EndObject();
  return out;
}

TailerStats FileTailer::stats() const {
  return stats_;
}

}  // namespace lode
