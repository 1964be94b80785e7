#!/usr/bin/env bash
# `make demo`: the main job on the built-in default model — a small
# DeepSeek-architecture model (MLA + DeepSeekMoE + MTP) that dseek itself
# pretrained on Shakespeare and fine-tuned on its dialogues, so that it answers
# in character and stops (assets/shakespeare/; retrain: `make train-default`).
# Describe it, show its tokenizer and chat template, generate, and answer one
# request through `dseek serve` (SERVE=1 keeps the server up for the chat page).
set -euo pipefail
dseek=${1:-build/bin/dseek}
cd "$(dirname "$0")/.."
model=assets/shakespeare/dseek-shakespeare.gguf

echo "== the default model: $model (dseek train pretrain + sft, see assets/shakespeare/) =="
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
echo
echo "== dseek run --chat: a greedy reply in character (it ends by itself: the model was fine-tuned on dialogues) =="
system='You are JULIET in Romeo and Juliet, a play by William Shakespeare. Answer in character.'
echo "system: $system"
echo "user:   Good morrow, lady. What news?"
printf 'reply:  '
"$dseek" run -m "$model" --chat --system "$system" -p 'Good morrow, lady. What news?' -n 200 --temp 0
echo
echo
echo "== dseek serve: the OpenAI-compatible API on a free port, one chat request =="
log=$(mktemp)
"$dseek" serve -m "$model" --port 0 --parallel 2 --ctx 1024 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
python3 - "$url" <<'PY'
import json, sys, urllib.request
body = {"messages": [{"role": "system", "content": "You are ROMEO in Romeo and Juliet, a play by William Shakespeare. Answer in character."},
                     {"role": "user", "content": "Speak, good friend: what news?"}],
        "max_tokens": 200, "temperature": 0.7, "seed": 1}
req = urllib.request.Request(sys.argv[1] + "/v1/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
r = json.load(urllib.request.urlopen(req))
print("answer:", repr(r["choices"][0]["message"]["content"]))
print("finish_reason:", r["choices"][0]["finish_reason"])
print("usage: ", json.dumps(r["usage"]))
PY
kill $server; wait $server 2>/dev/null || true
echo
if [ "${SERVE:-0}" = 1 ]; then
  echo "== serving on http://127.0.0.1:8080/ (chat page) until Ctrl-C =="
  exec "$dseek" serve -m "$model" --port 8080
else
  echo "(run 'SERVE=1 make demo' to keep the server up and chat at http://127.0.0.1:8080/)"
fi
