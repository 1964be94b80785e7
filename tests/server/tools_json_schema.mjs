// Issue 16, failures 1, 2, 3 and 8, through the official `openai` client on a
// tiny random DeepSeek-V3 model: forced tool choice returns real tool_calls
// (arguments valid JSON under a strict schema, one call with
// parallel_tool_calls false), tool schemas reach the prompt, tool_choice
// "none" keeps calls out, and response_format json_schema returns a document
// valid under the schema (or a 400 for a schema it cannot enforce). The random
// model writes whatever the grammar allows, so the checks hold on its output.
//
//   node tests/server/tools_json_schema.mjs /abs/path/to/build/bin/dseek
import assert from 'node:assert/strict';
import path from 'node:path';
import { checker, loadOpenAI, makeTinyModel, postJSON, show, startServer } from './serve_util.mjs';

const dseek = process.argv[2];
if (!dseek || !path.isAbsolute(dseek)) {
  console.error('usage: node tests/server/tools_json_schema.mjs /abs/path/to/dseek');
  process.exit(2);
}
const OpenAI = await loadOpenAI();
const { check, summary } = checker({ defaultTimeoutMs: 120_000 });
const tiny = await makeTinyModel(dseek);
const srv = await startServer(dseek, tiny.model, ['--ctx', '2048', '--parallel', '2']);
const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 120_000 });

const weather = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Get the current weather for a city.', strict: true,
    parameters: {
      type: 'object', additionalProperties: false, required: ['unit', 'detail'],
      properties: { unit: { type: 'string', enum: ['c', 'f'] }, detail: { type: 'boolean' } },
    },
  },
};
const other = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };
const ask = (extra) => ({ model: 'tiny', messages: [{ role: 'user', content: 'Weather in Paris?' }], max_tokens: 200, seed: 3, ...extra });

function assertWeatherCall(c) {
  assert.equal(c.finish_reason, 'tool_calls', show(c));
  assert.equal(c.message.tool_calls?.length, 1, show(c));
  const t = c.message.tool_calls[0];
  assert.equal(t.function.name, 'get_weather', show(t));
  const args = JSON.parse(t.function.arguments);
  assert.deepEqual(Object.keys(args).sort(), ['detail', 'unit'], show(args));
  assert.ok(['c', 'f'].includes(args.unit) && typeof args.detail === 'boolean', show(args));
}

await check('failure 1: tool_choice required returns a tool call', async () => {
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create(ask({ seed, tools: [weather], tool_choice: 'required', parallel_tool_calls: false }));
    assertWeatherCall(r.choices[0]);
  }
});

await check('failure 1: a named tool_choice calls that function (streaming too)', async () => {
  const tools = [other, weather];
  const r = await client.chat.completions.create(ask({ tools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false }));
  assertWeatherCall(r.choices[0]);
  const stream = await client.chat.completions.create(ask({ tools, stream: true, tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false }));
  let args = '', name = '', finish = null;
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta;
    for (const t of d?.tool_calls ?? []) { name += t.function?.name ?? ''; args += t.function?.arguments ?? ''; }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(name, 'get_weather');
  assert.equal(finish, 'tool_calls');
  JSON.parse(args);
});

await check('failure 2: tool schemas reach the prompt', async () => {
  const plain = await client.chat.completions.create(ask({ max_tokens: 1 }));
  const withTools = await client.chat.completions.create(ask({ max_tokens: 1, tools: [weather] }));
  const grow = withTools.usage.prompt_tokens - plain.usage.prompt_tokens;
  assert.ok(grow > 40, `prompt_tokens ${plain.usage.prompt_tokens} -> ${withTools.usage.prompt_tokens}`);
  const none = await client.chat.completions.create(ask({ max_tokens: 1, tools: [weather], tool_choice: 'none' }));
  assert.equal(none.usage.prompt_tokens, plain.usage.prompt_tokens, 'tool_choice none shows no tools');
  return `+${grow} tokens`;
});

await check('failure 3: tool_choice none / no tools never yield tool_calls; strict and parallel are enforced', async () => {
  for (const extra of [{ tools: [weather], tool_choice: 'none' }, {}]) {
    const r = await client.chat.completions.create(ask({ ...extra, max_tokens: 40, temperature: 1.5 }));
    assert.ok(!r.choices[0].message.tool_calls?.length, show(r.choices[0]));
    assert.notEqual(r.choices[0].finish_reason, 'tool_calls');
  }
  const r = await client.chat.completions.create(ask({ tools: [weather], tool_choice: 'required', parallel_tool_calls: false, n: 3, temperature: 1.5 }));
  for (const c of r.choices) assertWeatherCall(c);
});

const schema = {
  type: 'object', additionalProperties: false, required: ['answer', 'ok', 'where'],
  properties: {
    answer: { enum: ['yes', 'no', 42] }, ok: { type: 'boolean' }, note: { type: 'null' },
    where: { type: 'object', properties: { planet: { const: 'earth' } }, required: ['planet'], additionalProperties: false },
  },
};
await check('failure 8: response_format json_schema returns a valid document', async () => {
  for (const seed of [1, 2, 3, 4]) {
    const r = await client.chat.completions.create(ask({ seed, temperature: 1.2, response_format: { type: 'json_schema', json_schema: { name: 'a', schema, strict: true } } }));
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'stop', show(c));
    const doc = JSON.parse(c.message.content);
    assert.ok(['yes', 'no', 42].includes(doc.answer) && typeof doc.ok === 'boolean' && doc.where.planet === 'earth', show(doc));
    for (const k of Object.keys(doc)) assert.ok(k in schema.properties, `undeclared key ${k}`);
  }
});

await check('failure 8: a schema that cannot be enforced is a 400 naming the keyword', async () => {
  const r = await postJSON(`${srv.url}/v1/chat/completions`, ask({ response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'string', pattern: 'x+' } } } }));
  assert.equal(r.status, 400, show(r.text));
  assert.match(r.json.error.message, /pattern/);
});

await srv.stop();
await tiny.cleanup();
process.exit(summary('tools_json_schema') ? 0 : 1);
