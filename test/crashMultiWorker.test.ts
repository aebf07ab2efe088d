import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { projectRoot } from '../src/config';
import { decisionsOf } from '../src/cli/format';
import { SchedulingStore } from '../src/domain/store';
import { mulberry32, syntheticDataset } from '../src/domain/syntheticData';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { reassignmentWorkflowId } from '../src/workflowIds';
import { auditStore, tempDir, testDataConverter, uniqueName } from './support/harness';
import { createTestDatabase } from './support/testStore';
import { WorkerProcess } from './support/workerProcess';

/**
 * Several workers, one database (issue 21). Three worker processes poll one task queue and share one PostgreSQL
 * database. In each trial two runs for the same provider and day start at once (they compete for the same
 * appointments and the same free slots), each is started a second time with its workflow id (a duplicate start,
 * refused by Temporal), and while they run a worker chosen at random is killed with SIGKILL at a random moment and
 * started again, over and over. Afterwards: every affected appointment in exactly one final state, never two
 * bookings of one slot, exactly one notification per decision, each run's result agreeing with the database, and
 * the audit clean. Figures go to test-results/multi-worker-crash.json; docs/reliability.md quotes them.
 */

const TRIALS = Number(process.env.MULTI_WORKER_TRIALS ?? 3);
/** Kills per trial at most: each kill of a worker holding an activity costs the run its 10 s timeout. */
const MAX_KILLS = 5;
const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 1e9));
const WORKERS = 3;
const APPOINTMENTS = 40;
const DATE = '2025-11-21';

interface TrialReport {
  trial: number;
  kills: number;
  /** From each kill to its replacement's being ready. */
  restarts_ms: number[];
  duplicate_starts_refused: number;
  duration_ms: number;
  statuses: string[];
  affected: number;
  decided: number;
  double_bookings: number;
  lost: string[];
  duplicates: string[];
  mismatches: string[];
  violations: string[];
}

let connection: Connection;
let client: Client;
const reports: TrialReport[] = [];

async function trial(n: number, rand: () => number): Promise<TrialReport> {
  const url = await createTestDatabase(`multi${n}`);
  const data = syntheticDataset({ appointments: APPOINTMENTS, seed: 11 });
  const seed = await SchedulingStore.open({ kind: 'postgres', url });
  await seed.load(data);
  await seed.close();
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TASK_QUEUE: uniqueName('multi-tq'),
    DATABASE_URL: url,
    DB_PATH: path.join(tempDir('multi-unused'), 'never.db'),
    PROMPTS_DIR: path.join(projectRoot, 'prompts'),
    WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
    OFFLINE_MODEL_LATENCY_MS: '100',
    CRASH_TOOL_DELAY_MS: '40',
    PG_POOL_SIZE: '4',
    LOG_LEVEL: 'ERROR',
  };
  const began = Date.now();
  const workers: (WorkerProcess | undefined)[] = await Promise.all(
    Array.from({ length: WORKERS }, () => WorkerProcess.start(env)),
  );
  const restarts: number[] = [];
  const starting: Promise<void>[] = [];
  let duplicateRefused = 0;
  try {
    const ids = ['a', 'b'].map((tag) =>
      reassignmentWorkflowId({ providerId: 'T001', date: DATE, tag: `multi-${tag}`, stamp: uniqueName('t') }),
    );
    const start = (workflowId: string) =>
      client.workflow.start('promptDrivenReassignment', {
        taskQueue: env.TASK_QUEUE,
        workflowId,
        args: [{ providerId: 'T001', date: DATE, reason: 'multi-worker trial', promptLabel: 'staging' }],
      });
    const handles: WorkflowHandle[] = await Promise.all(ids.map(start));
    // The same request again (a retried start): Temporal refuses a second run with the same workflow id.
    for (const id of ids)
      await start(id).then(
        () => undefined,
        (err: unknown) => {
          if (err instanceof WorkflowExecutionAlreadyStartedError) duplicateRefused += 1;
          else throw err;
        },
      );
    let settled = false;
    const results = Promise.all(handles.map((h) => h.result() as Promise<ReassignmentResult>)).finally(
      () => (settled = true),
    );
    // Kill a random live worker at a random moment and start a new one in its place (it takes a few seconds to
    // start: meanwhile the others go on, and may be killed too), until both runs are over.
    while (!settled) {
      // The first kill early (a run can be over in seconds), the next ones a few seconds apart.
      const pause = starting.length === 0 ? 200 + rand() * 800 : 1000 + rand() * 3000;
      await Promise.race([results.catch(() => undefined), new Promise((r) => setTimeout(r, pause))]);
      if (settled) break;
      if (starting.length >= MAX_KILLS) continue;
      const alive = workers.flatMap((w, i) => (w ? [i] : []));
      if (alive.length === 0) continue;
      const i = alive[Math.floor(rand() * alive.length)]!;
      const killedAt = await workers[i]!.kill();
      workers[i] = undefined;
      starting.push(
        WorkerProcess.start(env).then((w) => {
          workers[i] = w;
          restarts.push(Date.now() - killedAt);
        }),
      );
    }
    const done = await results;
    await Promise.all(starting);
    const store = await SchedulingStore.open({ kind: 'postgres', url });
    try {
      const affected = data.appointments.filter((a) => a.provider_id === 'T001' && a.date === DATE).map((a) => a.id);
      const lost: string[] = [];
      const duplicates: string[] = [];
      const inDatabase: Record<string, string> = {};
      for (const id of affected) {
        const a = (await store.appointment(id))!;
        const r = await store.appointmentRecord(id);
        const outcomes = r.assignments.length + r.waitlist.length;
        if (outcomes === 0) lost.push(id);
        if (outcomes > 1)
          duplicates.push(`${id}: ${r.assignments.length} assignments, ${r.waitlist.length} waitlisted`);
        if (r.notifications.length !== outcomes)
          duplicates.push(`${id}: ${r.notifications.length} notifications for ${outcomes} decision(s)`);
        inDatabase[id] = a.status === 'waitlisted' ? 'waitlist' : a.provider_id;
      }
      const violations = await auditStore(store);
      const mismatches = done.flatMap((result) =>
        Object.entries(decisionsOf(result))
          .filter(([id, d]) => inDatabase[id] !== d)
          .map(([id, d]) => `${result.workflow_id} says ${id} → ${d}, the database ${inDatabase[id]}`),
      );
      return {
        trial: n,
        kills: restarts.length,
        restarts_ms: restarts,
        duplicate_starts_refused: duplicateRefused,
        duration_ms: Date.now() - began,
        statuses: done.map((r) => r.status),
        affected: affected.length,
        decided: affected.length - lost.length,
        double_bookings: violations.filter((v) => v.startsWith('slot double-booked')).length,
        lost,
        duplicates,
        mismatches,
        violations,
      };
    } finally {
      await store.close();
    }
  } finally {
    await Promise.allSettled(starting);
    await Promise.all(workers.map((w) => w?.stop()));
  }
}

