#!/usr/bin/env bash
# Full-size benchmarks for docs/BENCHMARKS.md (minutes, not for CI). Each command
# measures our code and its peer in the same run. Usage: scripts/bench.sh [core|all]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p chunker-cli
c=./target/release/chunker
echo "== $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) — $(nproc) CPUs"
for preset in small medium; do
  "$c" bench cdc --size 256M --repeat 5 --preset "$preset" --data random
  "$c" bench cdc --size 256M --repeat 5 --preset "$preset" --data text
done
"$c" bench stream --size 256M --repeat 5 --data random
"$c" bench stream --size 256M --repeat 5 --data text
"$c" bench nix32
# Peak RSS of `chunker chunk` on a 2 GiB file, per preset.
f=$(mktemp -p "${TMPDIR:-/tmp}" chunker-rss.XXXXXX)
trap 'rm -f "$f"' EXIT
head -c $((2 << 30)) /dev/urandom > "$f"
for preset in small medium large; do
  /usr/bin/time -f "chunk --preset $preset: peak RSS %M KiB, %e s" "$c" chunk "$f" --preset "$preset" > /dev/null
done
