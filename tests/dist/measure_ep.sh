#!/usr/bin/env bash
# Measurements for docs/scale-out.md (not part of make test): peak RSS per rank and bytes
# exchanged for one 64-token prompt at N = 1, 2, 3 ranks, and bench's pp/tg at N = 1, 2.
# Usage: tests/dist/measure_ep.sh DSEEK MODEL [OUTDIR]   (run it under /work/wt/locked.sh)
set -euo pipefail
dseek=$(realpath "$1") model=$2 out=${3:-/tmp/measure_ep}
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
tokens=$(seq -s ' ' 100 37 2431)  # 64 ids
for n in 1 2 3; do
  echo "== logits, 64 tokens, -np $n"
  mpirun --oversubscribe -np "$n" /usr/bin/time -f "peak RSS of a rank: %M KiB, %e s" \
    "$dseek" logits -m "$model" --tokens "$tokens" -o "$out/logits$n.bin" -t 1 --ep 2>&1 | grep -v "^note"
done
cmp "$out/logits1.bin" "$out/logits2.bin" && cmp "$out/logits1.bin" "$out/logits3.bin" && echo "logits identical at N = 1, 2, 3"
# Both use the 2 cores: one rank with 2 threads, or two ranks with 1 each.
for nt in "1 2" "2 1"; do
  set -- $nt
  echo "== bench -p 32 -n 16, -np $1 -t $2"
  mpirun --oversubscribe -np "$1" "$dseek" bench -m "$model" -p 32 -n 16 -r 1 -t "$2" --ep 2>&1 | grep -v "^note"
done
