#!/usr/bin/env bash
# Trained models that leave libfl (docs/SCORING.md): fl-sim trains small
# models on the bundled WDBC data, then fl-model
#   - info shows the feature, label and class names the model file keeps;
#   - predict scores the bundled CSV: probabilities in [0, 1], classes that
#     follow the threshold, metrics that equal the ones recomputed here from
#     the output CSV; columns in another order give the same scores; a
#     missing, extra or renamed column is a clear error (exit 2) naming it;
#   - export --json round-trips the shapes; export --int8 writes a QAT model
#     calibrated on the CSV's rows; export --onnx writes a graph that
#     onnx.checker accepts and that a numpy evaluation of its nodes (not
#     libfl's code) scores like predict to 1e-5;
#   - gradcheck passes on logreg, mlp and the example plugin, and fails
#     (exit 1) on a plugin whose backward is deliberately wrong;
#   - a plugin-trained model is read and scored with --model-plugin, and is
#     refused by the ONNX export with a clear reason;
#   - a model trained on a CSV with text columns (german_credit) scores the
#     bundled CSV through its stored schema, classes by name;
#   - a three-class model writes one probability per class, and its ONNX
#     Softmax graph agrees with predict;
#   - a model from a real fl-coordinator run keeps no names: predict takes
#     the columns by position, and `fl-model names` records a member CSV's
#     header so that the columns are then matched by name.
source "$(dirname "$0")/lib_it.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import onnx, numpy' 2>/dev/null || fail "python3-onnx and python3-numpy are needed (scripts/install-deps.sh)"
CSV="$SRC/datasets/wdbc.csv"
PLUGIN="${FL_BINARY_DIR:-build}/plugins/fm_plugin.so"
sim () {
    local out=$1; shift
    "$BIN/fl-sim" --dataset wdbc --clients 3 --rounds 3 --no-baselines --plaintext \
        --train-deadline $((5 * SLOW)) --out "$WORK/$out" "$@" >"$WORK/$out.log" 2>&1 || fail "fl-sim $out failed"
}
sim lr
sim mlp --model mlp --hidden 8,4
sim fm --model-plugin "$PLUGIN"

# info: the names.
"$BIN/fl-model" info "$WORK/lr/model.flm" >"$WORK/info.txt" || fail "info failed"
grep -q "^file format: 3$" "$WORK/info.txt" || fail "info does not say format 3"
grep -q "^feature names: mean_radius, mean_texture, .*, worst_fractal_dimension$" "$WORK/info.txt" \
    || fail "info does not list the feature names"
grep -q "^label: *malignant$" "$WORK/info.txt" || fail "info does not give the label"
grep -q "^class names: 0, 1$" "$WORK/info.txt" || fail "info does not give the classes"

# predict with metrics; check the output against the input and recompute the metrics.
check_scores () {   # MODEL-OUT-CSV METRICS-LINE-FILE
    "$PY" - "$CSV" "$1" "$2" <<'PYEOF' || fail "scores or metrics of $1 are wrong"
import csv, math, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = list(csv.DictReader(open(sys.argv[2])))
assert len(out) == len(rows) == 569, (len(out), len(rows))
y = [int(r["malignant"]) for r in rows]
p = [float(o["score"]) for o in out]
assert [int(o["row"]) for o in out] == list(range(1, 570))
assert all(0.0 <= v <= 1.0 for v in p), "score outside [0, 1]"
assert all(int(o["class"]) == (1 if float(o["score"]) >= 0.5 else 0) for o in out), "class does not follow 0.5"
acc = sum((v >= 0.5) == (t == 1) for v, t in zip(p, y)) / len(y)
eps = 1e-7
ll = -sum(math.log(min(max(v if t else 1 - v, eps), 1 - eps)) for v, t in zip(p, y)) / len(y)
pos = [v for v, t in zip(p, y) if t]; neg = [v for v, t in zip(p, y) if not t]
auc = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))
line = open(sys.argv[3]).read()
m = re.search(r"accuracy ([0-9.]+) auroc ([0-9.]+) log_loss ([0-9.]+)", line)
assert m, line
got = [float(g) for g in m.groups()]
for name, a, b in zip(("accuracy", "auroc", "log_loss"), got, (acc, auc, ll)):
    assert abs(a - b) < 2e-6, (name, a, b)
