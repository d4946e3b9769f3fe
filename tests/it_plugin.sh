#!/usr/bin/env bash
# Model plugins and QAT through the real programs:
#  1. fl-sim trains the example plugin (build/plugins/fm_plugin.so, a
#     factorisation machine) via --model-plugin for 5 rounds and finishes;
#  2. a client whose model differs from the coordinator's plugin (the
#     built-in mlp) is refused: the fingerprint in its HELLO does not match,
#     the coordinator sends REJECT, the client exits non-zero;
#  3. a client that insists on --qat is refused by a float coordinator;
#  4. fl-sim trains a QAT MLP (--qat) and writes a model file that records it.
source "$(dirname "$0")/lib_it.sh"
PLUGIN="$(cd "${FL_BINARY_DIR:-build}" && pwd)/plugins/fm_plugin.so"
[ -f "$PLUGIN" ] || fail "example plugin not built: $PLUGIN"

# 1. fl-sim with the plugin
"$BIN/fl-sim" --dataset wdbc --clients 3 --sa-dropout 0 --rounds 5 --partition iid --model-plugin "$PLUGIN" --hidden 4 \
    --client-opt adam --client-lr 0.01 --train-deadline $((20 * SLOW)) --out "$WORK/sim" --no-baselines \
    >"$WORK/sim.log" 2>&1 || fail "fl-sim with --model-plugin failed"
[ "$(wc -l < "$WORK/sim/metrics.csv")" -eq 6 ] || fail "expected 5 rounds in metrics.csv"
acc5=$(csv_col "$WORK/sim/metrics.csv" 5 accuracy)
echo "fm plugin via fl-sim: round 5 accuracy $acc5"
awk -v a="$acc5" 'BEGIN{exit !(a >= 0.85)}' || fail "plugin accuracy after 5 rounds is $acc5"
grep -q "model plugin .*fm version 1" "$WORK/sim/coordinator.log" || fail "coordinator did not log the plugin"

# 2. coordinator runs the plugin; a client configured with the built-in mlp is refused
start_coordinator coord --min-clients 1 --rounds 1 --model-plugin "$PLUGIN" --hidden 4 \
    --join-timeout $((30 * SLOW)) --train-deadline $((20 * SLOW)) --plaintext
start_client wrong --plaintext --dataset wdbc --partitions 2 --partition-index 0 --model mlp --hidden 4
set +e; wait_pid "$LAST_PID" $((30 * SLOW)); rc=$?; set -e
[ "$rc" -ne 0 ] || fail "a client with another model was not refused (exit 0)"
grep -qi "fingerprint mismatch" "$WORK/wrong.log" || fail "client log does not show the REJECT reason"
grep -q "fingerprint differs" "$WORK/coord.log" || fail "coordinator did not log the refusal"
echo "client with the built-in mlp against the fm plugin: refused (exit $rc)"
# 3. same coordinator (float), a client insisting on QAT
start_client qatonly --plaintext --dataset wdbc --partitions 2 --partition-index 1 --model-plugin "$PLUGIN" --hidden 4 --qat
set +e; wait_pid "$LAST_PID" $((30 * SLOW)); rc=$?; set -e
[ "$rc" -ne 0 ] || fail "a client expecting QAT joined a float run"
echo "client with --qat against a float coordinator: refused (exit $rc)"
kill "$COORD_PID" 2>/dev/null || true

# 4. QAT MLP via fl-sim, with baselines (the model file reloads with its QAT mode)
"$BIN/fl-sim" --dataset wdbc --clients 3 --sa-dropout 0 --rounds 3 --partition iid --model mlp --hidden 16 --qat \
    --client-opt adam --client-lr 0.01 --train-deadline $((20 * SLOW)) --out "$WORK/simq" \
    >"$WORK/simq.log" 2>&1 || fail "fl-sim --qat failed"
accq=$(csv_col "$WORK/simq/metrics.csv" 3 accuracy)
echo "QAT mlp via fl-sim: round 3 accuracy $accq"
awk -v a="$accq" 'BEGIN{exit !(a >= 0.85)}' || fail "QAT accuracy after 3 rounds is $accq"
grep -q "federated (this run)" "$WORK/simq.log" || fail "baselines did not run on the QAT model file"
echo "5 passed, 0 failed"
