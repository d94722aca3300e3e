// Segment write, open, read and query speed on realistic records (the simulated fleet, parsed
// by the JSON pipeline parser), and the segment's size against the raw NDJSON.
//
//   LODE_SEGMENT_BENCH_ROWS   records in the segment (default 1,000,000)
//   LODE_SEGMENT_BENCH_ZSTD=1 also runs `zstd -19` on the NDJSON and reports its size (slow)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "common/test_util.h"
#include "gen/fleet.h"
#include "parse/json_record.h"
#include "storage/segment.h"

namespace lode {
namespace {

constexpr int64_t kStart = 1731596464123456789;  // 2024-11-14T15:01:04.123456789Z

struct Corpus {
  TempDir dir;
  std::vector<Record> records;
  uint64_t ndjson_bytes = 0;
  std::string path;
  std::shared_ptr<const Segment> segment;
};

size_t Rows() {
  const char* env = std::getenv("LODE_SEGMENT_BENCH_ROWS");
  return env ? static_cast<size_t>(std::strtoull(env, nullptr, 10)) : 1000000;
}

// The records of an ingest of Rows() lines at ~10k lines/s, in HTTP batches of 1000 lines
// (observed time = batch arrival).
Corpus* MakeCorpus() {
  auto* c = new Corpus;
  const size_t n = Rows();
  FleetGenerator gen(FleetOptions{});
  JsonRecordParser parser;
  c->records.resize(n);
  std::string line;
  const bool keep_ndjson = std::getenv("LODE_SEGMENT_BENCH_ZSTD") != nullptr;
  const std::string ndjson_path = c->dir.path() + "/lines.ndjson";
  std::ofstream ndjson;
  if (keep_ndjson) ndjson.open(ndjson_path);
  int64_t ts = kStart;
  for (size_t i = 0; i < n; ++i) {
    line.clear();
    ts += 1 + static_cast<int64_t>((i * 2654435761u) % 200000);  // mean 100 us
    gen.Next(ts, &line);
    c->ndjson_bytes += line.size() + 1;
    if (keep_ndjson) ndjson << line << '\n';
    const size_t size = line.size();
    line.append(JsonRecordParser::kPadding, ' ');
    ParseContext ctx;
    ctx.observed_ns = kStart + static_cast<int64_t>(i / 1000) * 100000000 + 250000000;
    ctx.tenant = "acme";
    if (!parser.ParseObject(std::string_view(line.data(), size), ctx, &c->records[i]).ok()) {
      std::abort();
    }
  }
  c->path = c->dir.path() + "/segment";
  SegmentMeta meta;
  meta.id = 1;
  meta.tenant = "acme";
  const auto t0 = std::chrono::steady_clock::now();
  Status s = WriteSegment(Env::Default(), c->path, meta, c->records);
  const double write_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) {
    std::cerr << s.ToString() << "\n";
    std::abort();
  }
  auto seg = Segment::Open(Env::Default(), c->path);
  if (!seg.ok()) std::abort();
  c->segment = *seg;

