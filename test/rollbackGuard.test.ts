import { createLangfuseClient } from '../src/langfuse/client';
import { PromptOps } from '../src/langfuse/promptOps';
import { guardVerdict, guardInputSchema, type GuardResult } from '../src/workflows/guard/guardVerdict';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import {
  promptsCopy,
  startHarness,
  twoVersions,
  uniqueName,
  untilVisible,
  waitForProgress,
  type Harness,
} from './support/harness';
import { startLangfuseServer, type LangfuseTestServer } from './support/langfuseServer';
import { expectOneLineError, expectStoredEncrypted, runCli } from './support/processes';
import { seedInput } from './support/seed';

/**
 * The automatic rollback guard (issue 11.5): a Temporal Schedule runs the rollbackGuard workflow, which reads
 * the production label's runs over a window and moves the label back when they fall back too often. Prompts
 * live in a Langfuse-compatible server on loopback, reached with the real @langfuse/client.
 */

const settings = guardInputSchema.parse({});
const figures = { version: 2, hash: 'h', runs: 5, appointments: 15, fallback_rate: 0, shadow_runs: 0 };

describe('the guard verdict', () => {
  test('rolls back past either limit, never on too few runs', () => {
    expect(guardVerdict({ ...figures, shadow_disagreement_rate: 0 }, settings).roll_back).toBe(false);
    const fallback = guardVerdict({ ...figures, fallback_rate: 0.5, shadow_disagreement_rate: 0 }, settings);
    expect(fallback).toEqual({
      roll_back: true,
      reasons: ['fallback rate 50.0% > 20.0% over 5 runs in 60 min'],
    });
    const shadow = guardVerdict({ ...figures, shadow_runs: 2, shadow_disagreement_rate: 0.3 }, settings);
    expect(shadow.roll_back).toBe(true);
    expect(shadow.reasons[0]).toMatch(/^shadow disagreement 30\.0% > 10\.0% over 2 shadow runs/);
    const few = guardVerdict({ ...figures, runs: 2, fallback_rate: 1, shadow_disagreement_rate: 0 }, settings);
    expect(few.roll_back).toBe(false);
    expect(few.reasons[0]).toMatch(/fewer than 3, nothing judged$/);
  });
});

