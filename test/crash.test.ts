import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { projectRoot } from '../src/config';
import { demoDataset } from '../src/domain/demoData';
import type { Dataset } from '../src/domain/model';
import { SchedulingStore } from '../src/domain/store';
import { mulberry32, syntheticDataset } from '../src/domain/syntheticData';
import { freePort, startDevServer, type DevServer } from '../src/temporal/devServer';
import { approveSignal } from '../src/workflows/contract/signals';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { decisionsOf } from '../src/cli/format';
import { auditStore, startHarness, tempDir, testDataConverter, uniqueName, waitForProgress } from './support/harness';
import { newTestTarget, targetEnv } from './support/testStore';
import { WorkerProcess, type ActivityEvent } from './support/workerProcess';
import { reassignmentWorkflowId } from '../src/workflowIds';

/**
 * The crash suite. The worker runs as its own OS process and is killed with SIGKILL at chosen points (during
 * an LLM call, between a tool call and the next LLM call, amid a turn's parallel tool calls, while waiting
 * for an approval) and at random points; then a new worker process takes over. The Temporal server itself is
 * restarted mid-run too. After each trial the database is checked: every affected appointment in exactly one
 * final state, no slot double-booked, no duplicate notification, and the workflow's result says what the
 * database holds. Figures go to test-results/crash-suite.json; the README's table quotes them.
 */

const RANDOM_TRIALS = Number(process.env.CRASH_TRIALS ?? 20);
const PARALLEL = Number(process.env.CRASH_PARALLEL ?? 4);
const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 1e9));
const SYNTHETIC = 30; // three batches of ten, in parallel
const DATE = '2025-11-21';

type Decisions = Record<string, string>;

interface KillPoint {
  what: string;
  /** Kill at this activity event of the current worker process... */
  onEvent?: (e: ActivityEvent, all: ActivityEvent[], w: WorkerProcess) => boolean;
  /** ...or once this condition on the run holds. */
  when?: (handle: WorkflowHandle) => Promise<void>;
  /** Done while no worker runs (an operator's signal). */
  whileDown?: (handle: WorkflowHandle) => Promise<void>;
}

interface TrialSpec {
  name: string;
  data: 'demo' | 'synthetic';
  label: string;
  kills: KillPoint[];
}

interface TrialReport {
  name: string;
  kills: { what: string; event?: string; resume_ms: number }[];
  duration_ms: number;
  status: string;
  affected: number;
  lost: string[];
  duplicates: string[];
  violations: string[];
  mismatches: string[];
}

let client: Client;
let connection: Connection;
const reports: TrialReport[] = [];
let reference: Decisions;

const datasets: Record<TrialSpec['data'], () => Dataset> = {
  demo: demoDataset,
  synthetic: () => syntheticDataset({ appointments: SYNTHETIC, seed: 11 }),
};
/** The demo under the staging prompt (or production with A002 approved): what an uninterrupted run decides. */
const DEMO_DECISIONS: Decisions = { A001: 'P001', A002: 'P001', A003: 'waitlist' };

/** What the database says about each appointment of the sick provider that day. */
async function inspect(store: SchedulingStore, data: Dataset) {
  const affected = data.appointments.filter((a) => a.provider_id === 'T001' && a.date === DATE).map((a) => a.id);
  const decisions: Decisions = {};
  const lost: string[] = [];
  const duplicates: string[] = [];
  for (const id of affected) {
    const a = (await store.appointment(id))!;
    const record = await store.appointmentRecord(id);
    const assignments = record.assignments.length;
    const waitlisted = record.waitlist.length;
    const notified = record.notifications.length;
    if (assignments + waitlisted === 0) lost.push(id);
    if (assignments + waitlisted > 1)
      duplicates.push(`${id}: ${assignments} assignments, ${waitlisted} waitlist entries`);
    if (notified > 1) duplicates.push(`${id}: ${notified} notifications`);
    if (notified === 0 && assignments + waitlisted === 1) lost.push(`${id} (patient not notified)`);
    decisions[id] = a.status === 'waitlisted' ? 'waitlist' : a.provider_id;
  }
  return { affected, decisions, lost, duplicates };
}

