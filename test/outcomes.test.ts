import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { RunningApi } from '../src/api/main';
import { loadConfig, projectRoot } from '../src/config';
import { outcomesDemoDataset } from '../src/domain/demoData';
import { SchedulingStore } from '../src/domain/store';
import { dataConverterFor } from '../src/temporal/dataConverter';
import { answerOffer, rateVisit, FollowUpRefusal } from '../src/temporal/followUps';
import { reassignmentWorkflowId } from '../src/workflowIds';
import type { FollowUpState } from '../src/workflows/contract/outcomes';
import { approveSignal, rejectSignal } from '../src/workflows/contract/signals';
import {
  auditStore,
  encryptionEnv,
  startHarness,
  startHarnessApi,
  tempDir,
  type Harness,
  uniqueName,
  waitForProgress,
} from './support/harness';
import { newTestTarget, targetEnv } from './support/testStore';
import { seedInput } from './support/seed';
import { WorkerProcess } from './support/workerProcess';
import { until } from './support/until';

/**
 * Patients answer the slots they are offered: accept, decline (released and re-offered), no answer by the
 * deadline, repeated refusals (waitlist and escalation), visit scores, escalations; through Temporal, the HTTP
 * API, and across a worker killed between a decline and its re-offer.
 *
 * The tests read a follow-up's state from the store, never by querying the workflow: a query to a workflow the
 * worker has not cached arrives as a "legacy query", and the SDK fails the worker that gets one in the same task
 * as an Update (docs/outcomes.md).
 */

/** The seed example to its end (A002 approved or rejected): A001 → P001, A002 → P001 or waitlist, A003 → waitlist. */
async function seedRun(client: Client, taskQueue: string, decide: 'approve' | 'reject' = 'approve'): Promise<string> {
  const workflowId = reassignmentWorkflowId({ providerId: 'T001', date: seedInput.date, stamp: uniqueName('o') });
  const handle = await client.workflow.start('promptDrivenReassignment', { taskQueue, workflowId, args: [seedInput] });
  await waitForProgress(handle, (p) => p.pending_approvals.length > 0, 60_000);
  await handle.signal(decide === 'approve' ? approveSignal : rejectSignal, { appointmentId: 'A002', by: 'dr-lead' });
  await handle.result();
  return workflowId;
}

const refusal = async (p: Promise<unknown>): Promise<FollowUpRefusal> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof FollowUpRefusal) return err;
    throw err;
  }
  throw new Error('accepted');
};

const offerWhen = (store: SchedulingStore, id: string, n: number) =>
  until(
    `offer ${n} of ${id}`,
    () => store.offers(id),
    (o) => o.length >= n && o[n - 1]!.status === 'open',
  );

