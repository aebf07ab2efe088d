import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { projectRoot } from '../src/config';
import { mulberry32, syntheticDataset } from '../src/domain/syntheticData';
import { cancelSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { auditStore, startHarness, waitForProgress, type Harness } from './support/harness';

/**
 * The crash suite's cancel trials (issue 23.4): 200-appointment runs cancelled at random points across the
 * whole run (at once, while batches finish, after the last batch, while an approval waits), by the cancel
 * signal and by Temporal's own cancellation. Each run must reach a terminal state, every decided appointment
 * must have exactly one notification, the run's record must be closed, and what it left undecided must be
 * listed in its result and in the store. Figures go to test-results/cancel-trials.json.
 */

const TRIALS = Number(process.env.CANCEL_TRIALS ?? 12);
const SEED = Number(process.env.CANCEL_SEED ?? Math.floor(Math.random() * 1e9));
const APPOINTMENTS = 200;
const DATE = '2025-11-21';

type Point = 'at once' | 'while batches finish' | 'after the last batch' | 'while an approval waits';
type Path = 'signal' | 'temporal';

interface TrialReport {
  trial: number;
  point: Point;
  path: Path;
  /** Decided rows in the store when the cancel was sent. */
  decided_at_cancel: number;
  /** The cancel arrived after the run had completed (possible only after the last batch). */
  too_late: boolean;
  status: string;
  /** From the cancel to the run's end. */
  end_ms: number;
  decided: number;
  undecided: number;
  problems: string[];
}

const POINTS: Point[] = ['at once', 'while batches finish', 'after the last batch', 'while an approval waits'];

function plan(trials: number): { point: Point; path: Path; threshold: number }[] {
  const rand = mulberry32(SEED);
  return Array.from({ length: trials }, (_, i) => ({
    // Every point is visited (round robin), by both paths; where "while batches finish" cancels is random.
    point: POINTS[i % POINTS.length]!,
    path: (Math.floor(i / POINTS.length) + i) % 2 === 0 ? 'signal' : 'temporal',
    threshold: 10 + Math.floor(rand() * (APPOINTMENTS - 30)),
  }));
}

const reports: TrialReport[] = [];

describe(`cancel trials (seed ${SEED})`, () => {
  let h: Harness;
  const data = syntheticDataset({ appointments: APPOINTMENTS, seed: 17 });

  const decidedRows = async () => {
    const c = await h.store.counts();
    return c.assignments! + c.waitlist!;
  };

  async function until(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!(await done())) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  async function cancel(handle: WorkflowHandle, how: Path): Promise<boolean> {
    try {
      if (how === 'signal') await handle.signal(cancelSignal, { reason: 'cancel trial' });
      else await handle.cancel();
      return true;
    } catch {
      return false; // the run had completed already: nothing to cancel
    }
  }

  async function runTrial(trial: number, spec: ReturnType<typeof plan>[number]): Promise<TrialReport> {
    await h.reload(data);
    const label = spec.point === 'while an approval waits' ? 'production' : 'staging';
    const handle = await h.start('promptDrivenReassignment', {
      providerId: 'T001',
      date: DATE,
      reason: 'cancel trial',
      promptLabel: label,
    });
    if (spec.point === 'while batches finish') await until(async () => (await decidedRows()) >= spec.threshold, 60_000);
    if (spec.point === 'after the last batch') await until(async () => (await decidedRows()) >= APPOINTMENTS, 60_000);
    if (spec.point === 'while an approval waits')
      await waitForProgress(handle, (p) => p.pending_approvals.length > 0, 60_000);
    const decidedAtCancel = await decidedRows();
    const sent = Date.now();
    const delivered = await cancel(handle, spec.path);
    const problems: string[] = [];
    const result = await Promise.race([
      handle.result() as Promise<ReassignmentResult>,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 60_000)),
    ]).catch((err: unknown) => {
      problems.push(`the run failed: ${String(err)}`);
      return undefined;
    });
    const endMs = Date.now() - sent;
    if (!result) {
      if (problems.length === 0) problems.push('no terminal state within 60 s');
      await handle.terminate('cancel trial: stuck').catch(() => undefined);
      return report(trial, spec, decidedAtCancel, !delivered, 'stuck', endMs, 0, 0, problems);
    }
    const status = (await handle.describe()).status.name;
    if (status !== 'COMPLETED') problems.push(`workflow ${status}`);
    if (result.status !== 'cancelled' && !(spec.point === 'after the last batch' && result.status === 'completed'))
      problems.push(`result status ${result.status}`);

    // Every decided appointment once, told once; every other one listed as undecided, in the result and the store.
    const affected = data.appointments.map((a) => a.id);
    const listed = new Set(result.undecided.map((u) => u.appointment_id));
    const stored = new Set(await h.store.runUndecided(handle.workflowId));
    let decided = 0;
    for (const id of affected) {
      const record = await h.store.appointmentRecord(id);
      const outcomes = record.assignments.length + record.waitlist.length;
      if (outcomes > 1) problems.push(`${id}: ${outcomes} outcomes`);
      if (outcomes === 1) {
        decided += 1;
        if (record.notifications.length !== 1) problems.push(`${id}: ${record.notifications.length} notifications`);
      } else {
        if (!listed.has(id)) problems.push(`${id}: undecided but not in the result's undecided list`);
        if (!stored.has(id)) problems.push(`${id}: undecided but not recorded as the run's undecided`);
      }
    }
    const decidedInResult = result.assignments.length + result.waitlisted.length;
    if (decidedInResult !== decided) problems.push(`result says ${decidedInResult} decided, the store ${decided}`);
    const run = await h.store.runRecord(handle.workflowId);
    if (!run || run.status === 'running' || !run.finished_at) problems.push(`run record ${JSON.stringify(run)}`);
    else if (run.status !== result.status) problems.push(`run record ${run.status}, result ${result.status}`);
    const open = await h.store.openApprovalRequests(handle.workflowId);
    if (open !== 0) problems.push(`${open} approval request(s) still open`);
    problems.push(...(await auditStore(h.store)));
    return report(
      trial,
      spec,
      decidedAtCancel,
      !delivered,
      result.status,
      endMs,
      decided,
      affected.length - decided,
      problems,
    );
  }

  function report(
    trial: number,
    spec: ReturnType<typeof plan>[number],
    decidedAtCancel: number,
    tooLate: boolean,
    status: string,
    endMs: number,
    decided: number,
    undecided: number,
    problems: string[],
  ): TrialReport {
    return {
      trial,
      point: spec.point,
      path: spec.path,
      decided_at_cancel: decidedAtCancel,
      too_late: tooLate,
      status,
      end_ms: endMs,
      decided,
      undecided,
      problems,
    };
  }

  beforeAll(async () => {
    // A little model latency spreads a run over a few seconds, so cancels land while batches run and finish.
    h = await startHarness({ data, env: { OFFLINE_MODEL_LATENCY_MS: '40' } });
    const specs = plan(TRIALS);
    for (let i = 0; i < specs.length; i++) reports.push(await runTrial(i + 1, specs[i]!));
  }, 20 * 60_000);

  afterAll(async () => {
    await h?.close();
    const ends = reports.map((r) => r.end_ms).sort((a, b) => a - b);
    const summary = {
      seed: SEED,
      trials: reports.length,
      cancels_delivered: reports.filter((r) => !r.too_late).length,
      by_point: Object.fromEntries(POINTS.map((p) => [p, reports.filter((r) => r.point === p).length])),
      by_path: {
        signal: reports.filter((r) => r.path === 'signal').length,
        temporal: reports.filter((r) => r.path === 'temporal').length,
      },
      failed_or_stuck: reports.filter((r) => r.problems.length > 0).length,
      end_ms: { min: ends[0], median: ends[Math.floor(ends.length / 2)], max: ends[ends.length - 1] },
      trials_detail: reports,
    };
    fs.mkdirSync(path.join(projectRoot, 'test-results'), { recursive: true });
    fs.writeFileSync(path.join(projectRoot, 'test-results', 'cancel-trials.json'), JSON.stringify(summary, null, 2));
    process.stdout.write(
      `\ncancel trials: ${summary.trials} runs of ${APPOINTMENTS}, ${summary.cancels_delivered} cancels delivered (seed ${SEED}), ${summary.failed_or_stuck} failed or stuck; cancel to end ${summary.end_ms.min}–${summary.end_ms.max} ms (median ${summary.end_ms.median})\n`,
    );
  });

  test('at least 10 cancels reached a running run, at every point and by both paths', () => {
    expect(reports.filter((r) => !r.too_late).length).toBeGreaterThanOrEqual(Math.min(10, TRIALS - 3));
    for (const point of POINTS) expect(reports.some((r) => r.point === point)).toBe(true);
    for (const how of ['signal', 'temporal'] as const)
      expect(reports.some((r) => r.path === how && !r.too_late)).toBe(true);
  });

  test('the cancel arrived mid-run: some trials cancelled with appointments decided and others still undecided', () => {
    expect(reports.some((r) => r.status === 'cancelled' && r.decided > 0 && r.undecided > 0)).toBe(true);
  });

  test.each(Array.from({ length: TRIALS }, (_, i) => i + 1))(
    'trial %i: a terminal state, one notification per decision, the run record closed, the undecided listed',
    (trial) => {
      const r = reports.find((x) => x.trial === trial)!;
      expect(r).toBeDefined();
      expect(r.problems).toEqual([]);
    },
  );
});
