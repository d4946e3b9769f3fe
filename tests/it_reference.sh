#!/usr/bin/env bash
# Converged baselines checked against a reference (issue 15): on each bundled
# data set fl-sim runs a short plaintext federation (only the baselines
# matter here) with --dump-split, tools/fl-reference.py fits scikit-learn's
# LogisticRegression on the very rows fl-sim's centralised baseline saw, and
# libfl's centralised AUROC must be within 0.005 of scikit-learn's.  Also
# checks the per-member summary: every member alone listed on screen, in
# summary.csv and in report.md, with the count of members federated beats.
# Skips (exit 0, a SKIP line) when Debian's python3-sklearn is missing.
source "$(dirname "$0")/lib_it.sh"
PY=/usr/bin/python3
if ! "$PY" -c "import sklearn" 2>/dev/null; then
    echo "SKIP: scikit-learn is not installed (Debian: python3-sklearn; scripts/install-deps.sh)"
    exit 0
fi

for ds in wdbc pima ulb uci_credit german_credit breast_cancer; do
    out="$WORK/$ds"
    "$BIN/fl-sim" --dataset "$ds" --clients 4 --rounds 2 --plaintext --seed 7 --out "$out" --quiet \
        --dump-split "$out/split" >"$WORK/$ds.log" 2>&1 || fail "fl-sim --dataset $ds failed"
    for f in pooled_train.csv pooled_test.csv split.json member-01_train.csv member-04_test.csv; do
        [ -s "$out/split/$f" ] || fail "$ds: --dump-split wrote no $f"
    done
    # the dump holds every row: pooled = sum of the members'
    pooled=$(($(wc -l <"$out/split/pooled_train.csv") - 1))
    members=0
    for i in 01 02 03 04; do members=$((members + $(wc -l <"$out/split/member-${i}_train.csv") - 1)); done
    [ "$pooled" -eq "$members" ] || fail "$ds: pooled train has $pooled rows, the members $members"
    "$PY" "$SRC/tools/fl-reference.py" "$out/split" >"$WORK/$ds.ref" 2>"$WORK/$ds.ref.log" \
        || fail "$ds: fl-reference.py failed: $(cat "$WORK/$ds.ref.log")"
    line=$(tail -1 "$WORK/$ds.ref")
    echo "$ds: $line"
    # fields: dataset,classes,train_rows,test_rows,C,sklearn_auroc,sklearn_auprc,libfl_auroc,libfl_auprc,auroc_diff
    sk=$(echo "$line" | cut -d, -f6)
    lib=$(echo "$line" | cut -d, -f8)
    # the centralised AUROC fl-sim printed is the one in split.json
    # (the AUROC column found by the header: imbalanced tables lead with it)
    shown=$(awk '/^  model / {for (i = 2; i <= NF; i++) if ($i == "AUROC") c = i + 2}
                 /^  centralised \(pooled data\)/ {print $c}' "$WORK/$ds.log")
    awk -v a="$shown" -v b="$lib" 'BEGIN{exit !(a - b < 0.00006 && b - a < 0.00006)}' \
        || fail "$ds: fl-sim printed centralised AUROC $shown, split.json has $lib"
    awk -v a="$sk" -v b="$lib" 'BEGIN{exit !(a > 0.5 && a - b <= 0.005 && b - a <= 0.005)}' \
        || fail "$ds: libfl centralised AUROC $lib is not within 0.005 of scikit-learn's $sk"
    # per-member results: each member on screen, in summary.csv and report.md
    for i in 01 02 03 04; do
        grep -q "^  member-$i alone " "$WORK/$ds.log" || fail "$ds: no member-$i line in the summary"
        grep -q "^member-$i alone,[0-9]*,[0-9]*," "$out/summary.csv" || fail "$ds: no member-$i row in summary.csv"
        grep -q "^| member-$i alone | [0-9]* |" "$out/report.md" || fail "$ds: no member-$i row in report.md"
    done
    grep -q "^centralised,$pooled,.*,lbfgs,[0-9]*,0,\(gradient\|relative change\)," "$out/summary.csv" \
        || fail "$ds: the centralised baseline did not converge: $(grep ^centralised "$out/summary.csv")"
    grep -q "^  Federated beats [0-9] of [0-9] members alone on AUROC" "$WORK/$ds.log" || fail "$ds: no 'beats' line"
    grep -q "^Federated beats [0-9] of [0-9] members alone on AUROC" "$out/report.md" || fail "$ds: no 'beats' line in report.md"
done

# A multinomial case: scikit-learn's wine table (3 classes), through --data.
"$PY" -c "
from sklearn.datasets import load_wine
import csv, sys
d = load_wine(); w = csv.writer(open(sys.argv[1], 'w'))
w.writerow([n.replace('/', '_') for n in d.feature_names] + ['cultivar'])
for x, y in zip(d.data, d.target): w.writerow(list(x) + [int(y)])" "$WORK/wine.csv"
"$BIN/fl-sim" --data "$WORK/wine.csv" --label cultivar --clients 3 --rounds 2 --plaintext --out "$WORK/wine" --quiet \
    --dump-split "$WORK/wine/split" >"$WORK/wine.log" 2>&1 || fail "fl-sim on wine failed"
grep -q "macro-averaged one-vs-rest" "$WORK/wine.log" || fail "wine: the summary does not say AUROC is macro-averaged"
grep -q '"classes": 3' "$WORK/wine/split/split.json" || fail "wine: split.json does not say 3 classes"
"$PY" "$SRC/tools/fl-reference.py" --json "$WORK/wine/split" >"$WORK/wine.ref" || fail "wine: fl-reference.py failed"
echo "wine: $(cat "$WORK/wine.ref")"
"$PY" -c "
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r['classes'] == 3 and abs(r['auroc_diff']) <= 0.005 and r['sklearn_auroc'] > 0.9 else 1)" "$WORK/wine.ref" \
    || fail "wine: libfl's multinomial centralised AUROC is not within 0.005 of scikit-learn's"
# every member alone has a real macro AUROC, not the 0.5 / 0 of an undefined value averaged as real
awk '/^  member-0[1-3] alone/ {if ($4 == "0.5000" || $5 == "0.0000") bad = 1} END {exit bad}' "$WORK/wine.log" \
    || fail "wine: a member-alone row shows 0.5000 / 0.0000"

# An MLP's baselines stop early on a validation split and say so.
"$BIN/fl-sim" --dataset wdbc --clients 3 --rounds 2 --plaintext --model mlp --hidden 8 --out "$WORK/mlp" --quiet \
    >"$WORK/mlp.log" 2>&1 || fail "fl-sim --model mlp failed"
grep -q "^  Baselines trained to convergence: centralised early stopping: best epoch [0-9]* of [0-9]* (patience\|epoch cap)" \
    "$WORK/mlp.log" || fail "mlp: no early-stopping line: $(grep Baselines "$WORK/mlp.log")"
grep -q "^centralised,.*,early_stopping,[0-9]*,[1-9][0-9]*," "$WORK/mlp/summary.csv" || fail "mlp: summary.csv has no best epoch"
echo "it_reference: ok"
