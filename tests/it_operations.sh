#!/usr/bin/env bash
# Operations, with real processes over loopback (docs/COORDINATOR.md):
#  1. a slow member (training longer than --train-deadline) misses those
#     rounds only: every miss is logged with its name, it is never
#     quarantined, and it exits 0 at the end;
#  2. a resumed run is the checkpointed run: --resume DIR alone restores its
#     rounds and options, a differing option is refused (exit 2, naming
#     it), and the report lists the restart;
#  3. SIGTERM abandons the round in progress and exits 0; the run resumes;
#  4. a run that fails (join timeout) tells its members (ERROR "run aborted:
#     ..."; they exit 1), writes no model file and exits 1;
#  5. a wrong --hidden is refused before listening (exit 2); every program
#     answers --version;
#  6. a read-only checkpoint directory and a full disk for the metrics are
#     refused at start (exit 3, the path and the errno named, no files left);
#     a disk that fills during the run makes the report fail: exit 3 with the
#     path and errno, and no 0-byte file.
source "$(dirname "$0")/lib_it.sh"
common=(--plaintext --min-clients 3 --seed 5 --client-lr 0.1 --train-deadline $((3 * SLOW))
        --eval-deadline $((3 * SLOW)) --join-timeout $((60 * SLOW)))
clients () {     # $1: suffix, $2: train delay of member-2
    CLIENT_PIDS=()
    for i in 0 1 2; do
        d=0; [ $i = 2 ] && d=$2
        start_client "member-$i-$1" --plaintext --dataset wdbc --partitions 3 --partition-index $i \
            --partition iid --seed $((i + 1)) --rejoin 1 --train-delay "$d"
        CLIENT_PIDS+=("$LAST_PID")
    done
}

# 1. a slow member
start_coordinator slow "${common[@]}" --rounds 4 --metrics "$WORK/slow.csv"
clients slow $((5 * SLOW))
wait_pid "$COORD_PID" $((240 * SLOW)) || fail "slow member: the coordinator exited with $?"
for p in "${CLIENT_PIDS[@]}"; do wait_pid "$p" $((60 * SLOW)) || fail "slow member: a client exited with $?"; done
[ "$(wc -l < "$WORK/slow.csv")" = 5 ] || fail "slow member: not every round ran"
misses=$(grep -c "train: member-2-slow missed the deadline" "$WORK/slow.log" || true)
[ "$misses" -ge 2 ] || fail "slow member: expected a log line per missed round, got $misses"
! grep -q quarantined "$WORK/slow.log" || fail "slow member: quarantined"
for r in 1 2 3 4; do
    u=$(csv_col "$WORK/slow.csv" $r updates)
    [ "$u" -ge 2 ] || fail "slow member: round $r aggregated $u updates, the two others are missing"
done
echo "slow member: $misses missed rounds logged by name, never quarantined, exit 0"

# 2. resume restores the run; 3. SIGTERM
start_coordinator cfg "${common[@]}" --rounds 6 --server-lr 0.7 --checkpoint-dir "$WORK/ck" \
    --metrics "$WORK/cfg.csv" --report "$WORK/cfg.md"
P=$PORT
clients cfg 0.3
for _ in $(seq 1 $((1200 * SLOW))); do
    [ "$(wc -l < "$WORK/cfg.csv" 2>/dev/null || echo 0)" -ge 3 ] && break; sleep 0.05
done
kill -TERM "$COORD_PID"
set +e; wait_pid "$COORD_PID" $((30 * SLOW)); rc=$?; set -e
[ $rc = 0 ] || fail "SIGTERM: expected exit 0, got $rc"
grep -q "stopped by a signal" "$WORK/cfg.out" || fail "SIGTERM: no stop line"
grep -q "Outcome: stopped by a signal" "$WORK/cfg.md" || fail "SIGTERM: the report does not say so"
set +e
"$BIN/fl-coordinator" --bind "tcp://127.0.0.1:$P" --resume "$WORK/ck" --server-lr 0.5 \
    >"$WORK/refused.out" 2>"$WORK/refused.log"
rc=$?
set -e
[ $rc = 2 ] || fail "a differing --server-lr on resume: expected exit 2, got $rc"
grep -q -- "--server-lr 0.5 differs from the checkpointed run's 0.69999" "$WORK/refused.log" \
    || fail "the refusal does not name the option and both values"
"$BIN/fl-coordinator" --bind "tcp://127.0.0.1:$P" --resume "$WORK/ck" --train-deadline $((3 * SLOW)) \
    --eval-deadline $((3 * SLOW)) --metrics "$WORK/cfg.csv" --report "$WORK/cfg.md" \
    >"$WORK/resumed.out" 2>"$WORK/resumed.log" &
R=$!
PIDS+=("$R")
wait_pid "$R" $((240 * SLOW)) || fail "resumed coordinator exited with $?"
grep -q "resuming after round" "$WORK/resumed.out" || fail "did not resume"
grep -q "round   6/6" "$WORK/resumed.out" || fail "the resumed run did not keep --rounds 6 (default is 20)"
[ "$(wc -l < "$WORK/cfg.csv")" = 7 ] || fail "rounds 1-6 expected in the metrics"
grep -q "^- Restarts: 1 (resumed after round" "$WORK/cfg.md" || fail "the report does not list the restart"
grep -q "server .* lr 0.7" "$WORK/cfg.md" || fail "the resumed run lost --server-lr 0.7"
for p in "${CLIENT_PIDS[@]}"; do wait_pid "$p" $((60 * SLOW)) || fail "resume: a client exited with $?"; done
echo "SIGTERM: exit 0; resume: --rounds 6 and --server-lr 0.7 restored, a differing option refused, restart reported"

