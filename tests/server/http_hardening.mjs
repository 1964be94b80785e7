// `dseek serve` against hostile or odd HTTP clients (issue 15), on a tiny random model over
// loopback, with small limits so that every check runs in seconds:
//
//   node tests/server/http_hardening.mjs /abs/path/to/dseek [CHECK...]
//
// CHECK names one group (slowloris, chunked, gzip, hangup, pipelining, http10, browser, shutdown,
// auth, timeout, cap); none: all. DSEEK_OLD=1 leaves out the flags an older binary lacks (to show
// that each check fails there). Prints one line per check; exits non-zero if any failed.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { checker, getMetrics, http, makeTinyModel, metricValue, show, sleep, startServer } from './serve_util.mjs';

const dseek = process.argv[2];
if (!dseek || !path.isAbsolute(dseek)) {
  console.error('usage: node tests/server/http_hardening.mjs /abs/path/to/dseek [CHECK...]');
  process.exit(2);
}
const only = new Set(process.argv.slice(3));
const OLD = process.env.DSEEK_OLD === '1';
const { check, summary } = checker({ defaultTimeoutMs: 30_000 });
const watchdog = setTimeout(() => { console.log('FAIL watchdog: 3 minutes'); process.exit(1); }, 180_000);
watchdog.unref();

const tiny = await makeTinyModel(dseek, { seed: 3 });
const LONG = { prompt: 'ROMEO:', max_tokens: 2000, temperature: 0 };  // greedy on this model: no end-of-text for 2000 tokens

// Starts a server with small limits; `extra` are flags an old binary lacks too.
async function serve(args = [], extra = []) {
  const limits = ['--header-timeout', '1', '--body-timeout', '2', '--idle-timeout', '1'];
  return startServer(dseek, tiny.model, ['--parallel', '2', '--queue', '2', '--max-body', '4096', '--ctx', '4096', ...args,
    ...(OLD ? [] : [...limits, ...extra])]);
}

// One raw connection: write `bytes`, collect everything until the server closes or `ms` passes.
function raw(port, bytes, { ms = 5000, onData } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const t0 = Date.now();
    const done = (closed) => { clearTimeout(timer); s.destroy(); resolve({ text: got, closed, ms: Date.now() - t0 }); };
    const timer = setTimeout(() => done(false), ms);
    s.on('connect', () => { if (bytes) s.write(bytes); });
    s.on('data', (d) => { got += d.toString('latin1'); if (onData) onData(got, s); });
    s.on('close', () => done(true));
    s.on('error', () => {});
  });
}

const statusOf = (text) => Number((/^HTTP\/1\.[01] (\d{3})/.exec(text) || [])[1] || -1);
const post = (p, body, headers = {}) => {
  const b = typeof body === 'string' ? body : JSON.stringify(body);
  const h = { Host: `127.0.0.1:${p.port}`, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(b)), ...headers };
  return `POST ${p.path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${b}`;
};

async function group(name, fn) {
  if (only.size && !only.has(name)) return;
  await fn();
}

