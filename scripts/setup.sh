#!/usr/bin/env bash
# Install everything the tests need, idempotently: Debian packages (Nix, the format
# oracle) and Rust toolchain components. Safe to run again; does nothing when present.
set -euo pipefail

# apt-get install [--OPTION…] PACKAGE… as root; nothing when no package is named.
apt_install() {
  local opts=()
  while [[ ${1:-} == --* ]]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] || return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to apt-get install $*" >&2
    exit 1
  fi
  echo "setup: installing $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${opts[@]}" "$@" >/dev/null
}

need_apt=()
command -v nix-hash >/dev/null 2>&1 || need_apt+=(nix-bin)
# The reference codec CLIs for the compression interop tests (tool:package).
for pair in zstd:zstd xz:xz-utils bzip2:bzip2 lz4:lz4; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair#*:}")
done
# Erlang/OTP 25 (NIF 2.16) and Elixir for the NIF's ExUnit suite (elixir/).
command -v erl >/dev/null 2>&1 || need_apt+=(erlang-nox erlang-dev)
command -v mix >/dev/null 2>&1 || need_apt+=(elixir)
apt_install "${need_apt[@]}"

# Ceph's S3 gateway for the chunk store's S3 tests (scripts/rgw.sh starts a one-node
# cluster; ~30 s to install once), and Debian's boto3 to create their bucket (object_store
# cannot); only what the daemons need.
need_ceph=()
for pair in radosgw:radosgw ceph-mon:ceph-mon ceph-osd:ceph-osd ceph:ceph-common; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_ceph+=("${pair#*:}")
done
/usr/bin/python3 -c 'import boto3' >/dev/null 2>&1 || need_ceph+=(python3-boto3)
apt_install --no-install-recommends "${need_ceph[@]}"

if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c" || true
  done
fi

command -v cargo >/dev/null || { echo "setup: cargo not found" >&2; exit 1; }

# cargo-fuzz, for the brief fuzz runs of scripts/fuzz.sh (from crates.io, ~3 min once).
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "setup: installing cargo-fuzz"
  cargo install --locked -q cargo-fuzz
fi
echo "setup: ok ($(cargo --version); $(nix-hash --version 2>/dev/null || echo 'no nix-hash'))"
