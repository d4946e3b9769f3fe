#!/usr/bin/env bash
# Small consortia run secure aggregation with the default options: 3, 4 and
# 5 members, no --sa-dropout, no --bucket-size. The coordinator picks the
# largest dropout assumption with a safe threshold for the bucket size
# (fl_secagg_params_choose_auto), logs it, and the report states it; the
# clients' policy check (gamma 0.15) accepts what it offers.
source "$(dirname "$0")/lib_it.sh"
expect=(x x x "0 t = 3 of k = 3" "0.25 t = 3 of k = 4" "0.2 t = 4 of k = 5")
for n in 3 4 5; do
    out="$WORK/n$n"
    "$BIN/fl-sim" --clients "$n" --rounds 3 --no-baselines --out "$out" \
        --train-deadline $((30 * SLOW)) >"$WORK/n$n.out" 2>"$WORK/n$n.log" || fail "fl-sim --clients $n failed"
    grep -q "^round   3/3  clients  $n/$n   updates  $n .*\[secure\]" "$WORK/n$n.out" \
        || fail "$n members: round 3 not secure with all $n updates: $(tail -3 "$WORK/n$n.out")"
    read -r frac tk <<<"${expect[$n]}"
    grep -q "buckets of $n: threshold $tk, tolerating up to" "$out/coordinator.log" \
        || fail "$n members: the coordinator did not log threshold $tk"
    grep -q "at most $frac of its members drop out (chosen per bucket size" "$out/report.md" \
        || fail "$n members: the report does not state the dropout tolerance $frac"
    echo "$n members: secure with defaults, threshold $tk, dropout tolerance $frac"
done
# An explicit --sa-dropout is still honoured, and refused when unsafe.
"$BIN/fl-sim" --clients 3 --rounds 1 --no-baselines --out "$WORK/bad" --sa-dropout 0.25 \
    >"$WORK/bad.out" 2>"$WORK/bad.log" && fail "3 members with --sa-dropout 0.25 ran"
grep -q "no safe threshold" "$WORK/bad/coordinator.log" || fail "no 'no safe threshold' reason for --sa-dropout 0.25"
echo "PASS"
