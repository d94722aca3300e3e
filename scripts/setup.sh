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
  chromium  # the browser tests/e2e/test_web_ui.mjs drives headless with playwright-core
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

# npm packages, from the npm registry, as each package-lock.json pins them;
# reinstalled only when the lock file changes: the web UI's build tools (web/,
# bundled into the binary at build time) and the real npm clients and the
# browser driver of the end-to-end tests (tests/clients).
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
npm_install() {  # DIR WHAT
  local dir="$ROOT/$1" stamp want
  stamp="$dir/node_modules/.lode-lock-sha256"
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "$NAME: installing $2 ($1)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  else
    echo "$NAME: $2 present"
  fi
}
npm_install web "the web UI's npm packages"
npm_install tests/clients "the npm test clients"
