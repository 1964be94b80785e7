// End-to-end test of `dseek serve` through the official OpenAI client (and raw fetch for the
// error paths), on a tiny random DeepSeek-V3 model.
//
//   node tests/server/openai_client.mjs /abs/path/to/build/bin/dseek
//
// Needs tools/oracle/node_modules (cd tools/oracle && npm ci). Prints one line per check and
// exits non-zero if any check failed.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  REPO, checker, getMetrics, http, loadOpenAI, makeTinyModel, metricValue, postJSON, show, sleep, sseData, startServer,
} from './serve_util.mjs';

const dseek = process.argv[2];
if (!dseek || !path.isAbsolute(dseek)) {
  console.error('usage: node tests/server/openai_client.mjs /abs/path/to/dseek');
  process.exit(2);
}
const KEY = 'test-key';
const MAX_BODY = 65536;
const OpenAI = await loadOpenAI();
const { check, summary } = checker();

// The whole run may not hang: the checks have their own timeouts, this is the backstop.
const watchdog = setTimeout(() => { console.log('FAIL watchdog: the test ran for 15 minutes; giving up'); process.exit(1); }, 15 * 60_000);
watchdog.unref();

const tiny = await makeTinyModel(dseek);
const MODEL = 'tiny';
let srv;
try {
  srv = await startServer(dseek, tiny.model, ['--api-key', KEY, '--parallel', '16', '--max-body', String(MAX_BODY), '--ctx', '2048']);
} catch (e) {
  console.log(`FAIL start server: ${e.message}`);
  await tiny.cleanup();
  process.exit(1);
}
console.log(`server: ${srv.url} (${srv.argv.join(' ')})`);
const base = srv.url;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY, maxRetries: 0, timeout: 120_000 });

// ---------------------------------------------------------------- shape helpers

function assertUsage(u, maxTokens, what = 'usage') {
  assert.ok(u && typeof u === 'object', `${what} missing`);
  for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens', 'prompt_cache_hit_tokens', 'prompt_cache_miss_tokens']) {
    assert.ok(Number.isInteger(u[k]) && u[k] >= 0, `${what}.${k} is not a non-negative integer: ${show(u)}`);
  }
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens, `${what}: total != prompt + completion: ${show(u)}`);
  assert.equal(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens, u.prompt_tokens, `${what}: hit + miss != prompt_tokens: ${show(u)}`);
  assert.ok(u.prompt_tokens > 0, `${what}: prompt_tokens is 0`);
  if (maxTokens != null) assert.ok(u.completion_tokens <= maxTokens, `${what}: completion_tokens ${u.completion_tokens} > max_tokens ${maxTokens}`);
}

function assertChatCompletion(r, { maxTokens, n = 1 } = {}) {
  assert.equal(r.object, 'chat.completion', `object: ${show(r)}`);
  assert.ok(typeof r.id === 'string' && r.id.length > 0, `id: ${show(r)}`);
  assert.ok(Number.isInteger(r.created) && r.created > 1_600_000_000, `created: ${show(r)}`);
  assert.equal(r.model, MODEL, `model: ${show(r)}`);
  assert.ok(Array.isArray(r.choices) && r.choices.length === n, `expected ${n} choice(s): ${show(r)}`);
  r.choices.forEach((c, i) => {
    assert.equal(c.index, i, `choice index: ${show(c)}`);
    assert.equal(c.message.role, 'assistant', `role: ${show(c)}`);
    assert.equal(typeof c.message.content, 'string', `content is not a string: ${show(c)}`);
    if (c.message.reasoning_content != null) assert.equal(typeof c.message.reasoning_content, 'string', `reasoning_content: ${show(c)}`);
    assert.ok(['stop', 'length'].includes(c.finish_reason), `finish_reason: ${show(c)}`);
  });
  assertUsage(r.usage, maxTokens == null ? null : maxTokens * n);
  if (n === 1 && r.choices[0].finish_reason === 'length' && maxTokens != null) {
    assert.equal(r.usage.completion_tokens, maxTokens, `finish_reason "length" but completion_tokens ${r.usage.completion_tokens} != max_tokens ${maxTokens}`);
  }
}

