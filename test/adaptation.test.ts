import { SCORING_PROMPT } from '../src/prompts/registry';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import {
  adaptInputSchema,
  adaptVerdict,
  type AdaptFigures,
  type AdaptInput,
  type AdaptResult,
} from '../src/workflows/adapt/adaptVerdict';
import { startHarness, storeEnv, uniqueName, waitForProgress, type Harness } from './support/harness';
import { scored, writeOutcomes, type OutcomeRow } from './support/outcomeRows';
import { expectOneLineError, expectStoredEncrypted, runCli } from './support/processes';
import { seedInput } from './support/seed';

/**
 * The adaptation policy (issue 18.6): a Temporal Schedule runs the adaptationPolicy workflow, which reads the
 * outcome figures of the scoring strategy that `production` follows and moves the label route between the
 * conservative and the aggressive strategy, with hysteresis, a cooldown, a dry run and a person's pin. Outcome
 * rows are written into the real SQLite database as a run's follow-up leaves them; runs and the policy run on
 * the real Temporal dev server.
 */

const settings = adaptInputSchema.parse({});
const NOW = Date.parse('2026-01-10T12:00:00Z');
const figures = (f: Partial<AdaptFigures>): AdaptFigures => ({
  follows: 'production',
  pinned_by: null,
  pinned_at: null,
  last_move_at: null,
  since: '2026-01-03T12:00:00.000Z',
  runs: 30,
  offered_appointments: 30,
  answered: 30,
  accepted: 25,
  acceptance_rate: 25 / 30,
  satisfaction_count: 20,
  satisfaction: 0.9,
  escalations: 0,
  escalations_per_100: 0,
  ...f,
});

describe('the adaptation verdict', () => {
  test('bad satisfaction or too many escalations move the label to conservative', () => {
    expect(adaptVerdict(figures({ satisfaction: 0.7 }), settings, NOW)).toEqual({
      move_to: 'conservative',
      reasons: ['satisfaction 0.70 (20 scores) < 0.8 over 30 answered offers of production'],
    });
    const esc = adaptVerdict(figures({ escalations: 4, escalations_per_100: 13.3 }), settings, NOW);
    expect(esc.move_to).toBe('conservative');
    expect(esc.reasons[0]).toMatch(/^escalations 13\.3 per 100 offered appointments > 10 over 30 answered offers/);
    expect(adaptVerdict(figures({}), settings, NOW).move_to).toBeNull();
  });

  test('too few answers, or too few scores for satisfaction, judge nothing', () => {
    const few = adaptVerdict(figures({ answered: 19, satisfaction: 0.2 }), settings, NOW);
    expect(few.move_to).toBeNull();
    expect(few.reasons[0]).toMatch(/19 answered offer\(s\) since .*, fewer than 20, nothing judged$/);
    expect(adaptVerdict(figures({ satisfaction_count: 4, satisfaction: 0.2 }), settings, NOW).move_to).toBeNull();
  });

  test('back to aggressive only past the hysteresis margin and after the cooldown', () => {
    const onConservative = { follows: 'conservative', last_move_at: '2026-01-09T00:00:00.000Z' };
    const band = adaptVerdict(figures({ ...onConservative, satisfaction: 0.82 }), settings, NOW);
    expect(band.move_to).toBeNull();
    expect(band.reasons[0]).toMatch(/not recovered .*satisfaction 0\.82 \(20 scores\) < 0\.85/);
    const escBand = adaptVerdict(figures({ ...onConservative, escalations_per_100: 7 }), settings, NOW);
    expect(escBand.reasons[0]).toMatch(/escalations 7 per 100 offered appointments > 5$/);
    const early = adaptVerdict(figures({ ...onConservative, last_move_at: '2026-01-10T02:00:00.000Z' }), settings, NOW);
    expect(early.move_to).toBeNull();
    expect(early.reasons[0]).toMatch(/last move was 600 min ago, within the 1440 min cooldown$/);
    expect(adaptVerdict(figures(onConservative), settings, NOW).move_to).toBe('aggressive');
  });

  test('a pinned route is never moved, and says who pinned it', () => {
    const v = adaptVerdict(figures({ satisfaction: 0.5, pinned_by: 'alice', pinned_at: 't' }), settings, NOW);
    expect(v.move_to).toBeNull();
    expect(v.reasons.at(-1)).toBe('pinned by alice at t: not moved');
  });

  test('settings must make sense together', () => {
    expect(adaptInputSchema.safeParse({ minOutcomes: 0 }).success).toBe(false);
    expect(adaptInputSchema.safeParse({ recoverSatisfaction: 0.7 }).success).toBe(false);
    expect(adaptInputSchema.safeParse({ aggressive: 'conservative' }).success).toBe(false);
    expect(adaptInputSchema.safeParse({ recoverEscalationsPer100: 20 }).success).toBe(false);
  });
});

