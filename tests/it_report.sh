#!/usr/bin/env bash
# The report a regulator reads (issue 15; docs/COORDINATOR.md "Report",
# docs/MODELS.md "Parameter digest"):
#   - fl-sim (secure, the default) writes report.html beside report.md with
#     inline SVG plots (gnuplot-nox), its baselines section, and report.sig;
#   - the digest the report names equals `fl-model digest model.flm`, and the
#     HTML carries the same;
#   - `fl-model verify-report --roster --model` passes, and refuses (exit 1,
#     a clear reason): report.md or report.html edited by one byte, a model
#     file that is another model, a report a member signed with its own key
#     (a member that ran a coordinator against a roster naming itself
#     coordinator), a missing signature;
#   - a model file whose parameters were edited is refused by fl-model;
#   - without gnuplot the run still succeeds and report.html says the plots
#     were skipped (tables only);
#   - a three-class run's metrics.csv and report say "undefined" for AUROC
#     and AUPRC, never a number.
# Run: FL_BINARY_DIR=build-dev FL_SOURCE_DIR=. bash tests/it_report.sh
source "$(dirname "$0")/lib_it.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v gnuplot >/dev/null || fail "gnuplot is needed (Debian gnuplot-nox; scripts/install-deps.sh)"

# 1. fl-sim, secure: report.html with plots, signed.
"$BIN/fl-sim" --dataset wdbc --clients 4 --rounds 4 --train-deadline $((10 * SLOW)) --out "$WORK/sim" \
    >"$WORK/sim.log" 2>&1 || fail "fl-sim failed"
OUT="$WORK/sim"
for f in report.md report.html report.sig roster.zpl model.flm summary.csv; do
    [ -s "$OUT/$f" ] || fail "fl-sim wrote no $f"
done
[ "$(grep -c '<svg' "$OUT/report.html")" -ge 5 ] || fail "report.html has fewer than 5 inline SVG plots"
grep -q "Plots skipped" "$OUT/report.html" && fail "report.html skipped plots with gnuplot installed"
grep -q "<h2>Baselines (fl-sim)</h2>" "$OUT/report.html" || fail "report.html has no baselines section"
grep -q "<h2>Privacy and security</h2>" "$OUT/report.html" || fail "report.html has no privacy section"
grep -q "ROC curve of the final model" "$OUT/report.html" || fail "report.html has no ROC curve"
grep -q "Reliability diagram" "$OUT/report.html" || fail "report.html has no calibration plot"
grep -q '<?xml' "$OUT/report.html" && fail "an XML prolog inside the HTML"
grep -q 'src="http\|href="http' "$OUT/report.html" && fail "report.html is not self-contained"

# 2. The digest: model file = report.md = report.html.
D=$("$BIN/fl-model" digest "$OUT/model.flm") || fail "fl-model digest failed"
[[ "$D" =~ ^[0-9a-f]{64}$ ]] || fail "digest is not 64 hex characters: $D"
grep -q "^- Model digest: blake2b-256 $D " "$OUT/report.md" || fail "report.md does not name digest $D"
grep -q "blake2b-256 $D" "$OUT/report.html" || fail "report.html does not name digest $D"
"$BIN/fl-model" info "$OUT/model.flm" | grep -q "^parameter digest: blake2b-256 $D$" || fail "info shows another digest"
"$BIN/fl-model" info "$OUT/model.flm" | grep -q "^file format: 3$" || fail "model file is not format 3"

# 3. Verification passes.
"$BIN/fl-model" verify-report --roster "$OUT/roster.zpl" --model "$OUT/model.flm" "$OUT/report.md" \
    >"$WORK/verify.out" 2>&1 || { cat "$WORK/verify.out"; fail "verify-report refused the genuine report"; }
grep -q "OK" "$WORK/verify.out" || fail "verify-report printed no OK"

# refused: expects exit 1 and the reason
refused () {
    local what=$1 pattern=$2; shift 2
    local rc=0
    "$BIN/fl-model" verify-report "$@" >"$WORK/refused.out" 2>&1 || rc=$?
    [ $rc -eq 1 ] || { cat "$WORK/refused.out"; fail "$what: exit $rc, not 1"; }
    grep -q "$pattern" "$WORK/refused.out" || { cat "$WORK/refused.out"; fail "$what: no '$pattern'"; }
}

# 4. One byte edited in report.md (a figure), then in report.html.
cp -r "$OUT" "$WORK/t1"
"$PY" - "$WORK/t1/report.md" <<'PYEOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.index(b"accuracy 0.") + len(b"accuracy 0.")
b[i] = ord("9") if b[i] != ord("9") else ord("8")
open(p, "wb").write(b)
PYEOF
refused "edited report.md" "edited after signing" --roster "$WORK/t1/roster.zpl" --model "$WORK/t1/model.flm" \
    "$WORK/t1/report.md"
cp -r "$OUT" "$WORK/t2"
sed -i 's/ROC curve of the final model/ROC curve of the final modem/' "$WORK/t2/report.html"
refused "edited report.html" "report.html is not the file the coordinator signed" --roster "$WORK/t2/roster.zpl" \
    "$WORK/t2/report.md"
cp -r "$OUT" "$WORK/t3"
rm "$WORK/t3/report.sig"
refused "no signature" "cannot read the signature file" --roster "$WORK/t3/roster.zpl" "$WORK/t3/report.md"

