#!/usr/bin/env bash
# The integration run under valgrind memcheck: a coordinator and two clients
# (plaintext, 2 rounds) each under memcheck; any error or definite leak fails.
# Skipped when valgrind is missing or under the sanitizer build (the two do
# not mix).
source "$(dirname "$0")/lib_it.sh"
if ! command -v valgrind >/dev/null || [ "${FL_SANITIZE:-0}" = 1 ]; then
    echo "it_valgrind: skipped (no valgrind, or sanitizer build)"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
VG=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-origins=no --quiet)
rm -f "$WORK/vg.port"
OPENBLAS_NUM_THREADS=1 "${VG[@]}" --log-file="$WORK/vg-coord.txt" "$BIN/fl-coordinator" --bind 'tcp://127.0.0.1:*' \
    --port-file "$WORK/vg.port" --min-clients 2 --rounds 2 --plaintext --join-timeout 300 \
    --train-deadline 120 --eval-deadline 120 --model-out "$WORK/vg.flm" >"$WORK/vg-coord.out" 2>&1 &
C=$!; PIDS+=("$C")
for _ in $(seq 1 600); do [ -s "$WORK/vg.port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/vg.port")
for i in 0 1; do
    OPENBLAS_NUM_THREADS=1 "${VG[@]}" --log-file="$WORK/vg-client$i.txt" "$BIN/fl-client" \
        --connect "tcp://127.0.0.1:$PORT" --member "m$i" --plaintext --dataset wdbc --partitions 2 \
        --partition-index $i --partition iid >"$WORK/vg-client$i.out" 2>&1 &
    PIDS+=("$!"); eval "CL$i=$!"
done
wait_pid "$C" 600 || { cat "$WORK/vg-coord.txt"; fail "coordinator under memcheck: exit $? (99 = memcheck errors)"; }
wait_pid "$CL0" 120 || { cat "$WORK/vg-client0.txt"; fail "client 0 under memcheck: exit $?"; }
wait_pid "$CL1" 120 || { cat "$WORK/vg-client1.txt"; fail "client 1 under memcheck: exit $?"; }
echo "memcheck: no errors and no definite leaks in the coordinator and two clients"
echo "1 passed, 0 failed"
