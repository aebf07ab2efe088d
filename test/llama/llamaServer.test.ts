import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { decisionsOf } from '../../src/cli/format';
import { loadConfig } from '../../src/config';
import { promotionGate } from '../../src/eval/gate';
import { writeEvalReport } from '../../src/eval/records';
import { runEval } from '../../src/eval/runner';
import { scenarioNamed } from '../../src/eval/scenarios';
import { freePort } from '../../src/temporal/devServer';
import { approveSignal } from '../../src/workflows/contract/signals';
import type { ReassignmentResult } from '../../src/workflows/contract/types';
import {
  auditStore,
  encryptionEnv,
  promptsCopy,
  startHarness,
  testDataConverter,
  waitForProgress,
  type PromptDoc,
} from '../support/harness';
import { seedInput } from '../support/seed';

/**
 * The worker against a real OpenAI-compatible server: llama.cpp's llama-server on loopback (built from the
 * llama-cpp-python sdist by scripts/llamaServer.sh and cached outside the clone). `npm run test:llama` builds it
 * once and runs this file; `.ci/run` runs it after `npm test`.
 *
 * - SmolLM2-135M-Instruct drives the loop in json_schema mode: the seed example and eval scenarios end to end.
 *   Whatever this small model decides, what must hold is asserted: every call schema-valid, nothing invalid
 *   written, invariants and audit clean, every appointment decided by the model or visibly by the fallback. Its
 *   agreement with the oracle, calls, tokens, cached tokens and time are measured and printed, never asserted
 *   (docs/models.md records them), and the promotion gate's verdict must follow the measured agreement.
 * - gemma-3-270m, a base model with no chat template, cannot call tools natively: one call, then a clean fallback.
 */

const cache =
  process.env.LLAMA_CACHE ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'prompt-driven-reassignment', 'llama');
