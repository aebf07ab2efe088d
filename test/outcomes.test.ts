import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { answerOffer } from '../src/temporal/followUps';
import { approveSignal } from '../src/workflows/contract/signals';
import {
  answerOfferUpdate,
  followUpWorkflowId,
  rateVisitUpdate,
  type FollowUpState,
} from '../src/workflows/contract/outcomes';
import { auditStore, startHarness, waitForProgress, type Harness } from './support/harness';
import { seedInput } from './support/seed';

/** Patients answer the slots they are offered: accept, decline (re-offer), no answer, satisfaction, escalations. */

const followUps = { PATIENT_FOLLOW_UP: 'on', PATIENT_RESPONSE_HOURS: '1', MAX_OFFERS: '2' };

/**
 * Waits for the follow-up's state in the store (the offers table), not by querying the workflow: a query
 * to a workflow the worker has not cached arrives as a "legacy query", and the SDK fails a worker that gets
 * one in the same task as an Update (see docs/outcomes.md).
 */
async function until<T>(what: string, read: () => T, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`${what} never happened; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
    last = read();
  }
  return last;
}

/** Runs the seed example to its end, approving A002: A001 and A002 go to P001, A003 to the waitlist. */
async function seedRun(h: Harness): Promise<void> {
  const handle = await h.start('promptDrivenReassignment', seedInput);
  await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
  await handle.signal(approveSignal, { appointmentId: 'A002', by: 'dr-lead' });
  await handle.result();
}

const refusalOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    return ((err as WorkflowUpdateFailedError).cause as Error).message;
  }
  throw new Error('the update was accepted');
};

describe('patient follow-ups', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: followUps });
  });
  afterAll(() => h.close());
  beforeEach(() => h.reload());

  test('each patient told of a new slot gets an open offer; accepting it and scoring the visit are recorded once', async () => {
    await seedRun(h);
    const a2 = h.store.latestOffer('A002');
    expect(a2).toMatchObject({ offer_no: 1, provider_id: 'P001', from_provider_id: 'T001', status: 'open' });
    expect(h.store.latestOffer('A001')).toMatchObject({ offer_no: 1, provider_id: 'P001', status: 'open' });
    expect(h.store.latestOffer('A003')).toBeUndefined();
    const handle: WorkflowHandle = h.client.workflow.getHandle(followUpWorkflowId('A002'));
    const answered = await answerOffer(h.client, 'A002', { answer: 'accepted', by: 'gateway-sms' });
    expect(answered).toMatchObject({ offer_no: 1, answer: 'accepted', provider_id: 'P001', next: 'visit' });
    expect(h.store.latestOffer('A002')).toMatchObject({ status: 'accepted', answered_by: 'gateway-sms' });
    expect(
      await refusalOf(handle.executeUpdate(answerOfferUpdate, { args: [{ answer: 'declined', by: 'x' }] })),
    ).toMatch(/no open offer/);
    expect(await refusalOf(handle.executeUpdate(rateVisitUpdate, { args: [{ score: 9, by: 'x' }] }))).toMatch(
      /invalid score/,
    );
    expect(await handle.executeUpdate(rateVisitUpdate, { args: [{ score: 4, by: 'front-desk' }] })).toEqual({
      appointment_id: 'A002',
      score: 4,
    });
    expect(h.store.satisfactionOf('A002')).toMatchObject({ score: 4, offer_no: 1 });
    const done: FollowUpState = await handle.result();
    expect(done).toMatchObject({ phase: 'finished', outcome: 'accepted', satisfaction: 4 });
    expect(h.store.appointment('A002')).toMatchObject({ provider_id: 'P001', status: 'scheduled' });
    expect(auditStore(h.store)).toEqual([]);
  });

  test('a declined slot is released and re-offered to the next best provider, never the declined one', async () => {
    await seedRun(h);
    const handle = h.client.workflow.getHandle(followUpWorkflowId('A002'));
    const answered = await answerOffer(h.client, 'A002', {
      answer: 'declined',
      reason: 'too far',
      offer: 1,
      by: 'front-desk',
    });
    expect(answered).toMatchObject({ answer: 'declined', next: 'reoffer' });
    const offers = await until(
      're-offer of A002',
      () => h.store.offers('A002'),
      (o) => o.length === 2 || h.store.appointment('A002')!.status === 'waitlisted',
    );
    expect(offers[0]).toMatchObject({ offer_no: 1, provider_id: 'P001', status: 'declined', reason: 'too far' });
    if (offers.length === 2) {
      expect(offers[1]).toMatchObject({ offer_no: 2, status: 'open' });
      expect(offers[1]!.provider_id).not.toBe('P001');
      expect(h.store.appointment('A002')!.provider_id).toBe(offers[1]!.provider_id);
    } else {
      expect(((await handle.result()) as FollowUpState).outcome).toBe('undecided');
    }
    expect(h.store.appointment('A002')!.provider_id).not.toBe('P001');
    expect(auditStore(h.store)).toEqual([]);
  });
});
