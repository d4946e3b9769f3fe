#!/usr/bin/env bash
# Robust aggregation over secure buckets with real processes: 30 clients in
# 6 buckets of 5 (threshold 4), coordinate-wise median over the bucket
# means.  In round 2, 8 clients vanish after sharing their keys: by the
# pigeonhole principle some bucket loses 2 members and its secure
# aggregation aborts (nothing revealed); the round still completes with the
# remaining buckets, and so does the run.
source "$(dirname "$0")/lib_it.sh"
"$BIN/fl-sim" --clients 30 --bucket-size 5 --sa-dropout 0.2 --aggregator median --rounds 4 --no-baselines \
    --kill 8 --kill-round 2 --kill-at SHARES_RELAY --train-deadline $((3 * SLOW)) --out "$WORK/rb" \
    >"$WORK/rb.log" 2>&1 || fail "fl-sim failed"
M="$WORK/rb/metrics.csv"
b2=$(csv_col "$M" 2 buckets); a2=$(csv_col "$M" 2 buckets_aborted); s2=$(csv_col "$M" 2 skipped)
echo "round 2: $b2 buckets, $a2 aborted, skipped=$s2"
[ "$b2" = 6 ] || fail "round 2 should have 6 buckets"
[ "$a2" -ge 1 ] && [ "$a2" -le 4 ] || fail "round 2 should have 1..4 aborted buckets, got $a2"
[ "$s2" = 0 ] || fail "round 2 should complete with the remaining buckets"
grep -q "secure aggregation aborted" "$WORK/rb/coordinator.log" || fail "no abort logged"
grep -q "sees only each bucket's sum" "$WORK/rb/coordinator.log" || fail "the coordinator did not say what it can see"
[ "$(wc -l < "$M")" -eq 5 ] || fail "the run did not complete its 4 rounds"
echo "1 passed, 0 failed"