  // Size report: sections from the footer (docs/formats/segment.md).
  std::string file;
  if (!Env::Default()->ReadFile(c->path, &file).ok()) std::abort();
  auto section = [&](int i) {
    uint64_t v;
    std::memcpy(&v, file.data() + file.size() - 188 + static_cast<size_t>(i) * 32 + 8, 8);
    return v;
  };
  const double rows = static_cast<double>(n);
  std::printf("segment: %zu records, %zu blocks, %.1f MB, %.2f B/record (NDJSON %.1f B/record)\n",
              n, c->segment->blocks().size(), static_cast<double>(file.size()) / 1e6,
              static_cast<double>(file.size()) / rows, static_cast<double>(c->ndjson_bytes) / rows);
  std::printf("  text index %.2f%%, label index %.3f%%, directory %.3f%% of the file\n",
              100.0 * static_cast<double>(section(2)) / static_cast<double>(file.size()),
              100.0 * static_cast<double>(section(3)) / static_cast<double>(file.size()),
              100.0 * static_cast<double>(section(0)) / static_cast<double>(file.size()));
  std::printf("  first write (cold): %.3f s, %.2f M records/s\n", write_s, rows / write_s / 1e6);
  if (keep_ndjson) {
    ndjson.close();
    const std::string cmd = "zstd -q -19 -T1 -f '" + ndjson_path + "' -o '" + ndjson_path + ".zst'";
    if (std::system(cmd.c_str()) == 0) {
      const auto z = std::filesystem::file_size(ndjson_path + ".zst");
      std::printf("  zstd -19 of the NDJSON: %.1f MB, %.2f B/record; segment/zstd = %.3f\n",
                  static_cast<double>(z) / 1e6, static_cast<double>(z) / rows,
                  static_cast<double>(file.size()) / static_cast<double>(z));
    }
  }
  std::fflush(stdout);
  return c;
}

// The same records in blocks of 512 rows: ~8x the blocks, for the cost of Open and the index
// size as blocks get smaller.
struct SmallBlocks {
  std::string path;
};

SmallBlocks* MakeSmallBlocks(Corpus& c) {
  auto* s = new SmallBlocks;
  s->path = c.dir.path() + "/small-blocks";
  SegmentMeta meta;
  meta.tenant = "acme";
  SegmentWriteOptions options;
  options.rows_per_block = 512;
  if (!WriteSegment(Env::Default(), s->path, meta, c.records, options).ok()) std::abort();
  auto seg = Segment::Open(Env::Default(), s->path);
  if (!seg.ok()) std::abort();
  std::string file;
  if (!Env::Default()->ReadFile(s->path, &file).ok()) std::abort();
  uint64_t text;
  std::memcpy(&text, file.data() + file.size() - 188 + 2 * 32 + 8, 8);
  std::printf("512-row blocks: %zu blocks, %.2f B/record, text index %.2f%% of the file\n",
              (*seg)->blocks().size(),
              static_cast<double>(file.size()) / static_cast<double>(c.records.size()),
              100.0 * static_cast<double>(text) / static_cast<double>(file.size()));
  std::fflush(stdout);
  return s;
}

Corpus& GetCorpus() {
  // Destroyed at exit, which removes the temporary directory and the segments in it.
  static const std::unique_ptr<Corpus> corpus(MakeCorpus());
  return *corpus;
}

void BM_SegmentWrite(benchmark::State& state) {
  Corpus& c = GetCorpus();
  SegmentMeta meta;
  meta.tenant = "acme";
  SegmentWriteOptions options;
  options.zstd_level = static_cast<int>(state.range(0));
  const std::string path = c.dir.path() + "/written";
  for (auto _ : state) {
    Status s = WriteSegment(Env::Default(), path, meta, c.records, options);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.counters["bytes/record"] =
      static_cast<double>(std::filesystem::file_size(path)) / static_cast<double>(c.records.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.records.size()));
}
BENCHMARK(BM_SegmentWrite)->Arg(9)->Arg(3)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(2);

void BM_SegmentOpen(benchmark::State& state) {
  Corpus& c = GetCorpus();
  for (auto _ : state) {
    auto seg = Segment::Open(Env::Default(), c.path);
    if (!seg.ok()) state.SkipWithError(seg.status().ToString().c_str());
    benchmark::DoNotOptimize(seg);
  }
}
BENCHMARK(BM_SegmentOpen)->Unit(benchmark::kMicrosecond);

void BM_SegmentOpenSmallBlocks(benchmark::State& state) {
  static const std::unique_ptr<SmallBlocks> small(MakeSmallBlocks(GetCorpus()));
  for (auto _ : state) {
    auto seg = Segment::Open(Env::Default(), small->path);
    if (!seg.ok()) state.SkipWithError(seg.status().ToString().c_str());
    benchmark::DoNotOptimize(seg);
  }
  ScanSpec spec;
  spec.tenant = "acme";
  spec.required_substrings = {std::string(kNeedleWord)};
  auto seg = Segment::Open(Env::Default(), small->path);
  if (seg.ok()) {
    state.counters["blocks"] = static_cast<double>((*seg)->blocks().size());
    state.counters["needle_candidates"] = static_cast<double>((*seg)->CandidateBlocks(spec).size());
  }
}
BENCHMARK(BM_SegmentOpenSmallBlocks)->Unit(benchmark::kMicrosecond);

// Every block with the given columns, into one reused vector (how Scan reads).
void BM_SegmentReadBlocks(benchmark::State& state) {
  const Segment& seg = *GetCorpus().segment;
  const auto columns = static_cast<uint32_t>(state.range(0));
  std::vector<Record> out;
  uint64_t rows = 0;
  for (auto _ : state) {
    for (uint32_t b = 0; b < seg.blocks().size(); ++b) {
      Status s = seg.ReadBlock(b, columns, &out);
      if (!s.ok()) state.SkipWithError(s.ToString().c_str());
      rows += out.size();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(rows));
}
BENCHMARK(BM_SegmentReadBlocks)
    ->Arg(0)  // timestamp + level
    ->Arg(kColInstance)
    ->Arg(kColMessage)
    ->Arg(kColAll)
    ->Unit(benchmark::kMillisecond);

void BM_SegmentCandidateBlocks(benchmark::State& state) {
  const Segment& seg = *GetCorpus().segment;
  ScanSpec spec;
  spec.tenant = "acme";
  spec.required_substrings = {std::string(kNeedleWord)};
  size_t n = 0;
  for (auto _ : state) n = seg.CandidateBlocks(spec).size();
  state.counters["candidates"] = static_cast<double>(n);
  state.counters["blocks"] = static_cast<double>(seg.blocks().size());
}
BENCHMARK(BM_SegmentCandidateBlocks)->Unit(benchmark::kMicrosecond);

// Query shapes of DESIGN.md, on this one segment.
void BM_SegmentScan(benchmark::State& state) {
  const Segment& seg = *GetCorpus().segment;
  ScanSpec spec;
  spec.tenant = "acme";
  uint32_t columns = 0;
  switch (state.range(0)) {
    case 0:
      state.SetLabel("needle word");
      spec.required_substrings = {std::string(kNeedleWord)};
      columns = kColAll;
      break;
    case 1: state.SetLabel("count by level"); break;
    case 2:
      state.SetLabel("one service, errors");
      spec.services = {seg.services()[0]};
      spec.level_mask = 1u << static_cast<int>(Level::kError);
      break;
    case 3:
      state.SetLabel("substring 'timeout'");
      spec.required_substrings = {"timeout"};
      columns = kColMessage;
      break;
  }
  size_t n = 0;
  for (auto _ : state) {
    n = 0;
    Status s = seg.Scan(
        spec, [&](const Record&) { return ++n, true; }, columns);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.counters["matches"] = static_cast<double>(n);
  state.counters["blocks"] = static_cast<double>(seg.CandidateBlocks(spec).size());
}
BENCHMARK(BM_SegmentScan)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lode
