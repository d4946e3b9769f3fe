#!/usr/bin/env bash
# The README is a test: every command in its ```sh blocks, and every inline
# `scripts/...` or `build/bin/...` command, runs here as printed, so the text
# cannot drift from the code (docs/TESTING.md).
#
# The only substitutions: the example host coord.example.org becomes
# 127.0.0.1, the example port 5555 a free port, and a member's commands run
# once per member site with its own name (hospital-01 -> hospital-0N), as the
# README tells each member to. Each site runs in its own directory holding a
# `build` link to the tested build, as a clone of the repository would.
# `scripts/demo.sh` and `scripts/test.sh` without arguments are what .ci/run
# runs; this test checks .ci/run holds those exact lines.
source "$(dirname "$0")/lib_it.sh"
README="$SRC/README.md"

# --- extract ---------------------------------------------------------------
python3 - "$README" >"$WORK/commands.txt" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
cmds = []
for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M):
    cur = ""
    for line in block.splitlines():
        cur += line.rstrip()
        if cur.endswith("\\"):
            cur = cur[:-1].rstrip() + " "
            continue
        cur = re.sub(r"\s+#.*$", "", cur).strip()   # trailing comments
        if cur:
            cmds.append(cur)
        cur = ""
# inline commands in the prose (outside code blocks)
prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
for span in re.findall(r"`([^`\n]+)`", prose):
    if re.match(r"(scripts/|build/bin/)\S+( |$)", span) and span not in cmds:
        cmds.append(span)
for c in cmds:
    print(c)
EOF
n_cmds=$(wc -l <"$WORK/commands.txt")
echo "README commands ($n_cmds):"
cat "$WORK/commands.txt"
[ "$n_cmds" -ge 8 ] || fail "only $n_cmds commands found in the README"

# --- the example consortium's port and sites ----------------------------------
PORT=$(python3 -c 'import socket, random
for _ in range(100):
    p = random.randint(20000, 32000); s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); s.close(); print(p); break
    except OSError: pass')
MEMBERS=(hospital-01 hospital-02 hospital-03)
site () { mkdir -p "$WORK/$1"; ln -sfn "$(cd "$(dirname "$BIN")" && pwd)" "$WORK/$1/build"; echo "$WORK/$1"; }
COORD=$(site coord)
TRIAL=$(site trial)
DEMO=$(site demo)
for m in "${MEMBERS[@]}"; do site "$m" >/dev/null; done
ln -s "$SRC/datasets" "$DEMO/datasets"
# Each member's own CSV: a third of WDBC, header kept.
for i in 0 1 2; do
    awk -v k=$i 'NR == 1 || (NR - 2) % 3 == k' "$SRC/datasets/wdbc.csv" >"$WORK/${MEMBERS[$i]}/${MEMBERS[$i]}.csv"
done

INSTALL=$(site install)       # the Install section's commands, outside the source tree
mkdir -p "$WORK/home"
run_home () {  # run_home DIR LOG COMMAND: as run_in, with $HOME a directory of this test's
    HOME="$WORK/home" run_in "$@"
}
subst () { sed -e "s/coord\.example\.org/127.0.0.1/g" -e "s/:5555\b/:$PORT/g" <<<"$1"; }
run_in () {    # run_in DIR LOG COMMAND: run as printed (after subst) in DIR
    local dir=$1 log=$2 cmd=$3
    echo "[$dir] $cmd"
    (cd "$dir" && bash -c "$cmd") >"$log" 2>&1 || fail "README command failed: $cmd (log $log)"
}

