#!/usr/bin/env bash
# Hostile connections cannot stop a run.  HOSTILE_RUNS runs (default 20; set
# it lower for a quick check) of a short secure run (3 members, 3 rounds,
# logistic regression) during which fl-hostile keeps connecting to the
# coordinator's port: raw TCP garbage (some after a ZMTP greeting, some
# closed with RST), plaintext ZMTP peers, and CURVE peers whose key is not
# in the roster, some claiming a member's routing id.  Every run must
# finish all its rounds with every member, and the coordinator exit 0.
source "$(dirname "$0")/lib_it.sh"
RUNS=${HOSTILE_RUNS:-20}
"$BIN/fl-keygen" --out "$WORK/keys" --roster "$WORK/keys/roster.zpl" --members 3 >/dev/null
K="$WORK/keys"
SKEY=$(awk -F'"' '/public-key/{print $2}' "$K/coordinator.curve")
for run in $(seq 1 "$RUNS"); do
    start_coordinator "c$run" --roster "$K/roster.zpl" --cert "$K/coordinator.curve" --min-clients 3 --rounds 3 \
        --sa-dropout 0 --seed "$run" --train-deadline $((20 * SLOW)) --eval-deadline $((20 * SLOW)) \
        --secagg-deadline $((20 * SLOW)) --join-timeout $((60 * SLOW)) --metrics "$WORK/m$run.csv"
    "$BIN/fl-hostile" --connect "tcp://127.0.0.1:$PORT" --server-key "$SKEY" --seconds 4 >"$WORK/h$run.out" 2>&1 &
    H=$!
    PIDS+=("$H")
    CL=()
    for i in 1 2 3; do
        start_client "member-0$i" --roster "$K/roster.zpl" --identity "$K/member-0$i.identity_secret" \
            --cert "$K/member-0$i.curve" --dataset wdbc --partitions 3 --partition-index $((i - 1)) \
            --partition iid --rejoin 1 --train-delay 0.3
        CL+=("$LAST_PID")
    done
    set +e; wait_pid "$COORD_PID" $((120 * SLOW)); rc=$?; set -e
    [ $rc = 0 ] || fail "run $run: the coordinator exited with $rc under hostile connections"
    wait "$H" 2>/dev/null || true
    rounds=$(awk -F, 'NR>1{print $1 ":" $4}' "$WORK/m$run.csv" | tr '\n' ' ')
    [ "$rounds" = "1:3 2:3 3:3 " ] || fail "run $run: rounds:updates '$rounds' (expected every round with 3 members)"
    for p in "${CL[@]}"; do wait_pid "$p" $((30 * SLOW)) || fail "run $run: a member exited with $?"; done
    echo "run $run: $(cat "$WORK/h$run.out"); rounds:updates $rounds"
done
echo "$RUNS of $RUNS runs finished every round under hostile connections"
echo "1 passed, 0 failed"
