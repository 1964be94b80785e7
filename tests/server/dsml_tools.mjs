// DeepSeek-V3.2's chat format (DSML tool calls) and streamed tool-call
// arguments (issue 16 item 1, issue 17 item 6), through the official `openai`
// client on tiny random models: `dseek template` renders V3.2's encoding for a
// V3.2 model; its server shows tools in the DSML system prompt, holds forced
// calls to the DSML markup and a strict schema, and parses them into
// tool_calls; streamed arguments arrive in several chunks that concatenate to
// the whole answer's arguments (V3 JSON markup and DSML alike).
//
//   node tests/server/dsml_tools.mjs /abs/path/to/build/bin/dseek
import assert from 'node:assert/strict';
import path from 'node:path';
import { checker, loadOpenAI, makeTinyModel, runCommand, show, startServer } from './serve_util.mjs';

const dseek = process.argv[2];
if (!dseek || !path.isAbsolute(dseek)) {
  console.error('usage: node tests/server/dsml_tools.mjs /abs/path/to/dseek');
  process.exit(2);
}
const OpenAI = await loadOpenAI();
const { check, summary } = checker({ defaultTimeoutMs: 120_000 });

const weather = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Get the weather.', strict: true,
    parameters: {
      // Closed value sets only: a random model rarely ends a free string or number.
      type: 'object', additionalProperties: false, required: ['unit', 'detail'],
      properties: { unit: { enum: ['c', 'f'] }, detail: { type: 'boolean' }, days: { enum: [1, 2, 3] } },
    },
  },
};
const ask = (extra) => ({ model: 'tiny', messages: [{ role: 'user', content: 'Weather in Paris?' }], max_tokens: 400, seed: 5, temperature: 1.0, ...extra });

// Streams a request; returns the tool-call chunks per index and the finish reason.
async function streamCalls(client, req) {
  const stream = await client.chat.completions.create({ ...req, stream: true });
  const calls = new Map();
  let finish = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    for (const t of c?.delta?.tool_calls ?? []) {
      if (!calls.has(t.index)) calls.set(t.index, { id: t.id, name: t.function?.name, first: t.function?.arguments, fragments: [] });
      else if (t.function?.arguments) calls.get(t.index).fragments.push(t.function.arguments);
    }
    finish = c?.finish_reason ?? finish;
  }
  return { calls, finish };
}

async function checkStreamedArguments(client, req) {
  const whole = (await client.chat.completions.create(req)).choices[0];
  assert.equal(whole.finish_reason, 'tool_calls', show(whole));
  const { calls, finish } = await streamCalls(client, req);
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.size, whole.message.tool_calls.length);
  const c = calls.get(0);
  assert.equal(c.name, whole.message.tool_calls[0].function.name);
  assert.match(c.id, /^call_/);
  assert.equal(c.first, '', 'the first chunk of a call has empty arguments');
  assert.ok(c.fragments.length >= 2, `arguments in ${c.fragments.length} chunk(s): ${show(c.fragments)}`);
  assert.equal(c.fragments.join(''), whole.message.tool_calls[0].function.arguments);
  return JSON.parse(c.fragments.join(''));
}

const v3 = await makeTinyModel(dseek, { name: 'v3' });
await check('V3 markup: forced call arguments stream in several chunks as generated', async () => {
  const srv = await startServer(dseek, v3.model, ['--ctx', '1024', '--model-alias', 'tiny']);
  try {
    const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'none', maxRetries: 0 });
    const args = await checkStreamedArguments(client, ask({ tools: [weather], tool_choice: 'required', parallel_tool_calls: false }));
    assert.ok(['c', 'f'].includes(args.unit) && typeof args.detail === 'boolean', show(args));
  } finally {
    await srv.stop();
  }
});

const v32 = await makeTinyModel(dseek, { name: 'v32', arch: 'deepseek-v32' });
await check('dseek template renders a V3.2 model with its DSML encoding', async () => {
  const req = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: '', tool_calls: [
    { type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":2}' } }] }] });
  const r = await runCommand('sh', ['-c', `printf '%s' '${req}' | "${dseek}" template -m "${v32.model}"`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜></think>\n\n<｜DSML｜function_calls>\n' +
    '<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="city" string="true">Paris</｜DSML｜parameter>\n' +
    '<｜DSML｜parameter name="days" string="false">2</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls><｜end▁of▁sentence｜>');
});

await check('V3.2 server: DSML tools in the prompt, forced calls parsed and streamed, tool_choice none', async () => {
  const srv = await startServer(dseek, v32.model, ['--ctx', '2048', '--model-alias', 'tiny']);
  try {
    const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'none', maxRetries: 0 });
    const plain = await client.chat.completions.create(ask({ max_tokens: 1 }));
    const shown = await client.chat.completions.create(ask({ max_tokens: 1, tools: [weather] }));
    assert.ok(shown.usage.prompt_tokens > plain.usage.prompt_tokens + 100, `${plain.usage.prompt_tokens} -> ${shown.usage.prompt_tokens}`);
    for (const seed of [1, 2]) {
      const r = await client.chat.completions.create(ask({ seed, tools: [weather], tool_choice: 'required', parallel_tool_calls: false }));
      const c = r.choices[0];
      assert.equal(c.finish_reason, 'tool_calls', show(c));
      assert.equal(c.message.tool_calls.length, 1);
      const args = JSON.parse(c.message.tool_calls[0].function.arguments);
      assert.ok(['c', 'f'].includes(args.unit) && typeof args.detail === 'boolean', show(args));
      for (const k of Object.keys(args)) assert.ok(k in weather.function.parameters.properties, k);
    }
    await checkStreamedArguments(client, ask({ tools: [weather], tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false }));
    const none = await client.chat.completions.create(ask({ tools: [weather], tool_choice: 'none', max_tokens: 20 }));
    assert.ok(!none.choices[0].message.tool_calls?.length, show(none.choices[0]));
  } finally {
    await srv.stop();
  }
});

await v3.cleanup();
await v32.cleanup();
process.exit(summary('dsml_tools') ? 0 : 1);
