#!/usr/bin/env node
// Serving benchmark for `dseek serve` (or any OpenAI-compatible chat endpoint).
//
// Measures, at each concurrency level C (default 1, 4, 16): C client loops run at once, each sending
// --requests-per-stream streaming chat completions one after another (stream: true,
// stream_options.include_usage, temperature 0, max_tokens). Per request it records the send time,
// the time of the first delta carrying content or reasoning_content (TTFT = first delta - send),
// the end time ([DONE]) and usage.completion_tokens / prompt_cache_hit_tokens from the usage chunk.
// Per level it reports:
//   tokens/s       aggregate: sum of completion tokens / wall, wall = first send -> last [DONE]
//   per-stream t/s mean over requests of (completion_tokens - 1) / (end - first delta): the decode
//                  rate one client sees once its first token arrived (requests with < 2 tokens skipped;
//                  on a model faster than the SSE flush, e.g. the tiny test model, a request's tokens can
//                  land in one or two reads and this figure balloons: trust tokens/s there)
//   TTFT p50/p99   nearest rank on the sorted TTFTs: p-th percentile = sorted[ceil(p/100 * n) - 1]
//                  (with few requests p99 is simply the maximum)
//   cache hit      sum of usage.prompt_cache_hit_tokens (prefix cache reuse)
// Prompts: the first ~half of --prompt-tokens is a system message identical for every request (a
// realistic shared prefix the prefix cache may reuse); the user message carries the level, stream
// and request index and filler words, so no two prompts are identical. The tokenizer is the
// server's: a max_tokens=1 request with no filler measures the fixed overhead (chat template, tags)
// and the warm-up request (both excluded from the results) the tokens per filler word, so prompts
// land near --prompt-tokens (the table shows the mean actually sent). Greedy decoding has no
// ignore_eos, so a request may stop before max_tokens; completion tokens are counted, not assumed.
// A request fails on a non-200 status, an error event in the stream, or a stream that ends without
// [DONE]; failures are counted per level and the script exits 1 if any request failed.
//
// Usage:
//   node bench/bench_serve.mjs (--url http://127.0.0.1:PORT [--api-key K] |
//        --dseek build/bin/dseek -m MODEL.gguf [--threads T] [--ctx N])
//        [--streams 1,4,16] [--requests-per-stream 2] [--prompt-tokens 64] [--max-tokens 32]
//        [--json] [--out FILE]
// With --dseek the server is started as `serve -m MODEL --port 0 --parallel <max C> --ctx N -t T
// --queue 64`, used once it prints its listening line, and stopped with SIGTERM at the end.
import { writeFile } from 'node:fs/promises';
import { startServer, stopServer, sseData } from '../tests/server/serve_util.mjs';

