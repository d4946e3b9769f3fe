#!/usr/bin/env bash
# One option table (io/fl_options) for the coordinator options fl-coordinator
# and fl-sim both take: every option the two programs' --help share is
# printed with the same metavar, help text and default, so the two cannot
# drift apart; and fl-sim still adds its own options on top.
source "$(dirname "$0")/lib_it.sh"

"$BIN/fl-coordinator" --help >"$WORK/coord.help" || fail "fl-coordinator --help failed"
"$BIN/fl-sim" --help >"$WORK/sim.help" || fail "fl-sim --help failed"
opts () { grep -oE '^  --[a-z0-9-]+' "$1" | sed 's/^  //' | sort -u; }
# Same name, fl-sim's own meaning: --seed (of everything: partition, split,
# initialisation, cohorts), --train-deadline (every phase's deadline),
# --quiet (only the summary), --schema (a schema fixed in advance for --data).
comm -12 <(opts "$WORK/coord.help") <(opts "$WORK/sim.help") \
    | grep -vE '^--(config|help|version|seed|train-deadline|quiet|schema)$' >"$WORK/shared"
n=$(wc -l <"$WORK/shared")
[ "$n" -ge 30 ] || fail "only $n options shared by fl-coordinator and fl-sim"
while read -r o; do
    c=$(grep -E "^  $o( |$)" "$WORK/coord.help")
    s=$(grep -E "^  $o( |$)" "$WORK/sim.help")
    [ -n "$c" ] || fail "$o missing from fl-coordinator --help"
    # the defaults fl-sim chose for its demo (batch size, client rate) differ
    case "$o" in --batch-size|--client-lr) c=${c%% \[*}; s=${s%% \[*} ;; esac
    [ "$c" = "$s" ] || fail "$o differs: fl-coordinator '$c' vs fl-sim '$s'"
done <"$WORK/shared"
# fl-sim's own options are on top of the shared ones
for o in --clients --dataset --partition --kill --byzantine --out; do
    grep -qE "^  $o " "$WORK/sim.help" || fail "fl-sim --help lacks $o"
    grep -qE "^  $o " "$WORK/coord.help" && fail "fl-coordinator --help has fl-sim's $o"
done
# a shared option's range is enforced by both programs
"$BIN/fl-sim" --sa-corrupt 1.5 >"$WORK/r.log" 2>&1 && fail "fl-sim accepted --sa-corrupt 1.5"
grep -q -- "--sa-corrupt: 1.5 is outside" "$WORK/r.log" || fail "fl-sim did not name --sa-corrupt's range"
"$BIN/fl-coordinator" --sa-corrupt 1.5 >"$WORK/r.log" 2>&1 && fail "fl-coordinator accepted --sa-corrupt 1.5"
grep -q -- "--sa-corrupt: 1.5 is outside" "$WORK/r.log" || fail "fl-coordinator did not name --sa-corrupt's range"
echo "ok: $n options shared with one help line each"
