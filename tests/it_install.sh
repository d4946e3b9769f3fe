#!/usr/bin/env bash
# libfl as an installed library (docs/INSTALL.md), from a temporary prefix:
#  0. `cmake --install` of the tested build into $WORK/prefix puts in place
#     libfl.so.MAJOR (soname) and libfl.a, the headers under include/libfl
#     (each compiles alone; fl.h includes every one), libfl.pc, the CMake
#     package, the programs, the example plugin, the data sets, man pages;
#  a. an external C program (tests/data/install_probe.c: fl_version, the
#     bundled data set, a model, a plugin by bare name) builds with
#     `pkg-config --cflags --libs libfl`, shared and static, and runs;
#  b. the same with a CMake project: find_package (libfl), libfl::fl and
#     libfl::fl_static (tests/data/install_project);
#  c. the installed example plugin source builds out of the tree with
#     pkg-config and with CMake (libfl::headers), and the installed fl-sim
#     trains with it by path and, once in the plugin directory, by bare name;
#  d. the installed fl-sim runs its default from outside the source tree,
#     and a relocated copy of the prefix reads ITS OWN data sets (a copy
#     whose wdbc.csv is cut short gives fewer held-out rows);
#  e. every installed program has a man page.
source "$(dirname "$0")/lib_it.sh"
BUILD=$(cd "${FL_BINARY_DIR:-build}" && pwd)
SRCABS=$(cd "$SRC" && pwd)
P="$WORK/prefix"
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
# Under the sanitizer build the installed library carries ASan: programs
# linking it must too.
XFLAGS=""
[ "${FL_SANITIZE:-0}" = 1 ] && XFLAGS="-fsanitize=address,undefined"