describe('the rollback guard against Temporal and Langfuse', () => {
  let lf: LangfuseTestServer;
  let ops: PromptOps;
  let healthy: Harness;
  let failing: Harness;
  const taskQueue = uniqueName('guard');
  const langfuseEnv = () => ({
    LANGFUSE_BASE_URL: lf.url,
    LANGFUSE_PUBLIC_KEY: lf.publicKey,
    LANGFUSE_SECRET_KEY: lf.secretKey,
    PROMPT_SOURCE: 'langfuse',
    TASK_QUEUE: taskQueue,
  });
  const cli = (args: string[]) => runCli(args, { ...langfuseEnv(), TEMPORAL_ADDRESS: healthy.address });
  const production = () =>
    lf.prompts.find((p) => p.name === 'healthcare-orchestrator' && p.labels.includes('production'))!;

  beforeAll(async () => {
    lf = await startLangfuseServer();
    ops = new PromptOps(createLangfuseClient({ baseUrl: lf.url, publicKey: lf.publicKey, secretKey: lf.secretKey }));
    // Two versions (production on v1): the guard moves the label between them.
    await ops.push(promptsCopy(twoVersions));
    healthy = await startHarness({ editPrompts: twoVersions, env: langfuseEnv() });
  });
  afterAll(async () => {
    await runCli(['guard', 'unschedule'], { ...langfuseEnv(), TEMPORAL_ADDRESS: healthy.address });
    // The healthy worker was stopped when the failing one came.
    if (failing) await failing.close();
    else await healthy?.close();
    await lf?.close();
  });

  async function runSeed(h: Harness): Promise<ReassignmentResult> {
    await h.reload();
    const handle = await h.start('promptDrivenReassignment', seedInput);
    // Production v1 asks a person about A002; v2 (staging) approves it by its own bands.
    const p = await waitForProgress(handle, (x) => x.pending_approvals.length > 0 || x.phase === 'finished');
    if (p.pending_approvals.length > 0) await handle.signal(approveSignal, { appointmentId: 'A002', by: 'test' });
    return handle.result();
  }

  /** Visibility is eventually consistent: run the guard until it has seen `runs` runs of the version. */
  const guardSeeing = (runs: number, args: string[] = []): Promise<GuardResult> =>
    untilVisible(
      async () => {
        const r = await cli(['guard', 'run', '--json', ...args]);
        expect(r.stderr).toBe('');
        return JSON.parse(r.stdout) as GuardResult;
      },
      (g) => (g.figures?.runs ?? 0) >= runs,
    );

  test('healthy runs: within limits, the label stays', async () => {
    for (let i = 0; i < 3; i++) expect((await runSeed(healthy)).fallbacks).toEqual([]);
    const g = await guardSeeing(3);
    expect(g.figures).toMatchObject({ version: 1, runs: 3, appointments: 9, fallback_rate: 0 });
    expect(g.verdict.roll_back).toBe(false);
    expect(g.verdict.reasons[0]).toMatch(/^within limits over 3 runs/);
    expect(g.moved).toBeNull();
    expect(production().version).toBe(1);
  });

  test('after a promotion whose runs fall back, the scheduled guard moves the label back, recorded in Langfuse and memo', async () => {
    await ops.promote('healthcare-orchestrator', 2, 'production');
    expect(production().version).toBe(2);
    // Same prompts, but a model that answers in prose: every prompt-driven batch falls back to the code.
    await healthy.close();
    failing = await startHarness({ editPrompts: twoVersions, env: langfuseEnv(), faults: [{ mode: 'text_only' }] });
    for (let i = 0; i < 3; i++) {
      const r = await runSeed(failing);
      expect(r.prompt.orchestrator.version).toBe(2);
      expect(r.decided_by.code).toBe(3);
    }
    // Only the runs of the version on the label count: v1's healthy runs are in the window too.
    const seen = await guardSeeing(3, ['--min-runs', '100']);
    expect(seen.figures).toMatchObject({ version: 2, runs: 3, fallback_rate: 1 });
    expect(seen.moved).toBeNull();

    const scheduled = await cli(['guard', 'schedule', '--every', '1d', '--window', '2h']);
    expect(scheduled.code).toBe(0);
    expect(scheduled.stdout).toMatch(/^created schedule rollback-guard-production: every 1440 min, next at /);
    // The schedule's action input and memo are stored encrypted, as every payload the CLI's client writes.
    await expectStoredEncrypted(failing.address, { scheduleId: 'rollback-guard-production' }, 2);
    const triggered = await cli(['guard', 'trigger', '--json']);
    expect(triggered.stderr).toBe('');
    const g = JSON.parse(triggered.stdout) as GuardResult & { workflowId: string };
    expect(g.workflowId).toMatch(/^rollback-guard-production-/);
    expect(g.verdict).toEqual({ roll_back: true, reasons: ['fallback rate 100.0% > 20.0% over 3 runs in 120 min'] });
    expect(g.moved).toMatchObject({ from: 2, to: 1, version: 3 });

    // In Langfuse: a new version with v1's text and config holds the label, its commit message says why.
    const now = production();
    const v1 = lf.prompts.find((p) => p.name === 'healthcare-orchestrator' && p.version === 1)!;
    expect(now.version).toBe(3);
    expect(now.prompt).toBe(v1.prompt);
    expect(now.config).toEqual(v1.config);
    expect(now.commitMessage).toMatch(
      /^rollback guard: production v2 → v1 \(copied as a new version\) · fallback rate 100\.0% > 20\.0% over 3 runs in 120 min \[guard rollback-guard-production-\S+ from [0-9a-f]{16}\]$/,
    );
    const listed = await cli(['prompts', 'list', 'healthcare-orchestrator']);
    expect(listed.stdout).toMatch(
      /^healthcare-orchestrator {2}v3 {2}\[.*production.*\] {2}[0-9a-f]{16} {2}rollback guard: production v2 → v1/m,
    );
    // And in the guard run's memo, for the Web UI.
    const d = await failing.client.workflow.getHandle(g.workflowId).describe();
    expect((d.memo?.guard as GuardResult).moved).toEqual(g.moved);
    // The scheduled run's input, activities, result and memo: all ciphertext in its stored history.
    await expectStoredEncrypted(failing.address, { workflowId: g.workflowId });

    // The next check sees no run of v3 yet: nothing judged, nothing moved.
    const again = await cli(['guard', 'trigger', '--json']);
    const next = JSON.parse(again.stdout) as GuardResult;
    expect(next.figures).toMatchObject({ version: 3, runs: 0 });
    expect(next.moved).toBeNull();
    expect(production().version).toBe(3);
  });

  test('bad guard settings are one line', async () => {
    expectOneLineError(
      await cli(['guard', 'run', '--max-fallback-rate', '2']),
      /max-fallback-rate "2": must be between 0 and 1/,
    );
    expectOneLineError(await cli(['guard', 'trigger', '--label', 'nolabel']), /no guard schedule for label nolabel/);
  });
});

describe('the rollback guard with local prompt files', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ editPrompts: twoVersions, faults: [{ mode: 'text_only' }] });
  });
  afterAll(() => h.close());

  test('judges the runs, and says it cannot move a label in local files', async () => {
    for (let i = 0; i < 3; i++) {
      await h.reload();
      const handle = await h.start('promptDrivenReassignment', seedInput);
      const p = await waitForProgress(handle, (x) => x.pending_approvals.length > 0 || x.phase === 'finished');
      if (p.pending_approvals.length > 0) await handle.signal(approveSignal, { appointmentId: 'A002' });
      expect(((await handle.result()) as ReassignmentResult).decided_by.code).toBe(3);
    }
    const g = await untilVisible(
      async () =>
        JSON.parse(
          (await runCli(['guard', 'run', '--json'], { TEMPORAL_ADDRESS: h.address, TASK_QUEUE: h.taskQueue })).stdout,
        ) as GuardResult,
      (x) => (x.figures?.runs ?? 0) >= 3,
    );
    expect(g.figures).toMatchObject({ version: 1, runs: 3, fallback_rate: 1 });
    expect(g.verdict.roll_back).toBe(true);
    expect(g.verdict.reasons[1]).toMatch(/^not rolled back: prompts are local files/);
    expect(g.moved).toBeNull();
  });
});
