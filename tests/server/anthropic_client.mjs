// `dseek serve`'s Anthropic Messages API (issue 16, failure 9) through the official
// @anthropic-ai/sdk (pinned in tools/oracle), at DeepSeek's /anthropic base URL and at /v1/messages,
// on a tiny random DeepSeek-V3 model: whole and streamed messages, system / multi-turn / tool_use /
// tool_result / thinking blocks, stop_sequences, max_tokens, usage, count_tokens, x-api-key and
// Bearer auth, Anthropic-shaped errors.
//
//   node tests/server/anthropic_client.mjs /abs/path/to/build/bin/dseek
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ORACLE_DIR, checker, http, makeTinyModel, postJSON, show, startServer } from './serve_util.mjs';

const dseek = process.argv[2];
if (!dseek || !path.isAbsolute(dseek)) {
  console.error('usage: node tests/server/anthropic_client.mjs /abs/path/to/dseek');
  process.exit(2);
}
let Anthropic;
try {
  const mod = await import(pathToFileURL(path.join(ORACLE_DIR, 'node_modules', '@anthropic-ai', 'sdk', 'index.mjs')).href);
  Anthropic = mod.default ?? mod.Anthropic;
} catch (e) {
  console.log(`FAIL cannot load @anthropic-ai/sdk from ${ORACLE_DIR}/node_modules (run: cd tools/oracle && npm ci): ${e.message}`);
  process.exit(1);
}
const KEY = 'an-key';
const { check, summary } = checker({ defaultTimeoutMs: 60_000 });
const tiny = await makeTinyModel(dseek);
const srv = await startServer(dseek, tiny.model, ['--api-key', KEY, '--parallel', '4', '--ctx', '1024', '--model-alias', 'deepseek-chat']);
const base = srv.url;
const client = new Anthropic({ baseURL: `${base}/anthropic`, apiKey: KEY, maxRetries: 0, timeout: 60_000 });
const MODEL = 'deepseek-chat';
const ask = (extra = {}) => ({ model: MODEL, max_tokens: 8, temperature: 0, messages: [{ role: 'user', content: 'Hello there' }], ...extra });
const STOP_REASONS = ['end_turn', 'max_tokens', 'stop_sequence', 'tool_use'];

function assertMessage(m) {
  assert.equal(m.type, 'message', show(m));
  assert.equal(m.role, 'assistant');
  assert.match(m.id, /^msg_/);
  assert.equal(m.model, MODEL);
  assert.ok(Array.isArray(m.content), show(m));
  assert.ok(STOP_REASONS.includes(m.stop_reason), show(m));
  for (const k of ['input_tokens', 'output_tokens', 'cache_read_input_tokens']) assert.ok(Number.isInteger(m.usage[k]), `usage.${k}: ${show(m.usage)}`);
  assert.ok(m.usage.input_tokens + m.usage.cache_read_input_tokens > 0, show(m.usage));
}
const text = (m) => m.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

await check('messages.create: a whole message, max_tokens stop reason, usage', async () => {
  const m = await client.messages.create(ask());
  assertMessage(m);
  assert.equal(m.stop_reason, 'max_tokens');
  assert.equal(m.usage.output_tokens, 8);
});

await check('streaming: the SDK assembles the documented events into the same message', async () => {
  const whole = await client.messages.create(ask());
  const events = [];
  const stream = client.messages.stream(ask());
  stream.on('streamEvent', (e) => events.push(e.type));
  const m = await stream.finalMessage();
  assertMessage(m);
  assert.equal(text(m), text(whole));
  assert.equal(events[0], 'message_start');
  assert.deepEqual(events.slice(-2), ['message_delta', 'message_stop']);
  for (const t of ['content_block_start', 'content_block_delta', 'content_block_stop']) assert.ok(events.includes(t), show(events));
  assert.equal(m.usage.output_tokens, 8);
});

await check('system (string and blocks), multi-turn with tool_use / tool_result and thinking blocks', async () => {
  const messages = [
    { role: 'user', content: 'What is the weather?' },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 'use the tool', signature: '' },
      { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }, { type: 'text', text: 'and?' }] },
  ];
  const tools = [{ name: 'weather', description: 'weather of a city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
  const a = await client.messages.create(ask({ system: 'Be brief.', messages, tools }));
  const b = await client.messages.create(ask({ system: [{ type: 'text', text: 'Be brief.' }], messages, tools }));
  assertMessage(a);
  assert.equal(text(a), text(b));
  const n = await client.messages.countTokens({ model: MODEL, system: 'Be brief.', messages, tools });
  assert.equal(n.input_tokens, a.usage.input_tokens + a.usage.cache_read_input_tokens);
});

