#!/usr/bin/env bash
# Differential privacy with real processes (docs/PRIVACY.md):
#  1. record-level DP on WDBC, 30 members, secure aggregation, coordinate-wise
#     median over buckets of 3, epsilon 3, delta 1e-5: completes all rounds;
#     the CSV's epsilon column is non-decreasing and its last value <= 3; the
#     progress lines show the spend, the report states the guarantee;
#  2. client-level DP (Poisson cohorts at rate 0.5, mean rule) completes with
#     epsilon <= its budget;
#  3. a fixed noise multiplier whose planned rounds would exceed the budget:
#     training stops cleanly (exit 0) before it, and says why in the output
#     and the report;
#  4. client-level DP with adaptive clipping: completes, the clip_norm column
#     starts at --clip-norm and changes, epsilon <= budget; record-level
#     refuses adaptive clipping;
#  5. distributed noise (--dp-distributed): record-level with the central
#     mechanism (--dp-record-central), median over buckets of 3, 30 members,
#     epsilon 3: completes within the budget, the clients add the noise (their
#     logs), the coordinator adds none (its log), the report says so; with
#     --plaintext it is refused with a clear error;
#  6. record-level local DP-SGD (the default; run 1 uses it too): the
#     coordinator adds no noise and says so, the report says the members noise
#     their steps before masking; a budget far too small for the data set
#     prints the noise-versus-signal warning on stdout and in the report;
#     --dp-distributed with it is refused, saying why.
source "$(dirname "$0")/lib_it.sh"
SIM=("$BIN/fl-sim" --no-baselines --train-deadline $((3 * SLOW)) --dataset wdbc)
# last_eps FILE: epsilon of the last row; also fails if the column ever decreases
last_eps () {
    awk -F, 'NR==1{for(i=1;i<=NF;i++) if ($i=="epsilon") c=i; next}
             { if (NR > 2 && $c + 0 < prev) bad=1; prev=$c+0; last=$c }
             END{ if (bad || c == 0) exit 1; print last }' "$1"
}

"${SIM[@]}" --out "$WORK/rec" --clients 30 --rounds 10 --aggregator median --bucket-size 3 --sa-dropout 0 \
    --dp-unit record --dp-epsilon 3 --dp-delta 1e-5 >"$WORK/rec.log" 2>&1 || fail "record-level fl-sim failed"
e=$(last_eps "$WORK/rec/metrics.csv") || fail "epsilon column missing or decreasing"
n=$(($(wc -l <"$WORK/rec/metrics.csv") - 1))
acc=$(csv_col "$WORK/rec/metrics.csv" 10 accuracy)
echo "record-level, median over buckets of 3, 30 members: $n rounds, final epsilon $e, accuracy $acc"
[ "$n" = 10 ] || fail "expected 10 rounds, got $n"
awk -v e="$e" 'BEGIN{exit !(e > 0 && e <= 3)}' || fail "final epsilon $e is not within the budget 3"
grep -q "eps " "$WORK/rec.log" || fail "progress lines do not show epsilon"
grep -q "one training record of any member" "$WORK/rec/report.md" || fail "report does not state the guarantee"
grep -q "local DP-SGD step(s) per round itself, before masking" "$WORK/rec/report.md" \
    || fail "report does not say the members noise their own steps"
grep -q "noised DP-SGD updates (noise sigma .*none here)" "$WORK/rec/coordinator.log" \
    || fail "the coordinator log does not show that it adds no noise"
grep -q "\[secure\]" "$WORK/rec.log" || fail "not a secure run"
awk -v a="$acc" 'BEGIN{exit !(a >= 0.8)}' || fail "accuracy $acc at epsilon 3 is implausibly low"

"${SIM[@]}" --out "$WORK/cli" --clients 12 --rounds 5 --fraction 0.5 --aggregator mean --bucket-size 3 \
    --sa-dropout 0 --clip-norm 1 --dp-unit client --dp-epsilon 8 >"$WORK/cli.log" 2>&1 || fail "client-level fl-sim failed"
