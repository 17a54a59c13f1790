#!/usr/bin/env bash
# Load test of the content endpoints at scale, over HTTPS on 127.0.0.1:
# a document view, a folder listing of 50 children and a search, each
# writing its audit event. The data (one company with 1,000,000 documents
# in 10,000 folders, 1,000 members and 10,000 shares, plus 99 small
# companies) is seeded in bulk through the store by `turva-bench-seed`
# into SEED_DIR (kept between runs: seeding takes minutes).
#
#   bench/content.sh                       # seed if needed, then every case
#   SEED_DIR=/tmp/bench-data DUR=10s REPS=2 bench/content.sh
#   DOCS=100000 bench/content.sh           # a smaller seed for a quick look
#   CASES=search bench/content.sh          # only some cases
#   PG_URL=postgres://… SEED_DIR=/tmp/turva-bench-pg bench/content.sh   # PostgreSQL
#
# Each case runs REPS times at CONNS (32) connections for throughput and
# once at 4 connections for latency; the server's CPU milliseconds per
# request come from /proc (wrk shares the two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${DUR:-10s}"; REPS="${REPS:-2}"; CONNS="${CONNS:-32}"; PORT="${PORT:-18444}"
SEED_DIR="${SEED_DIR:-/tmp/turva-bench-content}"; DOCS="${DOCS:-1000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/turva-target}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p turva -p turva-bench
BIN="$CARGO_TARGET_DIR/release/turva"
CONFIG=()
if [ -n "${PG_URL:-}" ]; then
  mkdir -p "$SEED_DIR"
  printf '[database]\nurl = "%s"\n' "$PG_URL" > "$SEED_DIR/turva.toml"
  CONFIG=(--config "$SEED_DIR/turva.toml")
fi
if [ ! -f "$SEED_DIR/seed.json" ]; then
  rm -rf "$SEED_DIR/data"
  echo "seeding $DOCS documents into $SEED_DIR …"
  /usr/bin/time -f "seeded in %e s, peak RSS %M KiB" \
    "$CARGO_TARGET_DIR/release/turva-bench-seed" --data "$SEED_DIR/data" "${CONFIG[@]}" --out "$SEED_DIR/seed.tmp" --docs "$DOCS"
  mv "$SEED_DIR/seed.tmp" "$SEED_DIR/seed.json"
fi
WORK=$(mktemp -d /tmp/turva-bench.XXXXXX)
SERVER=
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
export TURVA_LOG_LEVEL=warn
# shellcheck source=bench/lib.sh
. bench/lib.sh
start_server "$BIN" --data "$SEED_DIR/data" "${CONFIG[@]}"
python3 bench/content_lines.py "https://127.0.0.1:$PORT" "$SEED_DIR/seed.json" "$WORK"
for c in ${CASES:-doc list search}; do
  run_case "$c" get.lua "$CONNS" "$REPS"
  run_case "$c" get.lua 4 1
done
echo "RSS: $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$SERVER/status), peak $(awk '/VmHWM/ {print $2/1024 " MiB"}' /proc/$SERVER/status)"
