#!/usr/bin/env bash
# Deadlines that follow the work (docs/COORDINATOR.md, "Deadlines"), with
# real processes over loopback and members whose training takes 4 s (a slow
# site: fl-client --train-delay):
#  1. a fixed --train-deadline shorter than their training drops every
#     update, and the coordinator says why: its log and the run report name
#     the deadline and "0 of 3 updates";
#  2. --train-deadline auto with the same members accepts every update in
#     every round: the first round's deadline is the bound
#     (--train-deadline-max), later rounds' follow the measured times (the
#     log says so), and no round drops its updates.
# Outcomes only (updates aggregated, lines printed), no timed assertions.
source "$(dirname "$0")/lib_it.sh"
DELAY=$((4 * SLOW))
common=(--plaintext --min-clients 3 --seed 5 --client-lr 0.1 --eval-deadline $((60 * SLOW))
        --join-timeout $((60 * SLOW)))
clients () {     # $1: suffix
    CLIENT_PIDS=()
    for i in 0 1 2; do
        start_client "member-$i-$1" --plaintext --dataset wdbc --partitions 3 --partition-index $i \
            --partition iid --seed $((i + 1)) --rejoin 1 --train-delay "$DELAY"
        CLIENT_PIDS+=("$LAST_PID")
    done
}

# 1. a fixed deadline half their training time
start_coordinator fixed "${common[@]}" --rounds 1 --train-deadline $((DELAY / 2)) --metrics "$WORK/fixed.csv" \
    --report "$WORK/fixed.md"
clients fixed
wait_pid "$COORD_PID" $((120 * SLOW)) || fail "fixed: the coordinator exited with $?"
for p in "${CLIENT_PIDS[@]}"; do wait_pid "$p" $((60 * SLOW)) || fail "fixed: a client exited with $?"; done
[ "$(csv_col "$WORK/fixed.csv" 1 updates)" = 0 ] || fail "fixed: updates arrived before a deadline shorter than training"
grep -q "round 1: training deadline $((DELAY / 2)).0 s passed, 0 of 3 updates arrived" "$WORK/fixed.log" \
    || fail "fixed: the log does not say why the round has no update"
grep -q "an automatic training deadline would follow the measured times" "$WORK/fixed.log" \
    || fail "fixed: the log does not point at the automatic deadline"
grep -q "Round 1: the training deadline ($((DELAY / 2)).0 s) passed with 0 of 3 updates" "$WORK/fixed.md" \
    || fail "fixed: the report does not say why the round has no update"
echo "fixed deadline: 0 of 3 updates, and the log and the report say why"

# 2. the automatic deadline
start_coordinator auto "${common[@]}" --rounds 3 --train-deadline auto --train-deadline-max $((120 * SLOW)) \
    --metrics "$WORK/auto.csv" --report "$WORK/auto.md"
clients auto
wait_pid "$COORD_PID" $((300 * SLOW)) || fail "auto: the coordinator exited with $?"
for p in "${CLIENT_PIDS[@]}"; do wait_pid "$p" $((60 * SLOW)) || fail "auto: a client exited with $?"; done
for r in 1 2 3; do
    u=$(csv_col "$WORK/auto.csv" $r updates)
    [ "$u" = 3 ] || fail "auto: round $r aggregated $u of 3 updates"
done
grep -q "round 1: training deadline $((120 * SLOW)).0 s (auto: no update measured yet: the bound" "$WORK/auto.log" \
    || fail "auto: round 1 did not get the bound"
for r in 2 3; do
    grep -q "round $r: training deadline .* (auto: 3 x the slowest update of the last rounds" "$WORK/auto.log" \
        || fail "auto: round $r's deadline does not follow the measured times"
done
! grep -q "passed, 0 of" "$WORK/auto.log" || fail "auto: a round dropped every update"
echo "auto deadline: 3 of 3 updates in every round, deadlines from the measured training times"
