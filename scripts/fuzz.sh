#!/usr/bin/env bash
# Runs every <build>/bin/fuzz_* (build-asan in make test) for a fixed time over its seed corpus
# (fuzz/corpus/<name>, copied to a scratch dir so runs never modify the repo).
# Prints the executions each target ran; fails if any target found a crash.
set -euo pipefail
dir=${1:-build-asan}; seconds=${2:-20}
cd "$(dirname "$0")/.."
total=0
for bin in "$dir"/bin/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/corpus"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/corpus/"
  log="$work/log"
  if ! "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/" "$work/corpus" >"$log" 2>&1; then
    tail -50 "$log"
    echo "fuzz_$name: FAILED (crash input kept in $work)"; trap - EXIT; exit 1
  fi
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
  echo "fuzz_$name: ${runs} executions in ${seconds}s, no crash"
  total=$((total + runs))
  rm -rf "$work"; trap - EXIT
done
echo "fuzz: ${total} executions in all"
