# Shared by the bench scripts: run one wrk case against $SERVER on $PORT and
# print req/s, p50/p99, the server's CPU ms per request and its RSS.
# Needs WORK (holding <case>.txt input lines), SERVER, PORT and DUR.
cpu_ms() { awk '{print ($14+$15)*1000/'"$(getconf CLK_TCK)"'}' "/proc/$SERVER/stat"; }
run_case() { # name script [connections] [reps]
  local name=$1 script=$2 conns=${3:-$CONNS} reps=${4:-$REPS}
  for rep in $(seq "$reps"); do
    local before after out reqs
    before=$(cpu_ms)
    out=$(LINES_FILE="$WORK/$name.txt" wrk -t1 -c"$conns" -d"$DUR" --latency -s "bench/$script" "https://127.0.0.1:$PORT" 2>&1)
    after=$(cpu_ms)
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    printf '%-8s rep%s c%-3s %8s req/s  p50 %8s  p99 %8s  cpu %6.3f ms/req  rss %s  %s\n' "$name" "$rep" "$conns" \
      "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
      "$(echo "$out" | awk '$1=="50%" {print $2}')" "$(echo "$out" | awk '$1=="99%" {print $2}')" \
      "$(echo "$before $after $reqs" | awk '{ if ($3>0) print ($2-$1)/$3; else print 0 }')" \
      "$(awk '/VmRSS/ {printf "%.0fMiB", $2/1024}' "/proc/$SERVER/status")" \
      "$(echo "$out" | grep STATUS || true)"
    sleep 1
  done
}

# Starts the server (the command in "$@", then `serve`) on $PORT in the
# background as $SERVER, and waits until it answers (a first start after an
# upgrade may migrate a million rows).
start_server() {
  "$@" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1200); do
    curl -sk "https://127.0.0.1:$PORT/healthz" >/dev/null && return 0
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.5
  done
}
