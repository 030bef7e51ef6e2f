#!/usr/bin/env bash
# Full-size benchmarks for docs/BENCHMARKS.md (minutes, not for CI). Each command
# measures our code and its peer in the same run. Usage: scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p chunker-cli
c=./target/release/chunker
echo "== $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) — $(nproc) CPUs"
tmp=$(mktemp -d -p "${TMPDIR:-/tmp}" chunker-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# A real NAR (the one Nix would write: our `nar pack` is byte-identical to
# `nix-store --dump`) of this machine's /usr/bin, at most 256 MiB, and its first 2 MiB.
"$c" nar pack /usr/bin | head -c $((256 << 20)) > "$tmp/usr-bin.nar" || true
head -c $((2 << 20)) "$tmp/usr-bin.nar" > "$tmp/usr-bin-2m.nar"
for preset in small medium; do
  # 256 MiB buffers (from memory) ...
  "$c" bench cdc --size 256M --repeat 5 --preset "$preset" --data all
  "$c" bench cdc --repeat 5 --preset "$preset" "$tmp/usr-bin.nar"
  # ... and 2 MiB ones (cache-resident, like ChunkStream's blocks).
  "$c" bench cdc --size 2M --repeat 31 --preset "$preset" --data all --threads 1
  "$c" bench cdc --repeat 31 --preset "$preset" --threads 1 "$tmp/usr-bin-2m.nar"
done
"$c" bench stream --size 256M --repeat 5 --data random
"$c" bench stream --size 256M --repeat 5 --data text
"$c" bench nix32
# Peak RSS of `chunker chunk` on a 2 GiB file, per preset.
f="$tmp/rss"
head -c $((2 << 30)) /dev/urandom > "$f"
for preset in small medium large; do
  /usr/bin/time -f "chunk --preset $preset: peak RSS %M KiB, %e s" "$c" chunk "$f" --preset "$preset" > /dev/null
done
