#!/usr/bin/env bash
# Chunk store figures for docs/BENCHMARKS.md ("Chunk store"): `store add` of a real NAR
# against `chunk --compress zstd` of the same file (the pipeline alone), alternated in
# one run, and `store cat` (every chunk decompressed and digest-checked, NarHash checked)
# from a local store. The row `chunk+narhash` (`chunk --compress zstd --stream-hash sha256`)
# is the like-for-like peer: the same pipeline with the NarHash that the store must compute.
# Usage: scripts/bench-store.sh [TREE] (default /usr/share/doc);
# REPEAT (default 5) runs of each, medians printed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p chunker-cli
c=$PWD/target/release/chunker
tree="${1:-/usr/share/doc}"
repeat="${REPEAT:-5}"
echo "== $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) — $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
tmp=$(mktemp -d -p "${TMPDIR:-/tmp}" chunker-bench-store.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
nar="$tmp/real.nar"
"$c" nar pack "$tree" > "$nar"
size=$(stat -c %s "$nar")
echo "NAR of $tree: $size bytes"
# Warm the page cache.
cat "$nar" > /dev/null
secs() { local s e; s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: > "$tmp/chunk.t"; : > "$tmp/chunk+narhash.t"; : > "$tmp/add.t"; : > "$tmp/cat.t"
for i in $(seq "$repeat"); do
  secs "$c" chunk --compress zstd --no-progress "$nar" >> "$tmp/chunk.t"
  secs "$c" chunk --compress zstd --stream-hash sha256 --no-progress "$nar" >> "$tmp/chunk+narhash.t"
  rm -rf "$tmp/s"; "$c" store --store "$tmp/s" init > /dev/null
  secs "$c" store --store "$tmp/s" --no-progress add "$nar" >> "$tmp/add.t"
done
key=$("$c" store --store "$tmp/s" add "$nar" --format json | sed 's/.*"key":"\([^"]*\)".*/\1/')
for i in $(seq "$repeat"); do
  secs "$c" store --store "$tmp/s" --no-progress cat "$key" >> "$tmp/cat.t"
done
for k in chunk chunk+narhash add cat; do
  m=$(median < "$tmp/$k.t")
  printf '%-34s median %6.3f s  %5.2f GB/s  (runs: %s)\n' \
    "$k" "$m" "$(echo "$size / $m / 1000000000" | bc -l)" "$(tr '\n' ' ' < "$tmp/$k.t")"
done
chunk=$(median < "$tmp/chunk.t"); add=$(median < "$tmp/add.t")
printf 'store add / chunk --compress zstd throughput ratio: %.2f\n' "$(echo "$chunk / $add" | bc -l)"
narhash=$(median < "$tmp/chunk+narhash.t")
printf 'store add / chunk --compress zstd --stream-hash sha256 throughput ratio: %.2f\n' "$(echo "$narhash / $add" | bc -l)"
"$c" store --store "$tmp/s" stats
