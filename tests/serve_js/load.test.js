// Load: 32 concurrent clients x 3 requests each (the official openai client,
// greedy, a different prompt per request) against 4 slots. Nothing may be lost
// (96 answers) or mixed up (each answer equals its prompt's answer requested
// alone first). Bounded: 96 requests of at most 31 tokens, one minute.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import OpenAI from 'openai';
import { startServer, model } from './server.js';

const modelId = path.basename(model);
const CLIENTS = 32, PER_CLIENT = 3, MAX_TOKENS = 24;
const names = ['Lily', 'Tom', 'Sue', 'Ben', 'Mia', 'Max', 'Anna', 'Tim'];
const things = ['ball', 'cat', 'tree', 'boat', 'cake', 'bird', 'kite', 'box', 'dog', 'car', 'hat', 'sun'];

// Request j of client i: a chat request (whole, then streamed) or a completion.
// The story model answers many prompts alike, so the prompts vary in shape,
// name and thing, and max_tokens in 17..31: most answers differ, and an
// answer delivered to the wrong request would show.
function job(i, j) {
  const k = i * PER_CLIENT + j;
  const n = names[k % names.length], t = things[Math.floor(k / names.length) % things.length];  // 8 x 12: one pair per request
  const max_tokens = MAX_TOKENS - 7 + (k * 7) % 15;  // 17..31
  const text = [
    `Tell me a story about ${n} and the ${t}.`,
    `${n} had a ${t}. ${n} loved the ${t}. ${n} played with the ${t}. ${n}`,
    `Once upon a time, ${n} had a ${t}. The ${t}`,
  ][i % 3];
  if (j === 2) return { kind: 'completion', prompt: text, max_tokens };
  return { kind: 'chat', stream: j === 1, messages: [{ role: 'user', content: text }], max_tokens };
}

async function ask(openai, q) {
  const common = { model: modelId, max_tokens: q.max_tokens, temperature: 0 };
  if (q.kind === 'completion') return (await openai.completions.create({ ...common, prompt: q.prompt })).choices[0].text;
  if (!q.stream) return (await openai.chat.completions.create({ ...common, messages: q.messages })).choices[0].message.content;
  let text = '';
  for await (const c of await openai.chat.completions.create({ ...common, messages: q.messages, stream: true }))
    text += c.choices[0]?.delta?.content ?? '';
  return text;
}

let server;
before(async () => { server = await startServer(); });
after(async () => assert.equal(await server?.stop(), 0, server?.stderr()));

test(`${CLIENTS} clients x ${PER_CLIENT} requests: none lost, none mixed up`, { timeout: 120_000 }, async (t) => {
  const jobs = Array.from({ length: CLIENTS }, (_, i) => Array.from({ length: PER_CLIENT }, (_, j) => job(i, j)));
  const keys = new Set(jobs.flat().map((q) => q.kind + JSON.stringify(q.messages ?? q.prompt)));
  assert.equal(keys.size, CLIENTS * PER_CLIENT, 'the prompts are all different');

  // Each prompt alone first: the reference answers.
  const solo = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30_000 });
  const expected = [];
  for (const row of jobs) expected.push(await Promise.all(row.map(async (q) => ask(solo, { ...q, stream: false }))));
  const distinct = new Set(expected.flat());
  t.diagnostic(`${distinct.size} distinct reference answers`);
  assert.ok(distinct.size > CLIENTS, `only ${distinct.size} distinct answers: the check below would be weak`);

  // Then all clients at once, each its own openai client, its requests one after another.
  const deadline = AbortSignal.timeout(60_000);
  const started = Date.now();
  // Meanwhile /metrics shows the slots in use together (the batching).
  let maxActive = 0, polling = true;
  const poller = (async () => {
    while (polling) {
      const m = /^tern_requests_active (\d+)$/m.exec(await (await fetch(`${server.url}/metrics`)).text());
      maxActive = Math.max(maxActive, Number(m[1]));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const got = await Promise.all(jobs.map(async (row) => {
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
    const answers = [];
    for (const q of row) {
      assert.ok(!deadline.aborted, 'the load test ran out of time');
      answers.push(await ask(openai, q));
    }
    return answers;
  }));
  const seconds = (Date.now() - started) / 1000;
  polling = false;
  await poller;
  t.diagnostic(`${CLIENTS * PER_CLIENT} requests in ${seconds.toFixed(2)} s, up to ${maxActive} in slots at once`);
  assert.equal(got.flat().length, CLIENTS * PER_CLIENT);
  for (let i = 0; i < CLIENTS; i++)
    for (let j = 0; j < PER_CLIENT; j++)
      assert.equal(got[i][j], expected[i][j], `client ${i} request ${j}: ${JSON.stringify(jobs[i][j])}`);
  assert.ok(seconds < 60, `took ${seconds} s`);
  assert.ok(maxActive >= 2 && maxActive <= 4, `up to ${maxActive} requests in the 4 slots`);

  // The server counted them: 96 + the 96 reference requests, all 200, every
  // slot free again. A stream is counted after its last byte, which the client
  // may have read a moment before: a few polls.
  let metrics = '';
  const value = (name) => Number(new RegExp(`^${name.replace(/[{}"/.]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0);
  const answered = () => value('tern_requests_total{endpoint="/v1/chat/completions",status="200"}') +
    value('tern_requests_total{endpoint="/v1/completions",status="200"}');
  for (let i = 0; i < 50; i++) {
    metrics = await (await fetch(`${server.url}/metrics`)).text();
    if (answered() >= 2 * CLIENTS * PER_CLIENT) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(answered(), 2 * CLIENTS * PER_CLIENT, metrics);
  assert.equal(value('tern_requests_active'), 0);
  assert.equal(value('tern_requests_queued'), 0);
});
