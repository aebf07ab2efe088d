import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoDataset } from '../src/domain/demoData';
import { bandOf, durationMs, policySchema, weightsSchema, type Policy } from '../src/domain/policy';
import { scoreMatch } from '../src/domain/scoring';
import { type SchedulingStore, DomainRefusal } from '../src/domain/store';
import { syntheticDataset, syntheticDays } from '../src/domain/syntheticData';
import { datesInRange } from '../src/domain/model';
import { decideNextTurn, readPolicy } from '../src/llm/offline/agent';
import { openAiTools } from '../src/llm/toolSchemas';
import { LocalPromptRegistry, resolvePromptBundle } from '../src/prompts/registry';
import { tools, toolNames } from '../src/tools/catalog';
import { projectRoot } from '../src/config';
import { promptsCopy, tempDir } from './support/harness';
import { openTestStore } from './support/testStore';

/** The domain, the tool catalog, the prompt registry and the offline model, without Temporal. */

// A unit test file (no global setup): its temporary databases and prompt copies go in one folder of its own.
beforeAll(() => {
  process.env.TEST_TMP_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-domain-'));
});
afterAll(() => fs.rmSync(process.env.TEST_TMP_DIR!, { recursive: true, force: true }));

const production = async () =>
  resolvePromptBundle(new LocalPromptRegistry(path.join(projectRoot, 'prompts')), 'production');

describe('scoring', () => {
  test('six factors, each at most its weight, adding up to the score', async () => {
    const { policy } = await production();
    const data = demoDataset();
    const patient = data.patients.find((p) => p.id === 'PAT001')!;
    const provider = data.providers.find((p) => p.id === 'P001')!;
    const s = scoreMatch({
      appointment: { specialty: 'orthopedics' },
      patient,
      provider,
      previousVisits: 2,
      weights: policy.weights,
    });
    expect(Object.keys(s.factors)).toEqual(['specialty', 'gender', 'language', 'distance', 'continuity', 'experience']);
    for (const f of Object.values(s.factors)) expect(f.points).toBeLessThanOrEqual(f.max);
    expect(Math.abs(Object.values(s.factors).reduce((n, f) => n + f.points, 0) - s.score)).toBeLessThanOrEqual(1);
    expect(s.score).toBeGreaterThanOrEqual(150);
  });

  test('weights must add up to 200, and bands follow the thresholds', () => {
    expect(
      weightsSchema.safeParse({ specialty: 50, gender: 30, language: 30, distance: 30, continuity: 30, experience: 29 })
        .success,
    ).toBe(false);
    expect(bandOf(150, { excellent: 150, good: 120 })).toBe('excellent');
    expect(bandOf(149, { excellent: 150, good: 120 })).toBe('good');
    expect(bandOf(119, { excellent: 150, good: 120 })).toBe('poor');
    expect(durationMs('2s')).toBe(2000);
    expect(durationMs('24h')).toBe(86_400_000);
  });
});

