#!/usr/bin/env bash
# Multi-core figures for docs/BENCHMARKS.md on a many-core machine: one-core kernel rows
# (fastcdc crate, gearhash crate, every kernel of ours), the multi-core boundary search
# on one 1 GiB buffer at 2..N threads, and ChunkStream with and without read-ahead.
# Usage: scripts/bench-scaling.sh [CHUNKER_BINARY] [OUT_DIR]   (a few minutes)
set -euo pipefail
B=${1:-target/release/chunker}
OUT=${2:-.}
mkdir -p "$OUT"
N=$(nproc)
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpus: $N"
  grep -m1 'model name' /proc/cpuinfo
  echo "simd: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512bw|avx512vbmi|sha_ni)$' | tr '\n' ' ')"
} | tee "$OUT/machine.txt"
"$B" bench cdc --size 256M --repeat 5 --preset small --threads 1 | tee "$OUT/cdc-1core.txt"
t=2
while [ "$t" -le "$N" ]; do
  data=random
  [ "$t" -eq 2 ] && data=all
  "$B" bench cdc --size 1G --repeat 3 --preset small --data "$data" --threads "$t" \
    | grep -E '^#|threads=|kernel:streams ' | tee "$OUT/cdc-1g-t$t.txt"
  t=$((t * 2))
done
"$B" bench stream --size 256M --repeat 5 --data random | tee "$OUT/stream.txt"
