import { decisionsOf } from '../src/cli/format';
import type { PathRow } from '../src/cli/report';
import { routeRun } from '../src/prompts/experiment';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentInput, ReassignmentResult } from '../src/workflows/contract/types';
import {
  auditStore,
  startHarness,
  temporalCli,
  uniqueName,
  untilVisible,
  waitForProgress,
  type Harness,
} from './support/harness';
import { cliJson, expectOneLineError, runCli } from './support/processes';
import { seedInput } from './support/seed';
import { withWorsePrompt } from './support/worsePrompt';

/**
 * The move from code-driven to prompt-driven (issue 11): shadow runs, where one path writes and the other
 * decides beside it in a dry run, and the rollout share that routes runs of the generic workflow.
 */

const idFor = (tag: string) => `reassign-T001-2025-11-21-${tag}-${uniqueName('m')}`;

/** Starts a run of the generic workflow and approves A002 when the writing path asks for it. */
async function runApproving(h: Harness, input: ReassignmentInput, id = idFor('run')): Promise<ReassignmentResult> {
  const handle = await h.start('reassignment', input, id);
  await waitForProgress(handle, (p) => p.pending_approvals.some((a) => a.appointment_id === 'A002'));
  await handle.signal(approveSignal, { appointmentId: 'A002', by: 'test' });
  return handle.result();
}

/** What the store holds for the seed's three appointments, without the run ids. */
const recordsOf = async (h: Harness) =>
  Object.fromEntries(
    await Promise.all(
      ['A001', 'A002', 'A003'].map(async (id) => {
        const r = await h.store.appointmentRecord(id);
        return [
          id,
          {
            assignments: r.assignments.map((a) => [a.to_provider_id, a.decided_by]),
            waitlist: r.waitlist.map((w) => w.decided_by),
            notifications: r.notifications.map((n) => n.kind),
            approvals: r.approvals.map((a) => [a.provider_id, a.decision]),
          },
        ] as const;
      }),
    ),
  );

describe('shadow runs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ editPrompts: withWorsePrompt });
  });
  afterAll(() => h.close());

  test('on the seed example both paths agree, and the writer writes once', async () => {
    await h.reload();
    const id = idFor('shadow');
    const r = await runApproving(h, { ...seedInput, mode: 'shadow' }, id);
    expect(r.status).toBe('completed');
    expect(r.mode).toBe('shadow');
    expect(decisionsOf(r)).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });
    expect(r.shadow).toMatchObject({ writer: 'code', shadow: 'prompt', appointments: 3, agreed: 3, agreement: 1 });
    expect(r.shadow!.discrepancies).toEqual([]);
    // Both asked about A002: the writer asked a person, the shadow only recorded that it would have.
    expect(r.shadow!.entries.find((e) => e.appointment_id === 'A002')).toMatchObject({
      writer_asked_approval: true,
      shadow_asked_approval: true,
      agree: true,
    });
    expect(r.approvals.requested).toBe(1);
    // The shadow's model calls were real calls, counted apart and in the total.
    expect(r.shadow!.llm.calls).toBeGreaterThan(0);
    expect(r.llm.calls).toBe(r.shadow!.llm.calls);
    // Written once, by the code-driven writer: one assignment or waitlist entry and one notification each.
    expect(await recordsOf(h)).toEqual({
      A001: { assignments: [['P001', 'code']], waitlist: [], notifications: ['reassigned'], approvals: [] },
      A002: {
        assignments: [['P001', 'code']],
        waitlist: [],
        notifications: ['reassigned'],
        approvals: [['P001', 'approved']],
      },
      A003: { assignments: [], waitlist: ['code'], notifications: ['waitlisted'], approvals: [] },
    });
    expect(await h.store.counts()).toMatchObject({ assignments: 2, waitlist: 1, notifications: 3 });
    expect(await auditStore(h.store)).toEqual([]);
    const d = await h.client.workflow.getHandle(id).describe();
    expect(d.searchAttributes).toMatchObject({ ReassignMode: ['shadow'], ShadowAgreement: ['agree'] });
    expect(d.memo?.shadow).toEqual({ writer: 'code' });
  });

  test('a prompt version made to disagree is reported per appointment, and the shadow writes nothing', async () => {
    // What the code-driven path alone writes on this data: the shadow run must leave exactly that.
    await h.reload();
    const codeOnly = await runApproving(h, { ...seedInput, mode: 'code', promptLabel: 'worse' });
    const expected = await recordsOf(h);

    await h.reload();
    const id = idFor('shadow-worse');
    const r = await runApproving(h, { ...seedInput, mode: 'shadow', promptLabel: 'worse' }, id);
    expect(decisionsOf(r)).toEqual(decisionsOf(codeOnly));
    expect(await recordsOf(h)).toEqual(expected);
    expect(await auditStore(h.store)).toEqual([]);

    const s = r.shadow!;
    expect(s.agreed).toBeLessThan(s.appointments);
    const disagreeing = s.entries.filter((e) => !e.agree);
    expect(disagreeing.length).toBe(s.appointments - s.agreed);
    // Stricter thresholds: the good match A002 is no longer good enough for the prompt, so it waitlists.
    expect(s.entries.find((e) => e.appointment_id === 'A002')).toMatchObject({
      writer: 'P001',
      shadow: 'waitlist',
      agree: false,
    });
    expect(s.entries.find((e) => e.appointment_id === 'A002')!.differences).toContain('assign vs waitlist');
    expect(s.discrepancies).toHaveLength(disagreeing.length);
    expect(s.discrepancies.join('\n')).toMatch(
      /^A002: code-driven P001 \(approval asked\), prompt-driven shadow waitlist/m,
    );

    // Our CLI prints the verdict and each discrepancy.
    const printed = await runCli(['result', id], { TEMPORAL_ADDRESS: h.address });
    expect(printed.stdout).toMatch(
      /^Reassignment \S+ \(shadow run: code-driven wrote, prompt-driven in a dry run beside it\)/,
    );
    expect(printed.stdout).toMatch(/^ {2}shadow: .* agreed on \d\/3 /m);
    expect(printed.stdout).toMatch(/^ {2}≠ A002: code-driven P001 \(approval asked\), prompt-driven shadow waitlist/m);

    // The Temporal CLI finds the runs that disagreed by their search attribute.
    const query = `ShadowAgreement = 'disagree' AND TaskQueue = '${h.taskQueue}'`;
    const listed = await untilVisible(
      async () => (await temporalCli(h.address, ['workflow', 'list', '--query', query])).stdout,
      (out) => out.includes(id),
    );
    expect(listed).toContain(id);
  });

  test('the prompt path can write, with the code-driven path as its shadow', async () => {
    await h.reload();
    const r = await runApproving(h, { ...seedInput, mode: 'shadow', shadowWriter: 'prompt' });
    expect(r.shadow).toMatchObject({ writer: 'prompt', shadow: 'code', agreed: 3 });
    expect((await recordsOf(h)).A001!.assignments).toEqual([['P001', 'prompt']]);
    expect(await h.store.counts()).toMatchObject({ assignments: 2, waitlist: 1, notifications: 3 });
  });
});

