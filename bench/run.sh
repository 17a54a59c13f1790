#!/usr/bin/env bash
# Load test of the foundation endpoints over HTTPS on 127.0.0.1 with wrk.
# Builds the release binary, starts `turva serve` on a fresh data
# directory (SQLite) or PostgreSQL (PG_URL=postgres://…), seeds an
# operator, two companies and members through the CLI and the API, then
# runs each case REPS times and prints req/s, latency and the server's CPU
# milliseconds per request (utime+stime from /proc, the figure to compare
# with ../shared/peers/pocketbase, whose numbers were taken the same way).
#
#   bench/run.sh                 # all cases, 3 reps of 10 s, 32 connections
#   DUR=5s REPS=1 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${DUR:-10s}"; REPS="${REPS:-3}"; CONNS="${CONNS:-32}"; PORT="${PORT:-18443}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/turva-target}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p turva
BIN="$CARGO_TARGET_DIR/release/turva"
WORK=$(mktemp -d /tmp/turva-bench.XXXXXX)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
ARGS=(--data "$WORK/data")
if [ -n "${PG_URL:-}" ]; then printf '[database]\nurl = "%s"\n' "$PG_URL" > "$WORK/turva.toml"; ARGS+=(--config "$WORK/turva.toml"); fi
export TURVA_LOG_LEVEL=warn
"$BIN" "${ARGS[@]}" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sk "https://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
PW='Lumiukko sulaa keväällä 2026!'
printf '%s\n' "$PW" | "$BIN" "${ARGS[@]}" operator create --email op@bench.test >/dev/null
python3 bench/seed.py "https://127.0.0.1:$PORT" "$WORK" "$PW" "$BIN" "${ARGS[@]}"
# shellcheck source=bench/lib.sh
. bench/lib.sh
run_case me get.lua
run_case view get.lua
run_case denied get.lua
# Sign-in is argon2-bound; from one address at most 20 attempts may be in
# flight (the throttle counts pending attempts), so it runs with fewer
# connections: the figure is CPU per sign-in, as for the peer's login_c2.
run_case login login.lua "${LOGIN_CONNS:-4}"
echo "RSS: $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$SERVER/status), peak $(awk '/VmHWM/ {print $2/1024 " MiB"}' /proc/$SERVER/status)"