describe(`${WORKERS} worker processes on one PostgreSQL database, killed at random (seed ${SEED})`, () => {
  beforeAll(async () => {
    connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
    client = new Client({ connection, dataConverter: testDataConverter() });
    const rand = mulberry32(SEED);
    for (let i = 1; i <= TRIALS; i++) reports.push(await trial(i, rand));
  }, 30 * 60_000);

  afterAll(async () => {
    await connection?.close();
    const restarts = reports.flatMap((r) => r.restarts_ms).sort((a, b) => a - b);
    const summary = {
      seed: SEED,
      workers: WORKERS,
      trials: reports.length,
      runs: reports.reduce((n, r) => n + r.statuses.length, 0),
      appointments: reports.reduce((n, r) => n + r.affected, 0),
      kills: restarts.length,
      duplicate_starts_refused: reports.reduce((n, r) => n + r.duplicate_starts_refused, 0),
      double_bookings: reports.reduce((n, r) => n + r.double_bookings, 0),
      lost: reports.reduce((n, r) => n + r.lost.length, 0),
      duplicates: reports.reduce((n, r) => n + r.duplicates.length, 0),
      violations: reports.reduce((n, r) => n + r.violations.length, 0),
      worker_restart_ms: {
        min: restarts[0],
        median: restarts[Math.floor(restarts.length / 2)],
        max: restarts[restarts.length - 1],
      },
      trials_detail: reports,
    };
    fs.mkdirSync(path.join(projectRoot, 'test-results'), { recursive: true });
    fs.writeFileSync(
      path.join(projectRoot, 'test-results', 'multi-worker-crash.json'),
      JSON.stringify(summary, null, 2),
    );
    process.stdout.write(
      `\nmulti-worker crash trial: ${summary.trials} trials, ${summary.runs} runs, ${summary.appointments} appointments, ${summary.kills} kills of ${WORKERS} workers (seed ${SEED}), ${summary.duplicate_starts_refused} duplicate starts refused: ${summary.double_bookings} double bookings, ${summary.lost} lost, ${summary.duplicates} duplicates, ${summary.violations} violations\n`,
    );
  });

  test('every trial killed workers and refused the duplicate starts', () => {
    expect(reports).toHaveLength(TRIALS);
    for (const r of reports) {
      expect(r.kills).toBeGreaterThanOrEqual(1);
      expect(r.duplicate_starts_refused).toBe(2);
    }
  });

  test('both competing runs completed in every trial, and together decided every appointment', () => {
    for (const r of reports) {
      expect(r.statuses).toEqual(['completed', 'completed']);
      expect(r.decided).toBe(APPOINTMENTS);
    }
  });

  test('0 double bookings, 0 lost, exactly one notification per decision, results agree, audit clean', () => {
    for (const r of reports) {
      expect(r.double_bookings).toBe(0);
      expect(r.lost).toEqual([]);
      expect(r.duplicates).toEqual([]);
      expect(r.mismatches).toEqual([]);
      expect(r.violations).toEqual([]);
    }
  });
});
