#!/usr/bin/env bash
# A coordinator killed with SIGKILL mid-run and resumed after realistic
# downtime (DOWNTIME seconds, default 25) gets every member back.  Five
# members, secure aggregation, default client heartbeats (every 2 s): while
# the coordinator is down each client queues a dozen heartbeats, which the
# resumed coordinator receives from members it has not admitted yet.  Those
# are answered with REJECT "not admitted" and are no protocol violation, so
# every member says HELLO again and is re-admitted (before the fix, 8 such
# messages locked a member out for good).
#  1. all five clients stay up during the downtime;
#  2. one client is killed as well and a new process of the same member is
#     started during the downtime.
# Each run must finish every round exactly once, with all five members'
# masked inputs in every round after the resume, and every client exits 0.
source "$(dirname "$0")/lib_it.sh"
DOWNTIME=${DOWNTIME:-25}
"$BIN/fl-keygen" --out "$WORK/keys" --roster "$WORK/keys/roster.zpl" --members 5 >/dev/null
K="$WORK/keys"
ROUNDS=5
common=(--roster "$K/roster.zpl" --cert "$K/coordinator.curve" --min-clients 5 --rounds $ROUNDS --seed 7
        --sa-dropout 0.2
        --train-deadline $((30 * SLOW)) --eval-deadline $((30 * SLOW)) --secagg-deadline $((30 * SLOW))
        --join-timeout $((120 * SLOW)))
client () {     # $1: member index, $2: log suffix
    "$BIN/fl-client" --connect "tcp://127.0.0.1:$PORT" --member "member-0$1" --roster "$K/roster.zpl" \
        --identity "$K/member-0$1.identity_secret" --cert "$K/member-0$1.curve" --dataset wdbc --partitions 5 \
        --partition-index $(($1 - 1)) --partition iid --seed "$1" --train-delay 0.5 \
        >"$WORK/member-0$1-$2.log" 2>&1 &
    PIDS+=("$!")
    LAST_PID=$!
}
for variant in all-stay one-restarted; do
    start_coordinator "c-$variant" "${common[@]}" --checkpoint-dir "$WORK/ck-$variant" \
        --metrics "$WORK/$variant.csv" --report "$WORK/$variant.md"
    P=$PORT
    CLIENT_PIDS=()
    for i in 1 2 3 4 5; do client $i "$variant"; CLIENT_PIDS+=("$LAST_PID"); done
    for _ in $(seq 1 $((1200 * SLOW))); do
        [ "$(wc -l < "$WORK/$variant.csv" 2>/dev/null || echo 0)" -ge 3 ] && break    # header + 2 rounds
        kill -0 "$COORD_PID" 2>/dev/null || fail "$variant: the coordinator exited before it could be killed"
        sleep 0.05
    done
    kill -9 "$COORD_PID"
    wait "$COORD_PID" 2>/dev/null || true
    done_rounds=$(( $(wc -l < "$WORK/$variant.csv") - 1 ))
    [ "$done_rounds" -lt $ROUNDS ] || fail "$variant: the run finished before it could be killed"
    echo "$variant: coordinator killed after $done_rounds round(s); down for ${DOWNTIME}s"
    if [ "$variant" = one-restarted ]; then
        sleep $((DOWNTIME / 2))
        kill -9 "${CLIENT_PIDS[2]}"; wait "${CLIENT_PIDS[2]}" 2>/dev/null || true
        client 3 "$variant-restarted"
        CLIENT_PIDS[2]=$LAST_PID
        sleep $((DOWNTIME - DOWNTIME / 2))
    else
        sleep "$DOWNTIME"
    fi
    "$BIN/fl-coordinator" --bind "tcp://127.0.0.1:$P" "${common[@]}" --resume "$WORK/ck-$variant" \
        --metrics "$WORK/$variant.csv" --report "$WORK/$variant.md" >"$WORK/r-$variant.out" 2>"$WORK/r-$variant.log" &
    R=$!
    PIDS+=("$R")
    wait_pid "$R" $((240 * SLOW)) || fail "$variant: the resumed coordinator exited with $?"
    grep -q "resuming after round $done_rounds" "$WORK/r-$variant.out" || fail "$variant: did not resume"
    rounds=$(awk -F, 'NR>1{print $1}' "$WORK/$variant.csv" | tr '\n' ' ')
    [ "$rounds" = "$(seq -s ' ' 1 $ROUNDS) " ] || fail "$variant: rounds in the metrics: '$rounds'"
    for r in $(seq $((done_rounds + 1)) $ROUNDS); do
        u=$(csv_col "$WORK/$variant.csv" "$r" updates)
        [ "$u" = 5 ] || fail "$variant: round $r aggregated $u masked inputs, expected all 5 members"
    done
    for p in "${CLIENT_PIDS[@]}"; do
        wait_pid "$p" $((30 * SLOW)) || fail "$variant: a client exited with $?"
    done
    ! grep -q "quarantined" "$WORK/r-$variant.log" || fail "$variant: a member was quarantined"
    grep -q "^- Restarts: 1 (resumed after round $done_rounds" "$WORK/$variant.md" \
        || fail "$variant: the report does not list the restart"
    echo "$variant: rounds $rounds; all 5 members in every round after the resume"
done
echo "1 passed, 0 failed"
