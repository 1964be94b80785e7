// End-to-end test of the chat page served at `GET /` by `dseek serve`, in headless Chromium.
//
//   node tests/server/web_chat.mjs /abs/path/to/build/bin/dseek ARTIFACT_DIR
//
// Needs tools/oracle/node_modules (cd tools/oracle && npm ci) and Chromium at /usr/bin/chromium
// (Debian package `chromium`; override with DSEEK_CHROMIUM). Writes ARTIFACT_DIR/web_chat.png (the
// conversation) and ARTIFACT_DIR/web_chat_markdown.png (the markdown sample); on failure also
// ARTIFACT_DIR/web_chat_failure.png. Exits non-zero on any failure.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { http, loadPlaywright, makeTinyModel, postJSON, show, startServer } from './serve_util.mjs';

const [dseek, artifacts] = process.argv.slice(2);
if (!dseek || !path.isAbsolute(dseek) || !artifacts) {
  console.error('usage: node tests/server/web_chat.mjs /abs/path/to/dseek ARTIFACT_DIR');
  process.exit(2);
}
await mkdir(artifacts, { recursive: true });
const KEY = 'web-key';
const CHROMIUM = process.env.DSEEK_CHROMIUM || '/usr/bin/chromium';
const { chromium } = loadPlaywright();

const watchdog = setTimeout(() => { console.log('FAIL watchdog: the test ran for 5 minutes; giving up'); process.exit(1); }, 5 * 60_000);
watchdog.unref();

const tiny = await makeTinyModel(dseek);
let srv, browser, page;
let passed = 0;
async function step(name, fn) {
  const t0 = Date.now();
  const note = await fn();
  passed++;
  console.log(`ok   ${name} (${Date.now() - t0} ms)${note ? ` - ${note}` : ''}`);
}

const foreign = [];    // requests to any origin but the server's
const pageErrors = []; // uncaught exceptions in the page
const chatBodies = []; // request bodies the page POSTed to /v1/chat/completions

// Texts of the rendered conversation: [{role, text, done, error, meta}].
const bubbles = () => page.$$eval('#messages .msg', (els) => els.map((b) => ({
  role: b.classList.contains('user') ? 'user' : 'assistant',
  text: b.querySelector('.body')?.textContent ?? '',
  done: b.dataset.done === '1',
  error: b.querySelector('.error')?.textContent ?? '',
  meta: b.querySelector('.meta')?.textContent ?? '',
})));
const stored = () => page.evaluate(() => JSON.parse(localStorage.getItem('dseek.chat.v1') || 'null'));
const waitDone = (i, timeout = 60_000) => page.waitForFunction((k) => {
  const b = document.querySelectorAll('#messages .msg.assistant')[k];
  return !!b && b.dataset.done === '1';
}, i, { timeout });

