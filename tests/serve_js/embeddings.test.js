// The official `openai` JavaScript client's embeddings.create, unchanged,
// against `tern serve` on a tiny embedding model: its default request (base64,
// decoded by the client), explicit floats, lists of texts and of token ids,
// the values `tern embed` prints, and a bad input as the client's error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import OpenAI from 'openai';
import { startServer, binary, embedModel } from './server.js';

const modelId = path.basename(embedModel);
let server, openai;
before(async () => {
  server = await startServer([], { modelPath: embedModel });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
});
after(async () => assert.equal(await server?.stop(), 0, server?.stderr()));

// What `tern embed` prints for these texts (7 decimals).
function ternEmbed(texts) {
  const out = execFileSync(binary, ['embed', '-m', embedModel, '-p', texts.join('\x1f'), '--embd-separator', '\x1f',
                                    '--embd-output-format', 'json', '--no-stats'], { encoding: 'utf8' });
  return JSON.parse(out).data.map((d) => d.embedding);
}

function assertClose(got, want, tol, what) {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

test('embeddings.create with a string: the client asks for base64 and decodes it', { timeout: 60_000 }, async () => {
  const r = await openai.embeddings.create({ model: modelId, input: 'a small cat' });
  assert.equal(r.object, 'list');
  assert.equal(r.model, modelId);
  assert.equal(r.data.length, 1);
  assert.equal(r.data[0].object, 'embedding');
  assert.equal(r.data[0].index, 0);
  const e = r.data[0].embedding;
  assert.ok(Array.isArray(e) && e.length === 64, `embedding of ${e.length}`);
  assertClose(e, ternEmbed(['a small cat'])[0], 1e-7 + 1e-9, 'embedding');
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.total_tokens === r.usage.prompt_tokens);
  // The same request with floats in the JSON gives the same values, bit for bit.
  const f = await openai.embeddings.create({ model: modelId, input: 'a small cat', encoding_format: 'float' });
  assert.deepEqual(f.data[0].embedding, e);
});

test('embeddings.create with a list of texts and with token ids', { timeout: 60_000 }, async () => {
  const texts = ['a small cat', 'the stock market fell', 'a small cat'];
  const r = await openai.embeddings.create({ model: modelId, input: texts });
  assert.deepEqual(r.data.map((d) => d.index), [0, 1, 2]);
  const want = ternEmbed(texts);
  r.data.forEach((d, i) => assertClose(d.embedding, want[i], 1e-7 + 1e-9, `input ${i}`));
  assert.deepEqual(r.data[2].embedding, r.data[0].embedding);
  assert.notDeepEqual(r.data[1].embedding, r.data[0].embedding);
  // The server's own tokens of the first text, given back as ids: the same vector.
  const tok = await fetch(`${server.url}/tokenize`, { method: 'POST', body: JSON.stringify({ content: 'a small cat', add_special: true }) });
  const ids = [...(await tok.json()).tokens, 0];  // the EOS (id 0) the vocabulary appends
  const byIds = await openai.embeddings.create({ model: modelId, input: [ids] });
  assert.deepEqual(byIds.data[0].embedding, r.data[0].embedding);
  assert.equal(byIds.usage.prompt_tokens, ids.length);
});

test('embeddings.create with an empty input: a 400 the client raises', { timeout: 60_000 }, async () => {
  await assert.rejects(openai.embeddings.create({ model: modelId, input: '' }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.status, 400);
    assert.match(e.message, /empty string/);
    return true;
  });
});
