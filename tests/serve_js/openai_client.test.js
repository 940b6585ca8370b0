// The official `openai` JavaScript client, unchanged, against `tern serve`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { startServer, model } from './server.js';

const modelId = path.basename(model);
// maxRetries 0: a failed request fails the test instead of being tried again.
const client = (url, opts = {}) => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000, ...opts });
const story = [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Tell me about a cat.' }];

let server, openai;
before(async () => {
  server = await startServer();
  openai = client(server.url);
});
after(async () => assert.equal(await server?.stop(), 0, server?.stderr()));

test('chat.completions.create: content, finish_reason, usage', { timeout: 60_000 }, async () => {
  const r = await openai.chat.completions.create({ model: modelId, messages: story, max_tokens: 40, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.model, modelId);
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.message.role, 'assistant');
  assert.equal(typeof c.message.content, 'string');
  assert.ok(c.message.content.trim().length > 0, 'empty answer');
  assert.ok(['stop', 'length'].includes(c.finish_reason), c.finish_reason);
  assert.ok(r.usage.prompt_tokens > 5, `prompt_tokens ${r.usage.prompt_tokens}`);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 40);
  if (c.finish_reason === 'length') assert.equal(r.usage.completion_tokens, 40);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  // Greedy: the same request gives the same answer.
  const again = await openai.chat.completions.create({ model: modelId, messages: story, max_tokens: 40, temperature: 0 });
  assert.equal(again.choices[0].message.content, c.message.content);
});

test('chat.completions.create with stream: true equals the whole answer', { timeout: 60_000 }, async () => {
  const body = { model: modelId, messages: story, max_tokens: 40, temperature: 0 };
  const whole = await openai.chat.completions.create(body);
  const stream = await openai.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  let text = '', finish = null, usage = null, n = 0, role = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    if (chunk.choices.length === 0) continue;
    n++;
    role ??= chunk.choices[0].delta.role ?? null;
    text += chunk.choices[0].delta.content ?? '';
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  assert.ok(n >= 3, `${n} chunks`);
  assert.equal(role, 'assistant');
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage, whole.usage);
});

test('completions.create: the greedy golden transcript', { timeout: 60_000 }, async () => {
  const prompt = 'Once upon a time';
  const golden = readFileSync(new URL('../data/tinystories_greedy48.txt', import.meta.url), 'utf8');
  assert.ok(golden.startsWith(prompt) && golden.endsWith('\n'));
  const r = await openai.completions.create({ model: modelId, prompt, max_tokens: 48, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, golden.slice(prompt.length, -1));
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 48);
  // And streamed.
  let text = '';
  for await (const chunk of await openai.completions.create({ model: modelId, prompt, max_tokens: 48, temperature: 0, stream: true }))
    text += chunk.choices[0]?.text ?? '';
  assert.equal(text, r.choices[0].text);
});

test('models.list', { timeout: 30_000 }, async () => {
  const ids = [];
  for await (const m of openai.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  assert.deepEqual(ids, [modelId]);
});

test('a bad request throws APIError 400 with the server message', { timeout: 30_000 }, async () => {
  await assert.rejects(
    openai.chat.completions.create({ model: modelId, messages: story, temperature: -1 }),
    (e) => {
      assert.ok(e instanceof OpenAI.APIError);
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.status, 400);
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.error.message, /temp = -1\.0+ is invalid: it must be a finite number >= 0/);
      assert.match(e.message, /^400 sampling parameter temp/);
      return true;
    });
  await assert.rejects(openai.chat.completions.create({ model: modelId, messages: [] }),
    (e) => e.status === 400 && /'messages' must be a non-empty list/.test(e.error.message));
  // The server keeps working.
  const r = await openai.completions.create({ model: modelId, prompt: 'The dog', max_tokens: 4, temperature: 0 });
  assert.equal(r.usage.completion_tokens, 4);
});

test('--api-key: the client with the key works, without it 401', { timeout: 90_000 }, async () => {
  const s = await startServer(['--api-key', 'sekrit-42']);
  try {
    const ok = client(s.url, { apiKey: 'sekrit-42' });
    const r = await ok.chat.completions.create({ model: modelId, messages: story, max_tokens: 8, temperature: 0 });
    assert.equal(r.usage.completion_tokens, 8);
    assert.deepEqual((await ok.models.list()).data.map((m) => m.id), [modelId]);
    for (const bad of [client(s.url, { apiKey: 'wrong' }), client(s.url, { defaultHeaders: { Authorization: null } })]) {
      await assert.rejects(bad.chat.completions.create({ model: modelId, messages: story, max_tokens: 8 }), (e) => {
        assert.ok(e instanceof OpenAI.AuthenticationError);
        assert.equal(e.status, 401);
        assert.match(e.error.message, /API key/);
        return true;
      });
      await assert.rejects(bad.models.list(), (e) => e.status === 401);
    }
    // /health and the chat page need no key (the page sends the key the user gives it).
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    const page = await fetch(`${s.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
  } finally {
    assert.equal(await s.stop(), 0, s.stderr());
  }
});

test('GET / is the chat page, self-contained', { timeout: 30_000 }, async () => {
  const res = await fetch(`${server.url}/`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  const html = await res.text();
  assert.equal(html, readFileSync(new URL('../../serve/chat.html', import.meta.url), 'utf8'));
  assert.match(html, /\/v1\/chat\/completions/);
  // Nothing loaded from elsewhere: no src/href to another origin, no imports.
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(html, /@import|<link\b/i);
});

test('--rate-limit: over the limit the client gets a RateLimitError with Retry-After; another key is served', { timeout: 90_000 }, async () => {
  const s = await startServer(['--api-key', 'key-one', '--api-key', 'key-two', '--rate-limit', '2']);
  try {
    const one = client(s.url, { apiKey: 'key-one' });
    for (let i = 0; i < 2; i++)
      assert.equal((await one.completions.create({ model: modelId, prompt: 'The dog', max_tokens: 2, temperature: 0 })).usage.completion_tokens, 2);
    await assert.rejects(one.completions.create({ model: modelId, prompt: 'The dog', max_tokens: 2 }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.status, 429);
      assert.equal(e.error.type, 'rate_limit_exceeded');
      const wait = Number(e.headers.get('retry-after'));
      assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
      return true;
    });
    const two = client(s.url, { apiKey: 'key-two' });
    assert.deepEqual((await two.models.list()).data.map((m) => m.id), [modelId]);
  } finally {
    assert.equal(await s.stop(), 0, s.stderr());
  }
});