const server = process.env.LLAMA_SERVER ?? path.join(cache, 'bin', 'llama-server');
const smollm = process.env.LLAMA_MODEL ?? path.join(cache, 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const gemma = process.env.LLAMA_BASE_MODEL ?? path.join(cache, 'models', 'gemma-3-270m-q4_k_m.gguf');
const ORACLE = { A001: 'P001', A002: 'P001', A003: 'waitlist' };
/** The scenarios the small model runs end to end (small ones: a CPU-served model takes seconds per turn). */
const EVAL_SCENARIOS = ['seed-example', 'no-candidate', 'ties', 'busy-slots'];
/** Where the figures go for docs/models.md (printed too). */
const FIGURES = process.env.LLAMA_FIGURES ?? path.join(os.tmpdir(), 'llama-figures.json');

async function startLlamaServer(model: string, contextSize: number): Promise<{ url: string; stop: () => void }> {
  if (!fs.existsSync(server) || !fs.existsSync(model))
    throw new Error('no llama-server or model: run `npm run test:llama` (it builds them with scripts/llamaServer.sh)');
  const port = await freePort();
  const child: ChildProcess = spawn(
    server,
    ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-c', String(contextSize), '-np', '1'],
    { stdio: 'ignore' },
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

/** The production prompt (v3), asking for tool calls in json_schema mode. */
const jsonSchemaProduction = (files: { orchestrator: PromptDoc }) => {
  const v = files.orchestrator.versions.find((x) => x.labels.includes('production'))!;
  v.config.tool_calling = 'json_schema';
};

/** What every run of a model must show, whatever the model decided. */
function expectSound(r: ReassignmentResult, audit: string[]): void {
  // Every call the model made was valid against the catalog's schemas: the constraint held.
  expect(r.llm.invalid_tool_calls).toBe(0);
  expect(r.llm.schema_turns).toBe(r.llm.calls);
  // Every appointment decided, by the model or visibly by the fallback (listed with its reason).
  expect(r.undecided).toEqual([]);
  const byCode = new Set(r.fallbacks.flatMap((f) => f.appointments));
  for (const a of [...r.assignments, ...r.waitlisted])
    expect(a.decided_by === 'prompt' || byCode.has(a.appointment_id)).toBe(true);
  expect(audit).toEqual([]);
}

const line = (label: string, r: { llm: ReassignmentResult['llm'] }) =>
  `${label}: ${r.llm.calls} call(s), ${r.llm.prompt_tokens} input tokens (${r.llm.cached_tokens ?? 0} cached), ` +
  `${r.llm.completion_tokens} output, ${((r.llm.time_ms ?? 0) / 1000).toFixed(1)} s`;

describe('SmolLM2-135M-Instruct in json_schema mode (llama-server, constrained decoding)', () => {
  let llama: { url: string; stop: () => void };
  const figures: Record<string, unknown> = {};
  beforeAll(async () => {
    llama = await startLlamaServer(smollm, 8192);
  });
  afterAll(() => {
    llama.stop();
    fs.writeFileSync(FIGURES, JSON.stringify(figures, null, 2) + '\n');
    console.log(`figures written to ${FIGURES}`);
  });

  test('the seed example: the model decides through the tools; every call valid, audit clean', async () => {
    const h = await startHarness({
      editPrompts: jsonSchemaProduction,
      env: { OPENAI_BASE_URL: llama.url, OPENAI_API_KEY: 'none', LLM_TIMEOUT_MS: '600000' },
    });
    try {
      await h.reload();
      const handle = await h.start('promptDrivenReassignment', seedInput);
      // Approve whatever the model asks about, as a person would; the run may also ask nothing.
      const done = handle.result().then(
        () => true,
        () => true,
      );
      const approved = new Set<string>();
      while (!(await Promise.race([done, new Promise<false>((r) => setTimeout(() => r(false), 500))]))) {
        const p = await waitForProgress(handle, () => true).catch(() => undefined);
        for (const a of p?.pending_approvals ?? [])
          if (!approved.has(a.appointment_id)) {
            approved.add(a.appointment_id);
            await handle.signal(approveSignal, { appointmentId: a.appointment_id, by: 'test' }).catch(() => undefined);
          }
      }
      const r: ReassignmentResult = await handle.result();
      const decisions = decisionsOf(r);
      const agreed = Object.entries(ORACLE).filter(([id, d]) => decisions[id] === d).length;
      console.log(
        `${line('SmolLM2 seed example', r)}; status ${r.status}; decisions ${JSON.stringify(decisions)}; ` +
          `agreement with the oracle ${agreed}/3; fallback: ${r.fallbacks[0]?.reason ?? '-'}`,
      );
      figures.seed = {
        status: r.status,
        decisions,
        agreement: agreed / 3,
        llm: r.llm,
        fallbacks: r.fallbacks.map((f) => f.reason),
        discrepancies: r.discrepancies.length,
      };
      expect(r.llm.offline).toBe(false);
      expect(r.llm.model).toMatch(/smollm2/i);
      expect(r.llm.calls).toBeGreaterThan(0);
      expectSound(r, await auditStore(h.store));
    } finally {
      await h.close();
    }
  });

  test('eval scenarios end to end: measured and reported, and the promotion gate follows the measure', async () => {
    const config = loadConfig({
      ...encryptionEnv(),
      PROMPTS_DIR: promptsCopy(jsonSchemaProduction),
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS!,
      OPENAI_BASE_URL: llama.url,
      OPENAI_API_KEY: 'none',
      LLM_TIMEOUT_MS: '600000',
      LOG_LEVEL: 'ERROR',
      EVAL_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'llama-evals-')),
    });
    const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
    const { Client, Connection } = await import('@temporalio/client');
    const clientConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    try {
      const report = await runEval({
        config,
        client: new Client({ connection: clientConnection, dataConverter: testDataConverter() }),
        connection,
        bundle: { code: fs.readFileSync(process.env.TEST_WORKFLOW_BUNDLE!, 'utf8') },
        label: 'production',
        scenarios: EVAL_SCENARIOS.map((n) => scenarioNamed(n)!),
      });
      for (const s of report.scenarios)
        console.log(
          `SmolLM2 eval ${s.name}: agreement ${s.agreed}/${s.appointments}, ${s.llm_calls} calls, ` +
            `${s.input_tokens} input tokens, ${s.invalid_calls} invalid calls, ${s.fallbacks} fallback(s), ${s.time_s} s`,
        );
      const t = report.total;
      console.log(
        `SmolLM2 eval total: agreement ${(t.agreement * 100).toFixed(1)}% (${t.agreed}/${t.appointments}), ` +
          `${t.llm_calls} calls, ${t.input_tokens} input tokens (${t.cached_tokens ?? 0} cached), ${t.output_tokens} output, ${t.time_s} s`,
      );
      figures.eval = { model: report.model, total: report.total, scenarios: report.scenarios };
      expect(report.offline).toBe(false);
      expect(t.invalid_calls).toBe(0);
      // Every appointment the oracle decided was decided in the candidate run too (by the model or the fallback).
      for (const s of report.scenarios)
        for (const [id, d] of Object.entries(s.decisions.oracle))
          if (d !== 'undecided') expect([id, s.decisions.candidate[id]]).not.toEqual([id, 'undecided']);

      // The gate: with this model, the version is promotable exactly when its measured agreement reaches the bar.
      writeEvalReport(config.EVAL_DIR, report);
      const gate = await promotionGate({
        name: report.prompt.orchestrator.name,
        version: report.prompt.orchestrator.version,
        hash: report.prompt.orchestrator.hash,
        evalDir: config.EVAL_DIR,
        minAgreement: config.EVAL_MIN_AGREEMENT,
        model: 'smollm2',
      });
      console.log(`promotion gate with SmolLM2: ${gate.pass ? 'pass' : 'refused'}: ${gate.detail}`);
      figures.gate = gate;
      expect(gate.pass).toBe(t.agreement >= config.EVAL_MIN_AGREEMENT);
    } finally {
      await connection.close();
      await clientConnection.close();
    }
  });
});

describe('gemma-3-270m, a base model that cannot call tools (native mode)', () => {
  async function runAgainst(contextSize: number): Promise<{ result: ReassignmentResult; audit: string[] }> {
    const llama = await startLlamaServer(gemma, contextSize);
    // A CPU-served call can take minutes: LLM_TIMEOUT_MS sized for it (docs/configuration.md).
    const h = await startHarness({
      env: { OPENAI_BASE_URL: llama.url, OPENAI_API_KEY: 'none', LLM_TIMEOUT_MS: '600000' },
    });
    try {
      await h.reload();
      const result = await h.run('promptDrivenReassignment', { ...seedInput, promptLabel: 'staging' });
      console.log(
        `${line(`gemma (-c ${contextSize})`, result)}; ${result.status}; fallback: ${result.fallbacks[0]?.reason ?? '-'}`,
      );
      return { result, audit: await auditStore(h.store) };
    } finally {
      await h.close();
      llama.stop();
    }
  }

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