# --- 0. install ---------------------------------------------------------------------
VERSION=$(sed -n 's/^project (libfl VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
MAJOR=${VERSION%%.*}
[ -n "$VERSION" ] || fail "no version in CMakeLists.txt"
cmake --install "$BUILD" --prefix "$P" >"$WORK/install.log" 2>&1 || fail "cmake --install failed"
for f in lib/libfl.so.$VERSION lib/libfl.so.$MAJOR lib/libfl.so lib/libfl.a lib/pkgconfig/libfl.pc \
         lib/cmake/libfl/libflConfig.cmake lib/cmake/libfl/libflConfigVersion.cmake \
         include/libfl/fl.h include/libfl/fl_version.h include/libfl/fl_model.h \
         lib/libfl/plugins/fm_plugin.so share/libfl/datasets/wdbc.csv share/libfl/datasets/wdbc.PROVENANCE.md \
         share/doc/libfl/README.md share/doc/libfl/INSTALL.md share/doc/libfl/examples/fm_plugin.c \
         bin/fl-sim bin/fl-coordinator bin/fl-client bin/fl-keygen; do
    [ -e "$P/$f" ] || fail "not installed: $f"
done
soname=$(readelf -d "$P/lib/libfl.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libfl.so.$MAJOR" ] || fail "soname is '$soname', expected libfl.so.$MAJOR"
[ "$(pkg-config --modversion libfl)" = "$VERSION" ] || fail "pkg-config reports $(pkg-config --modversion libfl)"
for m in libczmq libzmq libsodium msgpack openblas; do
    grep -q "^Requires.private:.*\b$m\b" "$P/lib/pkgconfig/libfl.pc" || fail "libfl.pc: $m not in Requires.private"
done
echo "installed libfl $VERSION: soname $soname, $(ls "$P/include/libfl" | wc -l) headers, $(ls "$P/bin" | wc -l) programs"

# Headers: each compiles alone (no internal header is needed), fl.h includes all.
for h in "$P"/include/libfl/*.h; do
    name=$(basename "$h")
    printf '#include <%s>\n#include <%s>\nint main (void) { return 0; }\n' "$name" "$name" >"$WORK/hdr.c"
    cc -Wall -Wextra -Werror -c $(pkg-config --cflags libfl) "$WORK/hdr.c" -o "$WORK/hdr.o" 2>"$WORK/hdr.log" \
        || fail "installed header $name does not compile alone: $(head -3 "$WORK/hdr.log")"
    [ "$name" = fl.h ] || grep -q "^#include \"$name\"" "$P/include/libfl/fl.h" || fail "fl.h does not include $name"
done
for h in fl_dataset_priv.h fl_secagg_ctx.h fl_install.h; do
    [ ! -e "$P/include/libfl/$h" ] || fail "internal header $h installed"
done

# --- a. external program with pkg-config, shared and static ---------------------------------
mkdir -p "$WORK/ext"
cd "$WORK/ext"
cc $XFLAGS -Wall -Wextra -Werror -o probe_shared "$SRCABS/tests/data/install_probe.c" \
    $(pkg-config --cflags --libs libfl) -Wl,-rpath,"$P/lib" || fail "pkg-config shared build failed"
# Static libfl, its dependencies shared (docs/INSTALL.md says why the depth).
cc $XFLAGS -Wall -Wextra -Werror -o probe_static "$SRCABS/tests/data/install_probe.c" $(pkg-config --cflags libfl) \
    $(pkg-config --static --maximum-traverse-depth=3 --libs libfl | sed 's/-lfl /-l:libfl.a /') \
    || fail "pkg-config static build failed"
readelf -d probe_shared | grep -q "NEEDED.*\[libfl.so.$MAJOR\]" || fail "probe_shared does not need libfl.so.$MAJOR"
! readelf -d probe_static | grep -q "NEEDED.*libfl" || fail "probe_static needs libfl.so"
./probe_shared "$VERSION" fm_plugin >"$WORK/probe_shared.log" 2>&1 || fail "probe_shared failed"
grep -q "^datadir: $P/lib/../share/libfl/datasets$" "$WORK/probe_shared.log" \
    || fail "libfl.so did not find the install's data sets: $(grep datadir "$WORK/probe_shared.log")"
grep -q "^wdbc: 569 rows, 30 features, 2 classes" "$WORK/probe_shared.log" || fail "probe_shared: wdbc not loaded"
grep -q "model plugin $P/lib/libfl/plugins/fm_plugin.so: fm version 1" "$WORK/probe_shared.log" \
    || fail "libfl.so did not load fm_plugin from the install's plugin directory"
./probe_static "$VERSION" "$P/lib/libfl/plugins/fm_plugin.so" >"$WORK/probe_static.log" 2>&1 || fail "probe_static failed"
grep -q "^plugin .*: model fm, 151 parameters" "$WORK/probe_static.log" || fail "probe_static: plugin not loaded"
! ./probe_shared 9.9.9 >/dev/null 2>&1 || fail "probe accepted a wrong version"
echo "pkg-config: shared and static probes ran ($(head -1 "$WORK/probe_shared.log"))"

# --- b. CMake project: find_package (libfl) -------------------------------------------------
cp "$SRCABS/tests/data/install_project/CMakeLists.txt" "$SRCABS/tests/data/install_probe.c" "$WORK/ext/"
cp "$P/share/doc/libfl/examples/fm_plugin.c" "$WORK/ext/"
cmake -S "$WORK/ext" -B "$WORK/ext/build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_FLAGS="$XFLAGS" \
    >"$WORK/cmake-ext.log" 2>&1 || fail "find_package (libfl) project did not configure"
cmake --build "$WORK/ext/build" >>"$WORK/cmake-ext.log" 2>&1 || fail "find_package (libfl) project did not build"
"$WORK/ext/build/probe" "$VERSION" fm_plugin.so >"$WORK/probe_cmake.log" 2>&1 || fail "CMake probe (libfl::fl) failed"
readelf -d "$WORK/ext/build/probe" | grep -q "NEEDED.*\[libfl.so.$MAJOR\]" || fail "libfl::fl is not the shared library"
"$WORK/ext/build/probe_static" "$VERSION" >"$WORK/probe_cmake_static.log" 2>&1 || fail "CMake probe (libfl::fl_static) failed"
! readelf -d "$WORK/ext/build/probe_static" | grep -q "NEEDED.*libfl" || fail "libfl::fl_static links libfl.so"
echo "find_package (libfl): libfl::fl and libfl::fl_static probes ran"

# --- c. out-of-tree plugin: pkg-config and CMake; by path and by bare name -------------------
cc -Wall -Wextra -Werror -shared -fPIC -O2 -o "$WORK/ext/my_fm.so" "$P/share/doc/libfl/examples/fm_plugin.c" \
    $(pkg-config --cflags libfl) -lm || fail "plugin build with pkg-config failed"
cmake --install "$WORK/ext/build" >>"$WORK/cmake-ext.log" 2>&1 || fail "installing the CMake-built plugin failed"
[ -f "$P/lib/libfl/plugins/cmake_fm.so" ] || fail "cmake_fm.so not in the install's plugin directory"
cp "$WORK/ext/my_fm.so" "$(pkg-config --variable=plugindir libfl)/"
mkdir -p "$WORK/elsewhere"
cd "$WORK/elsewhere"
sim_plugin () {   # sim_plugin TAG PLUGIN
    "$P/bin/fl-sim" --dataset wdbc --clients 3 --sa-dropout 0 --rounds 3 --partition iid --model-plugin "$2" \
        --hidden 4 --client-opt adam --client-lr 0.01 --train-deadline $((20 * SLOW)) --out "$WORK/sim-$1" \
        --no-baselines >"$WORK/sim-$1.log" 2>&1 || fail "installed fl-sim --model-plugin $2 failed"
    [ "$(wc -l <"$WORK/sim-$1/metrics.csv")" -eq 4 ] || fail "fl-sim --model-plugin $2: not 3 rounds"
    grep -q "model plugin $3: fm version 1" "$WORK/sim-$1/coordinator.log" \
        || fail "fl-sim --model-plugin $2 did not load $3"
    echo "installed fl-sim --model-plugin $2: 3 rounds, accuracy $(csv_col "$WORK/sim-$1/metrics.csv" 3 accuracy)"
}
sim_plugin path "$WORK/ext/my_fm.so" "$WORK/ext/my_fm.so"
sim_plugin bare my_fm "$P/bin/../lib/libfl/plugins/my_fm.so"
sim_plugin cmake cmake_fm.so "$P/bin/../lib/libfl/plugins/cmake_fm.so"
set +e
"$P/bin/fl-sim" --clients 3 --rounds 1 --model-plugin no_such_plugin --out "$WORK/sim-none" >"$WORK/sim-none.log" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "fl-sim with an unknown bare plugin name succeeded"
grep -rq "no no_such_plugin.so in the plugin directories" "$WORK/sim-none.log" "$WORK/sim-none" \
    || fail "an unknown bare plugin name is not a clear error"
echo "unknown bare plugin name: refused (exit $rc), naming the directories searched"

# --- d. installed fl-sim, its default, outside the source tree ----------------------------
cd "$WORK/elsewhere"
env -u FL_SOURCE_DIR -u FL_BINARY_DIR -u FL_DATADIR "$P/bin/fl-sim" --rounds 2 --clients 3 \
    >"$WORK/sim-default.log" 2>&1 || fail "installed fl-sim with its default failed"
grep -q "^  federated (this run)" "$WORK/sim-default.log" || fail "installed fl-sim printed no summary"
[ -s "$WORK/elsewhere/fl-sim-out/model.flm" ] || fail "installed fl-sim wrote no model"
# ... which the installed fl-model scores and exports (the ONNX writer from <prefix>/share/libfl)
(cd "$WORK/elsewhere" && env -u FL_SOURCE_DIR -u FL_BINARY_DIR "$P/bin/fl-model" predict fl-sim-out/model.flm \
    "$P/share/libfl/datasets/wdbc.csv" --out scores.csv >/dev/null 2>&1) || fail "installed fl-model predict failed"
[ "$(wc -l <"$WORK/elsewhere/scores.csv")" -eq 570 ] || fail "installed fl-model predict: not 569 rows and a header"
if /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
    (cd "$WORK/elsewhere" && env -u FL_SOURCE_DIR -u FL_BINARY_DIR "$P/bin/fl-model" export --onnx \
        fl-sim-out/model.flm model.onnx >"$WORK/onnx.log" 2>&1) || fail "installed fl-model export --onnx failed"
    /usr/bin/python3 -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))' \
        "$WORK/elsewhere/model.onnx" || fail "the installed export is not a valid ONNX model"
fi
full=$(sed -n 's/^Summary on the pooled held-out rows of all 3 members (\([0-9]*\) examples).*/\1/p' "$WORK/sim-default.log")
# A relocated copy of the prefix with a shorter wdbc.csv: its fl-sim must read that one.
cp -a "$P" "$WORK/moved"
head -301 "$P/share/libfl/datasets/wdbc.csv" >"$WORK/moved/share/libfl/datasets/wdbc.csv"
env -u FL_SOURCE_DIR -u FL_BINARY_DIR -u FL_DATADIR "$WORK/moved/bin/fl-sim" --rounds 2 --clients 3 \
    --partition iid --out "$WORK/sim-moved" >"$WORK/sim-moved.log" 2>&1 || fail "relocated fl-sim failed"
short=$(sed -n 's/^Summary on the pooled held-out rows of all 3 members (\([0-9]*\) examples).*/\1/p' "$WORK/sim-moved.log")
[ -n "$full" ] && [ -n "$short" ] || fail "no held-out row counts in the fl-sim summaries"
[ "$short" -lt "$full" ] || fail "the relocated fl-sim did not read its own data sets ($short vs $full held-out rows)"
echo "installed fl-sim default: ran ($full held-out rows); relocated copy read its own wdbc.csv ($short rows)"

# --- e. man pages -------------------------------------------------------------------------------
if command -v help2man >/dev/null; then
    for prog in "$P"/bin/*; do
        page="$P/share/man/man1/$(basename "$prog").1"
        [ -s "$page" ] && grep -q '^\.TH ' "$page" || fail "no man page for $(basename "$prog")"
    done
    echo "man pages: $(ls "$P/share/man/man1" | wc -l) for $(ls "$P/bin" | wc -l) programs"
else
    echo "help2man not installed (scripts/install-deps.sh installs it): man pages not checked"
fi
echo "PASS: install, pkg-config and CMake consumers, out-of-tree plugins, installed fl-sim"
