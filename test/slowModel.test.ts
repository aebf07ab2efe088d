import type { WorkflowHandle } from '@temporalio/client';
import { cancelSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { auditStore, startHarness, waitForProgress, type Harness } from './support/harness';
import { seedInput } from './support/seed';

/**
 * A model that takes its time (1.5 s a reply): progress shows its LLM calls while a batch is still running,
 * and cancelling at the worst moment (the model's decisions are being written, the patients not told yet)
 * still tells every patient decided about before the batch returns.
 */

const input = { ...seedInput, promptLabel: 'staging' };

/** Starts a run and returns once its second model request (the decide turn) is in flight at the model server. */
async function startAndWaitForDecideTurn(h: Harness): Promise<WorkflowHandle> {
  const before = h.model.requests();
  const handle = await h.start('promptDrivenReassignment', input);
  const deadline = Date.now() + 30_000;
  while (h.model.requests() < before + 2) {
    if (Date.now() > deadline) throw new Error('the batch never reached its decide turn');
    await new Promise((r) => setTimeout(r, 20));
  }
  return handle;
}

async function expectEveryDecisionNotified(h: Harness, r: ReassignmentResult): Promise<void> {
  const decided = [
    ...r.assignments.map((a) => [a.appointment_id, 'reassigned'] as const),
    ...r.waitlisted.map((w) => [w.appointment_id, 'waitlisted'] as const),
  ];
  expect(decided.length).toBeGreaterThan(0);
  for (const [id, kind] of decided)
    expect((await h.store.appointmentRecord(id)).notifications.map((n) => n.kind)).toEqual([kind]);
}

describe('cancelling while the model decides', () => {
  let h: Harness;
  beforeAll(async () => {
    // Each model reply takes 1.5 s: long enough to cancel while the decide turn is in flight.
    h = await startHarness({ env: { OFFLINE_MODEL_LATENCY_MS: '1500' } });
  });
  afterAll(() => h.close());
  beforeEach(() => h.reload());

  test('by signal: the decisions the model made are kept and every patient decided about is told', async () => {
    const handle = await startAndWaitForDecideTurn(h);
    await handle.signal(cancelSignal, { reason: 'test' });
    const r: ReassignmentResult = await handle.result();
    expect(r.status).toBe('cancelled');
    await expectEveryDecisionNotified(h, r);
    expect(await auditStore(h.store)).toEqual([]);
  });

  test("by Temporal's cancellation: the same", async () => {
    const handle = await startAndWaitForDecideTurn(h);
    await handle.cancel();
    const r: ReassignmentResult = await handle.result();
    expect(r.status).toBe('cancelled');
    await expectEveryDecisionNotified(h, r);
    expect(await auditStore(h.store)).toEqual([]);
  });

  test('progress counts the LLM calls of a batch still in flight', async () => {
    const handle = await h.start('promptDrivenReassignment', input);
    const p = await waitForProgress(handle, (x) => x.llm_calls > 0 && x.batches.done === 0, 20_000);
    expect(p.batches.running).toBe(1);
    expect(p.llm_attempts).toBeGreaterThanOrEqual(p.llm_calls);
    const r: ReassignmentResult = await handle.result();
    expect(r.llm.calls).toBeGreaterThanOrEqual(p.llm_calls);
  });
});
