#!/usr/bin/env bash
# A real fl-coordinator and 3 real fl-client processes over TCP loopback train
# logistic regression on WDBC for 3 rounds; the model must improve and the
# metrics CSV, model file and report must be written.
source "$(dirname "$0")/lib_it.sh"
start_coordinator coord --min-clients 3 --rounds 3 --client-lr 0.1 --batch-size 16 \
    --train-deadline $((20 * SLOW)) --eval-deadline $((20 * SLOW)) --join-timeout $((30 * SLOW)) \
    --metrics "$WORK/metrics.csv" --model-out "$WORK/model.flm" --report "$WORK/report.md" --plaintext
for i in 0 1 2; do
    start_client "hospital-$i" --plaintext --dataset wdbc --partitions 3 --partition-index $i --partition iid --data-seed 7
done
wait_pid "$COORD_PID" $((120 * SLOW)) || fail "coordinator exited with $?"
[ "$(wc -l < "$WORK/metrics.csv")" -eq 4 ] || fail "expected 3 rounds in metrics.csv"
loss1=$(csv_col "$WORK/metrics.csv" 1 log_loss)
loss3=$(csv_col "$WORK/metrics.csv" 3 log_loss)
acc3=$(csv_col "$WORK/metrics.csv" 3 accuracy)
upd3=$(csv_col "$WORK/metrics.csv" 3 updates)
echo "round 1 eval log loss $loss1, round 3 eval log loss $loss3, round 3 accuracy $acc3"
awk -v a="$loss1" -v b="$loss3" 'BEGIN{exit !(b < a)}' || fail "evaluation loss did not decrease ($loss1 -> $loss3)"
awk -v a="$acc3" 'BEGIN{exit !(a >= 0.9)}' || fail "accuracy after 3 rounds is $acc3 (< 0.9)"
[ "$upd3" = 3 ] || fail "round 3 aggregated $upd3 updates, expected 3"
[ -s "$WORK/model.flm" ] || fail "no model file"
grep -q "plaintext" "$WORK/report.md" || fail "report does not state the aggregation mode"
grep -q "^- Model updates: NOT masked" "$WORK/report.md" || fail "report does not say updates were not masked"
grep -q "^- Round-0 feature statistics and federated-evaluation counts and score histograms: NOT masked" \
    "$WORK/report.md" || fail "report does not say statistics and evaluation were not masked"
grep -q "^- Transport: NOT encrypted" "$WORK/report.md" || fail "report does not say the transport was not encrypted"
grep -q "^- Members admitted: 3 (" "$WORK/report.md" || fail "report does not list the 3 members"
grep -q "^- Model: logreg, 30 features, 2 classes, 31 parameters, fingerprint [0-9a-f]\{64\}$" "$WORK/report.md" \
    || fail "report does not describe the model"
grep -q "plaintext" "$WORK/coord.out" || fail "progress lines do not state the mode"
for i in 0 1 2; do grep -q "finished after 3 training rounds" "$WORK/hospital-$i.log" || fail "client $i did not finish"; done
echo "1 passed, 0 failed"