describe('the store guards its invariants', () => {
  let store: SchedulingStore;
  let policy: Policy;
  const ctx = (key: string) => ({ runId: 'run-1', idempotencyKey: key, policy, decidedBy: 'prompt' as const });

  beforeEach(async () => {
    policy = (await production()).policy;
    store = await openTestStore(tempDir('store'));
    await store.load(demoDataset());
    await store.markUnavailable('T001', '2025-11-21', 'sick');
  });
  afterEach(() => store.close());

  test("only the sick provider's appointments of that day are affected", async () => {
    expect((await store.affectedAppointments('T001', '2025-11-21')).map((a) => a.id)).toEqual(['A001', 'A002', 'A003']);
    expect(await store.affectedAppointments('T001', '2025-11-22')).toEqual([]);
  });

  test('a retried assignment returns the first result and writes nothing new', async () => {
    const first = await store.assign('A001', 'P001', ctx('k1'));
    const before = await store.counts();
    expect(await store.assign('A001', 'P001', ctx('k1'))).toEqual(first);
    expect(await store.counts()).toEqual(before);
  });

  test('refusals write nothing', async () => {
    const before = await store.counts();
    const refusals: [string, string, string][] = [
      ['A003', 'P001', 'slot_taken'],
      ['A003', 'P003', 'below_threshold'],
      ['A002', 'P001', 'approval_required'],
      ['A001', 'P002', 'wrong_specialty'],
      ['A001', 'T001', 'provider_unavailable'],
      ['A001', 'P404', 'unknown_provider'],
      ['A404', 'P001', 'unknown_appointment'],
    ];
    for (const [appointment, provider, code] of refusals) {
      await expect(store.assign(appointment, provider, ctx(`k-${appointment}-${provider}`))).rejects.toThrow(
        expect.objectContaining({ code }),
      );
    }
    expect(await store.counts()).toEqual(before);
  });

  test('an approval recorded for the run lets the good match through; a rejection does not', async () => {
    await store.recordApproval('A002', 'P001', 'rejected', 'ops', undefined, 'run-1');
    await expect(store.assign('A002', 'P001', ctx('k2'))).rejects.toThrow(DomainRefusal);
    await store.recordApproval('A002', 'P001', 'approved', 'ops', undefined, 'run-2');
    expect(await store.assign('A002', 'P001', { ...ctx('k3'), runId: 'run-2' })).toMatchObject({
      new_provider_id: 'P001',
      approved_by: 'ops',
    });
  });

  test('a provider the patient declined is neither a candidate again nor assignable, and the refusal writes nothing', async () => {
    const candidates = async () =>
      (await store.rankCandidates('A001', policy, 10)).candidates.map((c) => c.provider_id);
    expect(await candidates()).toContain('P001');
    await store.assign('A001', 'P001', ctx('a'));
    await store.notify('A001', 'reassigned', ctx('n1'));
    expect(await store.answerOffer({ appointmentId: 'A001', offerNo: 1, answer: 'declined', by: 'x' })).toMatchObject({
      released: true,
    });
    expect(await store.appointment('A001')).toMatchObject({ provider_id: 'T001', status: 'scheduled' });
    expect((await store.rankCandidates('A001', policy, 10)).candidates.map((c) => c.provider_id)).not.toContain('P001');
    const before = await store.counts();
    await expect(store.assign('A001', 'P001', ctx('again'))).rejects.toThrow(
      expect.objectContaining({ code: 'declined_by_patient' }),
    );
    expect(await store.counts()).toEqual(before);
  });

  test('one notification per change, whatever the keys', async () => {
    await store.assign('A001', 'P001', ctx('a'));
    await store.notify('A001', 'reassigned', ctx('n1'));
    await expect(store.notify('A001', 'reassigned', ctx('n2'))).rejects.toThrow(
      expect.objectContaining({ code: 'already_notified' }),
    );
    await expect(store.notify('A002', 'reassigned', ctx('n3'))).rejects.toThrow(
      expect.objectContaining({ code: 'nothing_to_notify' }),
    );
    expect((await store.counts()).notifications).toBe(1);
  });

  test('the database itself refuses a double booking', async () => {
    // The slot is taken (A010 with P001 at 11:00), and the guard is the schema's own partial unique index.
    expect(await store.isBooked('P001', '2025-11-21', '11:00')).toBe(true);
    expect(await store.appliedMigrations()).toEqual([1]);
    // SQLite: "UNIQUE constraint failed"; PostgreSQL: "duplicate key value violates unique constraint".
    // Matched on the message: better-sqlite3's native addon is loaded once per jest worker, so its error may come from
    // another test file's realm, where toThrow would not recognise it as an Error.
    await expect(
      store.unsafeExecute("UPDATE appointments SET provider_id = 'P001' WHERE id = 'A003'"),
    ).rejects.toMatchObject({ message: expect.stringMatching(/UNIQUE|one_booking_per_slot/) });
  });

  test('needs attention: what cancelled and failed runs left with the absent provider, until another run moves it', async () => {
    const outcome = (runId: string, status: string, appointmentId: string) =>
      store.recordRunOutcome({
        runId,
        providerId: 'T001',
        date: '2025-11-21',
        status,
        undecided: [{ appointment_id: appointmentId, reason: `the run was ${status}` }],
      });
    await outcome('run-cancelled', 'cancelled', 'A001');
    await outcome('run-failed', 'failed', 'A002');
    await outcome('run-completed', 'completed', 'A003');
    const listed = async () =>
      (await store.leftUndecided()).map((r) => `${r.appointment_id} ${r.provider_id} ${r.run_id} ${r.run_status}`);
    expect(await listed()).toEqual(['A001 T001 run-cancelled cancelled', 'A002 T001 run-failed failed']);
    await store.assign('A001', 'P001', ctx('a-later-run'));
    expect(await listed()).toEqual(['A002 T001 run-failed failed']);
  });

  test('the synthetic generator is deterministic and loads', async () => {
    const a = syntheticDataset({ appointments: 200, seed: 3 });
    expect(syntheticDataset({ appointments: 200, seed: 3 })).toEqual(a);
    await store.load(a);
    await store.markUnavailable('T001', '2025-11-21', 'leave');
    expect(await store.affectedAppointments('T001', '2025-11-21')).toHaveLength(200);
    expect(() => syntheticDataset({ appointments: 40_000 })).toThrow(RangeError);
  });

  test('past a full day, synthetic appointments spread over the following days', async () => {
    const data = syntheticDataset({ appointments: 25, perDay: 10, seed: 3 });
    expect(syntheticDays({ appointments: 25, perDay: 10 })).toEqual({ days: 3, until: '2025-11-23' });
    expect([...new Set(data.appointments.map((a) => a.date))]).toEqual(['2025-11-21', '2025-11-22', '2025-11-23']);
    await store.load(data);
    await store.markUnavailableRange('T001', '2025-11-21', '2025-11-23', 'leave');
    expect(await store.affectedAppointments('T001', '2025-11-21', '2025-11-23')).toHaveLength(25);
    expect(await store.affectedAppointments('T001', '2025-11-22')).toHaveLength(10);
    expect(datesInRange('2025-11-30', '2025-12-02')).toEqual(['2025-11-30', '2025-12-01', '2025-12-02']);
  });
});