await group('slowloris', () => check('slowloris: 40 sockets sending a header line each 300 ms; /health answers within 1 s; they are cut off', async () => {
  const srv = await serve();
  try {
    const socks = [];
    let closedBy = 0;
    for (let i = 0; i < 40; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => { closedBy++; });
      s.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\n`);
      socks.push(s);
    }
    const drip = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write(`X-Slow: ${Date.now()}\r\n`); }, 300);
    try {
      for (let probe = 0; probe < 6; probe++) {
        await sleep(400);
        const r = await http(`${srv.url}/health`, { timeoutMs: 1000 }).catch((e) => ({ status: -1, ms: 1000, text: e.message }));
        assert.equal(r.status, 200, `probe ${probe}: /health ${r.status} after ${r.ms} ms`);
      }
      const t0 = Date.now();
      while (closedBy < socks.length && Date.now() - t0 < 3000) await sleep(100);
      assert.equal(closedBy, socks.length, `${closedBy}/${socks.length} slow sockets closed by the server after the header deadline`);
    } finally {
      clearInterval(drip);
      for (const s of socks) s.destroy();
    }
  } finally { await srv.stop(); }
}));

await group('chunked', () => check('a chunked body over --max-body gets 413 (and one under it is read)', async () => {
  const srv = await serve();
  try {
    const chunk = 'x'.repeat(1000);
    let body = '';
    for (let i = 0; i < 20; i++) body += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    const head = `POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const big = await raw(srv.port, `${head}${body}0\r\n\r\n`);
    assert.equal(statusOf(big.text), 413, show(big.text));
    const small = JSON.stringify({ prompt: 'hi', max_tokens: 2 });
    const ok = await raw(srv.port, `${head}${small.length.toString(16)}\r\n${small}\r\n0\r\n\r\n`, { onData: (t, s) => { if (t.includes('"usage"')) s.end(); } });
    assert.equal(statusOf(ok.text), 200, show(ok.text));
  } finally { await srv.stop(); }
}));

await group('gzip', () => check('a gzip-encoded body gets 415', async () => {
  const srv = await serve();
  try {
    const r = await raw(srv.port, post({ port: srv.port, path: '/v1/completions' }, '\x1f\x8b\x08\x00\x00\x00\x00\x00', { 'Content-Encoding': 'gzip' }));
    assert.equal(statusOf(r.text), 415, show(r.text));
  } finally { await srv.stop(); }
}));

await group('hangup', () => check('a non-streaming client that hangs up is cancelled', async () => {
  const srv = await serve();
  try {
    const m0 = await getMetrics(srv.url);
    const c0 = metricValue(m0, 'dseek_requests_cancelled_total');
    await raw(srv.port, post({ port: srv.port, path: '/v1/completions' }, LONG), { ms: 300 });  // then destroyed
    const t0 = Date.now();
    let m;
    do { await sleep(100); m = await getMetrics(srv.url); } while (metricValue(m, 'dseek_requests_cancelled_total') === c0 && Date.now() - t0 < 3000);
    assert.equal(metricValue(m, 'dseek_requests_cancelled_total'), c0 + 1, 'cancelled counter');
    assert.equal(metricValue(m, 'dseek_requests_active'), 0, 'active requests');
  } finally { await srv.stop(); }
}));

await group('pipelining', () => check('two pipelined requests get two responses, in order', async () => {
  const srv = await serve();
  try {
    const h = `Host: 127.0.0.1:${srv.port}\r\n`;
    const a = post({ port: srv.port, path: '/v1/completions' }, { prompt: 'hi', max_tokens: 3 });
    const r = await raw(srv.port, `${a}GET /v1/models HTTP/1.1\r\n${h}Connection: close\r\n\r\n`);
    const heads = r.text.match(/HTTP\/1\.1 \d{3}/g) || [];
    assert.equal(heads.length, 2, show(r.text));
    assert.ok(r.text.indexOf('text_completion') < r.text.indexOf('"object":"list"'), `order: ${show(r.text)}`);
  } finally { await srv.stop(); }
}));

