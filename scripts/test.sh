#!/usr/bin/env bash
# Everything `make test` runs, in order; stops at the first failure.
#  1. unit + CLI + parity tests (ctest, release build)
#  2. the unit tests again under ASan+UBSan (clang)
#  3. each libFuzzer target (same build) for a fixed time budget
set -euo pipefail
build=${1:-build}; jobs=${2:-2}; fuzz_seconds=${3:-20}
cd "$(dirname "$0")/.."

echo "== unit, CLI and parity tests (release) =="
(cd "$build" && ctest --output-on-failure -j"$jobs")

# One clang build serves steps 2 and 3 (libraries compiled once, with ASan+UBSan and
# fuzzing coverage); -O1 keeps both the sanitized tests and the fuzzers fast.
echo "== unit tests under ASan+UBSan =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DCMAKE_C_FLAGS_DEBUG="-O1 -g" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDSEEK_SANITIZE=ON -DDSEEK_FUZZ=ON -DDSEEK_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
# Not repeated here: the layering check (no C++); the statistical test of speculative
# sampling (6000 generations: 7 s in release, 200 s under ASan), whose code paths run under
# ASan in the other Spec* and SpeculativeSampling tests; and the tool-calling test that
# first trains its model (15 s in release, past its 120 s limit under ASan), whose training
# and serving paths run under ASan in the SftRun and server_*tools* tests.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j"$jobs" -E '^(layering|SpeculativeSampling\.GenerationsKeepTheJointDistribution|server_trained_tools)$')

echo "== fuzzing (${fuzz_seconds}s per target) =="
scripts/fuzz.sh build-asan "$fuzz_seconds"
echo "make test: all passed"