declare -a CLIENT_CMDS=()
COORD_CMD=""
ran=0
while IFS= read -r raw; do
    cmd=$(subst "$raw")
    case "$raw" in
    "scripts/demo.sh"|"scripts/test.sh")
        grep -qxF "$raw" "$SRC/.ci/run" || fail ".ci/run does not run '$raw' as the README prints it"
        ;;
    scripts/demo.sh\ *)
        if [ "${FL_SANITIZE:-0}" = 1 ]; then
            echo "skipped under the sanitizer build (its own Release build): $raw"
        else
            # its own build directory: the demo configures without tests
            echo "[source tree, FL_BUILD_DIR=$WORK/demo-build] $raw"
            (cd "$SRC" && FL_BUILD_DIR="$WORK/demo-build" bash -c "$raw") >"$WORK/demo.log" 2>&1 \
                || fail "README command failed: $raw"
            case "$raw" in
            *--help*) grep -q "Usage: fl-sim" "$WORK/demo.log" || fail "$raw printed no usage" ;;
            *) grep -q "^  federated (this run)" "$WORK/demo.log" || fail "$raw printed no summary" ;;
            esac
        fi
        ;;
    *fl-keygen*--coordinator*)
        run_in "$COORD" "$WORK/keygen-coord.log" "$cmd"
        ;;
    *fl-keygen*--name\ hospital-01*)
        for m in "${MEMBERS[@]}"; do
            run_in "$WORK/$m" "$WORK/keygen-$m.log" "${cmd//hospital-01/$m}"
            [ -s "$WORK/$m/keys/$m.entry" ] || fail "no keys/$m.entry"
            cp "$WORK/$m/keys/$m.entry" "$COORD/"          # the member sends its entry
        done
        ;;
    *"fl-keygen roster merge"*)
        run_in "$COORD" "$WORK/merge.log" "$cmd"
        grep -q "3 members (3 new), digest" "$WORK/merge.log" || fail "roster merge did not report 3 members"
        for m in "${MEMBERS[@]}"; do cp "$COORD/roster.zpl" "$WORK/$m/"; done   # every site gets a copy
        ;;
    *"fl-keygen roster add"*)
        # an added member: make its entry the way step 1 does, then add it
        run_in "$WORK/hospital-01" "$WORK/keygen-h4.log" "build/bin/fl-keygen --out h4 --name hospital-04"
        cp "$COORD/roster.zpl" "$WORK/roster-before.zpl"
        cp "$WORK/hospital-01/h4/hospital-04.entry" "$COORD/"
        run_in "$COORD" "$WORK/add.log" "$cmd"
        grep -q "4 members (1 new)" "$WORK/add.log" || fail "roster add did not report 4 members"
        mv "$WORK/roster-before.zpl" "$COORD/roster.zpl"        # the run below uses the three
        ;;
    *"fl-keygen --out keys --roster"*)
        run_in "$TRIAL" "$WORK/keygen-trial.log" "$cmd"
        [ -s "$TRIAL/keys/roster.zpl" ] && [ -s "$TRIAL/keys/member-03.curve_secret" ] || fail "trial keys missing"
        ;;
    "scripts/install-deps.sh")
        (cd "$SRC" && bash -c "$raw") >"$WORK/deps.log" 2>&1 || fail "README command failed: $raw"
        ;;
    "build/bin/fl-model info "*)
        [ -s "$DEMO/fl-sim-out/model.flm" ] || run_in "$DEMO" "$WORK/sim0.log" "build/bin/fl-sim --rounds 2"
        run_in "$DEMO" "$WORK/model-info.log" "$cmd"
        ;;
    *fl-coordinator*)
        COORD_CMD=$cmd
        ;;
    *fl-client*)
        CLIENT_CMDS+=("$cmd")
        ;;
    build/bin/fl-sim*)
        run_in "$DEMO" "$WORK/sim.log" "$cmd"
        grep -q "^  federated (this run)" "$WORK/sim.log" || fail "$raw printed no summary"
        ;;
    "cmake --install build --prefix "*)
        # the Install section: into a home directory of the test's own
        run_home "$INSTALL" "$WORK/install.log" "$cmd"
        [ -s "$WORK/home/libfl/lib/pkgconfig/libfl.pc" ] || fail "$raw installed no libfl.pc"
        ;;
    PKG_CONFIG_PATH=*pkg-config*)
        run_home "$INSTALL" "$WORK/pkg-config.log" "$cmd"
        grep -q -- "-lfl" "$WORK/pkg-config.log" || fail "$raw printed no -lfl"
        ;;
    *'/libfl/bin/fl-sim"'*)
        run_home "$INSTALL" "$WORK/sim-installed.log" "$cmd"
        grep -q "^  federated (this run)" "$WORK/sim-installed.log" || fail "$raw printed no summary"
        ;;
    *)
        fail "README command not covered by tests/it_readme.sh: $raw"
        ;;
    esac
    ran=$((ran + 1))
done <"$WORK/commands.txt"

# --- the consortium, as the README runs it -------------------------------------
[ -n "$COORD_CMD" ] || fail "no fl-coordinator command in the README"
[ ${#CLIENT_CMDS[@]} -eq 1 ] || fail "expected one fl-client command in the README"
echo "[coord] $COORD_CMD"
(cd "$COORD" && exec bash -c "exec $COORD_CMD") >"$WORK/coordinator.out" 2>"$WORK/coordinator.log" &
CPID=$!
PIDS+=("$CPID")
for m in "${MEMBERS[@]}"; do
    c=${CLIENT_CMDS[0]//hospital-01/$m}
    echo "[$m] $c"
    (cd "$WORK/$m" && exec bash -c "exec $c") >"$WORK/client-$m.log" 2>&1 &
    PIDS+=("$!")
done
wait_pid "$CPID" $((300 * SLOW)) || fail "fl-coordinator exited non-zero"
grep -q "connecting to tcp://127.0.0.1:$PORT (the roster's coordinator endpoint)" "$WORK/client-hospital-01.log" \
    || fail "the client did not take the coordinator's endpoint from the roster"
for f in model.flm report.md metrics.csv; do [ -s "$COORD/$f" ] || fail "coordinator wrote no $f"; done
grep -q "^round  30/30 " "$WORK/coordinator.out" || fail "the run did not reach round 30"
grep -q "secure aggregation" "$COORD/report.md" || fail "the report does not state secure aggregation"
cat "$WORK/coordinator.out" | tail -3
echo "PASS: $ran README commands ran as printed; 3-member consortium completed 30 secure rounds"
