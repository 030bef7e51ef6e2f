#!/usr/bin/env bash
# The project's test command (README): set up, then formatting, lints, every test,
# and a smoke run of the benchmark CLI. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# setup.sh installed Ceph's radosgw: the S3 tests must run, not skip (crates/chunker-store/tests/s3.rs).
export CHUNKER_REQUIRE_S3=1

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test (every kernel this CPU supports; skipped ones say so)"
cargo test --workspace --locked
cargo test -p chunker --locked --features tokio --test async_stream --example http_upload
# The pipeline's metrics (feature `metrics`, off by default) against a real recorder.
cargo test -p chunker --locked --features metrics --test pipeline_metrics

echo "== Elixir bindings: mix test (builds crates/chunker-nif with cargo)"
(cd elixir && export HOME="${HOME:-/tmp}" && mix format --check-formatted && MIX_ENV=test mix test)

echo "== chunker bench smoke run (not a measurement)"
cargo run --release --locked -q -p chunker-cli -- bench cdc --size 4M --repeat 1 --preset small
cargo run --release --locked -q -p chunker-cli -- bench stream --size 8M --repeat 1 --data text

echo "== fuzz targets, briefly (${FUZZ_SECONDS:-10}s each)"
scripts/fuzz.sh

echo "== all tests passed"