test('the CLI refuses a writer without a shadow run, in one line', async () => {
  const r = await runCli(['start', '--provider', 'T001', '--date', '2025-11-21', '--mode', 'code', '--writer', 'code']);
  expectOneLineError(r, /--writer goes with --mode shadow only/);
});

describe('the rollout share', () => {
  test('routes a share of runs by a hash of the workflow id, within 4 points over 1,000 ids', () => {
    for (const share of [0.1, 0.25, 0.5, 0.8]) {
      let prompt = 0;
      for (let i = 0; i < 1000; i++) {
        const r = routeRun(`reassign-T${String(i % 97).padStart(3, '0')}-2025-11-21-${i}`, share);
        if (r.path === 'prompt') prompt++;
        expect(r.path).toBe(r.bucket < share ? 'prompt' : 'code');
      }
      expect(Math.abs(prompt / 1000 - share)).toBeLessThanOrEqual(0.04);
    }
    // The same id always gets the same path.
    expect(routeRun('reassign-T001-2025-11-21-x', 0.5)).toEqual(routeRun('reassign-T001-2025-11-21-x', 0.5));
  });

  describe('against the worker', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ env: { ROLLOUT_PROMPT_SHARE: '0.5' } });
    });
    afterAll(() => h.close());

    test('each run takes the path its id picks, recorded in result, memo and search attribute; the report compares the paths', async () => {
      const ids: Record<'prompt' | 'code', string[]> = { prompt: [], code: [] };
      for (let i = 0; ids.prompt.length < 2 || ids.code.length < 2; i++) {
        const id = idFor(`auto-${i}`);
        const { path } = routeRun(id, 0.5);
        if (ids[path].length < 2) ids[path].push(id);
      }
      for (const [path, list] of Object.entries(ids)) {
        for (const id of list) {
          await h.reload();
          const r = await runApproving(h, { ...seedInput, mode: 'auto' }, id);
          expect(r.mode).toBe(path);
          expect(r.rollout).toEqual(routeRun(id, 0.5));
          expect(decisionsOf(r)).toEqual({ A001: 'P001', A002: 'P001', A003: 'waitlist' });
          expect(r.llm.calls > 0).toBe(path === 'prompt');
          expect((await h.store.appointmentRecord('A001')).assignments[0]!.decided_by).toBe(path);
          const d = await h.client.workflow.getHandle(id).describe();
          expect(d.type).toBe('reassignment');
          expect(d.searchAttributes).toMatchObject({ ReassignMode: [path] });
          expect(d.memo?.rollout).toEqual(r.rollout);
        }
      }

      const rows = await untilVisible(
        () => cliJson<PathRow[]>(['report', '--by', 'path'], { TEMPORAL_ADDRESS: h.address, TASK_QUEUE: h.taskQueue }),
        (found) => found.reduce((n, x) => n + x.runs, 0) === 4,
      );
      const byPath = Object.fromEntries(rows.map((r) => [r.path, r]));
      for (const path of ['prompt', 'code'])
        expect(byPath[path]).toMatchObject({
          runs: 2,
          appointments: 6,
          waitlisted: 2,
          waitlist_rate: 0.3333,
          fallback_rate: 0,
          approvals_asked: 2,
          cost: 0,
        });
      expect(byPath.prompt!.llm_calls).toBeGreaterThan(0);
      expect(byPath.prompt!.tokens).toBeGreaterThan(0);
      expect(byPath.code!.tokens).toBe(0);
      const { stdout: table } = await runCli(['report', '--by', 'path'], {
        TEMPORAL_ADDRESS: h.address,
        TASK_QUEUE: h.taskQueue,
      });
      expect(table.split('\n')[0]).toMatch(/^path\s+runs\s+appts\s+waitlist\s+fallback\s+approvals\s+disagree/);
      expect(table).toMatch(/^code\s+2\s+6\s+33\.3%\s+0\.0%\s+2\s+-\s+0\s+0\s/m);
    });
  });
});
