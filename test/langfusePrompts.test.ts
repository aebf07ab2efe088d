import { createLangfuseClient } from '../src/langfuse/client';
import { PromptOps } from '../src/langfuse/promptOps';
import { FallbackPromptRegistry, LangfusePromptRegistry } from '../src/langfuse/promptRegistry';
import { LocalPromptRegistry, PromptError } from '../src/prompts/registry';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { writeEvalReport } from '../src/eval/records';
import type { EvalReport } from '../src/eval/runner';
import { promptsCopy, startHarness, tempDir, twoVersions, waitForProgress, type Harness } from './support/harness';
import { startLangfuseServer, type LangfuseTestServer } from './support/langfuseServer';
import { expectOneLineError, runCli, type ProcessResult } from './support/processes';
import { seedInput } from './support/seed';

/**
 * Langfuse as the home of the prompts: the real @langfuse/client against a Langfuse-compatible server on
 * loopback. Prompts are pushed from prompts/ with our own CLI code, then runs resolve them from Langfuse.
 */

/** The prompts with two versions (production on v1): these tests move labels between them. */
const promptsDir = promptsCopy(twoVersions);
const evalDir = tempDir('evals');
const input = seedInput;

const langfuseEnv = (lf: LangfuseTestServer): Record<string, string> => ({
  LANGFUSE_BASE_URL: lf.url,
  LANGFUSE_PUBLIC_KEY: lf.publicKey,
  LANGFUSE_SECRET_KEY: lf.secretKey,
});
const registryFor = (lf: LangfuseTestServer, secretKey = lf.secretKey) =>
  new LangfusePromptRegistry(createLangfuseClient({ baseUrl: lf.url, publicKey: lf.publicKey, secretKey }), {
    cacheTtlSeconds: 0,
    fetchTimeoutMs: 5000,
  });
const labelsOf = (lf: LangfuseTestServer, name: string) =>
  Object.fromEntries(lf.prompts.filter((p) => p.name === name).map((p) => [p.version, [...p.labels].sort()]));

function cli(lf: LangfuseTestServer | undefined, args: string[]): Promise<ProcessResult> {
  return runCli(args, {
    EVAL_DIR: evalDir,
    PROMPTS_DIR: promptsDir,
    ...(lf ? langfuseEnv(lf) : { LANGFUSE_BASE_URL: '', LANGFUSE_PUBLIC_KEY: '', LANGFUSE_SECRET_KEY: '' }),
  });
}

