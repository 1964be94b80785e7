// DeepSeek API parity of `dseek serve` (issue 16, failures 4, 5, 6, 7, 10), through the official
// OpenAI client pointed at DeepSeek's base URL form (no /v1) and raw fetch, on a tiny random
// DeepSeek-V3 model whose template has the thinking switch and whose vocabulary has the FIM tokens.
//
//   node tests/server/deepseek_api.mjs /abs/path/to/build/bin/dseek
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { checker, http, loadOpenAI, makeTinyModel, postJSON, show, startServer } from './serve_util.mjs';

const dseek = process.argv[2];
if (!dseek || !path.isAbsolute(dseek)) {
  console.error('usage: node tests/server/deepseek_api.mjs /abs/path/to/dseek');
  process.exit(2);
}
const KEY = 'ds-key';
const OpenAI = await loadOpenAI();
const { check, summary } = checker({ defaultTimeoutMs: 60_000 });
const tiny = await makeTinyModel(dseek);
const srv = await startServer(dseek, tiny.model, ['--api-key', KEY, '--parallel', '4', '--ctx', '1024',
  '--model-alias', 'deepseek-chat', '--model-alias', 'deepseek-reasoner']);
const base = srv.url;
// DeepSeek's SDK examples use the base URL without /v1.
const client = new OpenAI({ baseURL: base, apiKey: KEY, maxRetries: 0, timeout: 60_000 });
const beta = new OpenAI({ baseURL: `${base}/beta`, apiKey: KEY, maxRetries: 0, timeout: 60_000 });
const post = (route, body) => postJSON(`${base}${route}`, body, { key: KEY });