# 4. a failed run tells its members and writes no model
start_coordinator fail "${common[@]}" --rounds 2 --join-timeout 4 --model-out "$WORK/fail.flm"
start_client member-a --plaintext --dataset wdbc --partitions 3 --partition-index 0 --rejoin 1; A=$LAST_PID
start_client member-b --plaintext --dataset wdbc --partitions 3 --partition-index 1 --rejoin 1; B=$LAST_PID
set +e; wait_pid "$COORD_PID" $((60 * SLOW)); rc=$?; set -e
[ $rc = 1 ] || fail "join timeout: expected exit 1, got $rc"
[ ! -e "$WORK/fail.flm" ] || fail "a failed run wrote a model file"
for p in $A $B; do
    set +e; wait_pid "$p" $((30 * SLOW)); rc=$?; set -e
    [ $rc = 1 ] || fail "a member of the failed run exited with $rc, expected 1"
done
grep -q "the coordinator aborted: run aborted: only 2 of 3 clients joined" "$WORK/member-a.log" \
    || fail "the member did not log the coordinator's reason"
echo "failed run: members told (exit 1), no model file, coordinator exit 1"

# 5. the model is validated before listening
set +e
"$BIN/fl-coordinator" --plaintext --bind 'tcp://127.0.0.1:*' --port-file "$WORK/bad.port" --model mlp \
    --hidden 16,x >"$WORK/bad.out" 2>"$WORK/bad.log"
rc=$?
set -e
[ $rc = 2 ] && [ ! -e "$WORK/bad.port" ] || fail "--hidden 16,x: expected exit 2 before listening, got $rc"

# every program says its version
for p in fl-coordinator fl-client fl-sim fl-keygen fl-model fl-dp-calibrate fl-hostile; do
    "$BIN/$p" --version | grep -q "^$p (libfl) " || fail "$p --version"
done

# 6. read-only and full destinations
mkdir -p "$WORK/ro" "$WORK/full"
if mount -t tmpfs -o ro,size=64k tmpfs "$WORK/ro" 2>/dev/null && mount -t tmpfs -o size=64k tmpfs "$WORK/full"; then
    trap 'umount "$WORK/ro" "$WORK/full" 2>/dev/null || true; cleanup' EXIT
    set +e
    "$BIN/fl-coordinator" "${common[@]}" --rounds 2 --bind 'tcp://127.0.0.1:*' --checkpoint-dir "$WORK/ro/ck" \
        --port-file "$WORK/ro.port" >"$WORK/ro.out" 2>"$WORK/ro.log"
    rc=$?
    set -e
    [ $rc = 1 ] || [ $rc = 3 ] || fail "read-only checkpoint directory: expected a non-zero exit, got $rc"
    grep -q "$WORK/ro/ck: Read-only file system" "$WORK/ro.log" || fail "read-only: the error does not name path and errno"
    [ ! -e "$WORK/ro.port" ] || fail "read-only: the coordinator listened"
    # a full disk at start
    dd if=/dev/zero of="$WORK/full/filler" bs=4k 2>/dev/null || true
    set +e
    "$BIN/fl-coordinator" "${common[@]}" --rounds 2 --bind 'tcp://127.0.0.1:*' --metrics "$WORK/full/m.csv" \
        --port-file "$WORK/full.port" >"$WORK/full.out" 2>"$WORK/full.log"
    rc=$?
    set -e
    [ $rc = 3 ] || fail "full disk at start: expected exit 3, got $rc"
    grep -q "No space left on device" "$WORK/full.log" || fail "full disk: the error does not name errno"
    [ -z "$(find "$WORK/full" -size 0)" ] || fail "full disk: a 0-byte file was left: $(find "$WORK/full" -size 0)"
    # the disk fills during the run: the report cannot be written
    rm -f "$WORK/full/filler"
    start_coordinator filling "${common[@]}" --rounds 3 --metrics "$WORK/full/m.csv" --report "$WORK/full/report.md"
    clients filling 0.5
    for _ in $(seq 1 $((1200 * SLOW))); do
        [ "$(wc -l < "$WORK/full/m.csv" 2>/dev/null || echo 0)" -ge 2 ] && break; sleep 0.05
    done
    dd if=/dev/zero of="$WORK/full/filler" bs=1k 2>/dev/null || true
    set +e; wait_pid "$COORD_PID" $((240 * SLOW)); rc=$?; set -e
    [ $rc = 3 ] || fail "disk filled during the run: expected exit 3, got $rc"
    grep -q "$WORK/full/report.md: No space left on device" "$WORK/filling.log" \
        || fail "disk filled: the report error does not name path and errno"
    [ ! -e "$WORK/full/report.md" ] || fail "disk filled: a partial report was left"
    [ -z "$(find "$WORK/full" -size 0)" ] || fail "disk filled: a 0-byte file was left: $(find "$WORK/full" -size 0)"
    for p in "${CLIENT_PIDS[@]}"; do wait_pid "$p" $((60 * SLOW)) || true; done
    echo "read-only checkpoint dir: refused at start; full disk: refused at start, and a report that cannot be written: exit 3"
else
    echo "SKIP part 6: tmpfs mounts are not permitted here (needs root)"
fi
echo "1 passed, 0 failed"
