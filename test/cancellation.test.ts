import type { WorkflowHandle } from '@temporalio/client';
import { batchWorkflowId } from '../src/workflowIds';
import { batchProgressQuery, cancelSignal } from '../src/workflows/signals';
import type { ReassignmentResult } from '../src/workflows/types';
import { auditStore, startHarness, type Harness } from './support/harness';
import { seedInput } from './support/seed';

/**
 * Cancelling a prompt-driven run at the worst moment: the model's decisions are being written and it has not
 * told the patients yet. What is decided must still be notified before the batch returns.
 */

const input = { ...seedInput, promptLabel: 'staging' };

/** Waits until the batch has its candidates (find_candidates done) and no decision yet: the decide turn is in flight. */
async function untilDecideTurn(h: Harness, handle: WorkflowHandle): Promise<void> {
  const batch = h.client.workflow.getHandle(batchWorkflowId(handle.workflowId, 1));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const p = await batch.query(batchProgressQuery);
      if (p.tool_calls >= 3 && p.assignments.length + p.waitlisted.length === 0) return;
    } catch {
      // the batch has not started yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the batch never reached its decide turn');
}

function expectEveryDecisionNotified(h: Harness, r: ReassignmentResult): void {
  const decided = [
    ...r.assignments.map((a) => [a.appointment_id, 'reassigned'] as const),
    ...r.waitlisted.map((w) => [w.appointment_id, 'waitlisted'] as const),
  ];
  expect(decided.length).toBeGreaterThan(0);
  for (const [id, kind] of decided)
    expect(h.store.appointmentRecord(id).notifications.map((n) => n.kind)).toEqual([kind]);
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
    const handle = await h.start('promptDrivenReassignment', input);
    await untilDecideTurn(h, handle);
    await handle.signal(cancelSignal, { reason: 'test' });
    const r: ReassignmentResult = await handle.result();
    expect(r.status).toBe('cancelled');
    expectEveryDecisionNotified(h, r);
    expect(auditStore(h.store)).toEqual([]);
  });

  test("by Temporal's cancellation: the same", async () => {
    const handle = await h.start('promptDrivenReassignment', input);
    await untilDecideTurn(h, handle);
    await handle.cancel();
    const r: ReassignmentResult = await handle.result();
    expect(r.status).toBe('cancelled');
    expectEveryDecisionNotified(h, r);
    expect(auditStore(h.store)).toEqual([]);
  });
});
