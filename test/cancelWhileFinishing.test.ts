import type { WorkflowHandle } from '@temporalio/client';
import { syntheticDataset } from '../src/domain/syntheticData';
import { cancelSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { auditStore, startHarness, type Harness } from './support/harness';

/**
 * The reproduction of issue 23.1: a 200-appointment run cancelled while its batches are finishing. The parent
 * used to signal batches that had just completed; Temporal refused ("external workflow not found") and the run
 * failed (cancel signal) or its workflow task failed for ever (Temporal cancellation).
 */

const DATE = '2025-11-21';
const APPOINTMENTS = 200;

describe('cancelling a 200-appointment run while its batches finish', () => {
  let h: Harness;
  const data = syntheticDataset({ appointments: APPOINTMENTS, seed: 23 });
  beforeAll(async () => {
    h = await startHarness({ data });
  });
  afterAll(() => h.close());
  beforeEach(() => h.reload(data));

  const decidedRows = async () => {
    const c = await h.store.counts();
    return c.assignments! + c.waitlist!;
  };

  async function untilDecided(atLeast: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    while ((await decidedRows()) < atLeast) {
      if (Date.now() > deadline) throw new Error(`only ${await decidedRows()} decided after 60 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A run under the staging prompt (no approvals), once this many appointments are decided in the store. */
  async function startAndDecide(decided: number): Promise<WorkflowHandle> {
    const handle = await h.start('promptDrivenReassignment', {
      providerId: 'T001',
      date: DATE,
      reason: 'sick',
      promptLabel: 'staging',
    });
    await untilDecided(decided);
    return handle;
  }

  async function expectCleanCancel(handle: WorkflowHandle): Promise<void> {
    const result = (await handle.result()) as ReassignmentResult;
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect(result.status).toBe('cancelled');
    const run = await h.store.runRecord(handle.workflowId);
    expect(run?.status).toBe('cancelled');
    expect(run?.finished_at).toBeTruthy();
    // Every affected appointment is decided (and told once: the audit) or listed as undecided, in the result and the store.
    const decided = new Set([...result.assignments, ...result.waitlisted].map((d) => d.appointment_id));
    const undecided = result.undecided.map((u) => u.appointment_id);
    expect(decided.size + undecided.length).toBe(APPOINTMENTS);
    expect((await h.store.runUndecided(handle.workflowId)).sort()).toEqual([...undecided].sort());
    expect(decided.size).toBe(await decidedRows());
    expect(await auditStore(h.store)).toEqual([]);
  }

  test('Temporal cancellation (temporal workflow cancel) ends the run cancelled', async () => {
    const handle = await startAndDecide(60);
    await handle.cancel();
    await expectCleanCancel(handle);
  });

  test('the cancel signal ends the run cancelled', async () => {
    const handle = await startAndDecide(60);
    await handle.signal(cancelSignal, { reason: 'operator stopped it' });
    await expectCleanCancel(handle);
  });
});