e=$(last_eps "$WORK/cli/metrics.csv") || fail "client-level epsilon column missing or decreasing"
echo "client-level, Poisson cohorts at 0.5, 12 members: final epsilon $e"
awk -v e="$e" 'BEGIN{exit !(e > 0 && e <= 8)}' || fail "client-level epsilon $e is not within the budget 8"
grep -q "one member's entire data" "$WORK/cli/report.md" || fail "client-level report does not state the guarantee"

"${SIM[@]}" --out "$WORK/stop" --clients 6 --rounds 40 --aggregator median --bucket-size 3 --sa-dropout 0 \
    --dp-unit record --dp-steps 1 --dp-batch-size 16 --dp-noise-multiplier 2 --dp-epsilon 1.5 >"$WORK/stop.log" 2>&1 || fail "budget-stopped run did not exit cleanly"
e=$(last_eps "$WORK/stop/metrics.csv") || fail "epsilon column missing or decreasing"
n=$(($(wc -l <"$WORK/stop/metrics.csv") - 1))
echo "fixed noise multiplier 2, budget 1.5: stopped after $n of 40 rounds at epsilon $e"
[ "$n" -ge 1 ] && [ "$n" -lt 40 ] || fail "the budget did not stop training early ($n rounds)"
awk -v e="$e" 'BEGIN{exit !(e <= 1.5)}' || fail "epsilon $e exceeded the budget"
grep -q "privacy budget reached" "$WORK/stop.log" || fail "the output does not say why training stopped"
grep -q "stopped early: privacy budget reached" "$WORK/stop/report.md" || fail "the report does not say why training stopped"

# 4. client-level DP with adaptive clipping (Andrew et al. 2021), secure
#    aggregation: the indicator travels masked; C starts far above the update
#    norms and must move; epsilon stays within the budget (the accountant
#    charges update and count together).
"${SIM[@]}" --out "$WORK/ada" --clients 12 --rounds 8 --fraction 0.5 --aggregator mean --bucket-size 3 \
    --sa-dropout 0 --clip-norm 5 --dp-unit client --dp-epsilon 8 --dp-adaptive-clip --dp-clip-lr 0.5 \
    --dp-count-noise 2 >"$WORK/ada.log" 2>&1 || fail "adaptive-clipping fl-sim failed"
e=$(last_eps "$WORK/ada/metrics.csv") || fail "adaptive clipping: epsilon column missing or decreasing"
n=$(($(wc -l <"$WORK/ada/metrics.csv") - 1))
c1=$(csv_col "$WORK/ada/metrics.csv" 1 clip_norm)
cn=$(csv_col "$WORK/ada/metrics.csv" "$n" clip_norm)
traj=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if ($i=="clip_norm") c=i; next}{printf "%s%s", (NR>2?" ":""), $c}' \
       "$WORK/ada/metrics.csv")
echo "client-level, adaptive clipping from C = 5: $n rounds, epsilon $e, clip norms: $traj"
[ "$n" = 8 ] || fail "adaptive clipping: expected 8 rounds, got $n"
[ "$c1" = 5 ] || fail "adaptive clipping: round 1 used C = $c1, not the starting norm 5"
awk -v a="$c1" -v b="$cn" 'BEGIN{exit !(b > 0 && b != a)}' || fail "the clipping norm did not change ($c1 -> $cn)"
awk -v e="$e" 'BEGIN{exit !(e > 0 && e <= 8)}' || fail "adaptive clipping: epsilon $e is not within the budget 8"
grep -q "  C [0-9]" "$WORK/ada.log" || fail "progress lines do not show the clipping norm"
grep -q "adaptive clipping" "$WORK/ada/report.md" || fail "the report's guarantee does not mention adaptive clipping"
grep -q "\[secure\]" "$WORK/ada.log" || fail "adaptive clipping: not a secure run"
# record-level refuses adaptive clipping, saying why
if "${SIM[@]}" --out "$WORK/adarec" --clients 6 --rounds 2 --aggregator mean --bucket-size 3 --sa-dropout 0 \
    --dp-unit record --dp-epsilon 3 --dp-adaptive-clip >"$WORK/adarec.log" 2>&1; then
    fail "record-level DP accepted --dp-adaptive-clip"
