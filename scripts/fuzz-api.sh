#!/usr/bin/env bash
# Property-based fuzzing of the HTTP API with schemathesis (PyPI), driven
# by the server's own OpenAPI description: starts a debug server on a fresh
# data directory on 127.0.0.1, signs in a company owner, and checks that no
# generated request gets a server error or an answer the description does
# not document.   MAX_TIME=150 scripts/fuzz-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/turva-target}"
PORT="${PORT:-18556}"; MAX_TIME="${MAX_TIME:-150}"
VENV="$CARGO_TARGET_DIR/fuzz-venv"
[ -x "$VENV/bin/st" ] || { python3 -m venv "$VENV"; "$VENV/bin/pip" install -q --disable-pip-version-check schemathesis; }
cargo build -q -p turva
T="$CARGO_TARGET_DIR/debug/turva"
WORK=$(mktemp -d /tmp/turva-fuzz.XXXXXX)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
PW='Kuusi kissaa kiipesi puuhun!'
TURVA_LOG_LEVEL=warn "$T" --data "$WORK/d" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sk "https://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
printf '%s\n' "$PW" | "$T" --data "$WORK/d" operator create --email op@example.test >/dev/null
"$T" --data "$WORK/d" company create --name "Fuzz Oy" --owner-email owner@example.test >/dev/null
TOKEN=$(perl -MMIME::QuotedPrint -0777 -ne 'print decode_qp($_)' "$WORK"/d/outbox/*.eml | grep -o 'token=[A-Za-z0-9_-]*' | head -1 | cut -d= -f2)
curl -sk "https://127.0.0.1:$PORT/api/v1/auth/accept-invite" -H 'content-type: application/json' \
  -d "{\"token\":\"$TOKEN\",\"password\":\"$PW\",\"name\":\"Owner\"}" >/dev/null
SESSION=$(curl -sk "https://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"owner@example.test\",\"password\":\"$PW\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
"$T" openapi > "$WORK/openapi.json"
# Sign-out, password change and session revocation would end the fuzzer's own session.
"$VENV/bin/st" run "$WORK/openapi.json" --url "https://127.0.0.1:$PORT" --tls-verify false \
  -H "Authorization: Bearer $SESSION" --max-time "$MAX_TIME" -w 2 \
  --checks not_a_server_error,content_type_conformance,status_code_conformance,response_schema_conformance \
  --exclude-path /api/v1/auth/logout --exclude-path /api/v1/me/password --exclude-path '/api/v1/me/sessions/{id}'
