#!/usr/bin/env bash
# Secure aggregation with real processes over CURVE:
#  1. fl-sim on WDBC with secure aggregation reaches the plaintext run's
#     accuracy (same seed, within 0.5 points);
#  2. it survives 2 of 8 clients killed in the middle of a round, after they
#     shared their keys (their masks are removed by reconstruction);
#  3. the coordinator refuses: a key outside the roster (zauth), a member id
#     outside the roster, a client without keys or --plaintext, and a
#     plaintext client trying to reach a CURVE coordinator;
#  4. a coordinator built with the test hook FL_TEST_WEAKEN_T=1 offers half
#     the safe threshold (a malicious coordinator's first move): every
#     client refuses the session, naming the offered and the required
#     threshold, and no client sends a key advertisement or masked input.
source "$(dirname "$0")/lib_it.sh"
SIM=("$BIN/fl-sim" --rounds 10 --no-baselines --train-deadline $((3 * SLOW)))
"${SIM[@]}" --out "$WORK/plain" --plaintext --quiet >"$WORK/plain.log" 2>&1 || fail "plaintext fl-sim failed"
# --quiet sends the coordinator's progress lines and log to one file: both intact.
[ "$(grep -c '^round ' "$WORK/plain/coordinator.log")" = 10 ] || fail "--quiet coordinator.log lost progress lines"
[ "$(grep -c 'coordinator: admitted member-' "$WORK/plain/coordinator.log")" = 8 ] || fail "--quiet coordinator.log lost log lines"
"${SIM[@]}" --out "$WORK/secure" >"$WORK/secure.log" 2>&1 || fail "secure fl-sim failed"
grep -q "\[secure\]" "$WORK/secure.log" || fail "secure run's progress lines do not say [secure]"
grep -q "secure aggregation (masked updates" "$WORK/secure/report.md" || fail "report does not state the mode"
# The report names the transport, the absence of DP, and a roster digest that every client logged too.
grep -q "^- Transport: every connection CURVE-encrypted" "$WORK/secure/report.md" || fail "report does not state the transport"
grep -q "^- Round-0 feature statistics .*: masked by the same per-bucket secure aggregation" "$WORK/secure/report.md" \
    || fail "report does not say statistics and evaluation were masked"
grep -q "^- Differential privacy: none" "$WORK/secure/report.md" || fail "report does not say there is no DP"
grep -q "^- Client policy in force (the default: .*gamma = 0.15 .*below 3 members" "$WORK/secure/report.md" \
    || fail "report does not state the clients' policy"
grep -q "^- Members admitted: 8 (" "$WORK/secure/report.md" || fail "report does not list the 8 members"
digest=$(sed -n 's/^- Roster: .* digest \([0-9a-f]\{64\}\) .*/\1/p' "$WORK/secure/report.md")
[ -n "$digest" ] || fail "report has no roster digest"
[ "$(grep -l "digest $digest" "$WORK"/secure/client-*.log | wc -l)" = 8 ] || fail "not every client logged the roster digest $digest"
# round 0 statistics and every evaluation went through secure aggregation:
# no plaintext STATS / EVAL_RESULT was sent or refused
grep -q "federated standardisation with 8 clients, through secure aggregation" "$WORK/secure/coordinator.log" \
    || fail "round 0 statistics did not go through secure aggregation"
[ "$(grep -c "evaluation bucket 0: sum of 8 masked inputs unmasked" "$WORK/secure/coordinator.log")" = 10 ] \
    || fail "not every evaluation went through secure aggregation"
grep -qE "rejected (STATS|EVAL_RESULT)" "$WORK/secure/coordinator.log" && fail "a plaintext STATS or EVAL_RESULT reached the secure coordinator"
ap=$(csv_col "$WORK/plain/metrics.csv" 10 accuracy)
as=$(csv_col "$WORK/secure/metrics.csv" 10 accuracy)
echo "accuracy after 10 rounds: plaintext $ap, secure $as"
awk -v a="$ap" -v b="$as" 'BEGIN{d=a-b; if (d<0) d=-d; exit !(d <= 0.005)}' || fail "secure accuracy $as differs from plaintext $ap by more than 0.5 points"

"${SIM[@]}" --out "$WORK/kill" --kill 2 --kill-round 4 --kill-at SHARES_RELAY >"$WORK/kill.log" 2>&1 || fail "fl-sim with 2 killed clients failed"
u4=$(csv_col "$WORK/kill/metrics.csv" 4 updates); s4=$(csv_col "$WORK/kill/metrics.csv" 4 skipped)
ak=$(csv_col "$WORK/kill/metrics.csv" 10 accuracy)
echo "2 of 8 killed after sharing keys in round 4: $u4 masked updates unmasked; final accuracy $ak"
[ "$u4" = 6 ] && [ "$s4" = 0 ] || fail "round 4 should unmask the 6 survivors' sum"
awk -v a="$ak" 'BEGIN{exit !(a >= 0.93)}' || fail "accuracy with 2 killed clients is $ak"