fi
grep -q "dp-unit client" "$WORK/adarec.log" || fail "the refusal of record-level adaptive clipping does not say why"

# 5. distributed noise: the clients add it before masking; refused in plaintext
"${SIM[@]}" --out "$WORK/dist" --clients 30 --rounds 10 --aggregator median --bucket-size 3 --sa-dropout 0 \
    --dp-unit record --dp-record-central --dp-steps 1 --dp-epsilon 3 --dp-delta 1e-5 --dp-distributed >"$WORK/dist.log" 2>&1 \
    || fail "distributed-noise fl-sim failed"
e=$(last_eps "$WORK/dist/metrics.csv") || fail "distributed: epsilon column missing or decreasing"
n=$(($(wc -l <"$WORK/dist/metrics.csv") - 1))
acc=$(csv_col "$WORK/dist/metrics.csv" 10 accuracy)
echo "distributed noise, record-level, median over buckets of 3, 30 members: $n rounds, final epsilon $e, accuracy $acc"
[ "$n" = 10 ] || fail "distributed: expected 10 rounds, got $n"
awk -v e="$e" 'BEGIN{exit !(e > 0 && e <= 3)}' || fail "distributed: final epsilon $e is not within the budget 3"
grep -q "\[secure\]" "$WORK/dist.log" || fail "distributed: not a secure run"
grep -q "distributed noise, none added here" "$WORK/dist/coordinator.log" || fail "distributed: the coordinator log does not show the release"
grep -q "distributed noise: adding N_Z" "$WORK/dist/client-01.log" || fail "distributed: the client did not add its noise share"
grep -q "clients add the noise themselves before masking" "$WORK/dist/report.md" || fail "distributed: the report does not say who adds the noise"
grep -q "never sees an un-noised sum" "$WORK/dist/report.md" || fail "distributed: the report does not state the guarantee"
awk -v a="$acc" 'BEGIN{exit !(a >= 0.8)}' || fail "distributed: accuracy $acc at epsilon 3 is implausibly low"
if "${SIM[@]}" --out "$WORK/distpl" --clients 6 --rounds 2 --aggregator median --bucket-size 3 --plaintext \
    --dp-unit record --dp-record-central --dp-epsilon 3 --dp-distributed >"$WORK/distpl.log" 2>&1; then
    fail "--dp-distributed with --plaintext was accepted"
fi
grep -q "dp-distributed needs secure aggregation" "$WORK/distpl/coordinator.log" \
    || fail "the plaintext refusal does not say why"

# 6. record-level local DP-SGD: warning when the noise drowns the signal
"${SIM[@]}" --out "$WORK/warn" --rounds 5 --aggregator mean --bucket-size 4 --dp-unit record --dp-epsilon 0.2 \
    >"$WORK/warn.log" 2>&1 || fail "the small-budget run failed"
grep -q "^warning: differential privacy: the noise is larger than the signal" "$WORK/warn.log" \
    || fail "the progress output does not warn that the noise is larger than the signal"
grep -q "Warning: the noise is larger than the signal" "$WORK/warn/report.md" || fail "the report does not warn"
"${SIM[@]}" --out "$WORK/nowarn" --rounds 5 --aggregator mean --bucket-size 4 --dp-unit record --dp-epsilon 3 \
    >"$WORK/nowarn.log" 2>&1 || fail "the epsilon-3 run on 8 members failed"
grep -q "noise is larger than the signal" "$WORK/nowarn.log" && fail "the epsilon-3 run on 8 members warned"
echo "epsilon 0.2 on 8 members: $(grep -m1 '^warning: differential privacy' "$WORK/warn.log" | cut -c1-120)..."
if "${SIM[@]}" --out "$WORK/locdist" --rounds 2 --aggregator mean --bucket-size 4 --dp-unit record --dp-epsilon 3 \
    --dp-distributed >"$WORK/locdist.log" 2>&1; then
    fail "local DP-SGD with --dp-distributed was accepted"
fi
grep -q "distributed noise applies to the central record-level mechanism" "$WORK/locdist/coordinator.log" || fail "the local + distributed refusal does not say why"
echo "1 passed, 0 failed"