assert acc > 0.9 and auc > 0.95, (acc, auc)
print("predict: %d rows, accuracy %.4f auroc %.4f log loss %.4f (recomputed)" % (len(y), acc, auc, ll))
PYEOF
}
for m in lr mlp; do
    "$BIN/fl-model" predict "$WORK/$m/model.flm" "$CSV" --out "$WORK/$m.csv" --metrics >"$WORK/$m.metrics" \
        || fail "predict $m failed"
    check_scores "$WORK/$m.csv" "$WORK/$m.metrics"
done
# stdout output (metrics on stderr), a threshold, and the label column ignored without --metrics.
"$BIN/fl-model" predict "$WORK/lr/model.flm" "$CSV" >"$WORK/lr.stdout.csv" || fail "predict to stdout failed"
cmp -s "$WORK/lr.csv" "$WORK/lr.stdout.csv" || fail "predict to stdout differs from --out"
"$BIN/fl-model" predict "$WORK/lr/model.flm" "$CSV" --threshold 0.99 --out "$WORK/lr99.csv" >/dev/null
n50=$(awk -F, 'NR > 1 && $3 == 1' "$WORK/lr.csv" | wc -l)
n99=$(awk -F, 'NR > 1 && $3 == 1' "$WORK/lr99.csv" | wc -l)
want99=$(awk -F, 'NR > 1 && $2 >= 0.99' "$WORK/lr.csv" | wc -l)
[ "$n99" -eq "$want99" ] && [ "$n99" -lt "$n50" ] || fail "threshold 0.99: $n99 positives, expected $want99 (< $n50)"

