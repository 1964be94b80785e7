#!/usr/bin/env bash
# Size vs quality of the community's quantisation recipes (README, "Quantisation recipes: size vs quality").
# Usage: tools/quant_recipes.sh [OUTDIR]            (default OUTDIR /tmp/quant_recipes; needs ~10 GB free)
# Environment: DSEEK (binary, default build/bin/dseek), RUN (a prefix for every dseek command, e.g. a CPU lock),
#   TEXT (scored and imatrix text), CTX / CHUNKS (kld chunk size and count), IM_CHUNKS (imatrix chunks),
#   ONLY (a regex: run only the recipes it finds in their names), NOIM=1 (skip the --imatrix rows), V2LITE=0 (skip the v2-lite part), LAYERS (v2-lite layers; 2 = one dense + one MoE layer), STORIES (the trained stories260K GGUF; empty: skip).
# Prints one tab-separated row per recipe: base recipe imatrix types bytes bpw kld_mean kld_p99 top1 ppl_ratio.
# bpw = 8 * (tensor data bytes of the file) / (parameters `dseek inspect` counts); metadata and the
# tokenizer are left out (they are a fixed cost, not a property of the recipe).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/quant_recipes}
dseek=${DSEEK:-$root/build/bin/dseek}
run=${RUN:-}
text=${TEXT:-$root/../shared/testdata/text/tinyshakespeare.txt}
ctx=${CTX:-256}
chunks=${CHUNKS:-4}
im_chunks=${IM_CHUNKS:-4}
layers=${LAYERS:-2}
stories=${STORIES-$root/../shared/testdata/llama2c/stories260K.gguf}
mkdir -p "$out"

ds() { $run "$dseek" "$@"; }

# measure BASE NAME MODEL IMATRIX_USED: one result row.
measure() {
  local base=$1 name=$2 model=$3 im=$4 info kld
  info=$(ds inspect --json "$model")
  kld=$(ds kld -m "$model" --base "$base" -f "$text" -c "$ctx" --chunks "$chunks" --json)
  jq -rn --argjson i "$info" --argjson k "$kld" --arg b "$(basename "$base")" --arg n "$name" --arg im "$im" '
    ($i.tensors | map(.bytes) | add) as $bytes |
    [$b, $n, $im, ($i.bytes_by_dtype | keys | join("+")), $bytes,
     ($bytes * 8 / $i.parameters.total * 100 | round / 100),
     ($k.kld_mean * 1e6 | round / 1e6), ($k.kld_p99 * 1e6 | round / 1e6),
     ($k.top1_agreement * 10000 | round / 100), ($k.ppl_model / $k.ppl_base * 10000 | round / 10000)] | @tsv'
}

# recipe BASE NAME IMATRIX(-|file) QUANTIZE-ARGS...: quantise, measure, delete the quantised file.
recipe() {
  local base=$1 name=$2 im=$3; shift 3
  [[ $name =~ ${ONLY:-.} ]] || return 0
  [ -z "${NOIM:-}" ] || [ "$im" = - ] || return 0
  local q="$out/$(basename "$base" .gguf)-$name.gguf" args=("$@") used=no
  [ "$im" = - ] || { args+=(--imatrix "$im"); used=yes; }
  ds quantize "$base" "$q" "${args[@]}" >/dev/null
  measure "$base" "$name" "$q" "$used"
  rm -f "$q"
}

printf 'base\trecipe\timatrix\ttypes\tbytes\tbpw\tkld_mean\tkld_p99\ttop1_%%\tppl_ratio\n'

# 1. DeepSeek-V2-Lite's real shapes, random weights, few layers (V2LITE=0 skips it).
if [ "${V2LITE:-1}" != 0 ]; then
v2=$out/v2lite-bf16.gguf
[ -f "$v2" ] || ds init --arch deepseek-v2 --preset v2-lite --layers "$layers" --dtype bf16 -o "$v2" >/dev/null
[ -f "$out/v2lite.imatrix.gguf" ] || ds imatrix -m "$v2" -f "$text" -o "$out/v2lite.imatrix.gguf" --chunk "$ctx" --chunks "$im_chunks" >/dev/null
v2im=$out/v2lite.imatrix.gguf
recipe "$v2" q8_0 - --type q8_0
recipe "$v2" q6_K - --type q6_k
recipe "$v2" q5_K - --type q5_k
recipe "$v2" Q4_K_M-like - --type q4_k --type-map 'attn_=q6_k,_shexp=q6_k'
recipe "$v2" q4_0 - --type q4_0
recipe "$v2" iq4_xs - --type iq4_xs
recipe "$v2" iq4_xs "$v2im" --type iq4_xs
recipe "$v2" Q3_K-mix - --type q3_k --type-map 'attn_=q6_k'
recipe "$v2" Q3_K-mix "$v2im" --type q3_k --type-map 'attn_=q6_k'
recipe "$v2" Q2_K-mix - --type q4_k --type-map 'attn_=q8_0,_exps=q2_k'
recipe "$v2" Q2_K-mix "$v2im" --type q4_k --type-map 'attn_=q8_0,_exps=q2_k'
# The same mixes with llama.cpp's fallbacks for rows that are not whole 256-blocks (V2-Lite's ffn_down_exps has
# 1408 columns, the dense ffn_down 10944, attn_k_b 128) instead of dseek's q8_0: q4_K -> q5_0, q3_K / q2_K -> iq4_nl.
recipe "$v2" Q4_K_M-like+fb - --type q4_k --type-map 'attn_k_b=q8_0,attn_=q6_k,_shexp=q6_k,ffn_down=q5_0'
recipe "$v2" Q3_K-mix+fb "$v2im" --type q3_k --type-map 'attn_k_b=q8_0,attn_=q6_k,ffn_down_exps=iq4_nl,ffn_down\.=iq4_nl'
recipe "$v2" Q2_K-mix+fb "$v2im" --type q4_k --type-map 'attn_=q8_0,ffn_down_exps=iq4_nl,_exps=q2_k,ffn_down\.=q5_0'
fi

# 2. The real trained stories260K (64 wide: no row is a whole 256-block, so only the 32-blocks apply).
if [ -n "$stories" ] && [ -f "$stories" ]; then
  sim=$out/stories.imatrix.gguf
  ds imatrix -m "$stories" -f "$text" -o "$sim" --chunk "$ctx" --chunks "$im_chunks" >/dev/null
  recipe "$stories" q8_0 - --type q8_0
  recipe "$stories" q5_0 - --type q5_0
  recipe "$stories" q4_1 - --type q4_1
  recipe "$stories" q4_0 - --type q4_0
  recipe "$stories" iq4_nl - --type iq4_nl
  recipe "$stories" iq4_nl "$sim" --type iq4_nl
  recipe "$stories" Q4-mix - --type q4_0 --type-map 'attn_=q8_0,output=q8_0'
fi
