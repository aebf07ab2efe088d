import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/config';
import { freePort } from '../../src/temporal/devServer';
import { decisionsOf } from '../../src/cli/format';
import type { ReassignmentResult } from '../../src/workflows/contract/types';
import { auditStore, startHarness } from '../support/harness';
import { seedInput } from '../support/seed';

/**
 * The worker against a real OpenAI-compatible server: llama.cpp's llama-server on loopback, serving a small
 * base model (gemma-3-270m) that has no chat template and cannot call tools. Not in the default suite (the
 * server takes ~10 minutes to build on 2 cores): `npm run test:llama` builds it once (scripts/llamaServer.sh)
 * and runs this file. The model cannot do the work, so each run must end in one model call and a clean,
 * explained fallback to the code-driven steps, with the same decisions as the code-driven oracle.
 */

const server = process.env.LLAMA_SERVER ?? path.join(projectRoot, '.cache', 'llama', 'bin', 'llama-server');
const model =
  process.env.LLAMA_MODEL ?? path.join(projectRoot, '.cache', 'llama', 'models', 'gemma-3-270m-q4_k_m.gguf');
const input = { ...seedInput, promptLabel: 'staging' };
const ORACLE = { A001: 'P001', A002: 'P001', A003: 'waitlist' };

async function startLlamaServer(contextSize: number): Promise<{ url: string; stop: () => void }> {
  if (!fs.existsSync(server) || !fs.existsSync(model))
    throw new Error('no llama-server or model: run `npm run test:llama` (it builds them with scripts/llamaServer.sh)');
  const port = await freePort();
  const child: ChildProcess = spawn(
    server,
    ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-c', String(contextSize)],
    {
      stdio: 'ignore',
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    const ok = await fetch(`${url}/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return { url: `${url}/v1`, stop: () => child.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill('SIGKILL');
  throw new Error('llama-server did not become healthy in 2 minutes');
}

async function runAgainst(contextSize: number): Promise<{ result: ReassignmentResult; audit: string[] }> {
  const llama = await startLlamaServer(contextSize);
  // A CPU-served call can take minutes: LLM_TIMEOUT_MS sized for it (docs/configuration.md).
  const h = await startHarness({
    env: { OPENAI_BASE_URL: llama.url, OPENAI_API_KEY: 'none', LLM_TIMEOUT_MS: '600000' },
  });
  try {
    const result = await h.run('promptDrivenReassignment', input);
    console.log(
      `llama-server (-c ${contextSize}): ${result.status}; ${result.llm.calls} call(s), ${result.llm.attempts} attempt(s), ` +
        `${result.llm.prompt_tokens} + ${result.llm.completion_tokens} tokens, ${((result.llm.time_ms ?? 0) / 1000).toFixed(1)} s; ` +
        `fallback: ${result.fallbacks[0]?.reason ?? '-'}`,
    );
    return { result, audit: auditStore(h.store) };
  } finally {
    await h.close();
    llama.stop();
  }
}

describe('a real OpenAI-compatible server (llama.cpp) with a model that cannot call tools', () => {
  test('one model call, then a clean fallback with the reason, and the oracle decisions', async () => {
    const { result, audit } = await runAgainst(4096);
    expect(result.status).toBe('completed_with_fallback');
    expect(result.llm).toMatchObject({ offline: false, calls: 1, attempts: 1, failed_attempts: 0 });
    expect(result.llm.model).toMatch(/gemma/);
    expect(result.fallbacks[0]!.reason).toMatch(/cut off at max_tokens|does not seem to support tool calling/);
    expect(decisionsOf(result)).toEqual(ORACLE);
    expect(audit).toEqual([]);
  });

  test('a context window too small for the prompt: refused at once, not retried, then the fallback', async () => {
    const { result, audit } = await runAgainst(512);
    expect(result.status).toBe('completed_with_fallback');
    expect(result.llm).toMatchObject({ calls: 0, attempts: 1, failed_attempts: 1 });
    expect(result.fallbacks[0]!.reason).toMatch(/does not fit the model's context window/);
    expect(decisionsOf(result)).toEqual(ORACLE);
    expect(audit).toEqual([]);
  });
});