await group('http10', () => check('HTTP/1.0 streaming: no chunked coding, body ends at close', async () => {
  const srv = await serve();
  try {
    const body = JSON.stringify({ prompt: 'hi', max_tokens: 4, stream: true });
    const r = await raw(srv.port, `POST /v1/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assert.equal(statusOf(r.text), 200, show(r.text));
    assert.ok(r.closed, 'the server closes the connection');
    assert.doesNotMatch(r.text, /transfer-encoding/i);
    assert.match(r.text, /\r\n\r\ndata: \{/, 'the events follow the head directly');
    assert.match(r.text, /data: \[DONE\]\n\n$/);
  } finally { await srv.stop(); }
}));

await group('browser', () => check('browser safety: text/plain POST 415, foreign Host and Origin 403, --cors-origin allows, --metrics-key', async () => {
  const srv = await serve([], ['--cors-origin', 'https://app.example', '--metrics-key', 'mk']);
  try {
    const p = { port: srv.port, path: '/v1/completions' };
    const body = { prompt: 'hi', max_tokens: 2 };
    assert.equal(statusOf((await raw(srv.port, post(p, body, { 'Content-Type': 'text/plain' }))).text), 415, 'text/plain');
    assert.equal(statusOf((await raw(srv.port, post(p, body, { Host: `evil.example:${srv.port}` }))).text), 403, 'DNS-rebound Host');
    assert.equal(statusOf((await raw(srv.port, post(p, body, { Origin: 'https://evil.example' }))).text), 403, 'foreign Origin');
    const allowed = await raw(srv.port, post(p, body, { Origin: 'https://app.example', Connection: 'close' }));
    assert.equal(statusOf(allowed.text), 200, show(allowed.text));
    assert.match(allowed.text, /Access-Control-Allow-Origin: https:\/\/app\.example/);
    const own = await raw(srv.port, post(p, body, { Origin: `http://127.0.0.1:${srv.port}`, Connection: 'close' }));
    assert.equal(statusOf(own.text), 200, 'the chat page\'s own origin');
    assert.equal((await http(`${srv.url}/metrics`)).status, 403, '/metrics without the metrics key');
    assert.equal((await http(`${srv.url}/metrics`, { key: 'mk' })).status, 200, '/metrics with it');
  } finally { await srv.stop(); }
}));

await group('shutdown', () => check('SIGTERM mid-stream: the stream ends with a final event and [DONE]; exit 0', async () => {
  const srv = await serve();
  let text = '';
  const res = raw(srv.port, post({ port: srv.port, path: '/v1/completions' }, { ...LONG, stream: true }), {
    ms: 8000, onData: (t) => { text = t; },
  });
  const t0 = Date.now();
  while (!text.includes('data: {') && Date.now() - t0 < 5000) await sleep(20);
  const exit = await srv.stop();
  const r = await res;
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`);
  assert.match(r.text, /"finish_reason":"shutdown"/, `a final event: ${show(r.text.slice(-400))}`);
  assert.match(r.text, /data: \[DONE\]\n\n\r\n0\r\n\r\n$/, show(r.text.slice(-200)));
}));

await group('auth', () => check('Authorization scheme is case-insensitive', async () => {
  const srv = await serve(['--api-key', 'k1']);
  try {
    assert.equal((await http(`${srv.url}/v1/models`, { headers: { Authorization: 'bearer k1' } })).status, 200);
    assert.equal((await http(`${srv.url}/v1/models`, { headers: { Authorization: 'BEARER k1' } })).status, 200);
    assert.equal((await http(`${srv.url}/v1/models`, { headers: { Authorization: 'bearer k2' } })).status, 401);
  } finally { await srv.stop(); }
}));

await group('timeout', () => check('a request stopped by --timeout reports finish_reason "timeout"', async () => {
  const srv = await serve(['--timeout', '0.02']);
  try {
    const r = await http(`${srv.url}/v1/completions`, { method: 'POST', body: LONG });
    assert.equal(r.status, 200, show(r.text));
    assert.equal(r.json.choices[0].finish_reason, 'timeout', show(r.json.usage));
  } finally { await srv.stop(); }
}));

await group('cap', () => check('over --max-connections: 503 at once, /health answers again when they go', async () => {
  const srv = await serve([], ['--max-connections', '4']);
  try {
    const hold = [];
    for (let i = 0; i < 4; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      s.write('GET /health HTTP/1.1\r\n');
      hold.push(s);
    }
    await sleep(200);
    const over = await raw(srv.port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\n\r\n`, { ms: 1000 });
    assert.equal(statusOf(over.text), 503, show(over.text));
    assert.match(over.text, /Retry-After: 1/);
    for (const s of hold) s.destroy();
    await sleep(200);
    assert.equal((await http(`${srv.url}/health`, { timeoutMs: 1000 })).status, 200);
  } finally { await srv.stop(); }
}));

await tiny.cleanup();
process.exit(summary('http hardening') ? 0 : 1);
