// `dseek serve --spec`: speculative decoding in the batching server, end to end on the
// trained default model (assets/shakespeare). Six greedy completions run concurrently on
// four slots (continuous batching, a shared prompt prefix for the prefix cache); their
// texts must be byte-identical with and without --spec (mtp and ngram), usage must carry
// OpenAI's accepted/rejected_prediction_tokens (only with --spec), and /metrics the draft
// counters and acceptance rate, consistent with the usage totals.
//
//   node tests/server/spec_serve.mjs /abs/path/to/build/bin/dseek
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  REPO, checker, getMetrics, makeTinyModel, metricValue, postJSON, runCommand, show, startServer,
} from './serve_util.mjs';

const dseek = process.argv[2];
if (!dseek || !path.isAbsolute(dseek)) {
  console.error('usage: node tests/server/spec_serve.mjs /abs/path/to/dseek');
  process.exit(2);
}
const MODEL = path.join(REPO, 'assets', 'shakespeare', 'dseek-shakespeare.gguf');
const { check, summary } = checker();
const watchdog = setTimeout(() => { console.log('FAIL watchdog: 5 minutes; giving up'); process.exit(1); }, 5 * 60_000);
watchdog.unref();

const PROMPTS = [
  'ROMEO:\nBut soft, what light',
  'ROMEO:\nBut soft, what light through yonder window breaks? It is the east',
  'First Citizen:\nBefore we proceed any further, hear me speak.',
  'KING RICHARD:\nNow is the winter of our discontent',
  'To be, or not to be, that is the question. To be, or not to be,',
  'JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?',
];

// Runs all prompts at once against a fresh server started with `args`; returns texts, usages, metrics.
async function runAll(args) {
  const srv = await startServer(dseek, MODEL, ['--parallel', '4', '--ctx', '512', '--threads', '2', ...args]);
  try {
    const answers = await Promise.all(PROMPTS.map((prompt) =>
      postJSON(`${srv.url}/v1/completions`, { prompt, max_tokens: 40, temperature: 0 })));
    for (const a of answers) assert.equal(a.status, 200, show(a.text));
    const metrics = await getMetrics(srv.url);
    return { texts: answers.map((a) => a.json.choices[0].text), usages: answers.map((a) => a.json.usage), metrics };
  } finally {
    await srv.stop();
  }
}

const plain = await runAll([]);
await check('without --spec: no prediction fields, no spec metrics', () => {
  for (const u of plain.usages) {
    assert.equal(u.completion_tokens_details.accepted_prediction_tokens, undefined, show(u));
    assert.equal(u.completion_tokens_details.rejected_prediction_tokens, undefined, show(u));
  }
  assert.equal(metricValue(plain.metrics, 'dseek_spec_draft_tokens_total'), undefined);
});

for (const spec of ['mtp', 'mtp:3', 'ngram:3']) {
  const r = await runAll(['--spec', spec]);
  await check(`--spec ${spec}: greedy texts identical to the plain server's`, () => {
    for (let i = 0; i < PROMPTS.length; ++i) assert.equal(r.texts[i], plain.texts[i], `prompt ${i}`);
  });
  await check(`--spec ${spec}: usage and /metrics count the drafts`, () => {
    let drafted = 0, accepted = 0;
    for (const u of r.usages) {
      const d = u.completion_tokens_details;
      assert.ok(Number.isInteger(d.accepted_prediction_tokens) && d.accepted_prediction_tokens >= 0, show(u));
      assert.ok(Number.isInteger(d.rejected_prediction_tokens) && d.rejected_prediction_tokens >= 0, show(u));
      assert.ok(d.accepted_prediction_tokens <= u.completion_tokens, show(u));
      drafted += d.accepted_prediction_tokens + d.rejected_prediction_tokens;
      accepted += d.accepted_prediction_tokens;
    }
    const m = r.metrics;
    assert.equal(metricValue(m, 'dseek_spec_draft_tokens_total'), drafted);
    assert.equal(metricValue(m, 'dseek_spec_accepted_tokens_total'), accepted);
    assert.equal(m.types.get('dseek_spec_acceptance_rate'), 'gauge');
    const rate = metricValue(m, 'dseek_spec_acceptance_rate');
    assert.ok(Math.abs(rate - (drafted ? accepted / drafted : 0)) < 1e-6, `rate ${rate}`);
    if (spec.startsWith('mtp')) assert.ok(accepted > 0, 'the trained MTP head never drafted right');
    return `${accepted}/${drafted} drafts accepted`;
  });
}

await check('bad --spec values are refused at start, naming the fix', async () => {
  const bad = await runCommand(dseek, ['serve', '-m', MODEL, '--port', '0', '--spec', 'eagle']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /ngram\[:N\] or mtp\[:N\]/);
  const llama = await makeTinyModel(dseek, { arch: 'llama', name: 'llama' });
  try {
    const r = await runCommand(dseek, ['serve', '-m', llama.model, '--port', '0', '--spec', 'mtp']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /use --spec ngram/);
  } finally {
    await llama.cleanup();
  }
});

process.exit(summary('spec_serve') ? 0 : 1);
