#!/usr/bin/env bash
# The coordinator is killed with SIGKILL in each protocol phase of a secure
# round (--crash-at: round 0 statistics, the five secure-aggregation phases,
# evaluation, and later secure-aggregation phases of the statistics and the
# evaluation, which run the same bucket protocol), restarted with --resume on the same port, and must finish the
# run with every round exactly once in the metrics: no completed round is
# lost, the interrupted round is re-run.  The four clients stay up and
# rejoin by themselves.
source "$(dirname "$0")/lib_it.sh"
"$BIN/fl-keygen" --out "$WORK/keys" --roster "$WORK/keys/roster.zpl" --members 4 >/dev/null
K="$WORK/keys"
common=(--roster "$K/roster.zpl" --cert "$K/coordinator.curve" --min-clients 4 --rounds 3 --seed 3
        --train-deadline $((20 * SLOW)) --eval-deadline $((20 * SLOW)) --secagg-deadline $((20 * SLOW))
        --join-timeout $((60 * SLOW)))
for phase in stats stats-masked stats-unmask advertise share masked consistency unmask evaluate \
             evaluate-share evaluate-unmask; do
    round=2
    case $phase in stats*) round=0 ;; esac
    start_coordinator "c-$phase" "${common[@]}" --checkpoint-dir "$WORK/ck-$phase" --metrics "$WORK/$phase.csv" \
        --crash-at $phase --crash-round $round
    P=$PORT
    CLIENT_PIDS=()
    for i in 1 2 3 4; do
        start_client "member-0$i" --roster "$K/roster.zpl" --identity "$K/member-0$i.identity_secret" \
            --cert "$K/member-0$i.curve" --dataset wdbc --partitions 4 --partition-index $((i - 1)) \
            --partition iid --rejoin 1 --heartbeat 0.5
        mv "$WORK/member-0$i.log" "$WORK/member-0$i-$phase.log" 2>/dev/null || true
        CLIENT_PIDS+=("$LAST_PID")
    done
    set +e; wait_pid "$COORD_PID" $((120 * SLOW)); rc=$?; set -e
    [ $rc = 137 ] || fail "phase $phase: expected the coordinator to die of SIGKILL (137), got $rc"
    grep -q "fault injection: SIGKILL in round $round phase $phase" "$WORK/c-$phase.log" \
        || fail "phase $phase was never reached"
    "$BIN/fl-coordinator" --bind "tcp://127.0.0.1:$P" "${common[@]}" --resume "$WORK/ck-$phase" \
        --metrics "$WORK/$phase.csv" >"$WORK/r-$phase.out" 2>"$WORK/r-$phase.log" &
    R=$!
    PIDS+=("$R")
    wait_pid "$R" $((120 * SLOW)) || fail "phase $phase: the resumed coordinator exited with $?"
    rounds=$(awk -F, 'NR>1{print $1}' "$WORK/$phase.csv" | tr '\n' ' ')
    [ "$rounds" = "1 2 3 " ] || fail "phase $phase: rounds in metrics after resume: '$rounds' (expected 1 2 3)"
    for p in "${CLIENT_PIDS[@]}"; do wait_pid "$p" $((30 * SLOW)) || fail "phase $phase: a client did not exit cleanly"; done
    echo "killed in $phase of round $round, resumed: rounds $rounds"
done
echo "1 passed, 0 failed"