# Refusals, against a coordinator with a 2-member roster.
"$BIN/fl-keygen" --out "$WORK/keys" --roster "$WORK/keys/roster.zpl" --members 2 >/dev/null
# a bucket of 2 shows each member the other's update: the roster's policy
# and the coordinator (--allow-small-buckets) must both allow it
printf '    policy\n        gamma = 0\n        min_bucket = 2\n' >>"$WORK/keys/roster.zpl"
"$BIN/fl-keygen" --out "$WORK/stranger" --name member-01 >/dev/null     # right name, wrong key
K="$WORK/keys"
start_coordinator coord --roster "$K/roster.zpl" --cert "$K/coordinator.curve" --min-clients 2 --rounds 2 \
    --train-deadline $((10 * SLOW)) --secagg-deadline $((10 * SLOW)) --join-timeout $((60 * SLOW)) \
    --sa-corrupt 0 --sa-dropout 0 --allow-small-buckets --metrics "$WORK/coord.csv"
data=(--dataset wdbc --partitions 2 --partition iid)
# a stranger's key: zauth never lets it in, so it is never welcomed
start_client member-01 --roster "$K/roster.zpl" --identity "$WORK/stranger/member-01.identity_secret" \
    --cert "$WORK/stranger/member-01.curve" "${data[@]}" --partition-index 0
STRANGER=$LAST_PID
# a plaintext client cannot even talk to a CURVE coordinator
start_client member-02 --plaintext "${data[@]}" --partition-index 1
PLAIN=$LAST_PID
# a member id outside the roster, and a client with neither keys nor --plaintext: refused at start
"$BIN/fl-client" --connect "tcp://127.0.0.1:$PORT" --member nobody --roster "$K/roster.zpl" \
    --identity "$K/member-01.identity_secret" "${data[@]}" --partition-index 0 >"$WORK/nobody.log" 2>&1 \
    && fail "a member outside the roster was not refused"
grep -q "not in the roster" "$WORK/nobody.log" || fail "no clear error for a member outside the roster"
set +e
"$BIN/fl-client" --connect "tcp://127.0.0.1:$PORT" --member member-01 "${data[@]}" --partition-index 0 \
    >"$WORK/nokeys.log" 2>&1
rc=$?
set -e
[ $rc = 2 ] || fail "a client without keys or --plaintext should exit 2, got $rc"
sleep $((2 * SLOW))
grep -q "admitted" "$WORK/coord.log" && fail "the coordinator admitted someone it should not have"
kill "$STRANGER" "$PLAIN" 2>/dev/null || true
# the real members join and finish
start_client member-01 --roster "$K/roster.zpl" --identity "$K/member-01.identity_secret" \
    --cert "$K/member-01.curve" "${data[@]}" --partition-index 0
start_client member-02 --roster "$K/roster.zpl" --identity "$K/member-02.identity_secret" \
    --cert "$K/member-02.curve" "${data[@]}" --partition-index 1
wait_pid "$COORD_PID" $((120 * SLOW)) || fail "coordinator exited with $?"
[ "$(csv_col "$WORK/coord.csv" 2 updates)" = 2 ] || fail "the two members' masked updates were not aggregated"

# 4. A coordinator that weakens the threshold (test hook): every client refuses.
set +e
FL_TEST_WEAKEN_T=1 "${SIM[@]}" --rounds 1 --out "$WORK/weak" >"$WORK/weak.log" 2>&1
set -e
grep -q "TEST HOOK FL_TEST_WEAKEN_T" "$WORK/weak/coordinator.log" || fail "the test hook did not weaken the threshold"
for f in "$WORK"/weak/client-*.log; do
    grep -q "weaker than the consortium's policy: threshold t = [0-9]* offered for 8 clients.*requires [0-9]* <= t" "$f" \
        || fail "$(basename "$f") did not refuse the weakened threshold"
done
[ "$(ls "$WORK"/weak/client-*.log | wc -l)" = 8 ] || fail "expected 8 client logs"
grep -q "sum of .* masked inputs unmasked" "$WORK/weak/coordinator.log" && fail "a bucket was unmasked under a weakened threshold"
grep -qE "accepted .*ADVERTISE|masked input from" "$WORK/weak/coordinator.log" && fail "a client sent keys under a weakened threshold"
echo "1 passed, 0 failed"
