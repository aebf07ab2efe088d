import { batchWorkflowId } from '../src/workflowIds';
import { approveSignal, cancelSignal, progressQuery, rejectSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import {
  auditStore,
  startHarness,
  temporalCli,
  waitForProgress,
  type Harness,
  type PromptDoc,
} from './support/harness';
import { seedInput } from './support/seed';

/** Human decisions, their deadline, cancellation and progress, on running reassignments. */

const input = seedInput;

describe('approvals and cancellation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.reload());

  test('the progress query shows the pending approval with its true score and deadline', async () => {
    const handle = await h.start('promptDrivenReassignment', input);
    const p = await waitForProgress(handle, (x) => x.pending_approvals.length > 0);
    expect(p.pending_approvals).toEqual([
      expect.objectContaining({ appointment_id: 'A002', provider_id: 'P001', score: 129 }),
    ]);
    expect(Date.parse(p.pending_approvals[0]!.deadline)).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect(p.status).toBe('running');
    expect(p.total_affected).toBe(3);
    expect(p.prompt).toEqual({ name: 'healthcare-orchestrator', version: 3, label: 'production' });
    await handle.signal(approveSignal, { appointmentId: 'A002' });
    await handle.result();
    const done = await waitForProgress(handle, (x) => x.phase === 'finished');
    expect(done.decided).toBe(3);
  });

  test('reject: the good match is not assigned and the patient goes to the waitlist', async () => {
    const handle = await h.start('promptDrivenReassignment', input);
    await waitForProgress(handle, (x) => x.pending_approvals.length > 0);
    await handle.signal(rejectSignal, { appointmentId: 'A002', by: 'dr-house', note: 'patient needs continuity' });
    const r: ReassignmentResult = await handle.result();
    expect(r.approvals).toMatchObject({ requested: 1, rejected: 1, approved: 0 });
    expect(r.waitlisted.map((w) => w.appointment_id).sort()).toEqual(['A002', 'A003']);
    expect((await h.store.appointment('A002'))?.status).toBe('waitlisted');
    const { decision, decided_by, note } = (await h.store.appointmentRecord('A002')).approvals[0]!;
    expect({ decision, decided_by, note }).toEqual({
      decision: 'rejected',
      decided_by: 'dr-house',
      note: 'patient needs continuity',
    });
  });

  test('a decision for an appointment that awaits nothing, or a malformed one, is ignored', async () => {
    const handle = await h.start('promptDrivenReassignment', input);
    await waitForProgress(handle, (x) => x.pending_approvals.length > 0);
    await handle.signal(approveSignal, { appointmentId: 'A003' });
    await handle.signal(approveSignal, { bogus: true } as never);
    await handle.signal(rejectSignal, { appointmentId: 'A002' });
    const r: ReassignmentResult = await handle.result();
    expect(r.waitlisted.map((w) => w.appointment_id).sort()).toEqual(['A002', 'A003']);
    expect(r.approvals).toMatchObject({ approved: 0, rejected: 1 });
  });

  test('a signal whose payload cannot be decoded (Temporal CLI, unknown encoding) is logged and ignored; the run goes on', async () => {
    const handle = await h.start('promptDrivenReassignment', input);
    await waitForProgress(handle, (x) => x.pending_approvals.length > 0);
    const signal = (workflowId: string, name: string, payload: string, encoding?: string) =>
      temporalCli(h.address, [
        'workflow',
        'signal',
        '--workflow-id',
        workflowId,
        '--name',
        name,
        '--input',
        payload,
        ...(encoding ? ['--input-meta', `encoding=${encoding}`] : []),
      ]);
    for (const encoding of ['foo/bar', 'json/protobuf']) {
      expect((await signal(handle.workflowId, 'approve', '{"appointmentId":"A002"}', encoding)).code).toBe(0);
      expect(
        (await signal(batchWorkflowId(handle.workflowId, 1), 'approve', '{"appointmentId":"A002"}', encoding)).code,
      ).toBe(0);
    }
    expect((await signal(handle.workflowId, 'cancel', '{"reason":"x"}', 'foo/bar')).code).toBe(0);
    // The run still answers queries at once, nothing was decided or cancelled by the bad payloads...
    const p = await Promise.race([
      handle.query(progressQuery),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the progress query hung')), 10_000)),
    ]);
    expect(p.status).toBe('running');
    expect(p.pending_approvals.map((a) => a.appointment_id)).toEqual(['A002']);
    // ...and a well-formed approve sent afterwards is processed.
    expect((await signal(handle.workflowId, 'approve', '{"appointmentId":"A002","by":"cli-operator"}')).code).toBe(0);
    const r: ReassignmentResult = await handle.result();
    expect(r.status).toBe('completed');
    expect(r.assignments.find((a) => a.appointment_id === 'A002')).toMatchObject({
      new_provider_id: 'P001',
      approved_by: 'cli-operator',
    });
  });

  test('cancel signal: stops cleanly, keeps what is done, returns a partial summary with status cancelled', async () => {
    const handle = await h.start('promptDrivenReassignment', input);
    await waitForProgress(handle, (x) => x.pending_approvals.length > 0);
    await handle.signal(cancelSignal, { reason: 'test' });
    const r: ReassignmentResult = await handle.result();
    expect(r.status).toBe('cancelled');
    expect(r.assignments.map((a) => a.appointment_id)).toEqual(['A001']);
    expect(r.undecided.map((u) => u.appointment_id)).toContain('A002');
    // A002 was never touched: still booked with the sick provider, no approval written.
    expect(await h.store.appointment('A002')).toMatchObject({ provider_id: 'T001', status: 'scheduled' });
    expect((await h.store.appointment('A001'))?.provider_id).toBe('P001');
    expect(await auditStore(h.store)).toEqual([]);
    const description = await handle.describe();
    expect((description.searchAttributes as Record<string, unknown[]>).ReassignStatus).toEqual(['cancelled']);
  });

  test('a cancel signal with a payload meant for approve is ignored, at the parent and at the batch; the run goes on', async () => {
    const handle = await h.start('promptDrivenReassignment', input);
    await waitForProgress(handle, (x) => x.pending_approvals.length > 0);
    for (const workflowId of [handle.workflowId, batchWorkflowId(handle.workflowId, 1)]) {
      const sent = await temporalCli(h.address, [
        'workflow',
        'signal',
        '--workflow-id',
        workflowId,
        '--name',
        'cancel',
        '--input',
        '{"appointmentId":"NOPE"}',
      ]);
      expect(sent.code).toBe(0);
    }
    const p = await handle.query(progressQuery);
    expect(p.status).toBe('running');
    expect(p.pending_approvals.map((a) => a.appointment_id)).toEqual(['A002']);
    await handle.signal(approveSignal, { appointmentId: 'A002' });
    const r: ReassignmentResult = await handle.result();
    expect(r.status).toBe('completed');
    expect(r.assignments.find((a) => a.appointment_id === 'A002')?.new_provider_id).toBe('P001');
    expect((await h.store.appointment('A002'))?.provider_id).toBe('P001');
  });

  test('a cancel signal with no payload at all (Temporal CLI without --input) cancels the run', async () => {
    const handle = await h.start('promptDrivenReassignment', input);
    await waitForProgress(handle, (x) => x.pending_approvals.length > 0);
    const sent = await temporalCli(h.address, [
      'workflow',
      'signal',
      '--workflow-id',
      handle.workflowId,
      '--name',
      'cancel',
    ]);
    expect(sent.code).toBe(0);
    const r: ReassignmentResult = await handle.result();
    expect(r.status).toBe('cancelled');
    expect(await h.store.appointment('A002')).toMatchObject({ provider_id: 'T001', status: 'scheduled' });
  });

  test("Temporal's own cancellation behaves like the cancel signal", async () => {
    const handle = await h.start('codeDrivenReassignment', input);
    await waitForProgress(handle, (x) => x.pending_approvals.length > 0);
    await handle.cancel();
    const r: ReassignmentResult = await handle.result();
    expect(r.status).toBe('cancelled');
    expect(r.assignments.map((a) => a.appointment_id)).toEqual(['A001']);
    expect(r.undecided.map((u) => u.appointment_id)).toContain('A002');
    expect(await h.store.appointment('A002')).toMatchObject({ provider_id: 'T001', status: 'scheduled' });
  });
});

