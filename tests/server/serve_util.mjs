// Shared helpers for the `dseek serve` end-to-end tests (openai_client.mjs, web_chat.mjs).
// Node >= 20, no dependencies of its own; the pinned npm oracles live in tools/oracle
// (`cd tools/oracle && npm ci`) and are loaded from there by path.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ORACLE_DIR = path.join(REPO, 'tools', 'oracle');
const oracleRequire = createRequire(path.join(ORACLE_DIR, 'package.json'));

function missingOracle(name, err) {
  return new Error(`cannot load '${name}' from ${ORACLE_DIR}/node_modules (run: cd tools/oracle && npm ci): ${err.message}`);
}

// The official OpenAI client (ESM build), as pinned in tools/oracle/package.json.
export async function loadOpenAI() {
  try {
    const mod = await import(pathToFileURL(path.join(ORACLE_DIR, 'node_modules', 'openai', 'index.mjs')).href);
    return mod.default ?? mod.OpenAI;
  } catch (e) { throw missingOracle('openai', e); }
}

// playwright-core (a CommonJS package), as pinned in tools/oracle/package.json.
export function loadPlaywright() {
  try { return oracleRequire('playwright-core'); } catch (e) { throw missingOracle('playwright-core', e); }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms); });
  try { return await Promise.race([promise, t]); } finally { clearTimeout(timer); }
}

// ---------------------------------------------------------------- processes

const live = new Set(); // child processes to kill if the test dies
process.on('exit', () => { for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } } process.exit(130); });
}

// Runs a command to completion; resolves {code, signal, stdout, stderr}.
export function runCommand(cmd, args, { timeoutMs = 60_000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(p);
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { p.kill('SIGKILL'); }, timeoutMs);
    p.on('error', (e) => { clearTimeout(timer); live.delete(p); reject(e); });
    p.on('close', (code, signal) => {
      clearTimeout(timer); live.delete(p);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// Writes the seeded tiny random DeepSeek-V3 model into a fresh temp dir.
// Resolves {dir, model, cleanup()}; the model id the server reports is the file stem ("tiny").
export async function makeTinyModel(dseek, { seed = 1, name = 'tiny', arch = 'deepseek-v3' } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'dseek-serve-test-'));
  const model = path.join(dir, `${name}.gguf`);
  const r = await runCommand(dseek, ['init', '--arch', arch, '--preset', 'tiny', '--seed', String(seed), '-o', model]);
  if (r.code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`dseek init failed (exit ${r.code ?? r.signal}):\n${r.stderr}${r.stdout}`);
  }
  return { dir, model, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const LISTENING = /^dseek serve: listening on (http:\/\/(\S+):(\d+))\s*$/;

// Starts `dseek serve -m MODEL --host HOST --port 0 ARGS...` and waits for the listening line on
// stderr. Resolves a handle: {proc, url, host, port, argv, stderr(), exited, waitExit(), stop()}.
export function startServer(dseek, model, args = [], { timeoutMs = 60_000, host = '127.0.0.1' } = {}) {
  const argv = ['serve', '-m', model, '--host', host, '--port', '0', ...args];
  return new Promise((resolve, reject) => {
    const proc = spawn(dseek, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let err = '', pending = '', ready = false;
    const exitWaiters = [];
    const srv = {
      proc, argv, url: null, host: null, port: null, exited: null,
      stderr: () => err,
      waitExit: () => (srv.exited ? Promise.resolve(srv.exited) : new Promise((r) => exitWaiters.push(r))),
      stop: (opts) => stopServer(srv, opts),
    };
    const fail = (why) => {
      clearTimeout(timer);
      try { proc.kill('SIGKILL'); } catch { /* gone */ }
      reject(new Error(`dseek ${argv.join(' ')}: ${why}\n--- stderr ---\n${err.slice(-8000)}`));
    };
    const timer = setTimeout(() => fail(`no listening line within ${timeoutMs / 1000} s`), timeoutMs);
    proc.stdout.on('data', () => { /* drained; the server logs to stderr */ });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      err += d;
      if (err.length > 1 << 20) err = err.slice(-(1 << 19));
      if (ready) return;
      pending += d;
      let nl;
      while (!ready && (nl = pending.indexOf('\n')) >= 0) {
        const m = LISTENING.exec(pending.slice(0, nl).replace(/\r$/, ''));
        pending = pending.slice(nl + 1);
        if (m) {
          ready = true;
          clearTimeout(timer);
          Object.assign(srv, { url: m[1], host: m[2], port: Number(m[3]) });
          resolve(srv);
        }
      }
    });
    proc.on('error', (e) => { if (!ready) fail(`cannot start: ${e.message}`); });
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      srv.exited = { code, signal };
      for (const w of exitWaiters.splice(0)) w(srv.exited);
      if (!ready) fail(`exited (${code ?? signal}) before listening`);
    });
  });
}

