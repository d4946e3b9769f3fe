#!/usr/bin/env bash
# fl-sim on the imbalanced ULB fraud subset (4.7% positives) as a user would
# run it: 5 members, secure aggregation, --class-weight balanced, --early-stop 3,
# --top-fraction 0.01.  Checks that the summary leads with AUROC / AUPRC (not
# accuracy) and shows the Brier score and precision / recall / F1 at the
# operating point for federated, centralised and every member; that
# summary.csv carries the new columns with consistent values; that the run
# stopped early and the report and metrics.csv record the best round, whose
# figures are the Final model's; and that a member whose policy refuses the
# run's weight decay says so.
# Run: FL_BINARY_DIR=build-dev FL_SOURCE_DIR=$PWD bash tests/it_imbalance.sh
source "$(dirname "$0")/lib_it.sh"
OUT="$WORK/ulb"
"$BIN/fl-sim" --dataset ulb --clients 5 --rounds 30 --class-weight balanced --early-stop 3 --top-fraction 0.01 \
    --train-deadline $((30 * SLOW)) --seed 42 --out "$OUT" --quiet >"$WORK/sim.log" 2>&1 \
    || { cat "$WORK/sim.log"; fail "fl-sim failed"; }
sed -n '/^Summary/,/^fl-sim: metrics/p' "$WORK/sim.log"

# the summary leads with AUROC and AUPRC, then the calibration and operating-point columns; accuracy last
header=$(grep -E "^  model +AUROC" "$WORK/sim.log") || fail "the summary does not lead with AUROC"
echo "$header" | grep -qE "^  model +AUROC +AUPRC +logloss +Brier +precision +recall +F1 +accuracy$" \
    || fail "unexpected summary columns: $header"
grep -q "imbalanced: the smallest class is 4\.[0-9]*% of the rows" "$WORK/sim.log" || fail "no imbalance note"
grep -q "operating point: the top 1% of rows by each model's score (--top-fraction 0.01)" "$WORK/sim.log" \
    || fail "the operating point is not described"
grep -q "class weights balanced" "$WORK/sim.log" || fail "the summary does not say the baselines used class weights"
# every model's row has 8 figures, none undefined on this binary task
for m in "federated (this run)" "centralised (pooled data)" member-01 member-02 member-03 member-04 member-05; do
    row=$(grep -F "  $m" "$WORK/sim.log" | head -1) || fail "no summary row for $m"
    n=$(echo "$row" | grep -oE "[01]\.[0-9]{4}" | wc -l)
    [ "$n" -eq 8 ] || fail "row '$row' has $n figures, expected 8"
done

# summary.csv: the new columns, consistent (F1 = 2PR/(P+R), flagged >= 1% of the rows)
csv="$OUT/summary.csv"
head -1 "$csv" | grep -q ",stop,brier,op_threshold,op_flagged,op_precision,op_recall,op_f1$" \
    || fail "summary.csv lacks the new columns: $(head -1 "$csv")"
awk -F, 'NR==1{for(i=1;i<=NF;i++) h[$i]=i; next}
    { p=$h["op_precision"]; r=$h["op_recall"]; f=$h["op_f1"]; b=$h["brier"]; fl=$h["op_flagged"]; t=$h["test_rows"];
      if (b == "" || b < 0 || b > 1) { print "bad brier in " $1; bad=1 }
      if (fl < 0.01 * t) { print "flagged " fl " < 1% of " t " in " $1; bad=1 }
      if (p + r > 0 && (f - 2 * p * r / (p + r))^2 > 1e-10) { print "F1 inconsistent in " $1; bad=1 } }
    END { exit bad }' "$csv" || fail "summary.csv values inconsistent"
[ "$(awk -F, 'NR>1' "$csv" | wc -l)" -eq 7 ] || fail "summary.csv: expected 7 models"

# early stopping: the run stopped before 30 rounds; the best round is the
# lowest eval log loss of metrics.csv, flagged there, named by the report,
# and its figures are the report's Final model
rounds=$(awk 'END{print NR-1}' "$OUT/metrics.csv")
[ "$rounds" -lt 30 ] || fail "early stopping did not stop the run ($rounds rounds)"
best=$(awk -F, 'NR==1{for(i=1;i<=NF;i++) h[$i]=i; next} NR==2||$h["log_loss"]<lo{lo=$h["log_loss"]; b=$1} END{print b}' \
    "$OUT/metrics.csv")
[ "$rounds" -eq $((best + 3)) ] || fail "stopped after $rounds rounds, best round $best, patience 3"
[ "$(csv_col "$OUT/metrics.csv" "$best" best)" = 1 ] || fail "metrics.csv does not flag round $best"
echo "stopped after $rounds rounds; best round $best"
grep -q "^- Outcome: stopped early: early stopping: no lower federated evaluation log loss in 3 round(s) after round $best " \
    "$OUT/report.md" || fail "the report's outcome does not name round $best"
grep -q "^| $best (kept) |" "$OUT/report.md" || fail "the report's round table does not mark round $best"
grep -q "^Early stopping kept round $best's global model" "$OUT/report.md" || fail "the Final model is not round $best's"
auroc=$(csv_col "$OUT/metrics.csv" "$best" auroc)
grep -q "AUROC $(printf '%.4f' "$auroc")" "$OUT/report.md" || fail "the Final model's AUROC is not round $best's ($auroc)"
grep -q "the smaller class is 4\.[0-9]% of them, so accuracy says little): AUROC" "$OUT/report.md" \
    || fail "the report's Final model does not lead with AUROC"
grep -q "^At the operating point (the top 1% of rows by score, --top-fraction 0.01; scores >= 0\.[0-9]* flagged): [0-9]* rows flagged, precision 0\.[0-9]*, recall 0\.[0-9]*, F1 0\.[0-9]*. Brier score 0\.[0-9]*. These come from the summed 1000-bin score histograms" \
    "$OUT/report.md" || fail "the report lacks the operating point from the histograms"
grep -q "coordinator: early stopping: the global model is round $best's" "$OUT/coordinator.log" \
    || fail "the coordinator log does not record the kept round"
grep -q "Brier" "$OUT/report.md" || fail "report.md lacks the Brier column"

# a member whose policy refuses the run's weight decay says so and sends nothing
start_coordinator coord --min-clients 2 --rounds 1 --plaintext --weight-decay 0.01 --train-deadline $((5 * SLOW)) \
    --join-timeout $((30 * SLOW)) --metrics "$WORK/m.csv"
start_client strict --plaintext --dataset wdbc --partitions 2 --partition-index 0 --max-weight-decay 0.001
start_client easy --plaintext --dataset wdbc --partitions 2 --partition-index 1
wait_pid "$COORD_PID" $((120 * SLOW)) || fail "coordinator exited with $?"
grep -q "rejected TRAIN: weight decay 0.01 is above this member's policy (max_weight_decay 0.001)" "$WORK/strict.log" \
    || fail "the strict member did not refuse the weight decay"
[ "$(csv_col "$WORK/m.csv" 1 updates)" = 1 ] || fail "expected one update (the other member's)"
echo "1 passed, 0 failed"
