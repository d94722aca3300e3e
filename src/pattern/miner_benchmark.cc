// Mining cost per message, on the simulated fleet's messages (one miner per
// service, as at ingest). Compare with ingest's CPU per line
// (bench/ingest_bench.sh: ~4.4 µs) to get mining's share.
#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

#include "gen/fleet.h"
#include "pattern/miner.h"

namespace lode {
namespace {

struct Corpus {
  std::vector<std::string> services;
  std::vector<std::string> messages;
};

const Corpus& FleetCorpus() {
  static const Corpus corpus = [] {
    Corpus c;
    FleetGenerator gen(FleetOptions{});
    std::string line;
    for (int i = 0; i < 200'000; ++i) {
      line.clear();
      GeneratedLine g = gen.Next(1'731'542'400'000'000'000 + i * 1'000'000LL, &line);
      c.services.emplace_back(g.service);
      c.messages.emplace_back(g.message);
    }
    return c;
  }();
  return corpus;
}

void BM_MineFleetMessages(benchmark::State& state) {
  const Corpus& c = FleetCorpus();
  size_t templates = 0;
  for (auto _ : state) {
    std::map<std::string, PatternMiner> miners;
    for (size_t i = 0; i < c.messages.size(); ++i) {
      benchmark::DoNotOptimize(miners[c.services[i]].Add(c.messages[i]));
    }
    templates = 0;
    for (const auto& [s, m] : miners) templates += m.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.messages.size()));
  state.counters["templates"] = static_cast<double>(templates);
}
BENCHMARK(BM_MineFleetMessages)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lode
