#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite twice: a normal
# build, then an AddressSanitizer + UndefinedBehaviorSanitizer build.
# FL_TEST_QUICK=1 skips the sanitizer pass (for a fast local loop).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")
if [ "${FL_TEST_QUICK:-0}" != 1 ]; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFL_SANITIZE=ON >/dev/null
    cmake --build build-asan -j "$jobs"
    (cd build-asan && ctest --output-on-failure -j "$jobs")
fi
