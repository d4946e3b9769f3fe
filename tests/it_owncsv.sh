#!/usr/bin/env bash
# A member's own CSV (issue 12, "First contact"): fl-sim --data on real tables
# the project ships but fl-sim never special-cases: German credit (13 text
# columns, text label good/bad) and Ljubljana breast cancer (text columns,
# '?' missing cells), each in secure mode with the vocabulary round; the
# summary must be the bundled demo's and the federated AUROC sane.  Then
# numeric missing values (imputed) and --drop on a derived table, --missing
# error, and fl-client refusing a CSV that does not fit the agreed schema and
# a hostile schema file, each with one error line naming file:line:column.
source "$(dirname "$0")/lib_it.sh"
D="$SRC/datasets"

# summary_ok OUT : the bundled demo's summary block, federated AUROC > 0.6
summary_ok () {
    local out=$1
    grep -q "^Summary on the pooled held-out rows of all [0-9]* members ([0-9]* examples):" "$out" || fail "$out: no summary"
    grep -q "^  model  *accuracy  *AUROC  *AUPRC  *logloss  *Brier  *precision  *recall  *F1$" "$out" \
        || fail "$out: no summary header"
    grep -q "^  centralised (pooled data) " "$out" || fail "$out: no centralised line"
    grep -q "^  member alone (mean of [0-9]*) " "$out" || fail "$out: no member-alone line"
    grep -q "^  Federated minus member-alone: accuracy" "$out" || fail "$out: no difference line"
    local auroc
    auroc=$(awk '/^  federated \(this run\)/ {print $5}' "$out")
    echo "$out: federated AUROC $auroc"
    awk -v a="$auroc" 'BEGIN{exit !(a > 0.6)}' || fail "$out: federated AUROC $auroc is not above 0.6"
}

# 0. The README's command, as written (from a directory holding datasets/).
ln -s "$SRC/datasets" "$WORK/datasets"
(cd "$WORK" && "$BIN/fl-sim" --data datasets/german_credit.csv --label class >"$WORK/readme.out" 2>"$WORK/readme.log") \
    || fail "the README's fl-sim --data command failed"
summary_ok "$WORK/readme.out"

# 1. 13 text columns, text label, secure aggregation (the default).
"$BIN/fl-sim" --data "$D/german_credit.csv" --label class --clients 4 --rounds 15 --out "$WORK/g" \
    --train-deadline $((30 * SLOW)) >"$WORK/g.out" 2>"$WORK/g.log" || fail "fl-sim on german_credit.csv failed"
cat "$WORK/g.out"
grep -q "secure aggregation over CURVE" "$WORK/g.out" || fail "german_credit run was not secure"
grep -q "vocabulary round: 13 text columns, 54 categories" "$WORK/g.out" || fail "no vocabulary round over 13 text columns"
grep -q "61 features after encoding, label 'class', label mapping bad=0 good=1" "$WORK/g.out" || fail "no label mapping"
summary_ok "$WORK/g.out"
grep -q "encoded with schema $WORK/g/schema.zpl: 61 features" "$WORK/g/client-01.log" || fail "member 1 did not encode with the agreed schema"
[ "$(ls "$WORK/g/shards" | wc -l)" = 4 ] || fail "expected 4 member CSV files"
# The members' files keep the text cells as they were.
grep -q "^<0,.*,radio/tv,\|,'\?critical/other existing credit" "$WORK/g/shards/"*.csv || fail "member files lost the text cells"
# The model file carries the encoding and the label mapping.
"$BIN/fl-model" info "$WORK/g/model.flm" >"$WORK/g.info" || fail "fl-model info failed"
grep -q "^label mapping: bad=0 good=1$" "$WORK/g.info" || fail "model file has no label mapping: $(cat "$WORK/g.info")"
grep -q "^encoding:    schema of 61 features, 13 text columns with 54 categories, label 'class'$" "$WORK/g.info" \
    || fail "model file has no encoding"

# 2. Text columns with '?' missing cells: the "(missing)" category.
"$BIN/fl-sim" --data "$D/breast_cancer.csv" --label Class --clients 3 --rounds 15 --out "$WORK/b" \
    --train-deadline $((30 * SLOW)) >"$WORK/b.out" 2>"$WORK/b.log" || fail "fl-sim on breast_cancer.csv failed"
cat "$WORK/b.out"
grep -q "label mapping no-recurrence-events=0 recurrence-events=1" "$WORK/b.out" || fail "no label mapping"
awk '/^column = "node-caps"/ {c=1; next} /^column/ {c=0} c && /missing = "1"/ {f=1} END {exit !f}' "$WORK/b/schema.zpl" \
    || fail "schema does not mark node-caps as having missing cells"
summary_ok "$WORK/b.out"

# 3. --missing error refuses them: one line with file:line:column, no run.
if "$BIN/fl-sim" --data "$D/breast_cancer.csv" --label Class --clients 3 --missing error --out "$WORK/e" \
    >"$WORK/e.out" 2>"$WORK/e.log"; then fail "--missing error accepted '?' cells"; fi