await check('thinking enabled gives a thinking block first (streamed as thinking_delta)', async () => {
  const m = await client.messages.create(ask({ thinking: { type: 'enabled', budget_tokens: 1024 }, temperature: undefined }));
  assertMessage(m);
  assert.equal(m.content[0]?.type, 'thinking', show(m));
  const deltas = [];
  const stream = client.messages.stream(ask({ thinking: { type: 'enabled', budget_tokens: 1024 }, temperature: undefined }));
  stream.on('streamEvent', (e) => { if (e.type === 'content_block_delta') deltas.push(e.delta.type); });
  const s = await stream.finalMessage();
  assert.equal(s.content[0].thinking, m.content[0].thinking);
  assert.ok(deltas.includes('thinking_delta'), show(deltas));
});

await check('thinking.budget_tokens ends the reasoning after that many tokens', async () => {
  const think = (budget) => client.messages.create(ask({ max_tokens: 12, thinking: { type: 'enabled', budget_tokens: budget }, temperature: undefined }));
  const free = await think(1024), cut = await think(2);
  const thought = (m) => (m.content[0]?.type === 'thinking' ? m.content[0].thinking : '');
  assert.ok(free.content[0]?.type === 'thinking' && cut.content[0]?.type === 'thinking', show(cut));
  // The same sampling up to the budget, then </think> is forced: the reasoning is a prefix of the free one,
  // and the answer goes on as text (U+FFFD: a character the forced end cut in two).
  assert.ok(thought(free).startsWith(thought(cut).replace(/\uFFFD+$/, '')), `${show(thought(cut))} vs ${show(thought(free))}`);
  assert.ok(thought(cut).length < thought(free).length || free.content.some((b) => b.type === 'text'), show(free));
  assert.ok(cut.content.some((b) => b.type === 'text'), show(cut));
});

await check('a forced tool_use streams its input as several input_json_delta events', async () => {
  const tool = { name: 'pick', input_schema: { type: 'object', additionalProperties: false, required: ['a', 'b'],
    properties: { a: { type: 'boolean' }, b: { enum: ['x', 'y'] } } } };
  const req = ask({ max_tokens: 160, tools: [tool], tool_choice: { type: 'tool', name: 'pick' }, temperature: 1 });
  const whole = await client.messages.create(req);
  const parts = [];
  const stream = client.messages.stream(req);
  stream.on('streamEvent', (e) => { if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta') parts.push(e.delta.partial_json); });
  const m = await stream.finalMessage();
  const use = m.content.find((b) => b.type === 'tool_use');
  assert.ok(use, show(m));
  assert.ok(parts.length >= 2, show(parts));
  assert.deepEqual(JSON.parse(parts.join('')), use.input);
  assert.deepEqual(use.input, whole.content.find((b) => b.type === 'tool_use')?.input);
});

await check('stop_sequences end the message with stop_reason stop_sequence', async () => {
  const free = text(await client.messages.create(ask({ max_tokens: 24 })));
  const cut = [...free].find((ch, i) => i > 0 && /[A-Za-z]/.test(ch));  // ASCII: U+FFFD stands for bytes, not text
  if (!cut) return 'no usable stop character in the output';
  const m = await client.messages.create(ask({ max_tokens: 24, stop_sequences: [cut] }));
  assert.equal(m.stop_reason, 'stop_sequence', show(m));
  assert.equal(m.stop_sequence, cut);
  assert.equal(text(m), free.slice(0, free.indexOf(cut)));
});

await check('/v1/messages with x-api-key or Bearer; count_tokens; anthropic-version accepted', async () => {
  const body = ask();
  const h = { 'anthropic-version': '2023-06-01' };
  const a = await postJSON(`${base}/v1/messages`, body, { headers: { ...h, 'x-api-key': KEY } });
  assert.equal(a.status, 200, show(a.text));
  const b = await postJSON(`${base}/v1/messages`, body, { key: KEY, headers: h });
  assert.equal(b.status, 200, show(b.text));
  const c = await postJSON(`${base}/v1/messages/count_tokens`, { model: MODEL, messages: body.messages }, { headers: { 'x-api-key': KEY } });
  assert.equal(c.json.input_tokens, a.json.usage.input_tokens + a.json.usage.cache_read_input_tokens);
  assert.equal((await postJSON(`${base}/v1/messages`, body, { headers: { 'x-api-key': 'wrong' } })).status, 401);
});

await check('errors: Anthropic shape and status; the SDK raises its typed errors', async () => {
  const r = await postJSON(`${base}/anthropic/v1/messages`, { model: MODEL, messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-api-key': KEY } });
  assert.equal(r.status, 400);
  assert.equal(r.json.type, 'error', show(r.json));
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.match(r.json.error.message, /max_tokens/);
  await assert.rejects(client.messages.create(ask({ model: 'claude-nope' })), (e) => e.status === 404 && e.error?.error?.type === 'not_found_error');
  const bad = new Anthropic({ baseURL: `${base}/anthropic`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.messages.create(ask()), (e) => e.status === 401);
  assert.equal((await http(`${base}/anthropic/v1/messages`, { method: 'GET', key: KEY })).status, 404);
});

await srv.stop();
await tiny.cleanup();
process.exit(summary('anthropic_client') ? 0 : 1);
