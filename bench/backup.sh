#!/usr/bin/env bash
# Backups against restic, side by side on the same data (issue 7):
# the bench directory of bench/content.sh (1,000,000 documents, and the
# audit log its load runs left) copied to WORK_DIR, plus ATTACH files of
# ATTACH_BYTES random bytes uploaded through the API (1 GB by default).
#
#   1. a full backup: `turva backup run` and `restic backup` of the data
#      directory (the server stopped for both);
#   2. PERCENT % of the documents edited through the API, then a second
#      backup of each;
#   3. a whole restore of each into an empty directory;
#   4. one document moved to the trash and restored alone
#      (`turva backup restore ID --object`).
#
#   bench/backup.sh                        # needs the content seed
#   ATTACH=100 bench/backup.sh             # 100 MB of attachments
#   KEEP=1 bench/backup.sh                 # keep WORK_DIR for a rerun
set -euo pipefail
cd "$(dirname "$0")/.."
SEED_DIR="${SEED_DIR:-/tmp/turva-bench-content}"
WORK_DIR="${WORK_DIR:-/tmp/turva-bench-backup}"
ATTACH="${ATTACH:-1000}"; ATTACH_BYTES="${ATTACH_BYTES:-1048576}"; PERCENT="${PERCENT:-1}"
PORT="${PORT:-18445}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/turva-target}"
command -v restic >/dev/null || { echo "restic is needed (apt-get install restic)" >&2; exit 1; }
[ -f "$SEED_DIR/seed.json" ] || { echo "no seed in $SEED_DIR: run bench/content.sh first" >&2; exit 1; }
cargo build --release -q -p turva
BIN="$CARGO_TARGET_DIR/release/turva"
export TURVA_LOG_LEVEL=warn RESTIC_PASSWORD=bench-restic-password
WORK=$(mktemp -d /tmp/turva-bench.XXXXXX)
SERVER=
cleanup() { kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# shellcheck source=bench/lib.sh
. bench/lib.sh
DATA="$WORK_DIR/data"
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=; }
timed() { # label command…: prints seconds and peak RSS
  /usr/bin/time -f "$1: %e s wall, %U s user, %S s sys, peak RSS %M KiB" "${@:2}"
}
size() { du -sb "$1" | cut -f1; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

if [ ! -f "$WORK_DIR/ready" ]; then
  rm -rf "$WORK_DIR"; mkdir -p "$WORK_DIR"
  echo "copying $SEED_DIR/data …"
  cp -a "$SEED_DIR/data" "$DATA"
  start_server "$BIN" --data "$DATA"
  echo "uploading $ATTACH files of $ATTACH_BYTES bytes …"
  python3 bench/backup_data.py attach "https://127.0.0.1:$PORT" "$SEED_DIR/seed.json" "$ATTACH" "$ATTACH_BYTES"
  stop_server
  touch "$WORK_DIR/ready"
fi
rm -rf "$DATA/backups" "$DATA/keyring-copies" "$WORK_DIR/restic" "$WORK_DIR/restored" "$WORK_DIR/restic-restored"
echo "data directory: $(mb "$(size "$DATA")") (files $(mb "$(size "$DATA/files")"))"
restic init -q --repo "$WORK_DIR/restic"

echo "== full backup"
timed "turva full" "$BIN" --data "$DATA" backup run
timed "restic full" restic -q --repo "$WORK_DIR/restic" backup "$DATA" --exclude "$DATA/backups" --exclude "$DATA/keyring-copies"
T1=$(size "$DATA/backups"); R1=$(size "$WORK_DIR/restic")
echo "sizes: turva $(mb "$T1"), restic $(mb "$R1")"

echo "== $PERCENT % of documents changed"
start_server "$BIN" --data "$DATA"
python3 bench/backup_data.py change "https://127.0.0.1:$PORT" "$SEED_DIR/seed.json" "$PERCENT"
TRASHED=$(python3 bench/backup_data.py trash "https://127.0.0.1:$PORT" "$SEED_DIR/seed.json")
stop_server
timed "turva incremental" "$BIN" --data "$DATA" backup run
timed "restic incremental" restic -q --repo "$WORK_DIR/restic" backup "$DATA" --exclude "$DATA/backups" --exclude "$DATA/keyring-copies"
T2=$(size "$DATA/backups"); R2=$(size "$WORK_DIR/restic")
echo "added: turva $(mb $((T2 - T1))), restic $(mb $((R2 - R1)))"

echo "== one object"
LIST=$("$BIN" --data "$DATA" backup list)
FIRST=$(sed -n 1p <<<"$LIST")
timed "turva restore --object" "$BIN" --data "$DATA" backup restore "$FIRST" --object "$TRASHED"
echo "== whole restore"
ID=$(tail -n 1 <<<"$LIST")
timed "turva restore" "$BIN" --data "$DATA" backup restore "$ID" --into "$WORK_DIR/restored"
timed "restic restore" restic -q --repo "$WORK_DIR/restic" restore latest --target "$WORK_DIR/restic-restored"
echo "restored: turva $(mb "$(size "$WORK_DIR/restored")"), restic $(mb "$(size "$WORK_DIR/restic-restored")")"

rm -rf "$WORK_DIR/restored" "$WORK_DIR/restic-restored"
[ -n "${KEEP:-}" ] || rm -rf "$WORK_DIR"