function diff(a: Decisions, b: Decisions, what: string): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => a[k] !== b[k]).map((k) => `${what} ${k}: ${a[k] ?? '-'} vs ${b[k] ?? '-'}`);
}

async function runTrial(spec: TrialSpec): Promise<TrialReport> {
  const dir = tempDir('crash');
  const data = datasets[spec.data]();
  const target = await newTestTarget(dir);
  const seedStore = await SchedulingStore.open(target);
  await seedStore.load(data);
  await seedStore.close();
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TASK_QUEUE: uniqueName('crash-tq'),
    ...targetEnv(target),
    PROMPTS_DIR: path.join(projectRoot, 'prompts'),
    WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
    OFFLINE_MODEL_LATENCY_MS: '100',
    CRASH_TOOL_DELAY_MS: '40',
    LOG_LEVEL: 'ERROR',
  };
  const began = Date.now();
  let worker = await WorkerProcess.start(env);
  const kills: TrialReport['kills'] = [];
  try {
    const handle = await client.workflow.start('promptDrivenReassignment', {
      taskQueue: env.TASK_QUEUE,
      workflowId: reassignmentWorkflowId({
        providerId: 'T001',
        date: DATE,
        tag: `crash-${spec.name.replace(/\W+/g, '-')}`,
        stamp: uniqueName('t'),
      }),
      args: [{ providerId: 'T001', date: DATE, reason: 'crash trial', promptLabel: spec.label }],
    });
    for (const kill of spec.kills) {
      let event: ActivityEvent | undefined;
      const w = worker;
      if (kill.when) await kill.when(handle);
      else event = await w.waitFor((e, all) => kill.onEvent!(e, all, w), 120_000);
      const killedAt = await worker.kill();
      await kill.whileDown?.(handle);
      worker = await WorkerProcess.start(env);
      // Resumed: the new process has finished an activity of this run.
      const first = await worker.waitFor((e) => e.e === 'end', 120_000);
      kills.push({
        what: kill.what,
        event: event && `${event.e} ${event.type}${event.detail ? ` ${event.detail}` : ''}`,
        resume_ms: first.t - killedAt,
      });
    }
    const result = (await handle.result()) as ReassignmentResult;
    await worker.stop();
    const store = await SchedulingStore.open(target);
    try {
      const seen = await inspect(store, data);
      const expected = spec.data === 'demo' ? DEMO_DECISIONS : reference;
      return {
        name: spec.name,
        kills,
        duration_ms: Date.now() - began,
        status: result.status,
        affected: seen.affected.length,
        lost: seen.lost,
        duplicates: seen.duplicates,
        violations: await auditStore(store),
        mismatches: [
          ...diff(decisionsOf(result), seen.decisions, 'result vs database'),
          ...(expected ? diff(seen.decisions, expected, 'database vs uninterrupted run') : []),
        ],
      };
    } finally {
      await store.close();
    }
  } finally {
    await worker.stop();
  }
}

// ---------------------------------------------------------------- kill points

const nth = (type: string, edge: 'start' | 'end', n: number) => (e: ActivityEvent, all: ActivityEvent[]) =>
  e.e === edge && e.type === type && all.filter((x) => x.e === edge && x.type === type).length === n;

