// Starts `tern serve` for a test: 127.0.0.1, a free port (--port 0), the
// bundled story model (or the tiny embedding model). TERN_BINARY and TERN_MODEL name the binary and the
// model (defaults: build/tern and models/tern-tinystories-4m.gguf of this
// checkout). The port is read from the "listening on http://HOST:PORT" line
// the server prints on stderr once the model is loaded.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const binary = path.resolve(process.env.TERN_BINARY || path.join(root, 'build', 'tern'));
export const model = path.resolve(process.env.TERN_MODEL || path.join(root, 'models', 'tern-tinystories-4m.gguf'));

// A tiny embedding model for /v1/embeddings (TERN_EMBED_MODEL overrides).
export const embedModel = path.resolve(process.env.TERN_EMBED_MODEL ||
                                       path.join(root, 'tests', 'data', 'models', 'qwen3_i2s_embd.gguf'));

// `modelPath`: another model than TERN_MODEL's (the embedding model).
export async function startServer(extraArgs = [], { readyTimeoutMs = 60_000, modelPath = model } = {}) {
  for (const f of [binary, modelPath]) if (!existsSync(f)) throw new Error(`${f} does not exist (set TERN_BINARY / TERN_MODEL / TERN_EMBED_MODEL)`);
  const args = ['serve', '-m', modelPath, '--host', '127.0.0.1', '--port', '0', '-np', '4', '-c', '256', '-t', '2', ...extraArgs];
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" within ${readyTimeoutMs} ms:\n${stderr}`)), readyTimeoutMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s) => {
      stderr += s;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`tern serve exited (${code ?? signal}):\n${stderr}`)); });
  });
  let stopped = null;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    // SIGTERM, then the exit code (SIGKILL after 10 s: the test fails on a non-zero code).
    stop() {
      if (!stopped) {
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        stopped = exited.then((r) => { clearTimeout(kill); return r.code ?? -1; });
      }
      return stopped;
    },
  };
}
