#!/usr/bin/env bash
# Client-side faults with secure aggregation over CURVE:
#  1. two of eight clients vanish in each protocol phase of round 2 (at TRAIN,
#     after advertising keys, after sharing them, after sending the masked
#     input, after the consistency signatures): the run completes, round 2
#     keeps every survivor's update (and the vanished ones whose masked
#     input was already in);
#  2. a client whose disk is full (stdout and stderr on /dev/full) cannot
#     write a log line and still trains every round and exits cleanly;
#  3. a roster change between runs: a run resumed with a roster that drops
#     one member and adds another refuses the dropped member's key and
#     admits the new one.
source "$(dirname "$0")/lib_it.sh"
for at in TRAIN ADVERTISE_LIST SHARES_RELAY SURVIVORS SIGNATURE_LIST; do
    kill_at=(); [ $at != TRAIN ] && kill_at=(--kill-at $at)
    "$BIN/fl-sim" --rounds 4 --no-baselines --kill 2 --kill-round 2 "${kill_at[@]}" \
        --train-deadline $((3 * SLOW)) --out "$WORK/k-$at" >"$WORK/k-$at.log" 2>&1 || fail "kill at $at: run failed"
    u=$(csv_col "$WORK/k-$at/metrics.csv" 2 updates); s=$(csv_col "$WORK/k-$at/metrics.csv" 2 skipped)
    [ "$s" = 0 ] && [ "$u" -ge 6 ] || fail "kill at $at: round 2 should unmask at least the 6 survivors (got $u, skipped $s)"
    [ "$(wc -l < "$WORK/k-$at/metrics.csv")" -eq 5 ] || fail "kill at $at: not all rounds ran"
    echo "2 of 8 clients vanished at $at of round 2: $u masked updates unmasked, run completed"
done

# 2. disk full
"$BIN/fl-keygen" --out "$WORK/keys" --roster "$WORK/keys/roster.zpl" --members 3 >/dev/null
K="$WORK/keys"
ROSTER="$K/roster.zpl"
member () {   # member N [extra args] : starts member-0N with its keys and $ROSTER
    local n=$1; shift
    start_client "member-0$n" --roster "$ROSTER" --identity "$K/member-0$n.identity_secret" \
        --cert "$K/member-0$n.curve" --dataset wdbc --partitions 3 --partition-index $((n - 1)) --partition iid \
        --rejoin 1 --heartbeat 0.5 "$@"
}
start_coordinator full --roster "$K/roster.zpl" --cert "$K/coordinator.curve" --min-clients 3 --rounds 3 \
    --sa-dropout 0 --checkpoint-dir "$WORK/ck" --metrics "$WORK/full.csv" --join-timeout $((60 * SLOW))
member 1; member 2
"$BIN/fl-client" --connect "tcp://127.0.0.1:$PORT" --member member-03 --roster "$K/roster.zpl" \
    --identity "$K/member-03.identity_secret" --cert "$K/member-03.curve" --dataset wdbc --partitions 3 \
    --partition-index 2 --partition iid >/dev/full 2>/dev/full &
FULL=$!
PIDS+=("$FULL")
wait_pid "$COORD_PID" $((120 * SLOW)) || fail "disk-full run: coordinator failed"
for r in 1 2 3; do [ "$(csv_col "$WORK/full.csv" $r updates)" = 3 ] || fail "disk-full client missing from round $r"; done
wait_pid "$FULL" $((30 * SLOW)) || fail "the disk-full client did not exit cleanly"
echo "client with a full disk: trained all 3 rounds, exit 0"

# 3. roster change: member-03 leaves the consortium, member-04 joins
"$BIN/fl-keygen" --out "$K" --name member-04 >/dev/null
awk '/member = "member-03"/{skip=3} skip>0{skip--; next} {print}' "$K/roster.zpl" > "$WORK/roster2.zpl"
{
    echo '    member = "member-04"'
    echo "        identity = \"$(cat "$K/member-04.identity")\""
    echo "        curve = \"$(awk -F'"' '/public-key/{print $2}' "$K/member-04.curve")\""
} >> "$WORK/roster2.zpl"
# every site gets the new roster (a member with the old one would refuse a bucket naming member-04)
ROSTER="$WORK/roster2.zpl"
"$BIN/fl-coordinator" --bind 'tcp://127.0.0.1:*' --port-file "$WORK/c2.port" --roster "$WORK/roster2.zpl" \
    --cert "$K/coordinator.curve" --min-clients 3 --rounds 5 --sa-dropout 0 --resume "$WORK/ck" \
    --train-deadline $((10 * SLOW)) --secagg-deadline $((10 * SLOW)) \
    --metrics "$WORK/full.csv" --join-timeout $((60 * SLOW)) >"$WORK/c2.out" 2>"$WORK/c2.log" &
C2=$!
PIDS+=("$C2")
for _ in $(seq 1 100); do [ -s "$WORK/c2.port" ] && break; sleep 0.05; done
PORT=$(cat "$WORK/c2.port")
member 1; member 2
ROSTER="$K/roster.zpl" member 3; OLD=$LAST_PID       # the removed member still has the old roster
start_client member-04 --roster "$WORK/roster2.zpl" --identity "$K/member-04.identity_secret" \
    --cert "$K/member-04.curve" --dataset wdbc --partitions 3 --partition-index 2 --partition iid
wait_pid "$C2" $((120 * SLOW)) || fail "coordinator with the changed roster failed"
grep -q "resuming after round 3" "$WORK/c2.out" || fail "the changed-roster run did not resume"
grep -q "admitted member-04" "$WORK/c2.log" || fail "the new member was not admitted"
grep -q "admitted member-03" "$WORK/c2.log" && fail "the removed member was admitted"
for r in 4 5; do [ "$(csv_col "$WORK/full.csv" $r updates)" = 3 ] || fail "round $r after the roster change did not aggregate the 3 members"; done
kill "$OLD" 2>/dev/null || true
[ "$(wc -l < "$WORK/full.csv")" -eq 6 ] || fail "expected 5 rounds after the roster change"
echo "roster change: member-03 refused, member-04 admitted, rounds 4-5 ran"
echo "1 passed, 0 failed"