const namedTrials: TrialSpec[] = [
  {
    name: 'during an LLM call',
    data: 'demo',
    label: 'staging',
    kills: [{ what: 'during an LLM call', onEvent: nth('chatCompletion', 'start', 2) }],
  },
  {
    name: 'between a tool call and the next LLM call',
    data: 'demo',
    label: 'staging',
    // The last tool call of a turn has ended: nothing runs until the next LLM call is scheduled.
    kills: [
      {
        what: 'between a tool call and the next LLM call',
        onEvent: (e, all, w) =>
          e.e === 'end' &&
          (e.type === 'callTool' || e.type === 'callTools') &&
          w.inFlight(undefined, all.length) === 0 &&
          all.some((x) => x.type === 'chatCompletion' && x.e === 'end'),
      },
    ],
  },
  {
    name: 'amid parallel tool calls',
    data: 'demo',
    label: 'staging',
    kills: [
      {
        // A turn's calls run in one activity: killed once its writes are made and before it completes.
        what: "amid a turn's tool calls (written, not yet completed)",
        onEvent: (e) => e.e === 'written' && e.type === 'callTools' && /assign_appointment/.test(e.detail ?? ''),
      },
    ],
  },
  {
    name: 'while waiting for approval',
    data: 'demo',
    label: 'production',
    kills: [
      {
        what: 'while waiting for an approval (approved while no worker runs)',
        when: async (handle: WorkflowHandle) =>
          void (await waitForProgress(handle, (p) => p.pending_approvals.length > 0, 60_000)),
        whileDown: (handle) =>
          handle.signal(approveSignal, { appointmentId: 'A002', by: 'operator during the outage' }),
      },
    ],
  },
  {
    name: 'twice in one run',
    data: 'synthetic',
    label: 'staging',
    kills: [
      { what: 'during an LLM call', onEvent: nth('chatCompletion', 'start', 3) },
      { what: "amid a turn's tool calls", onEvent: nth('callTools', 'start', 5) },
    ],
  },
];

function randomTrials(total: number): TrialSpec[] {
  const rand = mulberry32(SEED);
  return Array.from({ length: RANDOM_TRIALS }, (_, i) => {
    const killCount = rand() < 0.3 ? 2 : 1;
    const kills: KillPoint[] = Array.from({ length: killCount }, () => {
      // An index into the new process's own stream of activity events (it restarts counting after a kill).
      // Up to 90% of an uninterrupted run's events (divided among the kills), so each kill point is reached.
      const k = 1 + Math.floor(rand() * Math.max(1, Math.floor((0.9 * total) / killCount) - 1));
      return {
        what: `at random activity event #${k}`,
        onEvent: (_e: ActivityEvent, all: ActivityEvent[]) => all.filter((x) => x.e !== 'ready').length === k,
      };
    });
    return { name: `random #${i + 1}`, data: 'synthetic' as const, label: 'staging', kills };
  });
}

