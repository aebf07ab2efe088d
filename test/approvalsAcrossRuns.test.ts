import type { WorkflowHandle } from '@temporalio/client';
import type { Dataset } from '../src/domain/model';
import { syntheticDataset } from '../src/domain/syntheticData';
import { cancelSignal, decideApprovalUpdate, progressQuery, rejectSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { auditStore, startHarness, waitForProgress, type Harness } from './support/harness';
import { seedInput } from './support/seed';
import { batchWorkflowId } from '../src/workflowIds';

/**
 * One appointment is put to one person once, across runs (issue 23.2). The reproduction: T001 started twice
 * under different ids and T002 at the same moment, on a synthetic day with approvals on, an operator approving
 * whatever any run asks; no appointment may have approval requests from two runs. Before the fix, a run's
 * request closed when the human answered, and another run asked again before the first wrote the decision.
 */

const DATE = '2025-11-21';
const PER_PROVIDER = 30;

/** A synthetic day where T001 and T002 are both off, their appointments at the same times, one candidate pool. */
function twoSickProviders(): Dataset {
  const data = syntheticDataset({ appointments: PER_PROVIDER, seed: 5 });
  const t001 = data.providers.find((p) => p.id === 'T001')!;
  data.providers.push({ ...t001, id: 'T002', name: 'Synthetic Absent Provider 2' });
  for (const a of [...data.appointments]) {
    data.slots.push({ provider_id: 'T002', date: a.date, time: a.time });
    data.appointments.push({ ...a, id: a.id.replace(/^A/, 'B'), provider_id: 'T002' });
  }
  return data;
}

/** Plays the operator: approves, through the Update, every approval any of the runs is waiting for. */
async function approveEverythingUntilDone(handles: WorkflowHandle[]): Promise<ReassignmentResult[]> {
  let finished = false;
  const results = Promise.all(handles.map((h) => h.result() as Promise<ReassignmentResult>)).finally(() => {
    finished = true;
  });
  const deadline = Date.now() + 150_000;
  while (!finished && Date.now() < deadline) {
    for (const handle of handles) {
      const progress = await handle.query(progressQuery).catch(() => undefined);
      for (const p of progress?.pending_approvals ?? [])
        await handle
          .executeUpdate(decideApprovalUpdate, {
            args: [{ appointmentId: p.appointment_id, decision: 'approve', by: 'operator' }],
          })
          .catch(() => undefined); // decided a moment ago, or its batch ended: the next round sees the truth
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return results;
}

describe('approvals across competing runs', () => {
  let h: Harness;
  const data = twoSickProviders();
  beforeAll(async () => {
    h = await startHarness({ data, env: { OFFLINE_MODEL_LATENCY_MS: '150' } });
  });
  afterAll(() => h.close());

  test("T001 twice and T002, approvals on, the second T001 run starting as the first run's approvals are granted: each appointment is put to a person by one run only", async () => {
    await h.reload(data);
    const start = (providerId: string, tag: string) =>
      h.start(
        'promptDrivenReassignment',
        { providerId, date: DATE, reason: 'sick', promptLabel: 'production' },
        `reassign-${providerId}-${DATE}-competing-${tag}-${Date.now()}`,
      );
    // The offline model is deterministic, so two runs started together reach each appointment together and the
    // second finds the first asking. A person is asked twice when a run reaches the appointment after the other
    // run's person answered: the second T001 run starts the moment the first one's approvals are granted.
    const first = await start('T001', 'a');
    const other = await start('T002', 'c');
    const asked = await waitForProgress(first, (p) => p.pending_approvals.length > 0, 60_000);
    for (const p of asked.pending_approvals)
      await first.executeUpdate(decideApprovalUpdate, {
        args: [{ appointmentId: p.appointment_id, decision: 'approve', by: 'operator' }],
      });
    const second = await start('T001', 'b');
    const handles = [first, other, second];
    const results = await approveEverythingUntilDone(handles);
    expect(results.map((r) => r.status)).not.toContain('cancelled');

    const requests = await h.store.approvalRequestRuns();
    // Approvals were asked for (the test would prove nothing otherwise)...
    expect(requests.length).toBeGreaterThan(0);
    // ...and never by two runs about one appointment.
    expect(requests.filter((r) => r.runs.length > 1)).toEqual([]);
    expect(await auditStore(h.store)).toEqual([]);
    // Every affected appointment ended in one state: decided by one of the runs.
    const c = await h.store.counts();
    expect(c.assignments! + c.waitlist!).toBe(2 * PER_PROVIDER);
  });
});

describe('a rejection stands across runs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  test('a human rejected A002 → P001 in a run that was then cancelled: the next run does not ask again and waitlists it', async () => {
    await h.reload();
    const first = await h.start('promptDrivenReassignment', seedInput);
    await waitForProgress(first, (p) => p.pending_approvals.length > 0);
    // Rejected, and the run cancelled before it wrote the waitlist entry: A002 stays with the sick provider. Both
    // signals go to the batch itself, one after the other, so it reads them in this order: the gate records the
    // rejection (a decision wins over a cancel that comes with it), and the batch stops before its next model turn.
    // The run itself is cancelled too.
    const batch = h.client.workflow.getHandle(batchWorkflowId(first.workflowId, 1));
    await batch.signal(rejectSignal, { appointmentId: 'A002', by: 'dr-house' });
    await batch.signal(cancelSignal, { reason: 'stopped after the rejection' });
    await first.signal(cancelSignal, { reason: 'stopped after the rejection' });
    const stopped = (await first.result()) as ReassignmentResult;
    expect(stopped.status).toBe('cancelled');
    expect(stopped.undecided.map((u) => u.appointment_id)).toContain('A002');
    expect(await h.store.appointment('A002')).toMatchObject({ provider_id: 'T001', status: 'scheduled' });

    // The next run for the same day finds the rejection and follows it without asking anybody.
    const second = await h.start('promptDrivenReassignment', seedInput);
    const r = (await second.result()) as ReassignmentResult;
    expect(r.status).toBe('completed');
    expect(r.approvals.requested).toBe(0);
    expect(r.waitlisted.map((w) => w.appointment_id)).toContain('A002');
    expect(r.assignments.map((a) => a.appointment_id)).not.toContain('A002');
    expect(await h.store.approvalRequestRuns()).toEqual([{ appointment_id: 'A002', runs: [first.workflowId] }]);
    expect((await h.store.appointment('A002'))?.status).toBe('waitlisted');
    expect(await auditStore(h.store)).toEqual([]);
  });
});