describe('patient follow-ups', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      data: outcomesDemoDataset(),
      env: { PATIENT_FOLLOW_UP: 'on', PATIENT_RESPONSE_HOURS: '1', MAX_OFFERS: '2' },
    });
  });
  afterAll(() => h.close());
  beforeEach(() => h.reload(outcomesDemoDataset()));

  test('each patient told of a new slot gets an open offer; accepting it and scoring the visit are recorded once', async () => {
    await seedRun(h.client, h.taskQueue);
    expect(await h.store.latestOffer('A002')).toMatchObject({ offer_no: 1, provider_id: 'P001', status: 'open' });
    expect(await h.store.latestOffer('A001')).toMatchObject({ offer_no: 1, provider_id: 'P001', status: 'open' });
    expect(await h.store.latestOffer('A003')).toBeUndefined();
    const answered = await answerOffer(h.client, h.store, 'A002', { answer: 'accepted', by: 'gateway-sms' });
    expect(answered).toEqual({
      appointment_id: 'A002',
      offer_no: 1,
      answer: 'accepted',
      provider_id: 'P001',
      next: 'visit',
    });
    expect(await h.store.latestOffer('A002')).toMatchObject({ status: 'accepted', answered_by: 'gateway-sms' });
    // A second answer, a score out of range: refused in one line, nothing written.
    expect((await refusal(answerOffer(h.client, h.store, 'A002', { answer: 'declined', by: 'x' }))).message).toMatch(
      /A002 has no open offer to answer \(the offer was accepted\)/,
    );
    expect((await refusal(rateVisit(h.client, h.store, 'A002', { score: 9, by: 'x' }))).message).toMatch(
      /invalid score/,
    );
    expect(await rateVisit(h.client, h.store, 'A002', { score: 4, by: 'front-desk' })).toEqual({
      appointment_id: 'A002',
      score: 4,
    });
    expect(await h.store.satisfactionOf('A002')).toMatchObject({ score: 4, offer_no: 1 });
    const done = (await h.client.workflow
      .getHandle((await h.store.offers('A002'))[0]!.follow_up_id)
      .result()) as FollowUpState;
    expect(done).toMatchObject({ phase: 'finished', outcome: 'accepted', satisfaction: 4 });
    expect((await refusal(rateVisit(h.client, h.store, 'A002', { score: 5, by: 'x' }))).message).toMatch(/is over/);
    expect((await h.store.satisfactionOf('A002'))?.score).toBe(4);
    // An appointment nobody was offered a slot for has no follow-up.
    expect(await refusal(answerOffer(h.client, h.store, 'A003', { answer: 'accepted', by: 'x' }))).toMatchObject({
      kind: 'not_found',
    });
    expect(await auditStore(h.store)).toEqual([]);
  });

  test('a declined slot is released and re-offered to the next best provider with the same prompts, never the declined one', async () => {
    const first = await seedRun(h.client, h.taskQueue);
    const answered = await answerOffer(h.client, h.store, 'A001', {
      answer: 'declined',
      reason: 'too far',
      offer: 1,
      by: 'front-desk',
    });
    expect(answered).toMatchObject({ answer: 'declined', next: 'reoffer' });
    const offers = await offerWhen(h.store, 'A001', 2);
    expect(offers[0]).toMatchObject({ offer_no: 1, provider_id: 'P001', status: 'declined', reason: 'too far' });
    expect(offers[1]).toMatchObject({ offer_no: 2, provider_id: 'P004', status: 'open' });
    expect(await h.store.appointment('A001')).toMatchObject({ provider_id: 'P004', status: 'scheduled' });
    // The re-offer is a run limited to A001, with the prompt versions the first decision used.
    const reoffer = offers[1]!.run_id;
    expect(reoffer).toBe(`${(await h.store.offers('A001'))[0]!.follow_up_id}-reoffer-1`);
    const pinned = async (id: string) =>
      (await h.store.runPrompts(id))!.bundle as { orchestrator: { version: number }; scoring: { version: number } };
    expect((await pinned(reoffer)).orchestrator.version).toBe((await pinned(first)).orchestrator.version);
    expect((await pinned(reoffer)).scoring.version).toBe((await pinned(first)).scoring.version);
    expect((await h.store.appointmentRecord('A001')).notifications.map((n) => n.change_ref)).toEqual([
      'T001->P001',
      'T001->P004',
    ]);
    // The stale offer number is refused; the open one is answered.
    expect(
      (await refusal(answerOffer(h.client, h.store, 'A001', { answer: 'accepted', offer: 1, by: 'x' }))).message,
    ).toMatch(/offer 1 of A001 is closed/);
    expect(await answerOffer(h.client, h.store, 'A001', { answer: 'accepted', by: 'front-desk' })).toMatchObject({
      offer_no: 2,
      provider_id: 'P004',
      next: 'visit',
    });
    expect(await auditStore(h.store)).toEqual([]);
  });

  test('a rejected approval and an imminent waitlist are escalations, acknowledged and resolved with who and when', async () => {
    const run = await seedRun(h.client, h.taskQueue, 'reject');
    const open = await h.store.escalations({ status: 'open' });
    expect(open.map((e) => [e.kind, e.appointment_id, e.run_id]).sort()).toEqual([
      ['approval_rejected', 'A002', run],
      ['waitlisted_soon', 'A002', run],
      ['waitlisted_soon', 'A003', run],
    ]);
    const rejected = open.find((e) => e.kind === 'approval_rejected')!;
    expect(rejected.reason).toMatch(/dr-lead rejected moving A002 to P001/);
    expect(await h.store.moveEscalation(rejected.id, 'acknowledged', 'hod-ana')).toMatchObject({
      status: 'acknowledged',
      acknowledged_by: 'hod-ana',
    });
    expect(await h.store.moveEscalation(rejected.id, 'resolved', 'hod-ana', 'called the patient')).toMatchObject({
      status: 'resolved',
      resolved_by: 'hod-ana',
      note: 'called the patient',
    });
    await expect(h.store.moveEscalation(rejected.id, 'resolved', 'x')).rejects.toThrow(/already resolved/);
  });
});