# Columns: another order and no label give the same scores; errors name the columns.
"$PY" - "$CSV" "$WORK" <<'PYEOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
head = rows[0]
def write(name, cols, rename=None):
    with open("%s/%s" % (sys.argv[2], name), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([rename.get(h, h) if rename else h for h in [head[c] for c in cols]])
        for r in rows[1:]:
            w.writerow([r[c] for c in cols])
n = len(head)
write("reversed.csv", list(range(n - 1, -1, -1)))
write("nolabel.csv", [c for c in range(n) if head[c] != "malignant"])
write("missing.csv", [c for c in range(n) if head[c] != "mean_texture"])
write("extra.csv", list(range(n)) + [0], rename=None)
write("renamed.csv", list(range(n)), rename={"worst_area": "worst area"})
PYEOF
# extra.csv repeats column 0 under a new name
sed -i '1s/,mean_radius$/,patient_id/' "$WORK/extra.csv"
"$BIN/fl-model" predict "$WORK/lr/model.flm" "$WORK/reversed.csv" --out "$WORK/rev.out" || fail "reordered columns refused"
"$BIN/fl-model" predict "$WORK/lr/model.flm" "$WORK/nolabel.csv" --out "$WORK/nolabel.out" || fail "no label refused"
cmp -s "$WORK/lr.csv" "$WORK/rev.out" || fail "reordered columns give other scores"
cmp -s "$WORK/lr.csv" "$WORK/nolabel.out" || fail "rows without the label give other scores"
expect_error () {   # FILE PATTERN [ARGS]
    local file=$1 pattern=$2; shift 2
    set +e
    "$BIN/fl-model" predict "$WORK/lr/model.flm" "$file" --out "$WORK/err.out" "$@" 2>"$WORK/err.txt"
    local rc=$?
    set -e
    [ $rc -eq 2 ] || fail "predict on $(basename "$file") exited $rc, expected 2"
    grep -qF -- "$pattern" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no '$pattern' for $(basename "$file")"; }
    echo "refused $(basename "$file"): $(tail -1 "$WORK/err.txt")"
}
expect_error "$WORK/missing.csv" "missing column(s): 'mean_texture'"
expect_error "$WORK/extra.csv" "extra column(s): 'patient_id'"
expect_error "$WORK/renamed.csv" "missing column(s): 'worst_area'; extra column(s): 'worst area'"
expect_error "$WORK/nolabel.csv" "metrics need the label column 'malignant'" --metrics
sed '3s/^[^,]*,/oops,/' "$CSV" >"$WORK/text.csv"
expect_error "$WORK/text.csv" "text.csv:3:1: column 'mean_radius': 'oops' is not a finite number"
[ ! -e "$WORK/err.out" ] || fail "a refused predict wrote its output"

# export --json: shapes round-trip; export --onnx: checker + numpy evaluation of the graph.
check_onnx () {   # ONNX CSV PREDICT-OUTPUT
    "$PY" - "$1" "$2" "$3" <<'PYEOF' || fail "ONNX graph $1 does not match predict"
import csv, sys
import numpy as np
import onnx
from onnx import numpy_helper
model = onnx.load(sys.argv[1])
onnx.checker.check_model(model)
g = model.graph
names = [i.name for i in g.input]
rows = list(csv.DictReader(open(sys.argv[2])))
feats = __import__("json").loads({p.key: p.value for p in model.metadata_props}["feature_names"])
x = np.array([[float(r[f]) for f in feats] for r in rows], dtype=np.float32)
env = {names[0]: x}
env.update({t.name: numpy_helper.to_array(t) for t in g.initializer})
# An evaluator of the graph's own nodes, in numpy (onnx 1.12 has no reference evaluator).
for node in g.node:
    a = [env[i] for i in node.input]
    attrs = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
    if node.op_type == "Sub":
        r = a[0] - a[1]
    elif node.op_type == "Div":
        r = a[0] / a[1]
    elif node.op_type == "Gemm":
        b = a[1].T if attrs.get("transB", 0) else a[1]
        aa = a[0].T if attrs.get("transA", 0) else a[0]
        r = attrs.get("alpha", 1.0) * aa @ b + attrs.get("beta", 1.0) * a[2]
    elif node.op_type == "Relu":
        r = np.maximum(a[0], 0)
    elif node.op_type == "Sigmoid":
        r = 1 / (1 + np.exp(-a[0]))
    elif node.op_type == "Softmax":
        e = np.exp(a[0] - a[0].max(axis=attrs.get("axis", -1), keepdims=True))
        r = e / e.sum(axis=attrs.get("axis", -1), keepdims=True)
    else:
        raise SystemExit("unexpected node " + node.op_type)
    env[node.output[0]] = r.astype(np.float32)
got = env[g.output[0].name]
out = list(csv.DictReader(open(sys.argv[3])))
cols = ["score"] if "score" in out[0] else [c for c in out[0] if c.startswith("p_")]
want = np.array([[float(o[c]) for c in cols] for o in out], dtype=np.float64)
assert got.shape == want.shape == (len(rows), len(cols)), (got.shape, want.shape)
err = np.abs(got.astype(np.float64) - want).max()
assert err <= 1e-5, err
print("onnx: %s, nodes %s, max |onnx - predict| = %.2e over %d rows" %
      (sys.argv[1].rsplit("/", 1)[-1], [n.op_type for n in g.node], err, len(rows)))
PYEOF
}
for m in lr mlp; do
    "$BIN/fl-model" export --json "$WORK/$m/model.flm" "$WORK/$m.json" >/dev/null || fail "export --json $m failed"
    params=$("$BIN/fl-model" info "$WORK/$m/model.flm" | awk '/^parameters:/ {print $2}')
    "$PY" - "$WORK/$m.json" "$params" <<'PYEOF' || fail "JSON export of $m is wrong"
import json, sys
m = json.load(open(sys.argv[1]))
total = 0
for t in m["tensors"]:
    size = 1
    for s in t["shape"]:
        size *= s
    assert size == len(t["data"]), (t["name"], t["shape"], len(t["data"]))
    total += size
assert total == int(sys.argv[2]), (total, sys.argv[2])
assert len(m["feature_names"]) == m["inputs"] == 30 and m["label"] == "malignant" and m["class_names"] == ["0", "1"]
assert len(m["standardisation"]["mean"]) == len(m["standardisation"]["std"]) == 30
print("json: %s, %d tensors, %d parameters" % (m["model"], len(m["tensors"]), total))
PYEOF
    "$BIN/fl-model" export --onnx "$WORK/$m/model.flm" "$WORK/$m.onnx" >/dev/null || fail "export --onnx $m failed"
    check_onnx "$WORK/$m.onnx" "$CSV" "$WORK/$m.csv"
done
# Without the onnx package (python3 -S: no site packages), or without the script: clear errors.
printf '#!/bin/sh\nexec %s -S "$@"\n' "$PY" >"$WORK/nosite-python"
chmod +x "$WORK/nosite-python"
set +e
FL_PYTHON="$WORK/nosite-python" "$BIN/fl-model" export --onnx "$WORK/lr/model.flm" "$WORK/x.onnx" 2>"$WORK/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "the onnx and numpy Python packages are needed (Debian: apt-get install python3-onnx" \
    "$WORK/err.txt" && [ ! -e "$WORK/x.onnx" ] || fail "ONNX export without the onnx package: exit $rc, $(cat "$WORK/err.txt")"
set +e
FL_ONNX_EXPORT=/nonexistent/fl-onnx-export.py "$BIN/fl-model" export --onnx "$WORK/lr/model.flm" "$WORK/x.onnx" \
    2>"$WORK/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "fl-onnx-export.py was not found at /nonexistent" "$WORK/err.txt" \
    || fail "ONNX export without its script: exit $rc, $(cat "$WORK/err.txt")"
set +e
"$BIN/fl-model" export --int8 "$WORK/lr/model.flm" "$WORK/lr.int8" 2>"$WORK/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "needs a model trained with QAT" "$WORK/err.txt" || fail "int8 export of a float model not refused clearly"
sim qat --model mlp --hidden 8 --qat
set +e
"$BIN/fl-model" export --int8 "$WORK/qat/model.flm" "$WORK/qat.int8" 2>"$WORK/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "needs calibration rows" "$WORK/err.txt" || fail "int8 export without calibration rows not refused"
"$BIN/fl-model" export --int8 "$WORK/qat/model.flm" "$WORK/qat.int8" --calibrate "$CSV" >/dev/null \
    || fail "int8 export of a QAT model failed"
[ -s "$WORK/qat.int8" ] || fail "no int8 file"

# gradcheck: built-ins and the example plugin pass.
"$BIN/fl-model" gradcheck >"$WORK/gc.txt" || fail "gradcheck logreg failed"
"$BIN/fl-model" gradcheck --model mlp --hidden 16,8 --classes 3 >>"$WORK/gc.txt" || fail "gradcheck mlp failed"
"$BIN/fl-model" gradcheck --model-plugin "$PLUGIN" --features 12 --classes 2 >>"$WORK/gc.txt" 2>/dev/null \
    || fail "gradcheck of the fm plugin failed"
[ "$(grep -c '^PASS' "$WORK/gc.txt")" -eq 3 ] || fail "gradcheck did not print PASS three times"
grep "^max relative error" "$WORK/gc.txt"
# ... and a plugin with a wrong backward (built here as an out-of-tree plugin is) fails.
"${CC:-cc}" -std=c11 -shared -fPIC -I"$SRC/libfl/learn" "$SRC/tests/data/broken_backward_plugin.c" \
    -o "$WORK/broken.so" -lm || fail "cannot build tests/data/broken_backward_plugin.c"
set +e
"$BIN/fl-model" gradcheck --model-plugin "$WORK/broken.so" >"$WORK/gc-broken.txt" 2>/dev/null; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "^FAIL" "$WORK/gc-broken.txt" || fail "gradcheck of a wrong backward exited $rc"
grep "^max relative error" "$WORK/gc-broken.txt"

# A plugin-trained model: readable and scorable with the plugin, refused without it and by ONNX.
set +e
"$BIN/fl-model" info "$WORK/fm/model.flm" >"$WORK/err.txt" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "holds a 'fm' model, which is not built in" "$WORK/err.txt" || fail "plugin model without plugin"
"$BIN/fl-model" info --model-plugin "$PLUGIN" "$WORK/fm/model.flm" 2>/dev/null | grep -q "^label: *malignant$" \
    || fail "info --model-plugin"
"$BIN/fl-model" predict "$WORK/fm/model.flm" "$CSV" --model-plugin "$PLUGIN" --out "$WORK/fm.csv" --metrics \
    >"$WORK/fm.metrics" 2>/dev/null || fail "predict --model-plugin failed"
check_scores "$WORK/fm.csv" "$WORK/fm.metrics"
set +e
"$BIN/fl-model" export --onnx --model-plugin "$PLUGIN" "$WORK/fm/model.flm" "$WORK/fm.onnx" 2>"$WORK/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "not exportable to ONNX" "$WORK/err.txt" || fail "ONNX export of a plugin model not refused clearly"

# A CSV with text columns (german_credit): the stored schema encodes the rows; classes by name.
"$BIN/fl-sim" --dataset german_credit --clients 3 --rounds 3 --no-baselines --plaintext \
    --train-deadline $((5 * SLOW)) --out "$WORK/gc" >"$WORK/gc.log" 2>&1 || fail "fl-sim german_credit failed"
"$BIN/fl-model" info "$WORK/gc/model.flm" | grep -q "^class names: bad, good$" || fail "german_credit class names"
"$BIN/fl-model" predict "$WORK/gc/model.flm" "$SRC/datasets/german_credit.csv" --metrics --out "$WORK/gc.csv" \
    >"$WORK/gc.metrics" || fail "predict on german_credit failed"
[ "$(head -1 "$WORK/gc.csv")" = "row,score,class" ] && [ "$(wc -l <"$WORK/gc.csv")" -eq 1001 ] || fail "german_credit output"
awk -F, 'NR > 1 && !(($2 >= 0.5 && $3 == "good") || ($2 < 0.5 && $3 == "bad")) {exit 1}' "$WORK/gc.csv" \
    || fail "german_credit classes do not follow the scores"
grep -q "accuracy 0\.[6-9]" "$WORK/gc.metrics" || fail "german_credit metrics: $(cat "$WORK/gc.metrics")"
cut -d, -f2- "$SRC/datasets/german_credit.csv" >"$WORK/gc-short.csv"
set +e
"$BIN/fl-model" predict "$WORK/gc/model.flm" "$WORK/gc-short.csv" >"$WORK/err.txt" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "column 'checking_status' is not in the header" "$WORK/err.txt" \
    || fail "german_credit with a missing column not refused"
echo "refused gc-short.csv: $(tail -1 "$WORK/err.txt")"

# A model from fl-coordinator (which never sees a header) keeps no names: predict takes the
# columns in training order; `fl-model names` records a member CSV's header, then the header
# is checked by name.
start_coordinator coord --min-clients 3 --rounds 2 --client-lr 0.1 --batch-size 16 \
    --train-deadline $((20 * SLOW)) --eval-deadline $((20 * SLOW)) --join-timeout $((30 * SLOW)) \
    --model-out "$WORK/coord.flm" --plaintext
for i in 0 1 2; do
    start_client "member-$i" --plaintext --dataset wdbc --partitions 3 --partition-index $i --partition iid --data-seed 7
done
wait_pid "$COORD_PID" $((120 * SLOW)) || fail "coordinator exited with $?"
"$BIN/fl-model" info "$WORK/coord.flm" | grep -q "^feature names: unknown (the training program did not record them)$" \
    || fail "a coordinator's model should keep no names"
"$BIN/fl-model" predict "$WORK/coord.flm" "$CSV" --out "$WORK/coord-pos.csv" >/dev/null || fail "predict by position failed"
cut -d, -f2- "$WORK/nolabel.csv" >"$WORK/29.csv"
set +e
"$BIN/fl-model" predict "$WORK/coord.flm" "$WORK/29.csv" >/dev/null 2>"$WORK/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "keeps no feature names (record them with fl-model names): the CSV must have the model's 30 input columns in training order (plus the label last); it has 29" "$WORK/err.txt" \
    || fail "29 columns for a 30-input model without names: $(cat "$WORK/err.txt")"
head -1 "$CSV" >"$WORK/header.csv"
"$BIN/fl-model" names "$WORK/coord.flm" "$WORK/header.csv" >/dev/null || fail "fl-model names failed"
"$BIN/fl-model" info "$WORK/coord.flm" | grep -q "^label: *malignant$" || fail "names did not record the label"
"$BIN/fl-model" predict "$WORK/coord.flm" "$WORK/reversed.csv" --out "$WORK/coord-rev.csv" >/dev/null \
    || fail "predict by name after fl-model names failed"
cmp -s "$WORK/coord-pos.csv" "$WORK/coord-rev.csv" || fail "scores by position and by name differ"
set +e
"$BIN/fl-model" names "$WORK/coord.flm" "$SRC/datasets/pima_diabetes.csv" 2>"$WORK/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "has 8 feature columns besides the label 'diabetes', the model takes 30 inputs" "$WORK/err.txt" \
    || fail "names from a CSV of another shape not refused"

# Three classes (a CSV of the members' own, label 'size' from WDBC's mean radius): one
# probability column per class, rows summing to 1, class = argmax; the ONNX Softmax graph agrees.
"$PY" - "$CSV" "$WORK/three.csv" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
drop = {"malignant", "mean_radius", "worst_radius", "mean_perimeter", "worst_perimeter", "mean_area", "worst_area"}
feats = [k for k in rows[0] if k not in drop]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(feats + ["size"])
    for r in rows:
        rad = float(r["mean_radius"])
        w.writerow([r[k] for k in feats] + [0 if rad < 12 else 1 if rad < 15 else 2])
PYEOF
"$BIN/fl-sim" --data "$WORK/three.csv" --label size --clients 3 --rounds 5 --no-baselines --plaintext \
    --train-deadline $((5 * SLOW)) --out "$WORK/three" >"$WORK/three.log" 2>&1 || fail "fl-sim on three classes failed"
"$BIN/fl-model" predict "$WORK/three/model.flm" "$WORK/three.csv" --metrics --out "$WORK/three.out" >"$WORK/three.metrics" \
    || fail "predict on three classes failed"
[ "$(head -1 "$WORK/three.out")" = "row,p_0,p_1,p_2,class" ] || fail "three-class output header: $(head -1 "$WORK/three.out")"
awk -F, 'NR > 1 { s = $2 + $3 + $4; m = ($2 >= $3 && $2 >= $4) ? 0 : ($3 >= $4 ? 1 : 2);
                  if (s < 0.9999 || s > 1.0001 || m != $5) exit 1 }' "$WORK/three.out" \
    || fail "three-class probabilities do not sum to 1 or class is not the argmax"
grep -q "accuracy 0\.[6-9]" "$WORK/three.metrics" || fail "three-class metrics: $(cat "$WORK/three.metrics")"
"$BIN/fl-model" export --onnx "$WORK/three/model.flm" "$WORK/three.onnx" >/dev/null || fail "export --onnx three-class"
check_onnx "$WORK/three.onnx" "$WORK/three.csv" "$WORK/three.out"
echo "1 passed, 0 failed"
