import { createTraceId } from '@langfuse/tracing';
import { createLangfuseClient } from '../src/langfuse/client';
import { OutcomeScorer, outcomeScoreId } from '../src/langfuse/outcomeScores';
import { demoDataset } from '../src/domain/demoData';
import type { Dataset } from '../src/domain/model';
import { answerOffer, FollowUpRefusal, rateVisit } from '../src/temporal/followUps';
import { approveSignal } from '../src/workflows/contract/signals';
import { startHarness, waitForProgress, type Harness } from './support/harness';
import { startLangfuseServer, type LangfuseTestServer } from './support/langfuseServer';
import { seedInput } from './support/seed';
import { until } from './support/until';

/**
 * Outcomes as Langfuse scores (src/langfuse/outcomeScores.ts), sent by the follow-up's publishOutcomeScore
 * activity to the Langfuse-compatible test server: on the trace of the run that decided, with score configs,
 * idempotent by id, and retried by Temporal while Langfuse is down (the answer recorded locally at once).
 * Never queries the follow-up workflow (see test/outcomes.test.ts): reads the store and the server instead.
 */

const SCORES = '/api/public/scores';

/**
 * The seed's data with its appointment ids made unique to one test: a follow-up's workflow id is the
 * appointment's (follow-up-A001), so tests sharing the Temporal server must not share appointment ids.
 */
let serial = 0;
function seedData(): { data: Dataset; id: (seedId: string) => string } {
  const prefix = `S${Date.now().toString(36).toUpperCase().slice(-5)}${serial++}-`;
  const id = (seedId: string) => `${prefix}${seedId}`;
  const data = demoDataset();
  data.appointments = data.appointments.map((a) => ({ ...a, id: id(a.id) }));
  // A second choice for A002 (a good match, below P001's), so that a declined offer has somewhere to go.
  data.providers.push({
    id: 'P004',
    name: 'Dr. Second Choice',
    specialty: 'orthopedics',
    gender: 'male',
    languages: ['pt'],
    location: { lat: 38.738, lon: -9.14 },
    experience_years: 12,
  });
  for (const time of ['09:00', '10:00', '11:00', '12:00'])
    data.slots.push({ provider_id: 'P004', date: seedInput.date, time });
  return { data, id };
}

/** Runs the seed example (approving A002): A001 and A002 go to P001 and get an open offer, A003 is waitlisted. */
async function seedRun(h: Harness, id: (seedId: string) => string): Promise<string> {
  const handle = await h.start('promptDrivenReassignment', seedInput);
  await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
  await handle.signal(approveSignal, { appointmentId: id('A002'), by: 'dr-lead' });
  await handle.result();
  return handle.workflowId;
}

const sendsOf = (lf: LangfuseTestServer, scoreId: string) =>
  lf.requests.filter((r) => r.method === 'POST' && r.path === SCORES && (r.body as { id?: string })?.id === scoreId);