// Streams a chat completion with the client; returns {text, reasoning, chunks, usage, finish, ids}.
async function streamChat(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '', reasoning = '', usage = null, finish = null, chunks = 0, usageChunks = 0, afterUsage = 0;
  const ids = new Set();
  for await (const ch of stream) {
    chunks++;
    assert.equal(ch.object, 'chat.completion.chunk', `chunk object: ${show(ch)}`);
    ids.add(ch.id);
    if (usage) afterUsage++;
    if (ch.usage) {
      usageChunks++;
      usage = ch.usage;
      assert.deepEqual(ch.choices, [], `the usage chunk must have empty choices: ${show(ch)}`);
      continue;
    }
    for (const c of ch.choices) {
      assert.equal(c.index, 0, `choice index: ${show(ch)}`);
      if (c.delta?.content) text += c.delta.content;
      if (c.delta?.reasoning_content) reasoning += c.delta.reasoning_content;
      if (c.finish_reason) { assert.equal(finish, null, `two finish_reasons: ${show(ch)}`); finish = c.finish_reason; }
    }
  }
  assert.equal(usageChunks, 1, `expected exactly one usage chunk, got ${usageChunks}`);
  assert.equal(afterUsage, 0, 'chunks after the usage chunk');
  assert.equal(ids.size, 1, `chunk ids differ: ${show([...ids])}`);
  return { text, reasoning, usage, finish, chunks };
}

const greedy = (content, maxTokens = 32, extra = {}) => ({
  model: MODEL, messages: [{ role: 'user', content }], temperature: 0, max_tokens: maxTokens, seed: 7, ...extra,
});

function assertError(r, status, what, { type, code } = {}) {
  assert.equal(r.status, status, `${what}: expected HTTP ${status}, got ${r.status}: ${show(r.text)}`);
  assert.ok(r.json && typeof r.json === 'object', `${what}: error body is not JSON: ${show(r.text)}`);
  const e = r.json.error;
  assert.ok(e && typeof e === 'object', `${what}: no "error" object: ${show(r.text)}`);
  assert.ok(typeof e.message === 'string' && e.message.length > 0, `${what}: no error.message: ${show(r.text)}`);
  for (const k of ['type', 'param', 'code']) assert.ok(k in e, `${what}: error.${k} missing (may be null): ${show(r.text)}`);
  if (type) assert.equal(e.type, type, `${what}: error.type: ${show(r.text)}`);
  if (code) assert.equal(e.code, code, `${what}: error.code: ${show(r.text)}`);
  return e;
}

// ---------------------------------------------------------------- checks

await check('GET /health (no key)', async () => {
  const r = await http(`${base}/health`);
  assert.equal(r.status, 200, show(r.text));
  assert.deepEqual(r.json, { status: 'ok' });
});

await check('GET / serves src/server/web/index.html verbatim (no key)', async () => {
  const r = await http(`${base}/`);
  assert.equal(r.status, 200, show(r.text));
  assert.match(r.headers.get('content-type') || '', /^text\/html/);
  const want = await readFile(path.join(REPO, 'src/server/web/index.html'), 'utf8');
  assert.ok(r.text === want, `the page differs from src/server/web/index.html (${r.text.length} vs ${want.length} chars; rebuild?)`);
});

await check('models list', async () => {
  const list = await client.models.list();
  const data = list.data;
  assert.equal(data.length, 1, show(data));
  assert.equal(data[0].id, MODEL);
  assert.equal(data[0].object, 'model');
  assert.equal(data[0].owned_by, 'dseek');
  assert.ok(Number.isInteger(data[0].created), show(data[0]));
  const raw = await http(`${base}/v1/models`, { key: KEY });
  assert.equal(raw.json.object, 'list', show(raw.text));
});