n=$(grep -c "shards/member-0[0-9].csv:[0-9]*:[0-9]*: missing value ('?') in column '[a-z-]*' (refused: missing values are an error)" "$WORK/e.log" || true)
[ "$n" = 1 ] || fail "expected the refusal printed once, got $n times"
[ ! -e "$WORK/e/coordinator.log" ] || fail "a run started despite the refusal"

# 4. Numeric missing values (empty and NA) imputed, and --drop, on a table
#    derived from German credit: every 5th duration empty, every 7th age NA.
awk -F, 'NR > 1 && NR % 5 == 0 {$2 = ""} NR > 1 && NR % 7 == 0 {$13 = "NA"} {print}' OFS=, "$D/german_credit.csv" \
    > "$WORK/holes.csv"
"$BIN/fl-sim" --data "$WORK/holes.csv" --label class --drop own_telephone,foreign_worker --clients 3 --rounds 10 \
    --partition iid --out "$WORK/h" --train-deadline $((30 * SLOW)) >"$WORK/h.out" 2>"$WORK/h.log" \
    || fail "fl-sim with numeric missing values failed"
cat "$WORK/h.out"
# 61 - 4 dropped one-hot features + 2 missing indicators
grep -q "59 features after encoding" "$WORK/h.out" || fail "expected 59 features (drop 4, add 2 indicators)"
awk '/^column = "duration"/ {c=1; next} /^column/ {c=0} c && /missing = "1"/ {f=1} END {exit !f}' "$WORK/h/schema.zpl" \
    || fail "duration not marked missing"
grep -q '^column = "foreign_worker"' "$WORK/h/schema.zpl" && \
    awk '/^column = "foreign_worker"/ {getline; exit !/type = "drop"/}' "$WORK/h/schema.zpl" || fail "foreign_worker not dropped"
summary_ok "$WORK/h.out"

# 5. The vocabulary round with files (fl-schema), and fl-client refusals.
head -301 "$D/german_credit.csv" > "$WORK/m1.csv"
(head -1 "$D/german_credit.csv"; tail -n +302 "$D/german_credit.csv") > "$WORK/m2.csv"
"$BIN/fl-schema" --data "$WORK/m1.csv" --label class --out "$WORK/m1.zpl" >/dev/null || fail "report 1"
"$BIN/fl-schema" --data "$WORK/m2.csv" --label class --out "$WORK/m2.zpl" >/dev/null || fail "report 2"
"$BIN/fl-schema" --merge --out "$WORK/agreed.zpl" "$WORK/m1.zpl" "$WORK/m2.zpl" >"$WORK/merge.out" || fail "merge"
grep -q "61 features after encoding; 13 text columns with 54 categories" "$WORK/merge.out" || fail "merged schema: $(cat "$WORK/merge.out")"
# A member with a purpose the consortium never agreed on.
sed '2s/radio\/tv/spaceship/' "$WORK/m1.csv" > "$WORK/odd.csv"
grep -q spaceship "$WORK/odd.csv" || fail "test setup: no odd value"
if "$BIN/fl-client" --connect tcp://127.0.0.1:9 --member m --plaintext --data "$WORK/odd.csv" --label class \
    --schema "$WORK/agreed.zpl" >"$WORK/odd.log" 2>&1; then fail "fl-client accepted a value outside the vocabulary"; fi
n=$(grep -c "odd.csv:2:4: 'spaceship' in column 'purpose' is not in the agreed vocabulary" "$WORK/odd.log" || true)
[ "$n" = 1 ] || { cat "$WORK/odd.log"; fail "expected one refusal naming odd.csv:2:4, got $n"; }
# Without a schema, a member's own text columns are refused (its vocabulary alone would not match).
if "$BIN/fl-client" --connect tcp://127.0.0.1:9 --member m --plaintext --data "$WORK/m1.csv" --label class \
    >"$WORK/noschema.log" 2>&1; then fail "fl-client trained on text columns without a schema"; fi
grep -q "needs the consortium's schema\|must encode them with the consortium's schema" "$WORK/noschema.log" \
    || fail "no hint to use --schema"
# Hostile schema files: a duplicated category, an oversized value, junk.
sed '0,/value = "radio\/tv"/s//value = "radio\/tv"\n    value = "radio\/tv"/' "$WORK/agreed.zpl" > "$WORK/dup.zpl"
printf 'version = "1"\nlabel = "class"\n    type = "text"\n    value = "bad"\n    value = "good"\ncolumn = "purpose"\n    type = "text"\n    value = "%0100d"\n' 7 > "$WORK/long.zpl"
printf '\x00\xff garbage = = =\n' > "$WORK/junk.zpl"
for f in dup long junk; do
    if "$BIN/fl-client" --connect tcp://127.0.0.1:9 --member m --plaintext --data "$WORK/m1.csv" --label class \
        --schema "$WORK/$f.zpl" >"$WORK/$f.log" 2>&1; then fail "fl-client accepted the $f schema"; fi
    grep -q "data: schema .*$f.zpl" "$WORK/$f.log" || { cat "$WORK/$f.log"; fail "$f schema: no reason given"; }
done
grep -q "appears twice" "$WORK/dup.log" || fail "duplicate value not named"
grep -q "longer than 64 bytes" "$WORK/long.log" || fail "long value not named"
echo "1 passed, 0 failed"
