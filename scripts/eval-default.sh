#!/usr/bin/env bash
# Measures a chat model trained by `dseek train sft` on the Shakespeare dialogue
# corpus (default: the committed default model), all with dseek itself:
#  1. the held-out dialogues (`dseek train dialogues`: replies from the last 5 %
#     of tinyshakespeare, the pretrain's validation text);
#  2. the assistant-token cross-entropy on them (`dseek train sft --eval-only`);
#  3. over the first N held-out prompts, greedy (temperature 0), the share of
#     replies that end with end-of-sequence within 200 tokens (`dseek run --chat`);
#  4. speculative decoding on it: `dseek bench --spec mtp` and `--spec ngram` (JSON).
# Usage: scripts/eval-default.sh [MODEL] [N] [THREADS]   (env DSEEK: the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
dseek=${DSEEK:-build/bin/dseek}
model=${1:-assets/shakespeare/dseek-shakespeare.gguf}
n=${2:-50}
threads=${3:-2}
text=${TINYSHAKESPEARE:-../shared/testdata/text/tinyshakespeare.txt}
[ -f "$text" ] || text=/work/shared/testdata/text/tinyshakespeare.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$dseek" train dialogues "$text" -o "$tmp/chats.jsonl" >/dev/null
head -n "$n" "$tmp/chats.heldout.jsonl" > "$tmp/prompts.jsonl"
echo "== held-out assistant-token cross-entropy (all $(wc -l < "$tmp/chats.heldout.jsonl") held-out conversations) =="
"$dseek" train sft --eval-only --model "$model" --data "$tmp/chats.heldout.jsonl" -t "$threads"

echo "== greedy replies to $n held-out prompts: ended by end-of-sequence within 200 tokens =="
python3 - "$dseek" "$model" "$tmp/prompts.jsonl" "$threads" <<'PY'
import json, re, subprocess, sys
dseek, model, prompts, threads = sys.argv[1:5]
stopped, lengths, shown = 0, [], 0
for line in open(prompts):
    m = json.loads(line)["messages"]
    r = subprocess.run([dseek, "run", "-m", model, "--chat", "--system", m[0]["content"], "-p", m[1]["content"],
                        "-n", "200", "--temp", "0", "-v", "-t", threads], capture_output=True, text=True, check=True)
    n = int(re.search(r"generated (\d+) tokens", r.stderr).group(1))
    lengths.append(n)
    stopped += n < 200  # fewer than asked for: the end-of-sequence token ended the reply
    if shown < 3:
        shown += 1
        print(f"  user: {m[1]['content']!r}\n  reply ({n} tokens): {r.stdout.strip()!r}")
total = len(lengths)
print(f"ended by EOS within 200 tokens: {stopped}/{total} = {100 * stopped / total:.1f} %; "
      f"mean reply length {sum(lengths) / total:.1f} tokens")
PY

for spec in mtp ngram; do
  echo "== dseek bench --spec $spec --json =="
  "$dseek" bench -m "$model" --spec "$spec" -p 0 -n 128 -r 3 -t "$threads" --probe-gib 0.05 --json \
    | python3 -c 'import json, sys; s = json.load(sys.stdin)["spec"]; print(json.dumps(s)); print("acceptance per draft position {}, tg {:.0f} vs {:.0f} tok/s plain: {:.2f}x".format([round(a, 3) for a in s["acceptance"]], s["tg_tps"], s["tg_tps_plain"], s["tg_tps"] / s["tg_tps_plain"]))'
done