let ref; // the greedy non-streaming reference
await check('chat completion (non-streaming, greedy)', async () => {
  ref = await client.chat.completions.create(greedy('Hello! Who are you?', 32));
  assertChatCompletion(ref, { maxTokens: 32 });
  assert.ok(ref.usage.completion_tokens > 0, 'no tokens generated');
  return `${ref.usage.completion_tokens} tokens, finish ${ref.choices[0].finish_reason}`;
});

await check('chat completion streaming == non-streaming, include_usage', async () => {
  const s = await streamChat(greedy('Hello! Who are you?', 32));
  assert.ok(s.chunks > 2, `only ${s.chunks} chunks`);
  assert.equal(s.text, ref.choices[0].message.content, 'streamed text differs from the non-streaming text');
  assert.equal(s.finish, ref.choices[0].finish_reason);
  assertUsage(s.usage, 32, 'stream usage');
  assert.equal(s.usage.completion_tokens, ref.usage.completion_tokens);
  assert.equal(s.usage.prompt_tokens, ref.usage.prompt_tokens);
  return `${s.chunks} chunks`;
});

await check('raw SSE framing: data: lines, JSON chunks, ends with [DONE]', async () => {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ ...greedy('Hello! Who are you?', 32), stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/event-stream/);
  const events = [];
  for await (const d of sseData(res)) events.push(d);
  assert.ok(events.length >= 3, show(events));
  assert.equal(events.at(-1), '[DONE]', `last event: ${show(events.at(-1))}`);
  let text = '';
  for (const d of events.slice(0, -1)) {
    let j;
    try { j = JSON.parse(d); } catch { assert.fail(`event is not JSON: ${show(d)}`); }
    assert.equal(j.object, 'chat.completion.chunk', show(j));
    assert.ok(!j.usage, `usage chunk without stream_options.include_usage: ${show(j)}`);
    for (const c of j.choices) text += c.delta?.content ?? '';
  }
  assert.equal(text, ref.choices[0].message.content);
  return `${events.length} events`;
});

await check('greedy determinism (same request twice)', async () => {
  const a = await client.chat.completions.create(greedy('Tell me a story about a cat.', 40));
  const b = await client.chat.completions.create(greedy('Tell me a story about a cat.', 40));
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  assert.equal(a.choices[0].message.content, (await client.chat.completions.create(greedy('Tell me a story about a cat.', 40, { seed: 99 }))).choices[0].message.content, 'greedy output depends on seed');
});

await check('seeded sampling is reproducible (temperature 0.9, seed 1234)', async () => {
  const p = { model: MODEL, messages: [{ role: 'user', content: 'Write something random.' }], temperature: 0.9, top_p: 0.95, seed: 1234, max_tokens: 24 };
  const a = await client.chat.completions.create(p);
  const b = await client.chat.completions.create(p);
  assertChatCompletion(a, { maxTokens: 24 });
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
});

await check('max_completion_tokens, penalties, multi-turn with system', async () => {
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: 'Count to five.' },
    ],
    temperature: 0.7, top_p: 0.9, presence_penalty: 0.5, frequency_penalty: 0.5, max_completion_tokens: 5, seed: 3,
  });
  assertChatCompletion(r, { maxTokens: 5 });
});

await check('prefix cache: second identical request hits the cache', async () => {
  const long = `Here is some background for the question that follows. ${'The quick brown fox jumps over the lazy dog. '.repeat(20)}Now, what did the fox do?`;
  const a = await client.chat.completions.create(greedy(long, 8));
  const b = await client.chat.completions.create(greedy(long, 8));
  assertUsage(a.usage, 8); assertUsage(b.usage, 8);
  assert.ok(b.usage.prompt_cache_hit_tokens > 0, `second request: ${show(b.usage)}`);
  assert.ok(b.usage.prompt_cache_hit_tokens >= a.usage.prompt_cache_hit_tokens, `first ${show(a.usage)}, second ${show(b.usage)}`);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content, 'cached prefix changed the output');
  return `prompt ${b.usage.prompt_tokens}, hit ${a.usage.prompt_cache_hit_tokens} then ${b.usage.prompt_cache_hit_tokens}`;
});