async function inBatches<T, R>(items: T[], size: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

const ALL_NAMES = [
  ...namedTrials.map((t) => t.name),
  ...Array.from({ length: RANDOM_TRIALS }, (_, i) => `random #${i + 1}`),
];

describe(`crash suite (seed ${SEED})`, () => {
  beforeAll(async () => {
    connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
    client = new Client({ connection, dataConverter: testDataConverter() });
    // An uninterrupted run in a worker process: the decisions every crashed run must reach, and its event count.
    const probe = await runTrialCountingEvents();
    reference = probe.decisions;
    const specs = [...namedTrials, ...randomTrials(probe.events)];
    reports.push(...(await inBatches(specs, PARALLEL, runTrial)));
  }, 20 * 60_000);

  afterAll(async () => {
    await connection?.close();
    const resume = reports.flatMap((r) => r.kills.map((k) => k.resume_ms)).sort((a, b) => a - b);
    const summary = {
      seed: SEED,
      trials: reports.length,
      kills: resume.length,
      duplicates: reports.reduce((n, r) => n + r.duplicates.length, 0),
      lost: reports.reduce((n, r) => n + r.lost.length, 0),
      violations: reports.reduce((n, r) => n + r.violations.length, 0),
      resume_ms: { min: resume[0], median: resume[Math.floor(resume.length / 2)], max: resume[resume.length - 1] },
      trials_detail: reports,
    };
    fs.mkdirSync(path.join(projectRoot, 'test-results'), { recursive: true });
    fs.writeFileSync(path.join(projectRoot, 'test-results', 'crash-suite.json'), JSON.stringify(summary, null, 2));
    process.stdout.write(
      `\ncrash suite: ${summary.trials} trials, ${summary.kills} kills (seed ${SEED}): ${summary.duplicates} duplicates, ${summary.lost} lost, ${summary.violations} violations; resume after kill ${summary.resume_ms.min}–${summary.resume_ms.max} ms (median ${summary.resume_ms.median})\n`,
    );
  });

  test(`at least 20 random-point trials ran, each with a kill`, () => {
    const random = reports.filter((r) => r.name.startsWith('random'));
    expect(random.length).toBeGreaterThanOrEqual(Math.min(20, RANDOM_TRIALS));
    expect(random.every((r) => r.kills.length >= 1)).toBe(true);
  });

  test.each(ALL_NAMES)('%s: nothing lost, nothing doubled, the result agrees with the database', (name) => {
    const r = reports.find((x) => x.name === name)!;
    expect(r).toBeDefined();
    expect(r.status).toBe('completed');
    expect(r.lost).toEqual([]);
    expect(r.duplicates).toEqual([]);
    expect(r.violations).toEqual([]);
    expect(r.mismatches).toEqual([]);
    expect(r.kills.length).toBeGreaterThanOrEqual(1);
  });
});

/** The reference run: no kill. */
async function runTrialCountingEvents(): Promise<{ decisions: Decisions; events: number }> {
  const dir = tempDir('crash-ref');
  const data = datasets.synthetic();
  const target = await newTestTarget(dir);
  const s = await SchedulingStore.open(target);
  await s.load(data);
  await s.close();
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TASK_QUEUE: uniqueName('crash-ref'),
    ...targetEnv(target),
    PROMPTS_DIR: path.join(projectRoot, 'prompts'),
    WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
    LOG_LEVEL: 'ERROR',
  };
  const worker = await WorkerProcess.start(env);
  try {
    const handle = await client.workflow.start('promptDrivenReassignment', {
      taskQueue: env.TASK_QUEUE,
      workflowId: reassignmentWorkflowId({
        providerId: 'T001',
        date: DATE,
        tag: 'crash-reference',
        stamp: uniqueName('t'),
      }),
      args: [{ providerId: 'T001', date: DATE, reason: 'reference', promptLabel: 'staging' }],
    });
    const result = (await handle.result()) as ReassignmentResult;
    expect(result.status).toBe('completed');
    const store = await SchedulingStore.open(target);
    try {
      return {
        decisions: (await inspect(store, data)).decisions,
        events: worker.events.filter((e) => e.e !== 'ready').length,
      };
    } finally {
      await store.close();
    }
  } finally {
    await worker.stop();
  }
}

test('a run survives a restart of the Temporal server in the middle of its LLM calls', async () => {
  const dbFile = path.join(tempDir('restart-mid-run'), 'temporal.db');
  const port = await freePort();
  let server: DevServer = await startDevServer({ dbFile, port });
  const data = syntheticDataset({ appointments: SYNTHETIC, seed: 11 });
  // A second per answer keeps the batches' conversations going while the server goes down.
  const h = await startHarness({ address: server.address, data, env: { OFFLINE_MODEL_LATENCY_MS: '1000' } });
  try {
    const handle = await h.start('promptDrivenReassignment', {
      providerId: 'T001',
      date: DATE,
      reason: 'sick',
      promptLabel: 'staging',
    });
    await waitForProgress(handle, (p) => p.phase === 'reassigning' && p.batches.running > 0, 60_000);
    await server.stop();
    server = await startDevServer({ dbFile, port });
    const result: ReassignmentResult = await handle.result();
    const seen = await inspect(h.store, data);
    expect(result.status).toBe('completed');
    expect(seen.lost).toEqual([]);
    expect(seen.duplicates).toEqual([]);
    expect(await auditStore(h.store)).toEqual([]);
    expect(diff(decisionsOf(result), seen.decisions, 'result vs database')).toEqual([]);
    expect(result.total_affected).toBe(SYNTHETIC);
  } finally {
    await h.close();
    await server.stop();
  }
}, 240_000);
