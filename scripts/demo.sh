#!/usr/bin/env bash
# The main job: install dependencies, build, and run fl-sim with its default
# (diagnostics consortium: WDBC split across 8 hospitals, Dirichlet alpha 0.5).
# Extra arguments are passed to fl-sim, e.g. scripts/demo.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# FL_BUILD_DIR picks another build directory (tests use a temporary one).
# No -Werror here: a user's compiler must never fail the build over a warning.
build=${FL_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
    -DFL_WERROR=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
exec "$build/bin/fl-sim" "$@"