function parseArgs(argv) {
  const o = { streams: [1, 4, 16], rps: 2, promptTokens: 64, maxTokens: 32, ctx: 4096, json: false };
  const need = (i) => { if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`); return argv[i + 1]; };
  const int = (i, min = 1) => { const v = Number(need(i)); if (!Number.isInteger(v) || v < min) usage(`${argv[i]}: bad number`); return v; };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--url') o.url = need(i++).replace(/\/+$/, '');
    else if (a === '--api-key') o.key = need(i++);
    else if (a === '--dseek') o.dseek = need(i++);
    else if (a === '-m' || a === '--model') o.model = need(i++);
    else if (a === '--threads' || a === '-t') o.threads = int(i++);
    else if (a === '--ctx') o.ctx = int(i++);
    else if (a === '--streams') {
      o.streams = need(i++).split(',').map(Number);
      if (!o.streams.length || o.streams.some((c) => !Number.isInteger(c) || c < 1)) usage('--streams: comma-separated positive integers');
    } else if (a === '--requests-per-stream') o.rps = int(i++);
    else if (a === '--prompt-tokens') o.promptTokens = int(i++, 8);
    else if (a === '--max-tokens') o.maxTokens = int(i++);
    else if (a === '--json') o.json = true;
    else if (a === '--out') o.out = need(i++);
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.url === !o.dseek) usage('give exactly one of --url or --dseek');
  if (o.dseek && !o.model) usage('--dseek needs -m MODEL');
  return o;
}

function usage(err) {
  const text = `usage: node bench/bench_serve.mjs (--url URL [--api-key K] | --dseek BIN -m MODEL [--threads T] [--ctx N])
       [--streams 1,4,16] [--requests-per-stream 2] [--prompt-tokens 64] [--max-tokens 32] [--json] [--out FILE]`;
  if (err) { console.error(`bench_serve: ${err}\n${text}`); process.exit(2); }
  console.log(text); process.exit(0);
}

const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'.split(' ');
const filler = (n, seed) => Array.from({ length: n }, (_, i) => WORDS[(i * 7 + seed * 13) % WORDS.length]).join(' ');

// words: [system words, user filler words]; scaled after the warm-up.
function messages(words, tag, seed) {
  return [
    { role: 'system', content: `Shared context: ${filler(words[0], 0)}` },
    { role: 'user', content: `Request ${tag}: ${filler(words[1], seed)}` },
  ];
}

// One streaming request. Resolves {ok, error?, t0, tFirst, tEnd, completion, prompt, hit}.
async function oneRequest(o, body) {
  const r = { ok: false, t0: performance.now(), tFirst: null, tEnd: null, completion: 0, prompt: 0, hit: 0 };
  try {
    const headers = { 'Content-Type': 'application/json' };
    if (o.key) headers.Authorization = `Bearer ${o.key}`;
    const res = await fetch(`${o.url}/v1/chat/completions`, {
      method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(600_000),
    });
    if (res.status !== 200) { r.error = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`; return r; }
    let done = false, usage = null;
    for await (const data of sseData(res)) {
      if (data === '[DONE]') { done = true; break; }
      const j = JSON.parse(data);
      if (j.error) { r.error = `stream error: ${j.error.message ?? JSON.stringify(j.error)}`; return r; }
      const d = j.choices?.[0]?.delta;
      if (r.tFirst === null && d && (d.content || d.reasoning_content)) r.tFirst = performance.now();
      if (j.usage) usage = j.usage;
    }
    r.tEnd = performance.now();
    if (!done) { r.error = 'stream ended without [DONE]'; return r; }
    if (!usage) { r.error = 'no usage chunk'; return r; }
    r.completion = usage.completion_tokens ?? 0;
    r.prompt = usage.prompt_tokens ?? 0;
    r.hit = usage.prompt_cache_hit_tokens ?? 0;
    r.ok = true;
  } catch (e) {
    r.error = (e && e.message) || String(e);
  }
  return r;
}

const body = (o, msgs, maxTokens = o.maxTokens) => ({
  model: o.modelId, messages: msgs, stream: true, stream_options: { include_usage: true },
  temperature: 0, max_tokens: maxTokens,
});

// Nearest-rank percentile of an ascending array.
const pct = (sorted, p) => (sorted.length ? sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] : null);
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const round = (x, d = 2) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

async function runLevel(o, C, words) {
  const results = [];
  const loop = async (s) => {
    for (let k = 0; k < o.rps; k++) {
      results.push(await oneRequest(o, body(o, messages(words, `c${C}-s${s}-r${k}`, C * 1000 + s * 31 + k))));
    }
  };
  await Promise.all(Array.from({ length: C }, (_, s) => loop(s)));
  const ok = results.filter((r) => r.ok);
  const failed = results.filter((r) => !r.ok);
  const start = Math.min(...results.map((r) => r.t0));
  const end = Math.max(...results.map((r) => r.tEnd ?? r.t0));
  const wall = (end - start) / 1000;
  const tokens = ok.reduce((a, r) => a + r.completion, 0);
  const ttft = ok.filter((r) => r.tFirst !== null).map((r) => r.tFirst - r.t0).sort((a, b) => a - b);
  const decode = ok.filter((r) => r.completion >= 2 && r.tEnd > r.tFirst).map((r) => (r.completion - 1) / ((r.tEnd - r.tFirst) / 1000));
  return {
    streams: C, requests: results.length, failed: failed.length,
    errors: [...new Set(failed.map((r) => r.error))].slice(0, 5),
    completion_tokens: tokens, prompt_tokens_mean: round(mean(ok.map((r) => r.prompt)), 1),
    wall_s: round(wall, 3), tokens_per_s: round(wall > 0 ? tokens / wall : 0, 1),
    per_stream_tps: round(mean(decode), 1),
    ttft_ms: { p50: round(pct(ttft, 50), 1), p99: round(pct(ttft, 99), 1), mean: round(mean(ttft), 1) },
    prompt_cache_hit_tokens: ok.reduce((a, r) => a + r.hit, 0),
  };
}