// `dseek tokenize` of some text or bytes (stdin), as ids.
function tokenIds(input) {
  const r = spawnSync(dseek, ['tokenize', '-m', tiny.model, '--ids', '--no-special'], { input, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`dseek tokenize: ${r.stderr}`);
  return r.stdout.toString().trim().split(/\s+/).filter(Boolean).map(Number);
}
const tokenCount = (text) => tokenIds(text).length;
const chat = (extra) => ({ model: 'deepseek-reasoner', messages: [{ role: 'user', content: 'Hello there' }], temperature: 0, max_tokens: 8, ...extra });

// ---------------------------------------------------------------- 7: base URLs and aliases

await check('7: /models lists every --model-alias; POST /chat/completions without /v1', async () => {
  const ids = (await client.models.list()).data.map((m) => m.id);
  assert.deepEqual(ids, ['deepseek-chat', 'deepseek-reasoner']);
  for (const model of ids) {
    const r = await client.chat.completions.create({ ...chat(), model });
    assert.equal(r.model, model);
    assert.equal(typeof r.choices[0].message.content, 'string');
  }
  assert.equal((await post('/completions', { model: 'deepseek-chat', prompt: 'x', max_tokens: 2 })).status, 200);
  assert.equal((await http(`${base}/models`)).status, 401, 'the routes without /v1 need the key too');
  assert.equal((await post('/chat/completions', { ...chat(), model: 'gpt-4' })).status, 404);
});

// ---------------------------------------------------------------- 4: thinking switch, reasoning tokens

await check('4: thinking enabled/disabled and reasoning_effort switch reasoning; usage counts reasoning_tokens', async () => {
  const on = await client.chat.completions.create(chat({ thinking: { type: 'enabled' } }));
  assert.ok(on.choices[0].message.reasoning_content, `thinking enabled gave no reasoning_content: ${show(on)}`);
  assert.equal(on.usage.completion_tokens_details?.reasoning_tokens, on.usage.completion_tokens, show(on.usage));
  const off = await client.chat.completions.create(chat({ thinking: { type: 'disabled' } }));
  assert.equal(off.choices[0].message.reasoning_content, undefined, show(off));
  assert.equal(off.usage.completion_tokens_details?.reasoning_tokens, 0, show(off.usage));
  const high = await client.chat.completions.create(chat({ reasoning_effort: 'high' }));
  assert.equal(high.choices[0].message.reasoning_content, on.choices[0].message.reasoning_content, 'reasoning_effort high = thinking on');
  const none = await client.chat.completions.create(chat({ reasoning_effort: 'none' }));
  assert.equal(none.choices[0].message.reasoning_content, undefined, show(none));
  assert.equal((await post('/chat/completions', chat({ thinking: { type: 'maybe' } }))).status, 400);
});

await check('4: an earlier turn\'s reasoning_content is dropped from the prompt', async () => {
  const turns = (rc) => [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b', ...rc }, { role: 'user', content: 'c' }];
  const a = await client.chat.completions.create({ ...chat(), messages: turns({}), max_tokens: 1 });
  const b = await client.chat.completions.create({ ...chat(), messages: turns({ reasoning_content: 'long hidden thoughts here' }), max_tokens: 1 });
  assert.equal(b.usage.prompt_tokens, a.usage.prompt_tokens);
});

// ---------------------------------------------------------------- 5: FIM, echo, /beta

await check('5: suffix (FIM) on /beta/completions and /v1/completions uses the FIM tokens; echo', async () => {
  const prompt = 'def add(a, b):', suffix = '\n    return c\n';
  const plain = await beta.completions.create({ model: 'deepseek-chat', prompt, max_tokens: 4, temperature: 0 });
  const fim = await beta.completions.create({ model: 'deepseek-chat', prompt, suffix, max_tokens: 4, temperature: 0 });
  assert.equal(fim.usage.prompt_tokens, plain.usage.prompt_tokens + 3 + (await tokenCount(suffix)), `${show(plain.usage)} vs ${show(fim.usage)}`);
  const v1 = await post('/v1/completions', { prompt, suffix, max_tokens: 4, temperature: 0 });
  assert.equal(v1.json.choices[0].text, fim.choices[0].text);
  const echo = await post('/v1/completions', { prompt, max_tokens: 4, temperature: 0, echo: true });
  assert.equal(echo.json.choices[0].text, prompt + plain.choices[0].text);
  assert.equal((await post('/beta/chat/completions', chat())).status, 200);
});

// ---------------------------------------------------------------- 6: chat prefix completion

await check('6: an assistant message with prefix: true is continued, not closed', async () => {
  const user = [{ role: 'user', content: 'Write a poem' }];
  const head = await beta.chat.completions.create({ ...chat(), messages: user, max_tokens: 1, thinking: { type: 'disabled' } });
  const prefix = 'Roses are';
  const r = await beta.chat.completions.create({
    ...chat(), thinking: { type: 'disabled' }, messages: [...user, { role: 'assistant', content: prefix, prefix: true }],
  });
  assert.equal(r.usage.prompt_tokens, head.usage.prompt_tokens + (await tokenCount(prefix)), `open turn: ${show(r.usage)} vs ${show(head.usage)}`);
  const bad = await post('/beta/chat/completions', { ...chat(), messages: [{ role: 'user', content: 'x', prefix: true }] });
  assert.equal(bad.status, 400, show(bad.text));
});

// ---------------------------------------------------------------- 10: small parameters

await check('10: 16 stop strings, user, top_k accepted; 17 stops refused', async () => {
  const stop = Array.from({ length: 16 }, (_, i) => `STOP${i}`);
  assert.equal((await post('/chat/completions', chat({ stop, user: 'u-1', top_k: 5 }))).status, 200);
  assert.equal((await post('/chat/completions', chat({ stop: [...stop, 'x'] }))).status, 400);
});

await check('10: a prompt array of two strings gives n choices per prompt', async () => {
  const r = await post('/v1/completions', { prompt: ['one two', 'three four five'], max_tokens: 3, n: 2, temperature: 0 });
  assert.equal(r.status, 200, show(r.text));
  assert.equal(r.json.choices.length, 4);
  assert.deepEqual(r.json.choices.map((c) => c.index), [0, 1, 2, 3]);
  const one = await post('/v1/completions', { prompt: 'three four five', max_tokens: 3, temperature: 0 });
  assert.equal(r.json.choices[2].text, one.json.choices[0].text);
  const ids = await post('/v1/completions', { prompt: [[1, 2], [3]], max_tokens: 2 });
  assert.equal(ids.json.choices.length, 2, show(ids.text));
});

await check('10: logit_bias forces a token; a character cut at the length limit is held back, never U+FFFD', async () => {
  const [lead] = await tokenIds(Buffer.from([0xe5]));  // the first byte of a 3-byte character
  const r = await post('/v1/completions', { prompt: 'x', max_tokens: 1, temperature: 0, logprobs: 0, logit_bias: { [lead]: 100 } });
  assert.equal(r.status, 200, show(r.text));
  assert.deepEqual(r.json.choices[0].logprobs.tokens.length, 1);
  const c = await post('/chat/completions', { ...chat(), max_tokens: 1, logprobs: true, logit_bias: { [lead]: 100 } });
  assert.deepEqual(c.json.choices[0].logprobs.content[0].bytes, [0xe5], `logit_bias did not force the token: ${show(c.json)}`);
  assert.equal(c.json.choices[0].message.content, '', `the incomplete character must be held back: ${show(c.json)}`);
  assert.equal(r.json.choices[0].text, '');
  assert.equal((await post('/chat/completions', chat({ logit_bias: { 5: 101 } }))).status, 400);
});

await srv.stop();
await tiny.cleanup();
process.exit(summary('deepseek_api') ? 0 : 1);