describe('approval deadline from the prompt config', () => {
  const withTimeout = (onTimeout: 'waitlist' | 'assign') => (files: { orchestrator: PromptDoc }) => {
    const production = files.orchestrator.versions.find((v) => v.labels.includes('production'))!;
    production.config.approval = { bands: ['good'], timeout: '2s', on_timeout: onTimeout };
  };

  test('nobody answers and on_timeout is waitlist: the patient is waitlisted', async () => {
    const h = await startHarness({ editPrompts: withTimeout('waitlist') });
    try {
      const r = await h.run('promptDrivenReassignment', input);
      expect(r.approvals).toMatchObject({ requested: 1, timed_out: 1 });
      expect(r.waitlisted.map((w) => w.appointment_id).sort()).toEqual(['A002', 'A003']);
      expect((await h.store.appointmentRecord('A002')).approvals.map((a) => a.decision)).toEqual(['timed_out']);
      // Nobody decided in time: a head of department sees it (docs/outcomes.md, escalations).
      const timedOut = (await h.store.escalations({})).filter((e) => e.kind === 'approval_timed_out');
      expect(timedOut.map((e) => [e.appointment_id, e.run_id, e.status])).toEqual([['A002', r.workflow_id, 'open']]);
      expect(timedOut[0]!.reason).toBe('nobody decided on moving A002 to P001 before the deadline');
    } finally {
      await h.close();
    }
  });

  test('nobody answers and on_timeout is assign: the assignment goes ahead, recorded as the timeout policy', async () => {
    const h = await startHarness({ editPrompts: withTimeout('assign') });
    try {
      const r = await h.run('codeDrivenReassignment', input);
      expect(r.approvals).toMatchObject({ requested: 1, timed_out: 1 });
      const a002 = r.assignments.find((a) => a.appointment_id === 'A002');
      expect(a002?.new_provider_id).toBe('P001');
      expect(a002?.approved_by).toMatch(/timeout policy/);
    } finally {
      await h.close();
    }
  });
});
