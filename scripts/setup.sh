#!/usr/bin/env bash
# Installs every build and test dependency of Lode from Debian packages;
# with --bench, also what only the benchmarks need (ClickHouse server and
# client as the peer database, hyperfine; its system service is not used:
# bench/storage_bench.sh starts its own server on loopback).
# Idempotent: packages already present are skipped (apt-get update runs only
# when something is missing); uses sudo when not root.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache mold git
  clang-format clang-tidy
  # libraries
  libboost1.81-dev libsimdjson-dev libzstd-dev zlib1g-dev libre2-dev
  libcli11-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libsnappy-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # end-to-end tests and benchmarks
  python3 python3-websocket curl zstd ripgrep procps
  bsdutils rsyslog  # logger and rsyslogd: real syslog clients for tests/e2e/test_syslog.py
  prometheus-alertmanager  # a real Alertmanager for tests/e2e/test_alerting.py (it starts
                           # /usr/bin/prometheus-alertmanager itself; the system service is not used)
)
NAME=setup
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(clickhouse-server clickhouse-client hyperfine)
  NAME=setup-bench
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js runs the real npm clients of the end-to-end tests (tests/clients);
# Debian's, unless a node is installed already (with its own npm).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  for p in nodejs npm; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "$NAME: all ${#PACKAGES[@]} packages present"
else
  echo "$NAME: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The npm clients, from the npm registry, as package-lock.json pins them;
# reinstalled only when the lock file changes.
CLIENTS="$(cd "$(dirname "$0")/.." && pwd)/tests/clients"
STAMP="$CLIENTS/node_modules/.lode-lock-sha256"
WANT=$(sha256sum "$CLIENTS/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "$NAME: installing the npm test clients (tests/clients)"
  (cd "$CLIENTS" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$WANT" > "$STAMP"
else
  echo "$NAME: npm test clients present"
fi
