import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { PathRow, ReportRow } from '../src/cli/report';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { demoDataset } from '../src/domain/demoData';
import { answerOffer, rateVisit } from '../src/temporal/followUps';
import { approveSignal } from '../src/workflows/contract/signals';
import { startHarness, storeEnv, tempDir, untilVisible, waitForProgress, type Harness } from './support/harness';
import { cliJson, runCli } from './support/processes';
import { seedInput } from './support/seed';
import { until } from './support/until';

/**
 * `report` with outcomes: the seed example run for real (Temporal dev server, worker, SQLite), patients answer,
 * a declined slot is re-offered by a re-offer run, and the CLI's report shows the figures from the database.
 * Never queries the follow-up workflow (see test/outcomes.test.ts): the re-offer run is a reassignment run.
 */

/** A run's result, once it has been started (a child the follow-up starts in a moment). */
async function resultOf(h: Harness, workflowId: string): Promise<ReassignmentResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await h.client.workflow.getHandle(workflowId).result()) as ReassignmentResult;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || attempt > 300) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('report on outcomes', () => {
  let h: Harness;
  const prefix = `R${Date.now().toString(36).toUpperCase().slice(-6)}-`;
  const id = (seedId: string) => `${prefix}${seedId}`;
  beforeAll(async () => {
    h = await startHarness({ env: { PATIENT_FOLLOW_UP: 'on', PATIENT_RESPONSE_HOURS: '1', MAX_OFFERS: '1' } });
    const data = demoDataset();
    // Appointment ids of this file only: a follow-up's workflow id is its appointment's.
    data.appointments = data.appointments.map((a) => ({ ...a, id: id(a.id) }));
    // A second choice for A002 (a good match, below P001's): a declined offer has somewhere to go.
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
    await h.reload(data);
  });
  afterAll(() => h?.close());

  test('each row gains the offers, answers, acceptance with its 95% interval and n, satisfaction and n, escalations and offers per appointment of its runs, re-offer runs included', async () => {
    const handle = await h.start('promptDrivenReassignment', seedInput);
    await waitForProgress(handle, (p) => p.pending_approvals.length > 0);
    await handle.signal(approveSignal, { appointmentId: id('A002'), by: 'dr-lead' });
    await handle.result();
    const [a1, a2] = [id('A001'), id('A002')];

    await answerOffer(h.client, h.store, a1, { answer: 'accepted', by: 'gateway-sms' });
    await rateVisit(h.client, h.store, a1, { score: 4, by: 'front-desk' });
    await answerOffer(h.client, h.store, a2, { answer: 'declined', by: 'front-desk' });
    // The re-offer run (a reassignment run with the first run's pinned prompts) decides A002 again.
    const reofferId = `${(await h.store.offers(a2))[0]!.follow_up_id}-reoffer-1`;
    await waitForProgress(h.client.workflow.getHandle(reofferId), (p) => p.pending_approvals.length > 0, 60_000);
    await h.client.workflow.getHandle(reofferId).signal(approveSignal, { appointmentId: a2, by: 'dr-lead' });
    const reoffer = await resultOf(h, reofferId);
    expect(reoffer).toMatchObject({ workflow_id: reofferId, total_affected: 1 });
    await until(
      'the satisfaction score',
      () => h.store.satisfactionOf(a1),
      (s) => s !== undefined,
    );

    const temporal = { TEMPORAL_ADDRESS: h.address, TASK_QUEUE: h.taskQueue };
    const env = { ...temporal, ...storeEnv(h.store) };
    const rows = await untilVisible(
      () => cliJson<ReportRow[]>(['report'], env),
      (found) => found.reduce((n, r) => n + r.runs, 0) === 2,
    );
    // One row: the re-offer run pinned the first run's prompt version, so it counts in the same row.
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ prompt: 'healthcare-orchestrator', runs: 2, appointments: 4 });
    // The seed run waitlisted A003, whose appointment is past: a head of department sees it.
    expect((await h.store.escalations()).map((e) => [e.kind, e.appointment_id, e.run_id])).toEqual([
      ['waitlisted_soon', id('A003'), handle.workflowId],
    ]);
    // A002's second offer (P004, by the re-offer run) is still open: not in the acceptance rate.
    expect((await h.store.offers(a2)).map((o) => [o.provider_id, o.status, o.run_id])).toEqual([
      ['P001', 'declined', handle.workflowId],
      ['P004', 'open', reofferId],
    ]);
    expect(row.outcomes).toEqual({
      offered_appointments: 2,
      offers: 3,
      accepted: 1,
      declined: 1,
      no_answer: 0,
      open: 1,
      answered: 2,
      acceptance_rate: 0.5,
      // Wilson, 1 out of 2: wide, as a sample of two should be.
      acceptance_ci95: [0.0945, 0.9055],
      satisfaction_mean: 4,
      satisfaction_count: 1,
      // One escalation over the row's 4 appointments (3 of the run, 1 of the re-offer run).
      escalations: 1,
      escalations_per_100: 25,
      offers_per_offered_appointment: 1.5,
    });
    // Per path the same runs are one prompt-driven row with the same outcomes.
    const paths = await cliJson<PathRow[]>(['report', '--by', 'path'], env);
    expect(paths.map((p) => [p.path, p.outcomes])).toEqual([['prompt', row.outcomes]]);

    // The table shows the small sample as small: the rate, its interval and the count it is over.
    const { stdout } = await runCli(['report'], env);
    expect(stdout).toMatch(/^outcomes \(patients' answers/m);
    expect(stdout).toMatch(
      /^prompt\s+version\s+arm\s+offered\s+offers\s+accepted\s+declined\s+no answer\s+open\s+accept rate\s+95% CI\s+n\s+satisfaction\s+n\s+escalations/m,
    );
    expect(stdout).toMatch(
      /^healthcare-orchestrator\s+v\d+\s+-\s+2\s+3\s+1\s+1\s+0\s+1\s+50\.0%\s+\[9\.4-90\.5%\]\s+2\s+4\.00\s+1\s+1\s+25\.0\s+1\.50$/m,
    );

    // Without the database on this machine the report has the runs' figures only, and says nothing wrong.
    const absent = path.join(tempDir('absent'), 'scheduling.db');
    const bare = await cliJson<ReportRow[]>(['report'], { ...temporal, DB_PATH: absent });
    expect(bare[0]).toMatchObject({ runs: 2, appointments: 4 });
    expect(bare[0]!.outcomes).toBeUndefined();
  });
});
