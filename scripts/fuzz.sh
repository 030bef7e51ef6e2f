#!/usr/bin/env bash
# Run every cargo-fuzz target briefly (default 10 s each; FUZZ_SECONDS to change).
# Needs cargo-fuzz (scripts/setup.sh installs it). cargo-fuzz needs nightly features:
# with only a stable toolchain, RUSTC_BOOTSTRAP=1 enables them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-10}"
export RUSTC_BOOTSTRAP=1
targets=$(cargo fuzz list)
for t in $targets; do
  echo "== fuzz $t (${secs}s)"
  mkdir -p "fuzz/corpus/$t"
  cargo fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 2>&1 | tail -n 3
done