// The tiny random model writes ~5000 tokens/s, so an unthrottled reply reaches the browser in one
// network read and there is nothing to watch. A slow emulated link makes the stream arrive in
// pieces, so the test can see the page render it incrementally.
let cdp;
async function throttle(bytesPerSecond) {
  await cdp.send('Network.emulateNetworkConditions', bytesPerSecond
    ? { offline: false, latency: 10, downloadThroughput: bytesPerSecond, uploadThroughput: -1 }
    : { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
}

try {
  srv = await startServer(dseek, tiny.model, ['--api-key', KEY, '--parallel', '4', '--ctx', '4096']);
  const origin = new URL(srv.url).origin;
  console.log(`server: ${srv.url}`);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
  const context = await browser.newContext({ viewport: { width: 1100, height: 820 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(srv.url).origin });
  // Records every length the last assistant bubble's text takes, as the page renders it.
  await context.addInitScript(() => {
    window.__lens = [];
    const observe = () => new MutationObserver(() => {
      document.querySelectorAll('#messages .msg.assistant').forEach((b, i) => {
        const a = (window.__lens[i] ||= []);
        if (a.finished) return;
        const n = (b.querySelector('.body')?.textContent ?? '').length;
        if (a[a.length - 1] !== n) a.push(n);
        if (b.dataset.done === '1') a.finished = true;
      });
    }).observe(document.documentElement, { subtree: true, childList: true, characterData: true, attributes: true });
    if (document.documentElement) observe(); else document.addEventListener('DOMContentLoaded', observe);
  });
  page = await context.newPage();
  page.on('request', (r) => {
    const u = new URL(r.url());
    if ((u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:') && u.origin !== origin) foreign.push(r.url());
    if (u.pathname === '/v1/chat/completions' && r.method() === 'POST') chatBodies.push(r.postData());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon|401|Unauthorized/i.test(m.text() + (m.location()?.url ?? ''))) console.log(`     console error: ${m.text()}`); });
  cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');

  await step('page loads', async () => {
    const res = await page.goto(`${srv.url}/`, { waitUntil: 'load' });
    assert.equal(res.status(), 200);
    for (const id of ['prompt', 'send', 'stop', 'messages']) assert.ok(await page.$(`#${id}`), `#${id} missing`);
    assert.equal(await page.$$eval('#messages .msg', (e) => e.length), 0, 'a fresh browser shows messages');
  });

  await step('settings: API key, temperature 0, max tokens 48', async () => {
    await page.click('#settings-toggle');
    await page.fill('#api-key', KEY);
    await page.fill('#temperature', '0');
    await page.fill('#max-tokens', '48');
    await page.click('#settings-toggle');
  });

  let firstReply;
  await step('Shift+Enter adds a newline; Send streams a reply', async () => {
    await page.click('#prompt');
    await page.keyboard.type('Hello');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('dseek, how are you?');
    assert.equal(await page.inputValue('#prompt'), 'Hello\ndseek, how are you?', 'Shift+Enter did not insert a newline');
    assert.equal(await page.$$eval('#messages .msg', (e) => e.length), 0, 'Shift+Enter sent the message');
    await throttle(6000);
    await page.click('#send');
    await waitDone(0);
    await throttle(0);
    const b = await bubbles();
    assert.equal(b.length, 2, show(b));
    assert.deepEqual([b[0].role, b[0].text], ['user', 'Hello\ndseek, how are you?']);
    firstReply = b[1];
    assert.ok(firstReply.text.trim().length > 0, `empty reply: ${show(b[1])}`);
    assert.equal(firstReply.error, '', `error shown: ${firstReply.error}`);
    const lens = await page.evaluate(() => window.__lens[0]);
    const distinct = new Set(lens.filter((n) => n > 0));
    assert.ok(distinct.size >= 2, `the reply appeared at once, not streamed: lengths seen ${show(lens)}`);
    assert.equal(await page.inputValue('#prompt'), '', 'the prompt was not cleared');
    assert.equal(await page.textContent('#model'), 'tiny', 'model id from /v1/models');
    return `${distinct.size} lengths seen while streaming, final ${firstReply.text.length} chars, meta "${firstReply.meta}"`;
  });

  await step('the streamed reply equals the server\'s non-streaming answer to the same request', async () => {
    const sent = JSON.parse(chatBodies[0]);
    assert.equal(sent.stream, true);
    assert.equal(sent.model, 'tiny');
    assert.equal(sent.temperature, 0);
    assert.equal(sent.max_tokens, 48);
    const r = await postJSON(`${srv.url}/v1/chat/completions`, { ...sent, stream: false, stream_options: undefined }, { key: KEY });
    assert.equal(r.status, 200, show(r.text));
    const conv = await stored();
    assert.equal(conv[1].role, 'assistant');
    assert.equal(conv[1].content, r.json.choices[0].message.content, 'the text the page assembled from the stream differs');
  });

  await step('Enter sends a second turn with the history', async () => {
    await page.fill('#prompt', 'Tell me more.');
    await page.press('#prompt', 'Enter');
    await waitDone(1);
    const b = await bubbles();
    assert.equal(b.length, 4, show(b));
    assert.ok(b[3].text.trim().length > 0 && !b[3].error, show(b[3]));
    const sent = JSON.parse(chatBodies[1]);
    assert.deepEqual(sent.messages.map((m) => m.role), ['user', 'assistant', 'user'], show(sent.messages));
  });

  await step('Stop aborts a long reply', async () => {
    await page.click('#settings-toggle');
    await page.fill('#max-tokens', '2000');
    await page.click('#settings-toggle');
    await throttle(3000);
    await page.fill('#prompt', 'Write a very long essay.');
    await page.click('#send');
    await page.waitForFunction(() => {
      const b = document.querySelectorAll('#messages .msg.assistant')[2];
      return b && b.querySelector('.body').textContent.length > 0;
    }, null, { timeout: 60_000 });
    assert.ok(await page.isVisible('#stop'), '#stop not visible while streaming');
    await page.click('#stop');
    await waitDone(2, 10_000);
    await throttle(0);
    const b = (await bubbles())[5];
    assert.match(b.meta, /stopped/, show(b));
    assert.equal(b.error, '', show(b));
    assert.ok(await page.isVisible('#send'), '#send not back after stopping');
    await page.click('#settings-toggle');
    await page.fill('#max-tokens', '48');
    await page.click('#settings-toggle');
    return `stopped after ${b.text.length} chars`;
  });

  await step('reload keeps the conversation (localStorage)', async () => {
    const before = await bubbles();
    await page.reload({ waitUntil: 'load' });
    const after = await bubbles();
    assert.deepEqual(after.map((b) => [b.role, b.text]), before.map((b) => [b.role, b.text]));
    assert.ok(after.filter((b) => b.role === 'assistant').every((b) => b.done), 'restored bubbles lack data-done');
    assert.equal(await page.inputValue('#max-tokens'), '48', 'settings not kept');
    assert.equal(await page.inputValue('#api-key'), KEY, 'API key not kept');
    return `${after.length} messages`;
  });

  await step('screenshot', async () => {
    await page.screenshot({ path: path.join(artifacts, 'web_chat.png'), fullPage: true });
  });

  await step('a non-200 answer shows error.message', async () => {
    const expected = (await postJSON(`${srv.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'x' }] }, { key: 'wrong-key' })).json?.error?.message;
    assert.ok(expected, 'the server gave no error.message for a wrong key');
    await page.click('#settings-toggle');
    await page.fill('#api-key', 'wrong-key');
    await page.click('#settings-toggle');
    await page.fill('#prompt', 'This should fail.');
    await page.click('#send');
    await waitDone(3, 20_000);
    const b = (await bubbles()).at(-1);
    assert.ok(b.error.includes(expected), `error shown: ${show(b.error)}; expected it to include ${show(expected)}`);
    await page.click('#settings-toggle');
    await page.fill('#api-key', KEY);
    await page.click('#settings-toggle');
  });

  await step('New chat clears the conversation', async () => {
    await page.click('#new-chat');
    assert.equal(await page.$$eval('#messages .msg', (e) => e.length), 0);
    assert.deepEqual(await stored(), []);
    await page.reload({ waitUntil: 'load' });
    assert.equal(await page.$$eval('#messages .msg', (e) => e.length), 0);
  });

  await step('markdown renders safely', async () => {
    const md = [
      '# Title', 'Some **bold**, *italic* and `inline <code>`.', '',
      '- one', '- two with [a link](https://example.com/x) and [bad](javascript:window.__xss=1)', '  - nested', '',
      '1. first', '2. second', '', '> quoted', '',
      '```js', 'const a = "<b>not bold</b>";', '```', '',
      '<img src=x onerror="window.__xss=1"> <script>window.__xss=1</script> & &amp; <b>raw</b>',
    ].join('\n');
    await page.evaluate((content) => {
      localStorage.setItem('dseek.chat.v1', JSON.stringify([{ role: 'user', content: '<i>hi</i>' }, { role: 'assistant', content }]));
    }, md);
    await page.reload({ waitUntil: 'load' });
    const r = await page.evaluate(() => {
      const body = document.querySelector('#messages .msg.assistant .body');
      const q = (s) => body.querySelectorAll(s).length;
      return {
        xss: window.__xss, img: document.querySelectorAll('#messages img, #messages script, #messages b, #messages i').length,
        h1: q('h1'), strong: q('strong'), em: q('em'), code: q('p code'), li: q('li'), nested: q('li ul li'), ol: q('ol li'),
        quote: q('blockquote'), block: body.querySelector('.code pre code')?.textContent, copy: q('.code button'),
        links: [...body.querySelectorAll('a')].map((a) => [a.getAttribute('href'), a.rel, a.target]),
        text: body.textContent, user: document.querySelector('#messages .msg.user .body').textContent,
      };
    });
    assert.equal(r.xss, undefined, 'script ran');
    assert.equal(r.img, 0, 'raw HTML became elements');
    assert.deepEqual([r.h1, r.strong, r.em, r.code, r.li, r.nested, r.ol, r.quote, r.copy], [1, 1, 1, 1, 5, 1, 2, 1, 1], show(r));
    assert.equal(r.block, 'const a = "<b>not bold</b>";');
    assert.deepEqual(r.links, [['https://example.com/x', 'noopener noreferrer nofollow', '_blank']]);
    assert.ok(r.text.includes('<img src=x onerror="window.__xss=1">') && r.text.includes('<script>') && r.text.includes('&amp;'), show(r.text));
    assert.equal(r.user, '<i>hi</i>');
    await page.click('#messages .code button');
    await page.waitForFunction(() => document.querySelector('#messages .code button').textContent !== 'Copy', null, { timeout: 5000 });
    assert.equal(await page.textContent('#messages .code button'), 'Copied');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'const a = "<b>not bold</b>";', 'clipboard');
    await page.screenshot({ path: path.join(artifacts, 'web_chat_markdown.png'), fullPage: true });
  });

  await step('no request left the server\'s origin; no page errors', async () => {
    assert.deepEqual(foreign, [], 'requests to other origins');
    assert.deepEqual(pageErrors, [], 'uncaught page errors');
  });

  await step('server still healthy; stops on SIGTERM', async () => {
    assert.equal((await http(`${srv.url}/health`)).status, 200);
    await browser.close();
    browser = null;
    const r = await srv.stop();
    assert.ok(!r.killed && r.code === 0, `exit ${show(r)}`);
  });
  console.log(`web_chat: ${passed} steps passed; screenshots in ${artifacts}`);
} catch (e) {
  console.log(`FAIL ${e.stack || e.message}`);
  if (page) await page.screenshot({ path: path.join(artifacts, 'web_chat_failure.png'), fullPage: true }).catch(() => {});
  if (srv) console.log(`--- server stderr (tail) ---\n${srv.stderr().slice(-3000)}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (srv && !srv.exited) await srv.stop().catch(() => {});
  await tiny.cleanup();
}
process.exit(process.exitCode ?? 0);