await check('/v1/completions non-streaming and streaming agree', async () => {
  const p = { model: MODEL, prompt: 'Once upon a time', max_tokens: 24, temperature: 0, seed: 1 };
  const r = await client.completions.create(p);
  assert.equal(r.object, 'text_completion', show(r));
  assert.equal(r.model, MODEL);
  assert.equal(r.choices.length, 1);
  assert.equal(typeof r.choices[0].text, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason), show(r.choices[0]));
  assertUsage(r.usage, 24);
  const stream = await client.completions.create({ ...p, stream: true, stream_options: { include_usage: true } });
  let text = '', usage = null, finish = null, chunks = 0;
  for await (const ch of stream) {
    chunks++;
    assert.equal(ch.object, 'text_completion', show(ch));
    if (ch.usage) usage = ch.usage;
    for (const c of ch.choices) { text += c.text ?? ''; if (c.finish_reason) finish = c.finish_reason; }
  }
  assert.equal(text, r.choices[0].text, 'streamed text differs');
  assert.equal(finish, r.choices[0].finish_reason);
  assertUsage(usage, 24, 'stream usage');
  assert.equal(usage.completion_tokens, r.usage.completion_tokens);
  return `${chunks} chunks`;
});

await check('n=2 gives two choices', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Say something.' }], n: 2, temperature: 1, seed: 5, max_tokens: 16 });
  assertChatCompletion(r, { maxTokens: 16, n: 2 });
  const g = await client.chat.completions.create(greedy('Say something.', 16, { n: 2 }));
  assertChatCompletion(g, { maxTokens: 16, n: 2 });
  assert.equal(g.choices[0].message.content, g.choices[1].message.content, 'greedy n=2 choices differ');
});

await check('logprobs with top_logprobs=3', async () => {
  const r = await client.chat.completions.create(greedy('Name a color.', 8, { logprobs: true, top_logprobs: 3 }));
  assertChatCompletion(r, { maxTokens: 8 });
  const lp = r.choices[0].logprobs;
  assert.ok(lp && Array.isArray(lp.content), `logprobs.content missing: ${show(r.choices[0])}`);
  assert.equal(lp.content.length, r.usage.completion_tokens, 'one logprob entry per generated token');
  for (const t of lp.content) {
    assert.equal(typeof t.token, 'string', show(t));
    assert.ok(Number.isFinite(t.logprob) && t.logprob <= 0, `logprob: ${show(t)}`);
    if (t.bytes != null) assert.ok(Array.isArray(t.bytes) && t.bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256), `bytes: ${show(t)}`);
    assert.equal(t.top_logprobs.length, 3, `top_logprobs: ${show(t)}`);
    for (let i = 0; i < 3; i++) {
      const x = t.top_logprobs[i];
      assert.ok(typeof x.token === 'string' && Number.isFinite(x.logprob) && x.logprob <= 0, show(x));
      if (i) assert.ok(x.logprob <= t.top_logprobs[i - 1].logprob, `top_logprobs not sorted: ${show(t)}`);
    }
    assert.ok(t.logprob >= t.top_logprobs[0].logprob - 1e-4, `greedy token is not the most likely one: ${show(t)}`);
    assert.ok(Math.exp(t.top_logprobs[0].logprob) + Math.exp(t.top_logprobs[1].logprob) + Math.exp(t.top_logprobs[2].logprob) <= 1 + 1e-3, `probabilities sum > 1: ${show(t)}`);
  }
});

