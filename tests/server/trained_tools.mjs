// Tool calls on a model TRAINED to make them (issue 16, "Tests"): the other
// tool tests inject markup into a random model's output or force it with the
// grammar; here `dseek train sft` first teaches a tiny DeepSeek-V3 model, in a
// few seconds, to answer questions about the weather in Paris with a get_weather call in its own
// V3 markup. The served model's own output then goes through the parser and
// the enforcement, checked with the official `openai` client:
//   * tool_choice auto: the call is parsed from free generation (declared
//     name, JSON arguments, finish_reason "tool_calls");
//   * tool_choice none: no tool_calls;
//   * a named tool_choice: that function, even where the model would call another;
//   * strict: the arguments satisfy the schema (a property it never learned is added);
//   * streaming: the deltas reassemble to the same call.
//
//   node tests/server/trained_tools.mjs /abs/path/to/build/bin/dseek
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checker, loadOpenAI, makeTinyModel, runCommand, show, startServer } from './serve_util.mjs';

const dseek = process.argv[2];
if (!dseek || !path.isAbsolute(dseek)) {
  console.error('usage: node tests/server/trained_tools.mjs /abs/path/to/dseek');
  process.exit(2);
}
const OpenAI = await loadOpenAI();
const { check, summary } = checker({ defaultTimeoutMs: 120_000 });

const QUESTIONS = ['Weather in Paris?', 'What is the weather in Paris?', 'Paris weather?', 'Is it raining in Paris?'];
const fn = (name, description, parameters, strict) => ({ type: 'function', function: { name, description, parameters, ...(strict ? { strict } : {}) } });
const citySchema = { properties: { city: { type: 'string' } }, required: ['city'], type: 'object' };
const weather = fn('get_weather', 'Weather of a city.', citySchema);
const clock = fn('get_time', 'Local time of a city.', citySchema);

// The tools section the server writes into the system prompt for a template
// that does not render tools (server/tool_markup.cpp, tool_system_prompt):
// trained with, so the served prompt is the one the model learned. Schemas
// are written with sorted keys, as the server's JSON prints them.
function toolSystemPrompt(tools) {
  let s = '## Tools\nYou have access to the following tools:\n';
  for (const { function: f } of tools) s += `\n### ${f.name}\nDescription: ${f.description}\n\nParameters: ${JSON.stringify(f.parameters)}\n`;
  return s + '\nIMPORTANT: ALWAYS adhere to this exact format for tool use:\n' +
    '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>tool_call_name\n```json\ntool_call_arguments\n```' +
    '<｜tool▁call▁end｜>{{additional_tool_calls}}<｜tool▁calls▁end｜>\n\n' +
    'Where:\n\n- `tool_call_name` must be an exact match to one of the available tools\n' +
    '- `tool_call_arguments` must be valid JSON that strictly follows the tool\'s Parameters Schema\n' +
    '- For multiple tool calls, chain them directly without separators or spaces\n';
}

// Questions about Paris, each with and without the tools section in front;
// the answer is always the same call (a tiny model learns one string fast).
function trainingLines() {
  const lines = [];
  for (const q of QUESTIONS) {
    const call = { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] };
    const user = { role: 'user', content: q };
    lines.push({ messages: [{ role: 'system', content: toolSystemPrompt([weather, clock]) }, user, call] });
    lines.push({ messages: [user, call] });
  }
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