describe('no answer by the deadline, and refusals until the waitlist', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      data: outcomesDemoDataset(),
      // 3.6 s to answer; one re-offer, then the waitlist.
      env: { PATIENT_FOLLOW_UP: 'on', PATIENT_RESPONSE_HOURS: '0.001', MAX_OFFERS: '1' },
    });
  });
  afterAll(() => h.close());

  test('an unanswered offer is released and re-offered; the second refusal is escalated and the last one waitlists', async () => {
    await seedRun(h.client, h.taskQueue);
    const result = (await h.client.workflow
      .getHandle((await h.store.offers('A001'))[0]!.follow_up_id)
      .result()) as FollowUpState;
    expect(result).toMatchObject({ outcome: 'waitlisted', reoffers: 1 });
    expect((await h.store.offers('A001')).map((o) => [o.offer_no, o.provider_id, o.status, o.answered_by])).toEqual([
      [1, 'P001', 'no_answer', 'deadline'],
      [2, 'P004', 'no_answer', 'deadline'],
    ]);
    expect(await h.store.appointment('A001')).toMatchObject({ status: 'waitlisted', provider_id: 'T001' });
    expect((await h.store.appointmentRecord('A001')).notifications.map((n) => n.change_ref)).toEqual([
      'T001->P001',
      'T001->P004',
      'T001->waitlist',
    ]);
    const kinds = (await h.store.escalations({}))
      .filter((e) => e.appointment_id === 'A001')
      .map((e) => e.kind)
      .sort();
    expect(kinds).toEqual(['offers_exhausted', 'second_decline']);
    expect(await auditStore(h.store)).toEqual([]);
  });
});

describe('a waitlisted patient is escalated only when the appointment is near', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { ESCALATE_WAITLIST_DAYS: '3' } });
  });
  afterAll(() => h.close());

  /** The seed example moved to `days` days from today (UTC), run to its end: A003 goes to the waitlist. */
  async function seedRunIn(days: number): Promise<{ date: string; runId: string }> {
    const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
    const date = day(days);
    const moved = JSON.stringify(outcomesDemoDataset())
      .replaceAll(seedInput.date, date)
      .replaceAll('2025-11-22', day(days + 1));
    await h.reload(JSON.parse(moved) as ReturnType<typeof outcomesDemoDataset>);
    const handle = await h.start('promptDrivenReassignment', { ...seedInput, date });
    await waitForProgress(handle, (p) => p.pending_approvals.length > 0, 60_000);
    await handle.signal(approveSignal, { appointmentId: 'A002', by: 'dr-lead' });
    const result = (await handle.result()) as { waitlisted: { appointment_id: string }[] };
    expect(result.waitlisted.map((w) => w.appointment_id)).toEqual(['A003']);
    return { date, runId: handle.workflowId };
  }

  test('a month ahead: waitlisted, no escalation; two days ahead (ESCALATE_WAITLIST_DAYS=3): escalated', async () => {
    const far = await seedRunIn(30);
    expect((await h.store.escalations({})).filter((e) => e.run_id === far.runId)).toEqual([]);
    const near = await seedRunIn(2);
    const raised = (await h.store.escalations({})).filter((e) => e.run_id === near.runId);
    expect(raised.map((e) => [e.kind, e.appointment_id])).toEqual([['waitlisted_soon', 'A003']]);
    expect(raised[0]!.reason).toMatch(
      new RegExp(`^A003 \\(${near.date} \\d\\d:\\d\\d\\) is on the waitlist \\d day\\(s\\) before it$`),
    );
  });
});