// SIGTERM, then wait; SIGKILL after timeoutMs. Resolves {code, signal, killed, ms}.
export async function stopServer(srv, { timeoutMs = 10_000 } = {}) {
  const proc = srv.proc;
  const t0 = Date.now();
  if (srv.exited) return { ...srv.exited, killed: false, ms: 0 };
  const done = srv.waitExit();
  proc.kill('SIGTERM');
  let killed = false;
  let timer;
  const expire = new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); });
  const r = await Promise.race([done, expire]).finally(() => clearTimeout(timer));  // no timer left to keep node alive
  if (r) return { ...r, killed, ms: Date.now() - t0 };
  killed = true;
  proc.kill('SIGKILL');
  return { ...(await done), killed, ms: Date.now() - t0 };
}

// ---------------------------------------------------------------- HTTP

// fetch that never throws on HTTP status; resolves {status, headers, text, json, ms}.
export async function http(url, { method = 'GET', body, key, headers = {}, signal, timeoutMs = 120_000 } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    body = JSON.stringify(body);
  }
  if (body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  const t0 = Date.now();
  const res = await fetch(url, { method, body, headers: h, signal: signal ?? AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json, ms: Date.now() - t0 };
}
export const postJSON = (url, body, opts = {}) => http(url, { ...opts, method: 'POST', body });

// Parses a text/event-stream body (a fetch Response) into events; yields each `data:` payload
// string as it arrives ("[DONE]" included).
export async function* sseData(res) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '', data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buf += dec.decode(value, { stream: true });
      if (done) buf += dec.decode() + '\n\n';
      let nl;
      while ((nl = buf.search(/\r\n|\r(?!$)|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (data.length) { const d = data.join('\n'); data = []; yield d; }
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line[5] === ' ' ? 6 : 5));
        }
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

// ---------------------------------------------------------------- Prometheus

// Parses Prometheus text exposition. Returns {samples: [{name, labels, value}], types: Map}.
export function parseMetrics(text) {
  const samples = [], types = new Map(), help = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      const m = /^#\s*(TYPE|HELP)\s+(\S+)\s*(.*)$/.exec(line);
      if (m && m[1] === 'TYPE') types.set(m[2], m[3].trim());
      if (m && m[1] === 'HELP') help.set(m[2], m[3]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!m) throw new Error(`bad metrics line: ${JSON.stringify(raw)}`);
    const labels = {};
    if (m[3]) {
      const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
      let lm, end = 0;
      while ((lm = re.exec(m[3]))) {
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        end = re.lastIndex;
      }
      if (end !== m[3].length) throw new Error(`bad label set: ${JSON.stringify(raw)}`);
    }
    const v = m[4];
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
    if (Number.isNaN(value) && v !== 'NaN') throw new Error(`bad sample value: ${JSON.stringify(raw)}`);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types, help };
}

// Sum of all samples called `name` whose labels include `labels` (undefined if none).
export function metricValue(parsed, name, labels = {}) {
  let sum, found = false;
  for (const s of parsed.samples) {
    if (s.name !== name) continue;
    if (!Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
    sum = (found ? sum : 0) + s.value;
    found = true;
  }
  return sum;
}

export async function getMetrics(base, { key } = {}) {
  const r = await http(`${base}/metrics`, { key });
  if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.text.slice(0, 300)}`);
  return { ...parseMetrics(r.text), contentType: r.headers.get('content-type'), text: r.text };
}

// ---------------------------------------------------------------- checks

// A tiny sequential check runner: one summary line per check, non-zero exit at the end.
export function checker({ defaultTimeoutMs = 120_000 } = {}) {
  const results = [];
  async function check(name, fn, { timeoutMs = defaultTimeoutMs } = {}) {
    const t0 = Date.now();
    try {
      const note = await withTimeout(Promise.resolve().then(fn), timeoutMs, name);
      const ms = Date.now() - t0;
      console.log(`ok   ${name} (${ms} ms)${typeof note === 'string' && note ? ` - ${note}` : ''}`);
      results.push({ name, ok: true });
      return true;
    } catch (e) {
      const ms = Date.now() - t0;
      const msg = (e && e.message) || String(e);
      const at = ((e && e.stack) || '').split('\n').find((l) => /^\s+at /.test(l) && !l.includes('serve_util.mjs'));
      const lines = msg.split('\n').slice(0, 24);
      if (at) lines.push(at.trim());
      console.log(`FAIL ${name} (${ms} ms): ${lines.join('\n       ')}`);
      results.push({ name, ok: false, error: e });
      return false;
    }
  }
  function summary(label) {
    const failed = results.filter((r) => !r.ok);
    console.log(`${label}: ${results.length - failed.length}/${results.length} checks passed${failed.length ? `; failed: ${failed.map((r) => r.name).join(', ')}` : ''}`);
    return failed.length === 0;
  }
  return { check, summary, results };
}

// A compact, truncated JSON rendering for assertion messages.
export function show(v, max = 600) {
  let s;
  try { s = typeof v === 'string' ? v : JSON.stringify(v); } catch { s = String(v); }
  return s.length > max ? `${s.slice(0, max)}... (${s.length} chars)` : s;
}
