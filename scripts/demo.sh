#!/usr/bin/env bash
# `make demo`: the main job on the built-in default model. Until a trained
# default model ships, that is: generate the tiny DeepSeek-V3-shaped model,
# describe it, and show its tokenizer and chat template working end to end.
set -euo pipefail
dseek=${1:-build/bin/dseek}
cd "$(dirname "$0")/.."
mkdir -p models
model=models/tiny-deepseek-v3.gguf

echo "== dseek init: a tiny DeepSeek-V3-shaped model (MLA + MoE + MTP), seeded =="
"$dseek" init --arch deepseek-v3 --preset tiny --seed 42 -o "$model"
echo
echo "== dseek inspect $model =="
"$dseek" inspect --no-tensors "$model"
echo
text='Hello from dseek! สวัสดี 你好 — 12345'
echo "== dseek tokenize: '$text' =="
if printf '%s' "$text" | "$dseek" tokenize -m "$model" --pieces 2>/dev/null; then
  printf '%s' "$text" | "$dseek" tokenize -m "$model" --ids
  echo "== round trip through detokenize =="
  printf '%s' "$text" | "$dseek" tokenize -m "$model" --ids | "$dseek" detokenize -m "$model"
  echo
else
  echo "(tokenizer not built yet)"
fi
echo "== dseek template: a conversation in the model's chat format =="
printf '%s' '{"messages":[{"role":"system","content":"You are concise."},{"role":"user","content":"What is MLA?"}],"add_generation_prompt":true}' \
  | "$dseek" template -m "$model" 2>/dev/null && echo || echo "(chat templates not built yet)"
