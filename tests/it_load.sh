#!/usr/bin/env bash
# Load: 200 fl-client processes against one fl-coordinator on loopback, 5
# rounds, secure aggregation over CURVE in buckets of 20.  Must complete,
# with every client's masked update in every round.  Skipped under the
# sanitizer build (200 instrumented processes need ~10 GB); the figures are
# in docs/BENCHMARKS.md.
source "$(dirname "$0")/lib_it.sh"
if [ "${FL_SANITIZE:-0}" = 1 ]; then echo "it_load: skipped under sanitizers"; echo "0 passed, 0 failed, 1 skipped"; exit 0; fi
"$BIN/fl-sim" --dataset uci_credit --partition iid --clients 200 --bucket-size 20 --rounds 5 --no-baselines \
    --train-deadline 120 --out "$WORK/load" >"$WORK/load.log" 2>&1 || fail "200-client run did not complete"
grep "coordinator:.*peak memory" "$WORK/load.log"
for r in 1 2 3 4 5; do
    [ "$(csv_col "$WORK/load/metrics.csv" $r updates)" = 200 ] || fail "round $r did not aggregate all 200 clients"
done
echo "1 passed, 0 failed"