const base = await makeTinyModel(dseek, { name: 'base' });
const trained = path.join(base.dir, 'tiny.gguf');
const data = path.join(base.dir, 'calls.jsonl');
await writeFile(data, trainingLines());
const t0 = Date.now();
const sft = await runCommand(dseek, ['train', 'sft', '--model', base.model, '--data', data, '--val-fraction', '0',
  '--steps', '60', '--batch', '4', '--seq-len', '512', '--lr', '3e-3', '--warmup', '5', '--eval-every', '1000', '-t', '2', '-o', trained],
{ timeoutMs: 120_000 });
if (sft.code !== 0) {
  console.error(`dseek train sft failed (${sft.code ?? sft.signal}):\n${sft.stderr}${sft.stdout}`);
  process.exit(1);
}
console.log(`# trained in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const ask = (extra) => ({ model: 'tiny', messages: [{ role: 'user', content: 'Weather in Paris?' }], max_tokens: 60, temperature: 0, ...extra });
const argsOf = (choice) => JSON.parse(choice.message.tool_calls[0].function.arguments);

const srv = await startServer(dseek, trained, ['--ctx', '2048']);
const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'none', maxRetries: 0 });

await check('auto: the trained model\'s own call is parsed (declared name, JSON arguments)', async () => {
  const c = (await client.chat.completions.create(ask({ tools: [weather, clock] }))).choices[0];
  assert.equal(c.finish_reason, 'tool_calls', show(c));
  assert.equal(c.message.tool_calls.length, 1, show(c));
  assert.equal(c.message.tool_calls[0].function.name, 'get_weather');
  const args = argsOf(c);  // valid JSON (the learned {"city":"Paris"}, as far as a few seconds of training get)
  assert.ok(args && typeof args === 'object' && !Array.isArray(args), show(c.message.tool_calls));
  console.log(`# auto call: get_weather(${c.message.tool_calls[0].function.arguments})`);
  assert.ok(!c.message.content, show(c.message));
});

await check('none: the same question gives no tool_calls', async () => {
  const c = (await client.chat.completions.create(ask({ tools: [weather, clock], tool_choice: 'none' }))).choices[0];
  assert.ok(!c.message.tool_calls?.length, show(c));
  assert.notEqual(c.finish_reason, 'tool_calls');
});

await check('without tools the markup is not parsed into tool_calls', async () => {
  const c = (await client.chat.completions.create(ask())).choices[0];
  assert.ok(!c.message.tool_calls?.length, show(c));
});

await check('auto with only get_time declared: the learned get_weather call is never a tool call', async () => {
  const c = (await client.chat.completions.create(ask({ tools: [clock] }))).choices[0];
  for (const t of c.message.tool_calls ?? []) assert.equal(t.function.name, 'get_time', show(c));
});

await check('named tool_choice: the named function, though the model learned another', async () => {
  const r = await client.chat.completions.create(ask({ tools: [weather, clock], tool_choice: { type: 'function', function: { name: 'get_time' } } }));
  const c = r.choices[0];
  assert.equal(c.finish_reason, 'tool_calls', show(c));
  assert.equal(c.message.tool_calls.length, 1);
  assert.equal(c.message.tool_calls[0].function.name, 'get_time');
  assert.equal(typeof argsOf(c), 'object');
});

await check('strict: the arguments satisfy the schema, a required property it never learned included', async () => {
  const strict = fn('get_weather', 'Weather of a city.', {
    additionalProperties: false, properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] } }, required: ['city', 'unit'], type: 'object',
  }, true);
  const c = (await client.chat.completions.create(ask({ tools: [strict], tool_choice: 'required' }))).choices[0];
  assert.equal(c.finish_reason, 'tool_calls', show(c));
  const args = argsOf(c);
  assert.deepEqual(Object.keys(args).sort(), ['city', 'unit'], show(args));
  assert.equal(typeof args.city, 'string');
  assert.ok(['c', 'f'].includes(args.unit), show(args));
});

await check('streaming: the call\'s deltas reassemble to the non-streamed call', async () => {
  const req = ask({ tools: [weather, clock] });
  const whole = (await client.chat.completions.create(req)).choices[0];
  assert.equal(whole.finish_reason, 'tool_calls', show(whole));
  const stream = await client.chat.completions.create({ ...req, stream: true });
  const calls = new Map();
  let finish = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    for (const t of c?.delta?.tool_calls ?? []) {
      if (!calls.has(t.index)) calls.set(t.index, { id: t.id, name: t.function?.name, args: '' });
      calls.get(t.index).args += t.function?.arguments ?? '';
    }
    finish = c?.finish_reason ?? finish;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.size, 1);
  const c = calls.get(0);
  assert.match(c.id, /^call_/);
  assert.equal(c.name, whole.message.tool_calls[0].function.name);
  assert.equal(c.args, whole.message.tool_calls[0].function.arguments);
});

await srv.stop();
await base.cleanup();
process.exit(summary('trained_tools') ? 0 : 1);