function table(report) {
  const cols = ['streams', 'requests', 'failed', 'tokens', 'wall s', 'tok/s', 'stream t/s', 'TTFT p50', 'TTFT p99', 'TTFT mean', 'prompt', 'cache hit'];
  const rows = report.levels.map((l) => [l.streams, l.requests, l.failed, l.completion_tokens, l.wall_s, l.tokens_per_s,
    l.per_stream_tps, l.ttft_ms.p50, l.ttft_ms.p99, l.ttft_ms.mean, l.prompt_tokens_mean, l.prompt_cache_hit_tokens].map((v) => String(v ?? '-')));
  const w = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((v, i) => v.padStart(w[i])).join('  ');
  const out = [`model ${report.model}, max_tokens ${report.max_tokens}, ${report.requests_per_stream} request(s) per stream; TTFT in ms (nearest rank); prompt = mean prompt tokens`,
    line(cols), ...rows.map(line)];
  for (const l of report.levels) for (const e of l.errors) out.push(`  ${l.streams} streams: ${e}`);
  return out.join('\n');
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const maxC = Math.max(...o.streams);
  let srv = null;
  const server = { url: o.url ?? null };
  if (o.dseek) {
    const args = ['--parallel', String(maxC), '--ctx', String(o.ctx), '--queue', '64'];
    if (o.threads) args.push('-t', String(o.threads));
    srv = await startServer(o.dseek, o.model, args);
    o.url = srv.url;
    Object.assign(server, { url: srv.url, binary: o.dseek, model_path: o.model, parallel: maxC, ctx: o.ctx, threads: o.threads ?? null, queue: 64 });
  }
  let report;
  try {
    const headers = o.key ? { Authorization: `Bearer ${o.key}` } : {};
    const models = await fetch(`${o.url}/v1/models`, { headers, signal: AbortSignal.timeout(30_000) });
    if (models.status !== 200) throw new Error(`GET /v1/models: HTTP ${models.status}`);
    o.modelId = (await models.json()).data?.[0]?.id;

    // Calibration + warm-up (excluded): prompt tokens = overhead + per-word * filler words,
    // measured with the server's own tokenizer.
    const cal = await oneRequest(o, body(o, messages([0, 0], 'c0-s0-r0', 0), 1));
    if (!cal.ok) throw new Error(`calibration request failed: ${cal.error}`);
    const w0 = [16, 16];
    const warm = await oneRequest(o, body(o, messages(w0, 'c0-s0-r1', 1)));
    if (!warm.ok) throw new Error(`warm-up request failed: ${warm.error}`);
    const perWord = Math.max(0.1, (warm.prompt - cal.prompt) / (w0[0] + w0[1]));
    const fill = Math.max(0, Math.round((o.promptTokens - cal.prompt) / perWord));
    if (fill === 0) console.error(`bench_serve: --prompt-tokens ${o.promptTokens} is below the fixed prompt overhead (${cal.prompt} tokens)`);
    const words = [Math.floor(fill / 2), Math.ceil(fill / 2)];
    const levels = [];
    for (const C of o.streams) levels.push(await runLevel(o, C, words));
    report = { model: o.modelId, server, max_tokens: o.maxTokens, requests_per_stream: o.rps, prompt_tokens_target: o.promptTokens, levels };
  } finally {
    if (srv) {
      const st = await stopServer(srv);
      if (st.code !== 0) console.error(`bench_serve: server exit ${st.code ?? st.signal}${st.killed ? ' (killed)' : ''}`);
    }
  }
  const text = JSON.stringify(report, null, 2);
  if (o.out) await writeFile(o.out, `${text}\n`);
  console.log(o.json ? text : table(report));
  const failed = report.levels.reduce((a, l) => a + l.failed, 0);
  if (failed) console.error(`bench_serve: ${failed} request(s) failed`);
  // Exit now: stopServer's 10 s SIGKILL fallback timer (serve_util.mjs) is never cleared and would
  // keep the event loop alive after a clean stop.
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(`bench_serve: ${(e && e.message) || e}`); process.exit(1); });
