#!/usr/bin/env bash
# Usage: assets/multilingual/split.sh SRC_DIR OUT_DIR
# Splits each UDHR text in SRC_DIR (shared/testdata/multilingual: the same
# declaration in 12 languages) into OUT_DIR/<lang>.train.txt (the first 80 %
# of the body, by bytes, cut at a line end) and OUT_DIR/<lang>.heldout.txt
# (the rest: later articles, never trained on). The 5-line English header
# (title, copyright, provenance, ---) is dropped so that it does not leak
# English into every language. OUT_DIR/all.train.txt concatenates the
# training parts (the tokenizer's corpus).
set -euo pipefail
export LC_ALL=C  # awk length() in bytes
src=$1 out=$2
mkdir -p "$out"
: > "$out/all.train.txt"
for f in "$src"/*.txt; do
  lang=$(basename "$f" .txt)
  body=$(awk 'seen {print} /^---$/ {seen = 1}' "$f")
  total=$(printf '%s\n' "$body" | wc -c)
  printf '%s\n' "$body" | awk -v cut=$((total * 8 / 10)) -v tr="$out/$lang.train.txt" -v ho="$out/$lang.heldout.txt" '
    { bytes += length($0) + 1; print > (bytes <= cut ? tr : ho) }'
  cat "$out/$lang.train.txt" >> "$out/all.train.txt"
done