describe('prompts from Langfuse', () => {
  let lf: LangfuseTestServer;
  let h: Harness;
  beforeAll(async () => {
    lf = await startLangfuseServer();
    await new PromptOps(
      createLangfuseClient({ baseUrl: lf.url, publicKey: lf.publicKey, secretKey: lf.secretKey }),
    ).push(promptsDir);
    h = await startHarness({ editPrompts: twoVersions, env: { ...langfuseEnv(lf), PROMPT_SOURCE: 'langfuse' } });
  });
  afterAll(async () => {
    await h?.close();
    await lf?.close();
  });
  beforeEach(() => h.reload());

  test('push makes each local version a Langfuse version with its labels; latest is automatic; a second push writes nothing', async () => {
    expect(labelsOf(lf, 'healthcare-orchestrator')).toEqual({ 1: ['production'], 2: ['latest', 'staging'] });
    expect(labelsOf(lf, 'scoring-strategy')).toEqual({ 1: ['latest', 'production', 'staging'] });
    const again = await cli(lf, ['prompts', 'push', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual([]);
    expect(lf.prompts).toHaveLength(3);
  });

  test('the registry fetches by label and by version, validated, with the same hash as the local file', async () => {
    const registry = registryFor(lf);
    const local = new LocalPromptRegistry(promptsDir);
    const production = await registry.resolveOrchestrator('production');
    expect(production).toMatchObject({
      name: 'healthcare-orchestrator',
      version: 1,
      label: 'production',
      source: 'langfuse',
    });
    expect(production.hash).toBe((await local.resolveOrchestrator('production')).hash);
    const v2 = await registry.get('healthcare-orchestrator', { version: 2 });
    expect(v2).toMatchObject({
      version: 2,
      source: 'langfuse',
      config: expect.objectContaining({ thresholds: { excellent: 140, good: 110 } }),
    });
    expect(lf.requests.some((r) => r.path === '/api/public/v2/prompts/healthcare-orchestrator?version=2')).toBe(true);
  });

  test('a run started with Langfuse records the source in its result, memo and search attributes', async () => {
    const handle = await h.start('promptDrivenReassignment', { ...input, promptLabel: 'staging' });
    const r: ReassignmentResult = await handle.result();
    expect(r.prompt.orchestrator).toMatchObject({ version: 2, label: 'staging', source: 'langfuse' });
    expect(r.prompt.orchestrator.fallback).toBeUndefined();
    const d = await handle.describe();
    expect(d.searchAttributes).toMatchObject({ PromptSource: ['langfuse'], PromptVersion: [2] });
    expect((d.memo?.prompt as { orchestrator: { source: string } }).orchestrator.source).toBe('langfuse');
  });

  test('a label promoted during a run leaves that run on its version; the next run takes the new one; rollback is one command', async () => {
    const first = await h.start('promptDrivenReassignment', input);
    await waitForProgress(first, (p) => p.pending_approvals.length > 0);
    // The promotion gate wants a passing eval of v2 (eval.test.ts tests the gate itself).
    const v2 = await new PromptOps(
      createLangfuseClient({ baseUrl: lf.url, publicKey: lf.publicKey, secretKey: lf.secretKey }),
    ).version('healthcare-orchestrator', 2);
    const passing = {
      at: new Date().toISOString(),
      prompt: { orchestrator: v2, scoring: v2 },
      total: { agreement: 1, appointments: 3 },
    };
    writeEvalReport(evalDir, passing as unknown as EvalReport);
    const promoted = await cli(lf, ['prompts', 'promote', 'healthcare-orchestrator', '2', 'production']);
    expect(promoted.stdout.trim()).toBe('healthcare-orchestrator: production → v2 (was v1)');
    expect(labelsOf(lf, 'healthcare-orchestrator')).toEqual({ 1: [], 2: ['latest', 'production', 'staging'] });
    await first.signal(approveSignal, { appointmentId: 'A002', by: 'nurse-jo' });
    const during: ReassignmentResult = await first.result();
    expect(during.prompt.orchestrator).toMatchObject({ version: 1, label: 'production', source: 'langfuse' });
    expect(during.approvals.requested).toBe(1);

    await h.reload();
    const after = await h.run('promptDrivenReassignment', input);
    expect(after.prompt.orchestrator).toMatchObject({ version: 2, label: 'production', source: 'langfuse' });
    expect(after.approvals.requested).toBe(0); // v2 assigns good matches without asking
    expect(after.assignments.find((a) => a.appointment_id === 'A002')?.approved_by ?? null).toBeNull();

    const rolledBack = await cli(lf, ['prompts', 'rollback', 'healthcare-orchestrator', 'production']);
    expect(rolledBack.stdout.trim()).toBe('healthcare-orchestrator: production rolled back v2 → v1');
    expect(labelsOf(lf, 'healthcare-orchestrator')).toEqual({ 1: ['production'], 2: ['latest', 'staging'] });
    await h.reload();
    const handle = await h.start('promptDrivenReassignment', input);
    await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
    expect((await handle.describe()).searchAttributes).toMatchObject({ PromptVersion: [1] });
    await handle.signal(approveSignal, { appointmentId: 'A002' });
    expect(((await handle.result()) as ReassignmentResult).prompt.orchestrator.version).toBe(1);
  });

  test('Langfuse unreachable: the run falls back to the local file and says why in its result', async () => {
    lf.setDown(true);
    try {
      const r = await h.run('promptDrivenReassignment', { ...input, promptLabel: 'staging' });
      expect(r.status).toBe('completed');
      expect(r.prompt.orchestrator).toMatchObject({
        version: 2,
        label: 'staging',
        source: 'local',
        fallback: expect.stringMatching(/Langfuse unreachable.*HTTP 503/),
      });
      expect(r.prompt.scoring).toMatchObject({ source: 'local', fallback: expect.stringMatching(/unreachable/) });
    } finally {
      lf.setDown(false);
    }
  });

  test('a prompt missing from Langfuse falls back to the local file; bad credentials do not', async () => {
    const empty = await startLangfuseServer();
    try {
      const fallback = new FallbackPromptRegistry(registryFor(empty), new LocalPromptRegistry(promptsDir));
      const resolved = await fallback.resolveOrchestrator('production');
      expect(resolved).toMatchObject({
        version: 1,
        source: 'local',
        fallback: 'Langfuse has no prompt "healthcare-orchestrator" with label "production"',
      });
      const wrongKey = new FallbackPromptRegistry(registryFor(empty, 'sk-wrong'), new LocalPromptRegistry(promptsDir));
      await expect(wrongKey.resolveOrchestrator('production')).rejects.toThrow(PromptError);
      await expect(wrongKey.resolveOrchestrator('production')).rejects.toThrow(/refused the credentials \(HTTP 401\)/);
    } finally {
      await empty.close();
    }
  });

  test('cache policy: with a TTL the SDK keeps serving a moved label for that long; with 0 (our default) the next resolution sees the move', async () => {
    const cached = new LangfusePromptRegistry(
      createLangfuseClient({ baseUrl: lf.url, publicKey: lf.publicKey, secretKey: lf.secretKey }),
      { cacheTtlSeconds: 600, fetchTimeoutMs: 5000 },
    );
    const fresh = registryFor(lf);
    expect((await cached.resolveOrchestrator('production')).version).toBe(1);
    const ops = new PromptOps(
      createLangfuseClient({ baseUrl: lf.url, publicKey: lf.publicKey, secretKey: lf.secretKey }),
    );
    await ops.promote('healthcare-orchestrator', 2, 'production');
    try {
      expect((await cached.resolveOrchestrator('production')).version).toBe(1);
      expect((await fresh.resolveOrchestrator('production')).version).toBe(2);
    } finally {
      await ops.rollback('healthcare-orchestrator', 'production', 1);
    }
    expect((await fresh.resolveOrchestrator('production')).version).toBe(1);
  });

  test('diff shows what changed between two versions', async () => {
    const r = await cli(lf, ['prompts', 'diff', 'healthcare-orchestrator', '1', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^--- healthcare-orchestrator v1 \[production\]/);
    expect(r.stdout).toMatch(/^- {5}"excellent": 150,$/m);
    expect(r.stdout).toMatch(/^\+ {5}"excellent": 140,$/m);
    expect(r.stdout).not.toMatch(/^[-+] You are the Healthcare/m); // same text
  });

  test('list shows versions, labels and hashes', async () => {
    const r = await cli(lf, ['prompts', 'list', '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; version: number; labels: string[]; hash: string }[];
    expect(rows.map((x) => `${x.name} v${x.version}`)).toEqual([
      'healthcare-orchestrator v1',
      'healthcare-orchestrator v2',
      'scoring-strategy v1',
    ]);
    expect(rows[0]!.hash).toMatch(/^[0-9a-f]{16}$/);
  });

  test('bad input to the prompt commands: one line on stderr, exit 1, nothing written', async () => {
    const before = JSON.stringify(lf.prompts);
    expectOneLineError(
      await cli(lf, ['prompts', 'promote', 'healthcare-orchestrator', '9', 'production']),
      /Langfuse has no version 9 of "healthcare-orchestrator"/,
    );
    expectOneLineError(
      await cli(lf, ['prompts', 'promote', 'no-such-prompt', '1', 'production']),
      /unknown prompt "no-such-prompt"/,
    );
    expectOneLineError(
      await cli(lf, ['prompts', 'promote', 'healthcare-orchestrator', '1', 'latest']),
      /"latest" is automatic/,
    );
    expectOneLineError(await cli(lf, ['prompts', 'rollback', 'scoring-strategy', 'production']), /oldest version/);
    expectOneLineError(
      await cli(lf, ['prompts', 'diff', 'healthcare-orchestrator', '1', '7']),
      /Langfuse has no version 7 of "healthcare-orchestrator"/,
    );
    expectOneLineError(await cli(lf, ['prompts', 'push', '--dir', '/nonexistent']), /prompt file .* not found/);
    expectOneLineError(
      await cli(undefined, ['prompts', 'diff', 'healthcare-orchestrator', '1', '2']),
      /prompt operations need Langfuse/,
    );
    expect(JSON.stringify(lf.prompts)).toBe(before);
  });

  test("a commit_message over Langfuse's 500-character limit is refused before anything is pushed", async () => {
    const before = JSON.stringify(lf.prompts);
    const dir = promptsCopy((files) => {
      twoVersions(files);
      const { orchestrator } = files;
      const v = orchestrator.versions[orchestrator.versions.length - 1]! as { commit_message?: string; prompt: string };
      v.commit_message = 'x'.repeat(480);
      v.prompt += '\nA new line, so that this version is new to Langfuse.';
    });
    expectOneLineError(
      await cli(lf, ['prompts', 'push', '--dir', dir]),
      /commit_message of healthcare-orchestrator v2 makes a \d+-character commit message .* at most 500: shorten it by \d+/,
    );
    expect(JSON.stringify(lf.prompts)).toBe(before);
  });

  // Last: it leaves a newest version behind that does not validate.
  test('a Langfuse prompt whose config does not validate is refused before any tool runs', async () => {
    const langfuse = createLangfuseClient({ baseUrl: lf.url, publicKey: lf.publicKey, secretKey: lf.secretKey });
    const good = await langfuse.prompt.get('healthcare-orchestrator', { version: 1, cacheTtlSeconds: 0 });
    await langfuse.prompt.create({
      name: 'healthcare-orchestrator',
      prompt: good.prompt as string,
      config: { ...(good.config as object), thresholds: { excellent: 100, good: 'high' } },
      labels: ['broken'],
    });
    const before = await h.store.counts();
    const handle = await h.start('promptDrivenReassignment', { ...input, promptLabel: 'broken' });
    const failure = await handle
      .result()
      .catch(
        (e: { cause?: { message?: string; cause?: { message?: string } } }) =>
          e.cause?.cause?.message ?? e.cause?.message,
      );
    expect(failure).toMatch(/Langfuse prompt "healthcare-orchestrator" v3 has an invalid config at thresholds.good/);
    expect(await h.store.counts()).toEqual(before);
    expect(await h.store.unavailability('T001', '2025-11-21')).toBeFalsy();
  });
});