await check('stop strings honoured (non-streaming and streaming)', async () => {
  const prompt = 'Describe the sea.';
  const full = (await client.chat.completions.create(greedy(prompt, 48))).choices[0].message.content;
  // A stop string from the middle of the greedy output whose first occurrence is not at the start:
  // prefer 3 ASCII letters, else any 2 characters (code points, never half a surrogate pair).
  const cps = [...full];
  let stop = null;
  for (let i = Math.floor(cps.length / 3); i + 3 <= cps.length && !stop; i++) {
    const s = cps.slice(i, i + 3).join('');
    if (/^[A-Za-z]{3}$/.test(s) && full.indexOf(s) > 0) stop = s;
  }
  for (let i = Math.floor(cps.length / 2); i + 2 <= cps.length && !stop; i++) {
    const s = cps.slice(i, i + 2).join('');
    if (full.indexOf(s) > 0 && s.trim()) stop = s;
  }
  assert.ok(stop, `cannot pick a stop string from the greedy output: ${show(full)}`);
  const expected = full.slice(0, full.indexOf(stop));
  const r = await client.chat.completions.create(greedy(prompt, 48, { stop: [stop, 'NEVER-APPEARS'] }));
  const got = r.choices[0].message.content;
  assert.ok(!got.includes(stop), `output contains the stop string ${show(stop)}: ${show(got)}`);
  assert.equal(got, expected, `stop ${show(stop)}: expected the greedy prefix`);
  assert.equal(r.choices[0].finish_reason, 'stop');
  const s = await streamChat(greedy(prompt, 48, { stop }));
  assert.ok(!s.text.includes(stop), `streamed output contains the stop string: ${show(s.text)}`);
  assert.equal(s.text, expected, 'streamed output with stop');
  assert.equal(s.finish, 'stop');
  return `stop ${JSON.stringify(stop)} cut ${full.length} -> ${got.length} chars`;
});

await check('response_format json_object', async () => {
  let stops = 0;
  const notes = [];
  for (const [seed, temperature] of [[1, 0], [2, 0.7], [3, 1], [4, 1]]) {
    const r = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'Reply with a JSON object describing a cat.' }],
      response_format: { type: 'json_object' }, max_tokens: 128, temperature, seed,
    });
    assertChatCompletion(r, { maxTokens: 128 });
    const { content } = r.choices[0].message;
    if (r.choices[0].finish_reason === 'stop') {
      stops++;
      let v;
      try { v = JSON.parse(content); } catch (e) { assert.fail(`finish "stop" but not JSON (${e.message}): ${show(content)}`); }
      assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `not a JSON object: ${show(content)}`);
    } else if (content.trim()) {
      assert.match(content, /^\s*\{/, `json_object output does not start with "{": ${show(content)}`);
    }
    notes.push(r.choices[0].finish_reason);
  }
  return `finish reasons ${notes.join(',')}${stops ? '' : ' (none complete: only the prefix was checked)'}`;
});

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Get the current weather for a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } }, required: ['city'] },
  },
};
await check('tools with tool_choice auto, and a tool result turn', async () => {
  const r = await client.chat.completions.create({ ...greedy('What is the weather in Paris?', 32), tools: [weatherTool], tool_choice: 'auto' });
  assert.equal(r.object, 'chat.completion');
  const c = r.choices[0];
  assert.ok(['stop', 'length', 'tool_calls'].includes(c.finish_reason), show(c));
  assert.equal(c.message.role, 'assistant');
  if (c.message.tool_calls?.length) {
    for (const t of c.message.tool_calls) {
      assert.equal(t.type, 'function', show(t));
      assert.ok(typeof t.id === 'string' && t.id, show(t));
      assert.equal(t.function.name, 'get_weather', show(t));
      assert.equal(typeof t.function.arguments, 'string', show(t));
    }
  } else {
    assert.equal(typeof c.message.content, 'string', show(c));
  }
  assertUsage(r.usage, 32);
  const r2 = await client.chat.completions.create({
    ...greedy('', 16), tools: [weatherTool],
    messages: [
      { role: 'user', content: 'What is the weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c": 18, "sky": "cloudy"}' },
    ],
  });
  assertChatCompletion(r2, { maxTokens: 16 });
  return c.message.tool_calls?.length ? `${c.message.tool_calls.length} tool call(s)` : `no tool call, finish ${c.finish_reason}`;
});

