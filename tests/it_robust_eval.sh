#!/usr/bin/env bash
# Smoke test of tools/fl-robust-eval.py on one tiny cell (median over two buckets of
# 3 members, 1 sign-flip attacker, 1 seed, 2 rounds): it must run both fl-sim runs
# (attack-free and attacked), cache them, write its table between the markers of a
# Markdown file, delete every per-run output directory, and on a second call run
# nothing (resume from the cache) and replace the block rather than add one.
source "$(dirname "$0")/lib_it.sh"
export TMPDIR="$WORK"          # the tool's per-run --out directories go here
export FL_BINARY_DIR="${FL_BINARY_DIR:-build}"
DOC="$WORK/doc.md"
printf '# Doc\n\n<!-- robust-eval:begin wdbc -->\nold\n<!-- robust-eval:end wdbc -->\n\ntail line\n' >"$DOC"
ARGS=(--dataset wdbc --cache-dir "$WORK/cache" --aggregators median --attacks sign-flip --attackers 1
      --seeds 7 --clients 6 --rounds 2 --timeout $((300 * SLOW)) --doc "$DOC")
/usr/bin/python3 "$SRC/tools/fl-robust-eval.py" "${ARGS[@]}" >"$WORK/run1.out" 2>&1 \
    || { cat "$WORK/run1.out"; fail "first run failed"; }
head -1 "$WORK/run1.out" | grep -q '^# command: .*fl-robust-eval.py .*--aggregators median' \
    || fail "the output does not start with the command line"
grep -q '2 runs in the grid, 0 cached, 2 to run' "$WORK/run1.out" || fail "expected 2 runs to do"
cache=$(ls "$WORK"/cache/wdbc-*.json) || fail "no cache file"
/usr/bin/python3 - "$cache" <<'PY' || fail "cache content"
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
assert sorted(runs) == ["median|none|0|7", "median|sign-flip|1|7"], sorted(runs)
for k, r in runs.items():
    assert "error" not in r, (k, r)
    assert r["rounds"] == 2 and 0 <= r["accuracy"] <= 1 and 0 <= r["auprc"] <= 1, (k, r)
PY
ls -d "$WORK"/fl-robust-eval-* 2>/dev/null && fail "per-run output directories were left behind"
grep -q '^| median | 0\.[0-9]* | 0\.[0-9]* |$' "$DOC" || { cat "$DOC"; fail "no table row in the doc"; }
grep -q '^old$' "$DOC" && fail "the old block content is still there"
grep -q '^tail line$' "$DOC" || fail "text after the block was lost"
/usr/bin/python3 "$SRC/tools/fl-robust-eval.py" "${ARGS[@]}" >"$WORK/run2.out" 2>&1 \
    || { cat "$WORK/run2.out"; fail "second run failed"; }
grep -q '2 runs in the grid, 2 cached, 0 to run' "$WORK/run2.out" || fail "second call did not resume from the cache"
[ "$(grep -c 'robust-eval:begin wdbc' "$DOC")" = 1 ] || fail "block duplicated"
echo "1 passed, 0 failed"
