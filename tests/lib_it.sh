# Shared helpers for the integration tests (sourced, not run by ctest:
# ctest runs tests/it_*.sh only).
set -euo pipefail
BIN="${FL_BINARY_DIR:-build}/bin"
SRC="${FL_SOURCE_DIR:-.}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fl-it.XXXXXX")
PIDS=()
cleanup () {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail () { echo "FAIL: $*" >&2; for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
# Under the sanitizer build everything is slower: stretch deadlines.
SLOW=1
[ "${FL_SANITIZE:-0}" = 1 ] && SLOW=4
# start_coordinator NAME ARGS... : starts fl-coordinator, waits for its port, sets PORT.
# The port is below Linux's ephemeral range (32768-60999): tests that restart
# a coordinator on the same port must not race clients whose reconnecting
# sockets take ephemeral local ports (a TCP self-connect on loopback).
start_coordinator () {
    local name=$1; shift
    for attempt in 1 2 3 4 5; do
        local want=$((20000 + RANDOM % 12000))
        rm -f "$WORK/$name.port"
        "$BIN/fl-coordinator" --bind "tcp://127.0.0.1:$want" --port-file "$WORK/$name.port" "$@" \
            >"$WORK/$name.out" 2>"$WORK/$name.log" &
        COORD_PID=$!
        for _ in $(seq 1 200); do
            [ -s "$WORK/$name.port" ] && break
            kill -0 "$COORD_PID" 2>/dev/null || break
            sleep 0.05
        done
        if [ -s "$WORK/$name.port" ]; then
            PIDS+=("$COORD_PID")
            PORT=$(cat "$WORK/$name.port")
            return 0
        fi
        grep -q "cannot bind" "$WORK/$name.log" || fail "coordinator exited early"
    done
    fail "no free port for the coordinator"
}
# start_client NAME ARGS... : starts fl-client connected to $PORT
start_client () {
    local name=$1; shift
    "$BIN/fl-client" --connect "tcp://127.0.0.1:$PORT" --member "$name" "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    LAST_PID=$!
}
# wait_pid PID SECONDS : waits for exit, returns its status; fails on timeout
wait_pid () {
    local pid=$1 limit=$2 t=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 0.1; t=$((t + 1))
        [ $t -gt $((limit * 10)) ] && fail "process $pid still running after ${limit}s"
    done
    wait "$pid"
}
# csv_col FILE ROUND COLUMN : value of COLUMN in the row of ROUND
csv_col () {
    awk -F, -v r="$2" -v c="$3" 'NR==1{for(i=1;i<=NF;i++) h[$i]=i; next} $1==r{print $h[c]}' "$1"
}