describe('the adaptation policy against Temporal and the store', () => {
  let h: Harness;
  const taskQueue = uniqueName('adapt');
  const env = () => ({
    TEMPORAL_ADDRESS: h.address,
    TASK_QUEUE: taskQueue,
    ...storeEnv(h.store),
    PROMPTS_DIR: h.promptsDir,
  });
  const cli = (args: string[]) => runCli(args, env());
  /** The test's policy: judged from 10 answers (5 scores); the cooldown as given. */
  const policy = async (input: AdaptInput = {}): Promise<AdaptResult & { workflowId: string }> => {
    const workflowId = uniqueName('adaptation-policy-production-test');
    const r = (await h.client.workflow.execute('adaptationPolicy', {
      taskQueue,
      workflowId,
      args: [{ minOutcomes: 10, ...input }],
    })) as AdaptResult;
    return { ...r, workflowId };
  };
  const outcomes = (rows: OutcomeRow[]) => writeOutcomes(h.store, rows);
  const route = () => h.store.labelRoute(SCORING_PROMPT, 'production');

  beforeAll(async () => {
    h = await startHarness({ env: { TASK_QUEUE: taskQueue } });
  });
  afterAll(async () => {
    await cli(['adapt', 'unschedule']);
    await h?.close();
  });

  async function runSeed(): Promise<ReassignmentResult> {
    const handle = await h.start('promptDrivenReassignment', seedInput);
    const p = await waitForProgress(handle, (x) => x.pending_approvals.length > 0 || x.phase === 'finished');
    for (const a of p.pending_approvals) await handle.signal(approveSignal, { appointmentId: a.appointment_id });
    return handle.result() as Promise<ReassignmentResult>;
  }

  test('with fewer answered offers than --min-outcomes, nothing is judged or moved', async () => {
    await outcomes(scored('production', 1, 9));
    const r = await policy();
    expect(r.figures).toMatchObject({ follows: 'production', answered: 9, satisfaction_count: 9, satisfaction: 0.2 });
    expect(r.verdict).toEqual({
      move_to: null,
      reasons: [expect.stringMatching(/^production follows production: 9 answered offer\(s\) since .*fewer than 10/)],
    });
    expect(r.moved).toBeNull();
    expect(await route()).toBeUndefined();
  });

  test('a dry run reports the move it would make and moves nothing', async () => {
    await outcomes([
      ...scored('production', 2, 6),
      { scoringLabel: 'production', answer: 'declined', escalated: true },
    ]);
    const r = await policy({ dryRun: true });
    expect(r.figures).toMatchObject({ answered: 16, satisfaction_count: 15, escalations: 1 });
    expect(r.figures.satisfaction).toBeCloseTo((9 + 12) / 15 / 5);
    expect(r.dry_run).toBe(true);
    expect(r.verdict.move_to).toBe('conservative');
    expect(r.verdict.reasons.at(-1)).toBe('dry run: production would move from production to conservative');
    expect(r.moved).toBeNull();
    expect(await route()).toBeUndefined();
    expect(await h.store.labelRouteMoves(SCORING_PROMPT, 'production')).toEqual([]);
  });

  test('the scheduled policy moves production to conservative on bad outcomes; new runs pin the conservative scoring version', async () => {
    const before = await runSeed();
    expect(before.prompt.scoring).toMatchObject({ label: 'production', version: 1 });
    expect(before.prompt.scoring.routed_from).toBeUndefined();

    const scheduled = await cli(['adapt', 'schedule', '--every', '1d', '--min-outcomes', '10']);
    expect(scheduled.stderr).toBe('');
    expect(scheduled.stdout).toMatch(/^created schedule adaptation-policy-production: every 1440 min, next at /);
    // The schedule's action input and memo are stored encrypted, as every payload the CLI's client writes.
    await expectStoredEncrypted(h.address, { scheduleId: 'adaptation-policy-production' }, 2);
    const triggered = await cli(['adapt', 'trigger', '--json']);
    expect(triggered.stderr).toBe('');
    const g = JSON.parse(triggered.stdout) as AdaptResult & { workflowId: string };
    expect(g.workflowId).toMatch(/^adaptation-policy-production-/);
    expect(g.verdict.move_to).toBe('conservative');
    expect(g.verdict.reasons[0]).toMatch(/^satisfaction 0\.28 \(15 scores\) < 0\.8 over 16 answered offers/);
    expect(g.moved).toMatchObject({ from: 'production', to: 'conservative' });

    // In the store: the route and its move, by the policy's workflow id; in the policy run's memo, for the Web UI.
    expect(await route()).toMatchObject({ follows: 'conservative', pinned_by: null });
    const [move] = await h.store.labelRouteMoves(SCORING_PROMPT, 'production');
    expect(move).toMatchObject({ from_label: 'production', to_label: 'conservative', moved_by: g.workflowId });
    expect(move!.figures).toMatchObject({ answered: 16 });
    const d = await h.client.workflow.getHandle(g.workflowId).describe();
    expect((d.memo?.adaptation as AdaptResult).moved).toEqual(g.moved);
    // The scheduled run's input, activities, result and memo: all ciphertext in its stored history.
    await expectStoredEncrypted(h.address, { workflowId: g.workflowId });

    // The next run asks for production and pins the conservative strategy (v2), saying so.
    const after = await runSeed();
    expect(after.prompt.scoring).toMatchObject({ label: 'conservative', version: 2, routed_from: 'production' });
    expect(after.prompt.orchestrator.label).toBe('production');
    const runDescription = await h.client.workflow.getHandle(after.workflow_id).describe();
    expect(JSON.stringify(runDescription.memo)).toContain('"routed_from":"production"');

    const listed = await cli(['prompts', 'list', 'scoring-strategy']);
    expect(listed.stdout).toMatch(/^ {2}scoring-strategy {2}production → conservative$/m);
    expect(listed.stdout).toMatch(
      /^ {4}last move: \S+ {2}production: production → conservative {2}by adaptation-policy-production-/m,
    );
  });

  test('a retried move (same policy run) moves once', async () => {
    const once = {
      prompt: SCORING_PROMPT,
      label: 'production',
      from: 'conservative',
      to: 'conservative',
      reason: 'r',
      by: 'p',
      key: 'adapt:same-run',
    };
    const first = await h.store.moveLabelRoute(once);
    const again = await h.store.moveLabelRoute(once);
    expect(again).toEqual(first);
    expect(
      (await h.store.labelRouteMoves(SCORING_PROMPT, 'production')).filter((m) => m.moved_by === 'p'),
    ).toHaveLength(1);
  });

  test('it does not flap: inside the hysteresis band it stays, recovered it waits for the cooldown, then moves back', async () => {
    // Outcomes of the conservative strategy: satisfaction 0.82, above 0.8 but below the 0.85 margin.
    await outcomes([...scored('conservative', 4, 9), ...scored('conservative', 5, 1)]);
    const band = await policy();
    expect(band.figures).toMatchObject({ follows: 'conservative', answered: 10, satisfaction_count: 10 });
    expect(band.figures.satisfaction).toBeCloseTo(0.82);
    expect(band.verdict.move_to).toBeNull();
    expect(band.verdict.reasons[0]).toMatch(/not recovered over 10 answered offers: satisfaction 0\.82/);

    await outcomes(scored('conservative', 5, 10));
    const cooling = await policy();
    expect(cooling.figures.satisfaction).toBeCloseTo(0.91);
    expect(cooling.verdict.move_to).toBeNull();
    expect(cooling.verdict.reasons[0]).toMatch(/recovered .* within the 1440 min cooldown$/);
    expect((await route())!.follows).toBe('conservative');

    // Bad outcomes of the aggressive strategy from before it comes back (runs that asked for it by name).
    await outcomes(scored('aggressive', 1, 12));
    const back = await policy({ cooldownMinutes: 0 });
    expect(back.moved).toMatchObject({ from: 'conservative', to: 'aggressive' });
    expect((await route())!.follows).toBe('aggressive');
    // Judged from the move on: the aggressive strategy's old bad outcomes do not send it straight back.
    const next = await policy({ cooldownMinutes: 0 });
    expect(next.figures).toMatchObject({ follows: 'aggressive', answered: 0, since: back.moved!.at });
    expect(next.moved).toBeNull();
    const run = await runSeed();
    expect(run.prompt.scoring).toMatchObject({ label: 'aggressive', version: 1, routed_from: 'production' });
  });

  test('a person pins the route; the policy leaves it alone until it is unpinned', async () => {
    const pinned = await cli([
      'adapt',
      'pin',
      'scoring-strategy',
      'production',
      '--to',
      'conservative',
      '--by',
      'alice',
    ]);
    expect(pinned.stderr).toBe('');
    expect(pinned.stdout.trim()).toBe('scoring-strategy: production → conservative, pinned by alice');
    await outcomes(scored('conservative', 5, 12));
    const held = await policy({ cooldownMinutes: 0 });
    expect(held.figures).toMatchObject({ follows: 'conservative', pinned_by: 'alice', answered: 12 });
    expect(held.verdict.move_to).toBeNull();
    expect(held.verdict.reasons.at(-1)).toMatch(/^pinned by alice at \S+: not moved$/);
    expect(await route()).toMatchObject({ follows: 'conservative', pinned_by: 'alice' });

    const status = await cli(['adapt', 'status']);
    expect(status.stdout).toMatch(/^scoring-strategy {2}production → conservative {2}pinned by alice at /);
    expect(status.stdout).toMatch(/^ {2}\S+ {2}production: aggressive → conservative {2}by alice {2}pinned by alice$/m);

    expect((await cli(['adapt', 'unpin', 'scoring-strategy', 'production', '--by', 'bob'])).stdout.trim()).toBe(
      'scoring-strategy: production → conservative, unpinned by bob',
    );
    await outcomes(scored('conservative', 5, 12));
    const freed = await policy({ cooldownMinutes: 0 });
    expect(freed.moved).toMatchObject({ from: 'conservative', to: 'aggressive' });
  });

  test('bad input is one line', async () => {
    expectOneLineError(await cli(['adapt', 'run', '--min-outcomes', '0']), /min-outcomes "0": must be at least 1/);
    expectOneLineError(
      await cli(['adapt', 'run', '--conservative', 'nolabel']),
      /prompt "scoring-strategy" has no version labelled "nolabel"/,
    );
    expectOneLineError(
      await cli(['adapt', 'run', '--recover-satisfaction', '0.5']),
      /^error: recover-satisfaction: must be at least minSatisfaction \(0\.8\)$/,
    );
    expectOneLineError(
      await cli(['adapt', 'pin', 'scoring-strategy', 'production', '--to', 'nolabel']),
      /has no version labelled "nolabel"/,
    );
    expectOneLineError(
      await cli(['adapt', 'unpin', 'scoring-strategy', 'staging']),
      /^error: scoring-strategy label staging is not pinned$/,
    );
    expectOneLineError(
      await cli(['adapt', 'trigger', '--label', 'nolabel']),
      /no adaptation schedule for label nolabel/,
    );
    await expect(
      h.client.workflow.execute('adaptationPolicy', {
        taskQueue,
        workflowId: uniqueName('adaptation-policy-bad'),
        args: [{ minOutcomes: 0 }],
      }),
    ).rejects.toMatchObject({ cause: { message: expect.stringMatching(/^invalid input: minOutcomes /) } });
  });
});
