#!/usr/bin/env bash
# A robust rule that would be no rule (issue 15: with 3 buckets, trimmed_mean
# at beta 0.2 trims floor(0.6) = 0 and silently became the mean), as a user
# meets it with fl-sim (plaintext, wdbc):
#   - 9 members in buckets of 3 with --trim-beta 0.2: refused before any
#     round, with the reason and the fix; --trim-beta 0.34 runs;
#   - Krum with --robust-f 1 over 4 buckets (needs 2f+3 = 5): refused;
#   - 15 members (5 buckets, one trimmed per side) of whom 6 vanish in round
#     2: round 3 has 3 buckets, trims nothing, and says so in the
#     coordinator's log, on its round line and in report.md.
source "$(dirname "$0")/lib_it.sh"
SIM=("$BIN/fl-sim" --dataset wdbc --plaintext --no-baselines --bucket-size 3 --train-deadline $((5 * SLOW)))
if "${SIM[@]}" --clients 9 --rounds 1 --aggregator trimmed_mean --trim-beta 0.2 --out "$WORK/tm9" \
    >"$WORK/tm9.log" 2>&1; then
    fail "a trimmed mean trimming nothing was accepted"
fi
grep -q "refused the configuration: .*trims floor(0.2 x 3) = 0 buckets" "$WORK/tm9.log" \
    || fail "fl-sim did not say why the trimmed mean was refused"
[ ! -e "$WORK/tm9/metrics.csv" ] || [ "$(wc -l < "$WORK/tm9/metrics.csv")" -le 1 ] || fail "rounds ran"
"${SIM[@]}" --clients 9 --rounds 1 --aggregator trimmed_mean --trim-beta 0.34 --out "$WORK/tm9b" \
    >"$WORK/tm9b.log" 2>&1 || fail "trimmed mean at beta 0.34 over 3 buckets should run"
if "${SIM[@]}" --clients 12 --rounds 1 --aggregator krum --robust-f 1 --out "$WORK/krum" >"$WORK/krum.log" 2>&1; then
    fail "Krum over 4 buckets with f = 1 was accepted"
fi
grep -q "krum with f = 1 needs at least 2f+3 = 5 buckets, not 4" "$WORK/krum.log" || fail "no reason for Krum's refusal"
"${SIM[@]}" --clients 15 --rounds 3 --aggregator trimmed_mean --trim-beta 0.2 --kill 6 --kill-round 2 \
    --out "$WORK/drop" >"$WORK/drop.log" 2>&1 || fail "fl-sim with dropouts failed"
grep -q "round 3: trimmed_mean trimmed nothing this round (3 buckets, beta 0.2)" "$WORK/drop/coordinator.log" \
    || fail "round 3 did not log that it trimmed nothing"
grep -q "round   3/3 .*NOT ROBUST" "$WORK/drop.log" || fail "round 3's line does not say it was not robust"
grep -q "^| 3 (not robust: rule = plain mean)" "$WORK/drop/report.md" || fail "report.md does not flag round 3"
if grep -q "^| 1 (not robust" "$WORK/drop/report.md"; then fail "round 1 (5 buckets) was flagged"; fi
echo "1 passed, 0 failed"
