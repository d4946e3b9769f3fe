#!/usr/bin/env bash
# Checkpoints and --resume with real processes:
#  1. an uninterrupted plaintext run of 8 rounds (reference);
#  2. the same run (same seeds) whose coordinator is killed with SIGKILL at a
#     random moment after round 3 completed, then restarted with --resume on
#     the same port: the clients rejoin, no completed round is lost (the
#     metrics CSV has all 8 rounds) and the final model equals the
#     reference (fl-model diff, bit for bit; see docs/CHECKPOINT.md);
#  3. a truncated latest checkpoint falls back to the previous one; with
#     both damaged, --resume refuses with a clear error.
source "$(dirname "$0")/lib_it.sh"
common=(--min-clients 3 --rounds 8 --seed 5 --model-seed 5 --client-lr 0.1 --plaintext
        --train-deadline $((20 * SLOW)) --eval-deadline $((20 * SLOW)) --join-timeout $((60 * SLOW)))
clients () {     # $1: name suffix, $2: seconds each member waits before training (a slow consortium)
    for i in 0 1 2; do
        start_client "member-$i-$1" --plaintext --dataset wdbc --partitions 3 --partition-index $i --partition iid \
            --seed $((i + 1)) --rejoin 1 --heartbeat 0.5 --train-delay "$2"
    done
}
start_coordinator ref "${common[@]}" --model-out "$WORK/ref.flm" --metrics "$WORK/ref.csv"
clients a 0
wait_pid "$COORD_PID" $((120 * SLOW)) || fail "reference run failed"

start_coordinator int "${common[@]}" --checkpoint-dir "$WORK/ck" --metrics "$WORK/int.csv" \
    --model-out "$WORK/int.flm" --min-cohort 3
PORT1=$PORT
clients b 0.3
for _ in $(seq 1 $((600 * SLOW))); do
    [ -f "$WORK/ck/checkpoint.flc" ] && [ "$(wc -l < "$WORK/int.csv" 2>/dev/null || echo 0)" -ge 4 ] && break
    sleep 0.05
done
sleep "0.0$((RANDOM % 10))"
kill -9 "$COORD_PID"
wait "$COORD_PID" 2>/dev/null || true
done_rounds=$(( $(wc -l < "$WORK/int.csv") - 1 ))
echo "coordinator killed after $done_rounds completed round(s)"
[ "$done_rounds" -lt 8 ] || fail "the run finished before it could be killed"
"$BIN/fl-coordinator" --bind "tcp://127.0.0.1:$PORT1" "${common[@]}" --resume "$WORK/ck" \
    --metrics "$WORK/int.csv" --model-out "$WORK/int.flm" >"$WORK/resumed.out" 2>"$WORK/resumed.log" &
RES=$!
PIDS+=("$RES")
wait_pid "$RES" $((120 * SLOW)) || fail "resumed coordinator exited with $?"
grep -q "resuming after round" "$WORK/resumed.out" || fail "the coordinator did not resume"
[ "$(wc -l < "$WORK/int.csv")" -eq 9 ] || fail "metrics.csv should hold all 8 rounds after the resume"
"$BIN/fl-model" diff "$WORK/ref.flm" "$WORK/int.flm" || fail "the resumed run's model differs from the uninterrupted run's"

# Damaged checkpoints.
cp -r "$WORK/ck" "$WORK/ck2"
head -c 100 "$WORK/ck2/checkpoint.flc" > "$WORK/ck2/trunc" && mv "$WORK/ck2/trunc" "$WORK/ck2/checkpoint.flc"
"$BIN/fl-coordinator" --bind 'tcp://127.0.0.1:*' "${common[@]}" --resume "$WORK/ck2" --join-timeout 1 \
    >"$WORK/fallback.out" 2>"$WORK/fallback.log" || true
grep -q "from the previous checkpoint" "$WORK/fallback.out" || fail "no fallback to the previous checkpoint"
printf 'garbage' > "$WORK/ck2/checkpoint.prev.flc"
set +e
"$BIN/fl-coordinator" --bind 'tcp://127.0.0.1:*' "${common[@]}" --resume "$WORK/ck2" >"$WORK/refuse.out" 2>"$WORK/refuse.log"
rc=$?
set -e
[ $rc = 1 ] || fail "both checkpoints damaged: expected exit 1, got $rc"
grep -q "cannot resume" "$WORK/refuse.log" || fail "no clear error when every checkpoint is damaged"
echo "1 passed, 0 failed"
