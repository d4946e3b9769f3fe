#!/usr/bin/env bash
# Clients reconnect by themselves when the coordinator restarts: the first
# coordinator is killed with SIGKILL in round 2 (held there by a fourth client
# that vanishes and a long deadline); a new one binds the same port, and the
# three surviving client processes join it and finish its run.
source "$(dirname "$0")/lib_it.sh"
common=(--client-lr 0.1 --eval-deadline $((10 * SLOW)) --join-timeout $((60 * SLOW)) --plaintext)
start_coordinator first "${common[@]}" --min-clients 4 --rounds 50 --train-deadline 600 --metrics "$WORK/first.csv"
FIRST_PORT=$PORT
for i in 0 1 2; do
    start_client "member-$i" --plaintext --dataset wdbc --partitions 4 --partition-index $i --partition iid --rejoin 1 --heartbeat 0.5
done
start_client "member-3" --plaintext --dataset wdbc --partitions 4 --partition-index 3 --partition iid --exit-during-round 2
for _ in $(seq 1 $((300 * SLOW))); do
    [ -f "$WORK/first.csv" ] && [ "$(wc -l < "$WORK/first.csv")" -ge 2 ] && break
    sleep 0.1
done
[ "$(wc -l < "$WORK/first.csv")" -ge 2 ] || fail "first coordinator never finished a round"
kill -9 "$COORD_PID"
wait "$COORD_PID" 2>/dev/null || true
sleep 0.5
"$BIN/fl-coordinator" --bind "tcp://127.0.0.1:$FIRST_PORT" "${common[@]}" --min-clients 3 --rounds 2 \
    --train-deadline $((10 * SLOW)) \
    --metrics "$WORK/second.csv" >"$WORK/second.out" 2>"$WORK/second.log" &
SECOND=$!
PIDS+=("$SECOND")
wait_pid "$SECOND" $((120 * SLOW)) || fail "second coordinator exited with $?"
[ "$(wc -l < "$WORK/second.csv")" -eq 3 ] || fail "second coordinator did not run its 2 rounds"
u2=$(csv_col "$WORK/second.csv" 2 updates)
[ "$u2" = 3 ] || fail "expected all 3 clients back in the second run, got $u2 updates"
grep -q "joining again" "$WORK"/member-*.log || fail "no client logged that it rejoined"
grep -q "finished after 50" "$WORK"/member-0.log && fail "first run was not interrupted"
for i in 0 1 2; do
    for _ in $(seq 1 50); do grep -q "finished after" "$WORK/member-$i.log" && break; sleep 0.1; done
    grep -q "finished after" "$WORK/member-$i.log" || fail "member-$i did not finish the second run"
done
echo "1 passed, 0 failed"
