#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite twice: a normal
# build, then an AddressSanitizer + UndefinedBehaviorSanitizer build; then, if
# clang is installed, a short libFuzzer run of every fuzz target over its seed
# corpus (ctest -L fuzz in build-fuzz; docs/FUZZING.md).
# FL_TEST_QUICK=1 skips the sanitizer and fuzz passes (for a fast local loop).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
# Tests and -Werror are stated, not inherited: the demo configures the same
# build directory with BUILD_TESTING=OFF and FL_WERROR=OFF.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON -DFL_WERROR=ON >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")
if [ "${FL_TEST_QUICK:-0}" != 1 ]; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFL_SANITIZE=ON \
        -DBUILD_TESTING=ON -DFL_WERROR=ON >/dev/null
    cmake --build build-asan -j "$jobs"
    (cd build-asan && ctest --output-on-failure -j "$jobs")
fi
if [ "${FL_TEST_QUICK:-0}" != 1 ] && command -v clang >/dev/null 2>&1; then
    # 7 targets x FL_FUZZ_SMOKE_SECONDS (10 s), two at a time: about 40 s.
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DFL_FUZZ=ON -DFL_SANITIZE=ON -DBUILD_TESTING=ON -DFL_WERROR=ON >/dev/null
    cmake --build build-fuzz -j "$jobs" --target fuzz-all
    (cd build-fuzz && ctest -L fuzz --output-on-failure -j "$jobs")
fi
