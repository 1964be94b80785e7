// Differential-test oracle: renders chat templates with @huggingface/jinja.
// Input (stdin): JSON lines {"template": "...", "context": {...}}.
// Output (stdout): one JSON line per input: {"output": "..."} or {"error": "..."}.
import { Template } from "@huggingface/jinja";
import { createInterface } from "node:readline";

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
const cache = new Map();
for await (const line of rl) {
  if (!line.trim()) continue;
  let result;
  try {
    const { template, context } = JSON.parse(line);
    let t = cache.get(template);
    if (!t) {
      t = new Template(template);
      cache.set(template, t);
    }
    result = { output: t.render(context) };  // raise_exception is built in
  } catch (e) {
    result = { error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}