# 5. A model file whose parameters were edited: refused by every reader.
"$PY" - "$OUT/model.flm" "$WORK/edited.flm" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.index(b"\xa6params") + 7 + 40
b[i] ^= 0x01
open(sys.argv[2], "wb").write(b)
PYEOF
rc=0; "$BIN/fl-model" info "$WORK/edited.flm" >"$WORK/edited.err" 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "an edited model file was not refused by info (exit $rc)"
grep -q "do not match the file's parameter digest" "$WORK/edited.err" || fail "no clear reason for the edited model"
rc=0; "$BIN/fl-model" digest "$WORK/edited.flm" >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "fl-model digest printed a digest for an edited model file"

# 6. Real programs: a consortium (fl-keygen) and a coordinator that signs.
"$BIN/fl-keygen" --out "$WORK/keys" --roster "$WORK/roster.zpl" --members 4 >"$WORK/keygen.log" 2>&1 \
    || fail "fl-keygen failed"
K="$WORK/keys"
run () {          # run NAME ROSTER IDENTITY MEMBERS... : a 2-round secure run, report in $WORK/NAME/
    local name=$1 roster=$2 identity=$3; shift 3
    mkdir -p "$WORK/$name"
    start_coordinator "$name" --roster "$roster" --cert "$K/coordinator.curve" --identity "$identity" \
        --min-clients $# --rounds 2 --train-deadline $((10 * SLOW)) --report "$WORK/$name/report.md" \
        --model-out "$WORK/$name/model.flm" --metrics "$WORK/$name/metrics.csv"
    local cp=$COORD_PID i=0
    for m in "$@"; do
        i=$((i + 1))
        "$BIN/fl-client" --connect "tcp://127.0.0.1:$PORT" --member "$m" --roster "$roster" \
            --identity "$K/$m.identity_secret" --cert "$K/$m.curve" --dataset wdbc --partition iid \
            --partitions $# --partition-index $((i - 1)) >"$WORK/$name-$m.log" 2>&1 &
        PIDS+=("$!")
    done
    wait_pid "$cp" $((120 * SLOW)) || fail "coordinator $name failed"
}
run real "$WORK/roster.zpl" "$K/coordinator.identity_secret" member-01 member-02 member-03
[ -s "$WORK/real/report.sig" ] && [ -s "$WORK/real/report.html" ] || fail "fl-coordinator wrote no report.sig/html"
"$BIN/fl-model" verify-report --roster "$WORK/roster.zpl" --model "$WORK/real/model.flm" "$WORK/real/report.md" \
    >/dev/null 2>&1 || fail "verify-report refused the coordinator's genuine report"

# 7. The fl-sim report checked against the other run's model: another model.
refused "report names another model" "another model" --roster "$OUT/roster.zpl" --model "$WORK/real/model.flm" \
    "$OUT/report.md"

# 8. The coordinator refuses an identity key that is not the roster's coordinator key.
rc=0
"$BIN/fl-coordinator" --bind tcp://127.0.0.1:0 --roster "$WORK/roster.zpl" --cert "$K/coordinator.curve" \
    --identity "$K/member-01.identity_secret" --min-clients 3 --report "$WORK/x.md" >"$WORK/wrongkey.log" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "the coordinator accepted a member's identity key"
grep -q "is not the coordinator's identity key in the roster" "$WORK/wrongkey.log" || fail "no clear reason for a wrong key"

# 9. A member forges a report: a roster that names member-01's identity key as the
#    coordinator's, a run it signs with its own key.  Against the consortium's roster: refused.
"$PY" - "$WORK/roster.zpl" "$(cat "$K/member-01.identity")" "$WORK/forged.zpl" <<'PYEOF'
import sys
lines = open(sys.argv[1]).read().split("\n")
out, section = [], None
for line in lines:
    s = line.strip()
    if s == "coordinator" or s.startswith("member = "):
        section = s
    if section == 'member = "member-01"':
        continue                                  # member-01 leaves the member list...
    if section == "coordinator" and s.startswith("identity = "):
        line = '        identity = "%s"' % sys.argv[2].strip()   # ...and becomes the coordinator
    out.append(line)
open(sys.argv[3], "w").write("\n".join(out))
PYEOF
FL_GNUPLOT=/nonexistent/gnuplot run forged "$WORK/forged.zpl" "$K/member-01.identity_secret" member-02 member-03 member-04
refused "a member's signature" "member 'member-01'" --roster "$WORK/roster.zpl" "$WORK/forged/report.md"
# (that run had no gnuplot: it still wrote the page, tables only, and said why)
grep -q "Plots skipped" "$WORK/forged/report.html" || fail "no 'Plots skipped' without gnuplot"
grep -q "<svg" "$WORK/forged/report.html" && fail "SVG without gnuplot?"
grep -q "<h2>Rounds</h2>" "$WORK/forged/report.html" || fail "no rounds table without gnuplot"

# 10. Three classes: AUROC/AUPRC undefined, said so.
"$PY" - "$SRC/datasets/wdbc.csv" "$WORK/three.csv" <<'PYEOF'
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
"$BIN/fl-sim" --data "$WORK/three.csv" --label size --clients 3 --rounds 2 --no-baselines --plaintext \
    --train-deadline $((5 * SLOW)) --out "$WORK/three" >"$WORK/three.log" 2>&1 || fail "fl-sim on three classes failed"
[ "$(csv_col "$WORK/three/metrics.csv" 2 auroc)" = undefined ] || fail "metrics.csv AUROC is not 'undefined'"
[ "$(csv_col "$WORK/three/metrics.csv" 2 auprc)" = undefined ] || fail "metrics.csv AUPRC is not 'undefined'"
grep -q "AUROC undefined, AUPRC undefined" "$WORK/three/report.md" || fail "report.md does not say undefined"
grep -q "ROC, precision-recall and calibration curves: <strong>undefined</strong>" "$WORK/three/report.html" \
    || fail "report.html does not say the curves are undefined"
echo "PASS it_report"
