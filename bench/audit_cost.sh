#!/usr/bin/env bash
# What auditing a document view costs: the same view, on the same seeded
# data (see content.sh), by the normal build and by a benchmark-only build
# that writes no event of a read (feature `bench-unaudited`), alternating
# runs so that both see the same machine. Prints each run and the ratio of
# the medians (the audit issue asks for at least 0.90).
#
#   bench/audit_cost.sh                 # 3 runs each, 10 s, 32 connections
#   RUNS=5 DUR=15s bench/audit_cost.sh
#   KEEP_UNAUDITED=1 bench/audit_cost.sh # reuse the unaudited build as it is
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${DUR:-10s}"; RUNS="${RUNS:-3}"; CONNS="${CONNS:-32}"; PORT="${PORT:-18445}"
SEED_DIR="${SEED_DIR:-/tmp/turva-bench-content}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
[ -f "$SEED_DIR/seed.json" ] || { echo "seed first: CASES=doc bench/content.sh" >&2; exit 1; }
TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/turva-target}"
CARGO_TARGET_DIR="$TARGET" cargo build --release -q -p turva
[ -n "${KEEP_UNAUDITED:-}" ] || CARGO_TARGET_DIR="$TARGET-unaudited" cargo build --release -q -p turva --features bench-unaudited
WORK=$(mktemp -d /tmp/turva-bench.XXXXXX)
SERVER=
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
export TURVA_LOG_LEVEL=warn
# shellcheck source=bench/lib.sh
. bench/lib.sh
run_build() { # binary label
  start_server "$1" --data "$SEED_DIR/data"
  python3 bench/content_lines.py "https://127.0.0.1:$PORT" "$SEED_DIR/seed.json" "$WORK" >/dev/null
  # A first run warms the page caches (1M documents); the second counts.
  run_case doc get.lua "$CONNS" 1 > /dev/null
  run_case doc get.lua "$CONNS" 1 | sed "s/^/$2 /" | tee -a "$WORK/results"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
}
for _ in $(seq "$RUNS"); do
  run_build "$TARGET/release/turva" audited
  run_build "$TARGET-unaudited/release/turva" unaudited
done
median() { grep "^$1 " "$WORK/results" | awk '{ for (i = 1; i <= NF; i++) if ($i == "req/s") print $(i-1) }' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
a=$(median audited); u=$(median unaudited)
echo "median req/s: audited $a, unaudited $u, ratio $(awk -v a="$a" -v u="$u" 'BEGIN { printf "%.2f", a / u }')"