describe('approval claims across runs: one appointment is put to one person once', () => {
  let store: SchedulingStore;
  let policy: Policy;
  const deadline = () => new Date(Date.now() + 3600_000).toISOString();
  const claim = (runId: string, providerId = 'P001', appointmentId = 'A002') =>
    store.claimApprovalRequest({ appointmentId, providerId, runId, deadline: deadline() });
  const ctx = (runId: string, key: string) => ({ runId, idempotencyKey: key, policy, decidedBy: 'prompt' as const });

  beforeEach(async () => {
    policy = (await production()).policy;
    store = await openTestStore(tempDir('claims'));
    await store.load(demoDataset());
    await store.markUnavailable('T001', '2025-11-21', 'sick');
  });
  afterEach(() => store.close());

  test("a second run's claim is refused while the first run's request is open, naming the first run", async () => {
    expect(await claim('run-1')).toEqual({ claimed: true });
    const refused = await claim('run-2');
    expect(refused).toEqual({ claimed: false, run_id: 'run-1', deadline: expect.any(String) });
    expect(await store.approvalRequestRuns()).toEqual([{ appointment_id: 'A002', runs: ['run-1'] }]);
  });

  test('after the human approved in the first run, the claim stays refused until that run writes the assignment; then it is refused as decided', async () => {
    await claim('run-1');
    await store.recordApproval('A002', 'P001', 'approved', 'nurse-jo', undefined, 'run-1');
    expect(await claim('run-2')).toMatchObject({ claimed: false, run_id: 'run-1' });
    expect(await store.assign('A002', 'P001', ctx('run-1', 'assign-A002'))).toMatchObject({
      new_provider_id: 'P001',
      approved_by: 'nurse-jo',
    });
    expect(await claim('run-2')).toEqual({
      claimed: false,
      decided: { run_id: 'run-1', outcome: 'reassigned to P001' },
    });
  });

  test("a rejection in one run stands for the same move in another run, even after the first run's request closed", async () => {
    await claim('run-1');
    await store.recordApproval('A002', 'P001', 'rejected', 'dr-house', 'continuity', 'run-1');
    await store.closeApprovalRequest('A002', 'run-1');
    expect(await claim('run-2')).toEqual({ claimed: false, rejected: { run_id: 'run-1', decided_by: 'dr-house' } });
  });

  test('a rejection of one provider does not refuse a claim for another provider for the same appointment', async () => {
    await claim('run-1');
    await store.recordApproval('A002', 'P001', 'rejected', 'dr-house', undefined, 'run-1');
    await store.closeApprovalRequest('A002', 'run-1');
    expect(await claim('run-2', 'P003')).toEqual({ claimed: true });
  });

  test("recording a run's outcome closes its open requests, so another run may claim", async () => {
    await claim('run-1');
    await store.recordRunOutcome({
      runId: 'run-1',
      providerId: 'T001',
      date: '2025-11-21',
      status: 'cancelled',
      undecided: [{ appointment_id: 'A002', reason: 'cancelled' }],
    });
    expect(await claim('run-2')).toEqual({ claimed: true });
  });

  test('the run that holds a claim may claim again (a retry, a replay), and other runs stay refused', async () => {
    expect(await claim('run-1')).toEqual({ claimed: true });
    expect(await claim('run-1')).toEqual({ claimed: true });
    expect(await store.approvalRequestRuns()).toEqual([{ appointment_id: 'A002', runs: ['run-1'] }]);
    expect(await claim('run-2')).toMatchObject({ claimed: false, run_id: 'run-1' });
  });

  test('the run that holds a claim may claim again for another provider', async () => {
    await claim('run-1');
    expect(await claim('run-1', 'P003')).toEqual({ claimed: true });
    expect(await claim('run-2', 'P003')).toMatchObject({ claimed: false, run_id: 'run-1' });
  });
});

