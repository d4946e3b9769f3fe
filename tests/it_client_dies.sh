#!/usr/bin/env bash
# A client that dies in the middle of a round does not stop the round: the
# coordinator drops it at the deadline, aggregates the others, and goes on.
# One client exits abruptly when asked to train round 2; another is killed
# with SIGKILL during round 3.
source "$(dirname "$0")/lib_it.sh"
start_coordinator coord --min-clients 4 --rounds 4 --client-lr 0.1 --train-deadline $((3 * SLOW)) \
    --eval-deadline $((3 * SLOW)) --join-timeout $((30 * SLOW)) --metrics "$WORK/metrics.csv" --plaintext
for i in 0 1 2 3; do
    extra=()
    [ $i = 3 ] && extra=(--exit-during-round 2)
    start_client "member-$i" --plaintext --dataset wdbc --partitions 4 --partition-index $i --partition iid "${extra[@]}"
    [ $i = 2 ] && VICTIM=$LAST_PID
done
# SIGKILL member-2 as soon as round 2 is reported finished (it is then in round 3).
for _ in $(seq 1 $((600 * SLOW))); do
    [ -f "$WORK/metrics.csv" ] && [ "$(wc -l < "$WORK/metrics.csv")" -ge 3 ] && break
    sleep 0.1
done
kill -9 "$VICTIM" 2>/dev/null || true
wait_pid "$COORD_PID" $((120 * SLOW)) || fail "coordinator exited with $?"
[ "$(wc -l < "$WORK/metrics.csv")" -eq 5 ] || fail "expected 4 rounds in metrics.csv"
d2=$(csv_col "$WORK/metrics.csv" 2 dropped); u2=$(csv_col "$WORK/metrics.csv" 2 updates)
u4=$(csv_col "$WORK/metrics.csv" 4 updates); s4=$(csv_col "$WORK/metrics.csv" 4 skipped)
echo "round 2: $u2 updates, $d2 dropped; round 4: $u4 updates"
[ "$d2" = 1 ] && [ "$u2" = 3 ] || fail "round 2 should aggregate 3 updates and drop 1"
[ "$s4" = 0 ] && [ "$u4" -ge 2 ] || fail "round 4 should still aggregate the survivors"
grep -q "deadline passed" "$WORK/coord.log" || fail "coordinator did not log the dropped client"
echo "1 passed, 0 failed"
