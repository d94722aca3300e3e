# Lode — the two commands that matter: `make run` and `make test`.
#
#   make run        install dependencies, build, start lode with a simulated fleet
#   make test       install dependencies, build, run every test (unit, ASan+UBSan, e2e)
#   make build      build build/lode (RelWithDebInfo)
#   make bench      ingest and query benchmarks (bench/README.md)
#   make bench-patterns  pattern mining through the HTTP API, scored on LogHub
#   make bench-protocols ingest throughput per protocol (NDJSON, Loki, OTLP, ES bulk, syslog, files)
#   make bench-alerts    alert latency (ingest → webhook) and the ingest cost of 100 rules
#   make bench-web       the web UI in headless Chromium: first view, 100,000 rows, live tail
#   make test-long  soak and crash-loop tests that take longer than `make test`
#   make format     clang-format the sources

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
GENERATOR  := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
CMAKE_ARGS ?=

.PHONY: all setup build configure test test-unit test-asan test-e2e test-long run bench bench-patterns bench-protocols bench-alerts bench-web format tidy clean

all: build

setup:
	@./scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLODE_WERROR=ON $(CMAKE_ARGS)

configure: $(BUILD)/CMakeCache.txt

build: setup configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900
	$(MAKE) test-asan

# The unit tests again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: setup
	cmake -S . -B $(ASAN_BUILD) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=Debug -DLODE_WERROR=ON \
	  -DLODE_SANITIZE=ON -DLODE_BUILD_BENCH=OFF -DLODE_WEB_UI=OFF -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
	  $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target lode_unit_tests
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -L unit

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

test-e2e: build
	cd $(BUILD) && ctest --output-on-failure -L e2e

test-long: build
	LODE_LONG=1 python3 tests/e2e/test_crash_recovery.py --lode $(BUILD)/lode --rounds 50

run: build
	@./scripts/run.sh $(BUILD)/lode

bench: build
	@./scripts/setup.sh --bench
	@./bench/ingest_bench.sh $(BUILD)/lode
	@./bench/storage_bench.sh $(BUILD)/lode $${LODE_BENCH_LINES:-10000000}

bench-patterns: build
	@python3 bench/patterns_bench.py $(BUILD)/lode

bench-protocols: build
	@python3 bench/protocols_bench.py $(BUILD)/lode --lines $${LODE_BENCH_LINES:-300000}

bench-alerts: build
	@python3 bench/alert_bench.py $(BUILD)/lode

bench-web: build
	@node bench/web_ui_bench.mjs --lode $(BUILD)/lode

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h')

tidy: configure
	clang-tidy -p $(BUILD) $$(git ls-files 'src/*.cc')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
