// The chat page (GET /) in a real browser: Debian's Chromium, headless,
// driven by playwright-core (which downloads no browser). The page may reach
// nothing but the server it came from.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';
import { startServer, model } from './server.js';

const CHROMIUM = process.env.TERN_CHROMIUM || '/usr/bin/chromium';
const modelId = path.basename(model);

let browser;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (tools/dev/install-deps.sh test)`);
  // Playwright's switches already turn off Chromium's background traffic; the
  // dead proxy on this machine (loopback is never proxied) catches whatever
  // might still try to leave it.
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-sync', '--proxy-server=http://127.0.0.1:9'],
  });
});
after(async () => { await browser?.close(); });

// A page on `server`: every request to another origin is refused and recorded;
// the requests to the server are recorded too, and so are the page's errors.
async function openPage(server) {
  const page = await browser.newPage();
  const log = { foreign: [], sent: [], errors: [] };
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url === server.url || url.startsWith(`${server.url}/`)) return route.continue();
    log.foreign.push(url);
    return route.abort();
  });
  page.on('request', (r) => { if (r.method() === 'POST') log.sent.push({ url: r.url(), headers: r.headers(), body: r.postDataJSON() }); });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') log.errors.push(m.text()); });
  await page.goto(`${server.url}/`);
  return { page, log };
}

// The greedy answer the API gives for `messages` at the page's settings.
async function apiAnswer(server, page, messages, apiKey = 'unused') {
  const temperature = Number(await page.inputValue('#temperature'));
  const max_tokens = Number(await page.inputValue('#max-tokens'));
  assert.equal(temperature, 0, 'the page sends temperature 0 by default');
  const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });
  const r = await openai.chat.completions.create({ model: modelId, messages, temperature, max_tokens });
  return r.choices[0].message.content;
}

const assistantTexts = (page) => page.locator('.msg.assistant .text').allTextContents();
const userTexts = (page) => page.locator('.msg.user .text').allTextContents();

test('type, Shift+Enter is a new line, Enter sends; the streamed answer is the API\'s greedy answer; the conversation goes on',
  { timeout: 90_000 }, async () => {
    const server = await startServer();
    try {
      const { page, log } = await openPage(server);
      await page.locator('#model').filter({ hasText: modelId }).waitFor({ timeout: 10_000 });
      const input = page.locator('#input');
      await input.click();
      await page.keyboard.type('Tell me a story about');
      await page.keyboard.press('Shift+Enter');
      await page.keyboard.type('a cat and a dog.');
      assert.equal(await input.inputValue(), 'Tell me a story about\na cat and a dog.');
      assert.equal(await page.locator('.msg').count(), 0, 'Shift+Enter sent the message');
      assert.equal(log.sent.length, 0);

      await page.keyboard.press('Enter');
      await page.locator('.msg.assistant[data-state="done"]').waitFor({ timeout: 30_000 });
      assert.equal(await input.inputValue(), '', 'the input is cleared');
      assert.deepEqual(await userTexts(page), ['Tell me a story about\na cat and a dog.']);
      const [first] = await assistantTexts(page);
      assert.ok(first.trim().length > 0, 'empty answer');
      const turn1 = [{ role: 'user', content: 'Tell me a story about\na cat and a dog.' }];
      assert.equal(first, await apiAnswer(server, page, turn1));
      assert.match(await page.locator('.msg.assistant .stats').textContent(), /^\d+ tokens, [\d.]+ tokens\/s$/);

      // What the page sent: the conversation, streamed, at its settings.
      assert.equal(log.sent.length, 1);
      assert.equal(log.sent[0].url, `${server.url}/v1/chat/completions`);
      assert.equal(log.sent[0].body.stream, true);
      assert.deepEqual(log.sent[0].body.messages, turn1);
      assert.equal(log.sent[0].headers.authorization, undefined, 'no key given, none sent');

      // The second turn sends the whole conversation, and answers as the API does for it.
      await page.keyboard.type('What happened next?');
      await page.keyboard.press('Enter');
      await page.locator('.msg.assistant[data-state="done"]').nth(1).waitFor({ timeout: 30_000 });
      const turn2 = [...turn1, { role: 'assistant', content: first }, { role: 'user', content: 'What happened next?' }];
      assert.deepEqual(log.sent[1].body.messages, turn2);
      const second = (await assistantTexts(page))[1];
      assert.ok(second.trim().length > 0, 'empty second answer');
      assert.equal(second, await apiAnswer(server, page, turn2));

      // "New chat" forgets the conversation.
      await page.click('#clear');
      assert.equal(await page.locator('.msg').count(), 0);
      await page.locator('#input').click();
      await page.keyboard.type('Tell me a story about');
      await page.keyboard.press('Enter');
      await page.locator('.msg.assistant[data-state="done"]').waitFor({ timeout: 30_000 });
      assert.deepEqual(log.sent[2].body.messages, [{ role: 'user', content: 'Tell me a story about' }]);

      assert.deepEqual(log.foreign, [], 'the page reached for another origin');
      assert.deepEqual(log.errors, []);
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  });

test('with --api-key: the page shows the 401, then works with the key in the Authorization header',
  { timeout: 90_000 }, async () => {
    const server = await startServer(['--api-key', 'page-key-7']);
    try {
      const { page, log } = await openPage(server);
      await page.locator('#input').click();
      await page.keyboard.type('Tell me about a bird.');
      await page.keyboard.press('Enter');
      const error = page.locator('.msg.assistant.error[data-state="error"]');
      await error.waitFor({ timeout: 30_000 });
      assert.match(await error.textContent(), /^HTTP 401: invalid or missing API key/);
      assert.equal(await page.locator('#input').inputValue(), 'Tell me about a bird.', 'the failed message is given back');

      await page.fill('#api-key', 'page-key-7');
      await page.locator('#input').click();  // the key field's change event
      await page.keyboard.press('Enter');
      await page.locator('.msg.assistant[data-state="done"]').waitFor({ timeout: 30_000 });
      const sent = log.sent.at(-1);
      assert.equal(sent.headers.authorization, 'Bearer page-key-7');
      assert.deepEqual(sent.body.messages, [{ role: 'user', content: 'Tell me about a bird.' }], 'the failed turn left the conversation');
      const [answer] = await page.locator('.msg.assistant[data-state="done"] .text').allTextContents();
      assert.ok(answer.trim().length > 0);
      assert.equal(answer, await apiAnswer(server, page, sent.body.messages, 'page-key-7'));
      assert.deepEqual(log.foreign, []);
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  });

// The page renders each delta when it arrives: a stand-in API on 127.0.0.1
// serves the real page (fetched from tern's GET /) and holds its stream open
// after the first delta until the test has seen that delta on the page.
test('deltas are rendered as they arrive, before the stream ends', { timeout: 60_000 }, async () => {
  const server = await startServer();
  let release;
  const held = new Promise((r) => { release = r; });
  const page_html = await (await fetch(`${server.url}/`)).text();
  const fake = http.createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/') return res.writeHead(200, { 'Content-Type': 'text/html' }).end(page_html);
    if (req.url === '/v1/models') return res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"data":[{"id":"fake"}]}');
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Once' }));
    await held;
    res.end(chunk({ content: ' upon a time' }) + chunk({}, 'stop') + 'data: [DONE]\n\n');
  });
  await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  const fakeUrl = `http://127.0.0.1:${fake.address().port}`;
  try {
    const { page, log } = await openPage({ url: fakeUrl });
    await page.locator('#input').click();
    await page.keyboard.type('Hello');
    await page.keyboard.press('Enter');
    const answer = page.locator('.msg.assistant');
    await answer.locator('.text', { hasText: /^Once$/ }).waitFor({ timeout: 10_000 });
    assert.equal(await answer.getAttribute('data-state'), 'streaming');
    release();
    await page.locator('.msg.assistant[data-state="done"]').waitFor({ timeout: 10_000 });
    assert.equal(await answer.locator('.text').textContent(), 'Once upon a time');
    assert.deepEqual(log.sent[0].body.messages, [{ role: 'user', content: 'Hello' }]);
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  } finally {
    release();
    fake.closeAllConnections();
    await new Promise((r) => fake.close(r));
    assert.equal(await server.stop(), 0, server.stderr());
  }
});