const PROMPTS = Array.from({ length: 16 }, (_, i) => `Prompt number ${i}: ${['tell me about', 'explain', 'write a poem on', 'summarize'][i % 4]} ${['rivers', 'mountains', 'the moon', 'bread', 'trains', 'owls', 'glass', 'rain'][i % 8]}${'!'.repeat(i % 3)}`);
const maxFor = (i) => 24 + 4 * i;
await check('16 concurrent greedy streams equal their solo runs', async () => {
  const solo = [];
  for (let i = 0; i < 16; i++) solo.push(await streamChat(greedy(PROMPTS[i], maxFor(i))));
  const m0 = await getMetrics(base, { key: KEY });
  const conc = await Promise.all(PROMPTS.map((p, i) => streamChat(greedy(p, maxFor(i)))));
  const bad = [];
  for (let i = 0; i < 16; i++) {
    if (conc[i].text !== solo[i].text || conc[i].finish !== solo[i].finish) {
      bad.push(`#${i}: solo ${show(solo[i].text, 120)} (${solo[i].finish}) vs concurrent ${show(conc[i].text, 120)} (${conc[i].finish})`);
    }
    assert.equal(conc[i].usage.completion_tokens, conc[i].finish === 'length' ? maxFor(i) : conc[i].usage.completion_tokens);
  }
  assert.equal(bad.length, 0, `${bad.length}/16 differ:\n${bad.join('\n')}`);
  const m1 = await getMetrics(base, { key: KEY });
  const dreq = metricValue(m1, 'dseek_requests_total') - metricValue(m0, 'dseek_requests_total');
  assert.ok(dreq >= 16, `dseek_requests_total grew by ${dreq}`);
  return `${solo.reduce((s, x) => s + x.usage.completion_tokens, 0)} tokens each way`;
}, { timeoutMs: 300_000 });

// ---------------------------------------------------------------- errors (raw fetch)

const CHAT = `${base}/v1/chat/completions`;
const okBody = { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 };
const badRequests = [
  ['malformed JSON body', '{"model": "tiny", "messages": [{"role": "user", "content": "hi"}'],
  ['messages not an array', { model: MODEL, messages: 'hi' }],
  ['temperature -1', { ...okBody, temperature: -1 }],
  ['temperature of the wrong type', { ...okBody, temperature: 'hot' }],
  ['n 0', { ...okBody, n: 0 }],
  ['n 1000', { ...okBody, n: 1000 }],
  ['max_tokens -5', { ...okBody, max_tokens: -5 }],
  ['max_tokens of the wrong type', { ...okBody, max_tokens: 'ten' }],
];
for (const [what, body] of badRequests) {
  await check(`400 for ${what}`, async () => {
    const r = await postJSON(CHAT, body, { key: KEY });
    const e = assertError(r, 400, what, { type: 'invalid_request_error' });
    return show(e.message, 80);
  });
}
await check('400 for /v1/completions with temperature -1', async () => {
  const r = await postJSON(`${base}/v1/completions`, { model: MODEL, prompt: 'x', max_tokens: 4, temperature: -1 }, { key: KEY });
  assertError(r, 400, 'completions temperature -1', { type: 'invalid_request_error' });
});
await check('404 model_not_found for an unknown model (raw and via the client)', async () => {
  const r = await postJSON(CHAT, { ...okBody, model: 'no-such-model' }, { key: KEY });
  assertError(r, 404, 'unknown model', { code: 'model_not_found' });
  await assert.rejects(client.chat.completions.create({ ...okBody, model: 'no-such-model' }), (e) => e.status === 404 && /./.test(e.message));
});
await check(`413 for a body over --max-body ${MAX_BODY}`, async () => {
  const body = JSON.stringify({ ...okBody, messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY + 1000) }] });
  let r;
  try { r = await postJSON(CHAT, body, { key: KEY }); } catch (e) {
    assert.fail(`the request failed instead of getting a 413 (the server closed the connection before answering?): ${e.cause?.code ?? ''} ${e.message}`);
  }
  assertError(r, 413, 'oversize body');
});
await check('401 for a missing API key', async () => {
  const r = await postJSON(CHAT, okBody);
  assertError(r, 401, 'missing key');
  assertError(await http(`${base}/v1/models`), 401, 'GET /v1/models without key');
});
await check('401 for a wrong API key (raw and via the client)', async () => {
  assertError(await postJSON(CHAT, okBody, { key: 'wrong-key' }), 401, 'wrong key');
  assertError(await postJSON(CHAT, okBody, { headers: { Authorization: KEY } }), 401, 'key without "Bearer"');
  const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong-key', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e.status === 401);
});

