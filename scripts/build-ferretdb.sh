#!/usr/bin/env bash
# Builds FerretDB (PostgreSQL handler) from docker/ferretdb into the user's cache,
# once: a second run finds the binary and returns at once. The binary's name says
# its handler, so a launcher built for the former SQLite handler is never reused.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${SIGHTLINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sightline}"
binary="$cache/ferretdb-v1.24.2-postgresql"
if [ -x "$binary" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-ferretdb: Go is required to build FerretDB (https://go.dev/doc/install)" >&2
  exit 1
fi
mkdir -p "$cache"
echo "building FerretDB v1.24.2 into $binary (first time only; takes a few minutes)"
cd "$root/docker/ferretdb"
GOFLAGS=-mod=mod go build -trimpath -o "$binary.tmp" .
mv "$binary.tmp" "$binary"
