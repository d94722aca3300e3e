#!/usr/bin/env bash
# Installs the Debian packages that only the benchmarks need (bench/README.md):
# ClickHouse (server and client) as the peer database, ripgrep and zstd as the
# grep and compression baselines, hyperfine for ad-hoc timing.
# Idempotent: packages already present are skipped (apt-get update runs only when
# something is missing); uses sudo when not root. The ClickHouse package's system
# service is not used: bench/storage_bench.sh starts its own server on loopback.
set -euo pipefail

PACKAGES=(clickhouse-server clickhouse-client ripgrep zstd hyperfine)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-bench: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup-bench: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