describe('the HTTP API for answers, scores and escalations', () => {
  let h: Harness;
  let api: RunningApi;
  const keys = {
    operator: 'operator-key-0123456789',
    viewer: 'viewer-key-0123456789ab',
    gateway: 'gateway-key-0123456789a',
  };
  const call = async (p: string, key: string, body?: unknown) => {
    const r = await fetch(`${api.url}${p}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  beforeAll(async () => {
    h = await startHarness({ data: outcomesDemoDataset(), env: { PATIENT_FOLLOW_UP: 'on', MAX_OFFERS: '2' } });
    api = await startHarnessApi(h, {
      API_KEYS: JSON.stringify(Object.entries(keys).map(([role, key]) => ({ name: `${role}-1`, key, role }))),
      LOG_LEVEL: 'ERROR',
    });
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  test('a gateway passes on answers and scores and reads nothing; bad answers are one-line 4xx, nothing written', async () => {
    await seedRun(h.client, h.taskQueue);
    expect((await call('/api/reassignments', keys.gateway)).status).toBe(403);
    expect((await call('/api/appointments/A002/answer', keys.viewer, { answer: 'accepted' })).status).toBe(403);
    const bad = await call('/api/appointments/A002/answer', keys.gateway, { answer: 'maybe' });
    expect(bad.status).toBe(400);
    expect(await call('/api/appointments/A003/answer', keys.gateway, { answer: 'accepted' })).toMatchObject({
      status: 404,
    });
    expect(await call('/api/appointments/A002/answer', keys.gateway, { answer: 'accepted' })).toEqual({
      status: 200,
      body: { appointment_id: 'A002', offer_no: 1, answer: 'accepted', provider_id: 'P001', next: 'visit' },
    });
    const again = await call('/api/appointments/A002/answer', keys.gateway, { answer: 'declined' });
    expect(again.status).toBe(409);
    expect(String(again.body.error)).not.toContain('\n');
    expect((await call('/api/appointments/A002/satisfaction', keys.gateway, { score: 0 })).status).toBe(400);
    expect(await call('/api/appointments/A002/satisfaction', keys.gateway, { score: 5 })).toMatchObject({
      status: 200,
      body: { score: 5 },
    });
    expect((await call('/api/appointments/A002/satisfaction', keys.gateway, { score: 4 })).status).toBe(409);
    const offers = await call('/api/appointments/A002/offers', keys.viewer);
    expect(offers.body).toMatchObject({
      satisfaction: 5,
      offers: [{ offer_no: 1, status: 'accepted', answered_by: 'gateway-1' }],
    });
    expect(await h.store.satisfactionOf('A002')).toMatchObject({ score: 5 });
  });

  test('the escalations inbox: viewers read, operators acknowledge and resolve, an unknown one is 404', async () => {
    const list = await call('/api/escalations?status=open', keys.viewer);
    const items = list.body.escalations as { id: number; kind: string }[];
    expect(items.map((e) => e.kind)).toContain('waitlisted_soon');
    const id = items[0]!.id;
    expect((await call(`/api/escalations/${id}/acknowledge`, keys.viewer, {})).status).toBe(403);
    expect(await call(`/api/escalations/${id}/acknowledge`, keys.operator, {})).toMatchObject({
      status: 200,
      body: { status: 'acknowledged', acknowledged_by: 'operator-1' },
    });
    expect(await call(`/api/escalations/${id}/resolve`, keys.operator, { note: 'rebooked by phone' })).toMatchObject({
      status: 200,
      body: { status: 'resolved', resolved_by: 'operator-1', note: 'rebooked by phone' },
    });
    expect((await call(`/api/escalations/${id}/resolve`, keys.operator, {})).status).toBe(409);
    expect((await call('/api/escalations/999999/resolve', keys.operator, {})).status).toBe(404);
  });
});

describe('a worker killed between a decline and its re-offer', () => {
  test('the patient is re-offered exactly once, nothing lost, audit clean', async () => {
    const target = await newTestTarget(tempDir('kill'));
    const seed = await SchedulingStore.open(target);
    await seed.load(outcomesDemoDataset());
    await seed.close();
    const env = {
      ...process.env,
      ...encryptionEnv(),
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
      TASK_QUEUE: uniqueName('kill-tq'),
      ...targetEnv(target),
      PROMPTS_DIR: path.join(projectRoot, 'prompts'),
      WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
      PATIENT_FOLLOW_UP: 'on',
      PATIENT_RESPONSE_HOURS: '1',
      LOG_LEVEL: 'ERROR',
    };
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
    const client = new Client({
      connection,
      dataConverter: dataConverterFor(loadConfig(env as Record<string, string>)),
    });
    let worker = await WorkerProcess.start(env);
    const store = await SchedulingStore.open(target);
    try {
      await seedRun(client, env.TASK_QUEUE);
      await offerWhen(store, 'A001', 1);
      const answering = answerOffer(client, store, 'A001', { answer: 'declined', by: 'front-desk' });
      // Killed the moment the answer (and the released slot) is written, before the re-offer starts.
      await worker.waitFor((e) => e.e === 'end' && e.type === 'recordAnswer', 60_000);
      await worker.kill();
      expect((await store.offers('A001')).map((o) => o.status)).toEqual(['declined']);
      expect(await store.appointment('A001')).toMatchObject({ provider_id: 'T001', status: 'scheduled' });
      worker = await WorkerProcess.start(env);
      expect(await answering).toMatchObject({ answer: 'declined', next: 'reoffer' });
      const offers = await offerWhen(store, 'A001', 2);
      expect(offers.map((o) => [o.provider_id, o.status])).toEqual([
        ['P001', 'declined'],
        ['P004', 'open'],
      ]);
      expect((await store.appointmentRecord('A001')).notifications.map((n) => n.change_ref)).toEqual([
        'T001->P001',
        'T001->P004',
      ]);
      expect(await store.appointment('A001')).toMatchObject({ provider_id: 'P004', status: 'scheduled' });
      expect(await auditStore(store)).toEqual([]);
    } finally {
      await worker.stop();
      await store.close();
      await connection.close();
    }
  }, 300_000);
});