// ---------------------------------------------------------------- cancellation, metrics

await check('client disconnect mid-stream cancels the request', async () => {
  const m0 = await getMetrics(base, { key: KEY });
  const cancelled0 = metricValue(m0, 'dseek_requests_cancelled_total') ?? 0;
  const ctl = new AbortController();
  const res = await fetch(CHAT, {
    method: 'POST', signal: ctl.signal,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Write a very long essay.' }], max_tokens: 2000, temperature: 1, seed: 11, stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/event-stream/);
  let first = null;
  try {
    for await (const d of sseData(res)) { first = d; break; }
  } finally { ctl.abort(); }
  assert.ok(first && first !== '[DONE]', `no first chunk: ${show(first)}`);
  const t0 = Date.now();
  let m, active, cancelled;
  do {
    await sleep(100);
    m = await getMetrics(base, { key: KEY });
    active = metricValue(m, 'dseek_requests_active');
    cancelled = metricValue(m, 'dseek_requests_cancelled_total');
  } while ((active !== 0 || !(cancelled > cancelled0)) && Date.now() - t0 < 10_000);
  assert.equal(active, 0, 'dseek_requests_active did not return to 0 within 10 s');
  assert.ok(cancelled > cancelled0, `dseek_requests_cancelled_total ${cancelled0} -> ${cancelled}`);
  return `settled after ${Date.now() - t0} ms`;
});

await check('/metrics exposes the documented series', async () => {
  const m = await getMetrics(base, { key: KEY });
  const noKey = await http(`${base}/metrics`);
  assert.equal(noKey.status, 200, `/metrics without a key: ${noKey.status}`);
  assert.match(m.contentType || '', /^text\/plain/);
  const gauges = ['dseek_requests_total', 'dseek_requests_active', 'dseek_queue_depth', 'dseek_prompt_tokens_total', 'dseek_generated_tokens_total',
    'dseek_prompt_cache_hit_tokens_total', 'dseek_kv_pages_used', 'dseek_kv_pages_total', 'dseek_requests_cancelled_total'];
  const missing = gauges.filter((n) => metricValue(m, n) === undefined);
  assert.deepEqual(missing, [], 'missing series');
  for (const h of ['dseek_time_to_first_token_seconds', 'dseek_time_per_output_token_seconds']) {
    assert.equal(m.types.get(h), 'histogram', `# TYPE ${h}`);
    const buckets = m.samples.filter((s) => s.name === `${h}_bucket`);
    assert.ok(buckets.some((b) => b.labels.le === '+Inf'), `${h} has no +Inf bucket`);
    const count = metricValue(m, `${h}_count`);
    assert.ok(count > 0, `${h}_count = ${count}`);
    assert.equal(buckets.find((b) => b.labels.le === '+Inf').value, count, `${h}: +Inf bucket != _count`);
    assert.ok(metricValue(m, `${h}_sum`) >= 0, `${h}_sum`);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, `${h} buckets not cumulative`);
  }
  assert.equal(metricValue(m, 'dseek_requests_active'), 0);
  assert.equal(metricValue(m, 'dseek_queue_depth'), 0);
  assert.ok(metricValue(m, 'dseek_prompt_tokens_total') > 0);
  assert.ok(metricValue(m, 'dseek_generated_tokens_total') > 0);
  assert.ok(metricValue(m, 'dseek_prompt_cache_hit_tokens_total') > 0);
  assert.ok(metricValue(m, 'dseek_kv_pages_total') > 0);
  assert.ok(metricValue(m, 'dseek_kv_pages_used') <= metricValue(m, 'dseek_kv_pages_total'));
  return `requests_total ${metricValue(m, 'dseek_requests_total')}, kv pages ${metricValue(m, 'dseek_kv_pages_used')}/${metricValue(m, 'dseek_kv_pages_total')}`;
});

await check('GET /health still 200 at the end', async () => {
  const r = await http(`${base}/health`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ok' });
});

await check('SIGTERM stops the server cleanly', async () => {
  const r = await srv.stop({ timeoutMs: 10_000 });
  assert.ok(!r.killed, `still running ${r.ms} ms after SIGTERM (killed)`);
  assert.equal(r.code, 0, `exit ${show(r)}`);
  return `exit 0 after ${r.ms} ms`;
});

// ---------------------------------------------------------------- queue limit (second server)

let srv2;
await check('second server: --parallel 1 --queue 1 --model-alias starts', async () => {
  srv2 = await startServer(dseek, tiny.model, ['--parallel', '1', '--queue', '1', '--ctx', '2048', '--model-alias', 'my-alias']);
  const r = await http(`${srv2.url}/v1/models`);
  assert.equal(r.status, 200, `no --api-key, so no key is needed: ${show(r.text)}`);
  assert.equal(r.json.data[0].id, 'my-alias');
});
if (srv2) {
  await check('queue full gives 429 with Retry-After; the rest succeed', async () => {
    const body = { model: 'my-alias', messages: [{ role: 'user', content: 'Write a long answer.' }], max_tokens: 1500, temperature: 1, seed: 2 };
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => postJSON(`${srv2.url}/v1/chat/completions`, { ...body, seed: i }, { timeoutMs: 240_000 })));
    const counts = {};
    for (const r of rs) counts[r.status] = (counts[r.status] ?? 0) + 1;
    const limited = rs.filter((r) => r.status === 429);
    assert.ok(limited.length >= 1, `no 429 among 8 concurrent requests: ${show(counts)}`);
    for (const r of limited) {
      assertError(r, 429, 'queue full');
      const ra = r.headers.get('retry-after');
      assert.ok(ra != null && /^\d+$/.test(ra.trim()), `Retry-After header: ${show(ra)}`);
    }
    for (const r of rs.filter((x) => x.status !== 429)) {
      assert.equal(r.status, 200, `a request that was not limited failed: ${r.status} ${show(r.text)}`);
      assert.equal(r.json.model, 'my-alias');
      assertUsage(r.json.usage, 1500);
    }
    assert.ok(rs.filter((r) => r.status === 200).length >= 2, `expected the running and the queued request to succeed: ${show(counts)}`);
    const after = await postJSON(`${srv2.url}/v1/chat/completions`, { ...body, max_tokens: 4 });
    assert.equal(after.status, 200, `after the burst: ${after.status} ${show(after.text)}`);
    const m = await getMetrics(srv2.url);
    assert.equal(metricValue(m, 'dseek_queue_depth'), 0);
    assert.equal(metricValue(m, 'dseek_requests_active'), 0);
    return `statuses ${show(counts)}`;
  }, { timeoutMs: 300_000 });
  await check('second server stops on SIGTERM', async () => {
    const r = await srv2.stop({ timeoutMs: 10_000 });
    assert.ok(!r.killed && r.code === 0, `exit ${show(r)}`);
  });
}

await tiny.cleanup();
const ok = summary('openai_client');
if (!ok && process.env.DSEEK_TEST_VERBOSE) console.log(`--- server stderr (tail) ---\n${srv.stderr().slice(-4000)}`);
process.exit(ok ? 0 : 1);