describe('tool catalog', () => {
  test("the model's tool list is JSON Schema generated from the zod schemas", () => {
    const list = openAiTools(toolNames);
    expect(list.map((t) => t.function.name)).toEqual(toolNames);
    const assign = list.find((t) => t.function.name === 'assign_appointment')!.function.parameters as {
      properties: Record<string, { pattern?: string }>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(assign.required.sort()).toEqual(['appointment_id', 'new_provider_id']);
    expect(assign.additionalProperties).toBe(false);
    expect(assign.properties.new_provider_id!.pattern).toBeDefined();
    expect(
      tools.assign_appointment.input.safeParse({ appointment_id: 'A001', new_provider_id: 'P001', extra: 1 }).success,
    ).toBe(false);
  });
});

describe('prompt registry', () => {
  test('labels resolve to versions; latest is the highest version', async () => {
    const reg = new LocalPromptRegistry(path.join(projectRoot, 'prompts'));
    expect((await reg.resolveOrchestrator('production')).version).toBe(3);
    expect((await reg.resolveOrchestrator('staging')).version).toBe(2);
    expect((await reg.resolveOrchestrator('latest')).version).toBe(3);
  });

  test('the rendered system prompt carries the thresholds of the config', async () => {
    const b = await production();
    expect(b.systemPrompt).toContain(`Score >= ${b.policy.thresholds.excellent}: excellent`);
    expect(b.systemPrompt).not.toMatch(/\{\{/);
    expect(policySchema.safeParse(b.policy).success).toBe(true);
  });

  test.each([
    ['a missing label', (dir: string) => dir, 'nope', /no version labelled "nope"/],
    [
      'a file that is not YAML',
      (dir: string) => (fs.writeFileSync(path.join(dir, 'healthcare-orchestrator.yaml'), 'versions: [\n  - {'), dir),
      'production',
      /not valid YAML/,
    ],
    [
      'a config that does not validate',
      (dir: string) => (
        fs.writeFileSync(
          path.join(dir, 'scoring-strategy.yaml'),
          'name: scoring-strategy\nversions:\n  - version: 1\n    labels: [production]\n    config: { weights: { specialty: 500 } }\n    prompt: x\n',
        ),
        dir
      ),
      'production',
      /invalid at versions.0.config.weights/,
    ],
    ['a missing file', () => tempDir('empty'), 'production', /not found/],
  ])('%s is refused with a one-line reason', async (_name, prepare, label, message) => {
    const dir = prepare(promptsCopy());
    await expect(resolvePromptBundle(new LocalPromptRegistry(dir), label)).rejects.toThrow(message);
  });
});

describe('the offline stand-in model follows the prompt', () => {
  const batch = { role: 'user' as const, content: 'Reassign:\n{"appointments":[{"appointment_id":"A001"}]}' };
  const after = (score: number) => [
    {
      role: 'assistant' as const,
      content: null,
      tool_calls: [
        {
          id: 'c1',
          type: 'function' as const,
          function: { name: 'find_candidates', arguments: '{"appointment_id":"A001"}' },
        },
      ],
    },
    {
      role: 'tool' as const,
      tool_call_id: 'c1',
      content: JSON.stringify({
        ok: true,
        result: { appointment_id: 'A001', patient_id: 'PAT001', candidates: [{ provider_id: 'P001', score }] },
      }),
    },
  ];

  test('it reads thresholds and approval bands from the prompt text', async () => {
    const p = readPolicy((await production()).systemPrompt);
    // Production (v3) leaves the notifications to the workflow (notify: after_decision): its steps do not name them.
    expect(p).toMatchObject({ excellent: 150, good: 120, approvalBands: ['good'], notify: false });
  });

  test('editing the thresholds in the prompt changes its decision', () => {
    const prompt = (good: number) => ({
      role: 'system' as const,
      content: `WORKFLOW STEPS\n1. Call find_candidates.\n\nDECISION CRITERIA\n- Score >= 150: excellent\n- Score >= ${good} and below 150: good\n- Bands that need a human approval first: none.`,
    });
    expect(decideNextTurn([prompt(120), batch, ...after(130)]).toolCalls[0]!.name).toBe('assign_appointment');
    expect(decideNextTurn([prompt(140), batch, ...after(130)]).toolCalls[0]!.name).toBe('add_to_waitlist');
  });
});

describe('audit', () => {
  test('a store changed only through its operations has no violation; tampering is found', async () => {
    const { policy } = await production();
    const store = await openTestStore(tempDir('audit'));
    try {
      await store.load(demoDataset());
      await store.markUnavailable('T001', '2025-11-21', 'sick');
      const ctx = (key: string) => ({ runId: 'r', idempotencyKey: key, policy, decidedBy: 'code' as const });
      await store.assign('A001', 'P001', ctx('a1'));
      await store.notify('A001', 'reassigned', ctx('n1'));
      await store.waitlist('A003', 'no match', ctx('w3'));
      await store.notify('A003', 'waitlisted', ctx('n3'));
      const { checkInvariants } = await import('../src/domain/audit');
      expect(await checkInvariants(store)).toEqual([]);
      await store.unsafeExecute("UPDATE appointments SET provider_id = 'P003' WHERE id = 'A001'");
      await store.unsafeExecute("UPDATE appointments SET status = 'scheduled' WHERE id = 'A003'");
      await store.unsafeExecute('DELETE FROM tool_calls');
      expect((await checkInvariants(store)).map((v) => v.rule).sort()).toEqual([
        'assignment not reflected in the appointment',
        'assignment without a recorded call',
        'waitlist entry not reflected in the appointment',
      ]);
    } finally {
      await store.close();
    }
  });

  /** The seed example after a run that assigned A001 and waitlisted A003, telling whom `tell` names. */
  async function afterRun(tell: string[]) {
    const { policy } = await production();
    const store = await openTestStore(tempDir('audit'));
    await store.load(demoDataset());
    await store.markUnavailable('T001', '2025-11-21', 'sick');
    await store.recordRunStart({ runId: 'r1', providerId: 'T001', date: '2025-11-21' });
    const ctx = (key: string) => ({ runId: 'r1', idempotencyKey: key, policy, decidedBy: 'prompt' as const });
    await store.assign('A001', 'P001', ctx('a1'));
    await store.waitlist('A003', 'no match', ctx('w3'));
    if (tell.includes('A001')) await store.notify('A001', 'reassigned', ctx('n1'));
    if (tell.includes('A003')) await store.notify('A003', 'waitlisted', ctx('n3'));
    return store;
  }
  const rules = async (store: SchedulingStore) => {
    const { checkInvariants } = await import('../src/domain/audit');
    return (await checkInvariants(store)).map((v) => `${v.rule}: ${JSON.parse(v.detail).appointment_id}`);
  };
  const finish = (store: SchedulingStore, status: string, undecided: string[] = []) =>
    store.recordRunOutcome({
      runId: 'r1',
      providerId: 'T001',
      date: '2025-11-21',
      status,
      undecided: undecided.map((appointment_id) => ({ appointment_id, reason: 'test' })),
    });

  test('a decided appointment whose patient was not told is a violation once its run stopped running', async () => {
    const store = await afterRun(['A001']);
    try {
      expect(await rules(store)).toEqual([]); // the run is still going: it may tell A003 a moment later
      await finish(store, 'cancelled', ['A002']);
      expect(await rules(store)).toEqual(['decided without exactly one notification of its kind: A003']);
    } finally {
      await store.close();
    }
  });

  test.each(['completed', 'cancelled'])(
    'an affected appointment left with the unavailable provider after a %s run that does not list it is a violation',
    async (status) => {
      const store = await afterRun(['A001', 'A003']);
      try {
        await finish(store, status);
        expect(await rules(store)).toEqual(['left on the unavailable provider after its run completed: A002']);
      } finally {
        await store.close();
      }
    },
  );

  test('one the run lists as undecided, whether it completed with issues or was cancelled, is not', async () => {
    for (const status of ['completed_with_issues', 'cancelled']) {
      const store = await afterRun(['A001', 'A003']);
      try {
        await finish(store, status, ['A002']);
        expect(await rules(store)).toEqual([]);
      } finally {
        await store.close();
      }
    }
  });
});