describe('outcome scores in Langfuse', () => {
  let lf: LangfuseTestServer;
  let h: Harness;
  beforeAll(async () => {
    lf = await startLangfuseServer();
    h = await startHarness({
      env: {
        PATIENT_FOLLOW_UP: 'on',
        PATIENT_RESPONSE_HOURS: '1',
        MAX_OFFERS: '1',
        LANGFUSE_BASE_URL: lf.url,
        LANGFUSE_PUBLIC_KEY: lf.publicKey,
        LANGFUSE_SECRET_KEY: lf.secretKey,
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await lf?.close();
  });

  test('accept, satisfaction, decline, a re-offer declined and its escalations are scores on the trace of the run that decided, with their configs', async () => {
    const { data, id } = seedData();
    await h.reload(data);
    const runId = await seedRun(h, id);
    const [a1, a2] = [id('A001'), id('A002')];

    await answerOffer(h.client, h.store, a1, { answer: 'accepted', by: 'gateway-sms' });
    expect(await rateVisit(h.client, h.store, a1, { score: 5, by: 'front-desk' })).toEqual({
      appointment_id: a1,
      score: 5,
    });
    await answerOffer(h.client, h.store, a2, { answer: 'declined', reason: 'too far', by: 'front-desk' });
    // The re-offer run (a reassignment run, not the follow-up: querying it is safe) offers P004, a good match
    // that waits for an approval; the patient declines that too: escalated, and (MAX_OFFERS=1) waitlisted.
    const reofferId = `${(await h.store.offers(a2))[0]!.follow_up_id}-reoffer-1`;
    const reoffer = h.client.workflow.getHandle(reofferId);
    await waitForProgress(reoffer, (p) => p.pending_approvals.length > 0, 60_000);
    await reoffer.signal(approveSignal, { appointmentId: a2, by: 'dr-lead' });
    const [, second] = await until(
      `the re-offer of ${a2}`,
      () => h.store.offers(a2),
      (o) => o.length === 2,
    );
    expect(second).toMatchObject({ offer_no: 2, provider_id: 'P004', run_id: reofferId });
    // The patient is told before the re-offer run ends; the follow-up takes the answer once it has read the offer.
    for (let attempt = 0; ; attempt++) {
      try {
        await answerOffer(h.client, h.store, a2, { answer: 'declined', offer: 2, by: 'front-desk' });
        break;
      } catch (err) {
        if (!(err instanceof FollowUpRefusal && /new offer is being prepared/.test(err.message)) || attempt > 150)
          throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }

    const ids = {
      accepted: outcomeScoreId({ appointmentId: a1, kind: 'offer_answer', ref: '1' }),
      satisfaction: outcomeScoreId({ appointmentId: a1, kind: 'satisfaction', ref: '1' }),
      declined: outcomeScoreId({ appointmentId: a2, kind: 'offer_answer', ref: '1' }),
      reofferDeclined: outcomeScoreId({ appointmentId: a2, kind: 'offer_answer', ref: '2' }),
      secondDecline: outcomeScoreId({ appointmentId: a2, kind: 'escalated', ref: 'second_decline' }),
      exhausted: outcomeScoreId({ appointmentId: a2, kind: 'escalated', ref: 'offers_exhausted' }),
    };
    await until(
      'the six scores',
      () => Object.values(ids).filter((s) => lf.datasets.scoresById.has(s)),
      (found) => found.length === 6,
    );

    const configs = Object.fromEntries(lf.datasets.scoreConfigs.map((c) => [c.name, c]));
    expect(lf.datasets.scoreConfigs).toHaveLength(3);
    expect(configs.patient_answer).toMatchObject({
      dataType: 'CATEGORICAL',
      categories: [
        { label: 'accept', value: 1 },
        { label: 'decline', value: 0 },
        { label: 'none', value: -1 },
      ],
    });
    expect(configs.patient_satisfaction).toMatchObject({ dataType: 'NUMERIC', minValue: 1, maxValue: 5 });
    expect(configs.escalated).toMatchObject({ dataType: 'BOOLEAN' });

    const trace = await createTraceId(runId);
    const score = (s: string) => lf.datasets.scoresById.get(s);
    expect(score(ids.accepted)).toMatchObject({
      traceId: trace,
      name: 'patient_answer',
      dataType: 'CATEGORICAL',
      stringValue: 'accept',
      value: 1,
      configId: configs.patient_answer!.id,
    });
    expect(score(ids.satisfaction)).toMatchObject({
      traceId: trace,
      name: 'patient_satisfaction',
      dataType: 'NUMERIC',
      value: 5,
      configId: configs.patient_satisfaction!.id,
    });
    expect(score(ids.declined)).toMatchObject({
      traceId: trace,
      stringValue: 'decline',
      value: 0,
    });
    // The patient's reason is free text: it stays in the database, never in Langfuse.
    expect(score(ids.declined)!.comment ?? null).toBeNull();
    expect(JSON.stringify(lf.datasets.scores)).not.toContain('too far');
    // The second offer was decided by the re-offer run: its answer and the escalations are on that run's trace.
    const reofferTrace = await createTraceId(reofferId);
    expect(reofferTrace).not.toBe(trace);
    expect(score(ids.reofferDeclined)).toMatchObject({ traceId: reofferTrace, stringValue: 'decline' });
    for (const escalation of [ids.secondDecline, ids.exhausted])
      expect(score(escalation)).toMatchObject({
        traceId: reofferTrace,
        name: 'escalated',
        dataType: 'BOOLEAN',
        value: 1,
        stringValue: 'True',
        configId: configs.escalated!.id,
      });
    // Only these outcomes were scored (A003 was waitlisted by the run: never offered, nothing to score).
    expect(
      lf.datasets.scores
        .filter((s) => s.id.includes(id('')))
        .map((s) => s.id)
        .sort(),
    ).toEqual(Object.values(ids).sort());
    // The scores are the database's figures: what Langfuse got is what the store recorded.
    expect((await h.store.offers(a2)).map((o) => [o.status, o.run_id])).toEqual([
      ['declined', runId],
      ['declined', reofferId],
    ]);
    expect(await h.store.appointment(a2)).toMatchObject({ status: 'waitlisted' });
    expect(
      (await h.store.escalations())
        .filter((e) => e.appointment_id === a2)
        .map((e) => [e.kind, e.run_id])
        .sort(),
    ).toEqual([
      ['offers_exhausted', reofferId],
      ['second_decline', reofferId],
    ]);
    expect(await h.store.satisfactionOf(a1)).toMatchObject({ score: 5, run_id: runId });
  });

  test('the same outcome sent again (a lost response, a retried activity) leaves one score per id', async () => {
    const { data, id } = seedData();
    await h.reload(data);
    const runId = await seedRun(h, id);
    const a1 = id('A001');
    const scoreId = outcomeScoreId({ appointmentId: a1, kind: 'offer_answer', ref: '1' });
    // Langfuse stores the score and the response is lost, three times: the SDK's own two retries, then the
    // activity fails and Temporal runs it again.
    lf.failAfterStoring('POST', SCORES, 3);
    await answerOffer(h.client, h.store, a1, { answer: 'accepted', by: 'gateway-sms' });
    await until(
      'a send that succeeds',
      () => sendsOf(lf, scoreId).map((r) => r.status),
      (statuses) => statuses.includes(200),
    );
    expect(sendsOf(lf, scoreId).map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(lf.datasets.scores.filter((s) => s.id === scoreId)).toHaveLength(1);
    expect(lf.datasets.scoresById.get(scoreId)).toMatchObject({
      traceId: await createTraceId(runId),
      stringValue: 'accept',
    });

    // The activity's work run twice more by hand (as a replayed activity would): still one score.
    const scorer = new OutcomeScorer(
      createLangfuseClient({ baseUrl: lf.url, publicKey: lf.publicKey, secretKey: lf.secretKey }),
    );
    const again = { runId, appointmentId: a1, kind: 'offer_answer' as const, ref: '1', value: 'accept' };
    expect(await scorer.send(again)).toEqual({ id: scoreId, traceId: await createTraceId(runId) });
    await scorer.send(again);
    expect(sendsOf(lf, scoreId)).toHaveLength(6);
    expect(lf.datasets.scores.filter((s) => s.id === scoreId)).toHaveLength(1);
    // The configs were found by name, not created again.
    expect(lf.datasets.scoreConfigs).toHaveLength(3);
  });

  test('Langfuse down: the answer is recorded locally at once, the score arrives once Langfuse is back', async () => {
    const { data, id } = seedData();
    await h.reload(data);
    const runId = await seedRun(h, id);
    const a1 = id('A001');
    const scoreId = outcomeScoreId({ appointmentId: a1, kind: 'offer_answer', ref: '1' });
    lf.setDown(true);
    try {
      const answered = await answerOffer(h.client, h.store, a1, {
        answer: 'declined',
        reason: 'on holiday',
        by: 'front-desk',
      });
      expect(answered).toMatchObject({ answer: 'declined' });
      expect((await h.store.offers(a1))[0]).toMatchObject({ status: 'declined', reason: 'on holiday' });
      // Temporal retries the activity: at least two attempts of the SDK's three sends each are refused.
      await until(
        'refused sends',
        () => sendsOf(lf, scoreId).filter((r) => r.status === 503).length,
        (n) => n > 3,
      );
      expect(lf.datasets.scoresById.has(scoreId)).toBe(false);
    } finally {
      lf.setDown(false);
    }
    await until(
      'the score after Langfuse is back',
      () => lf.datasets.scoresById.get(scoreId),
      (s) => s !== undefined,
    );
    expect(lf.datasets.scoresById.get(scoreId)).toMatchObject({
      traceId: await createTraceId(runId),
      stringValue: 'decline',
    });
    expect(lf.datasets.scores.filter((s) => s.id === scoreId)).toHaveLength(1);
  });
});
