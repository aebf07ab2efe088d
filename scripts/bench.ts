import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Command, InvalidArgumentError } from 'commander';
import {
  machine,
  ratios,
  table,
  verdicts,
  type CodecFigures,
  type LatencyFigures,
  type StoreRow,
} from '../src/bench/analysis';
import { benchBatching, writeBenchPrompts } from '../src/bench/prompts';
import { countViolations, historyStats, measureReassignment, TARGETS, type Measurement } from '../src/bench/measure';
import { loadConfig, projectRoot } from '../src/config';
import { dataConverterFor } from '../src/temporal/dataConverter';
import { asTarget, targetEnv, type DatabaseTarget } from '../src/db/open';
import { startPostgres } from '../src/db/postgresServer';
import { redactUrl } from '../src/db/sql';
import { SchedulingStore } from '../src/domain/store';
import { syntheticDataset, syntheticDays } from '../src/domain/syntheticData';
import { findTemporalCli, temporalCliVersion } from '../src/temporal/cliBinary';
import { startDevServer } from '../src/temporal/devServer';
import { bundleWorkflows } from '../src/temporal/workflowBundle';
import { writePerformanceDoc } from './performanceDoc';
import type { Mode } from '../src/workflows/contract/types';
import { idStamp, reassignmentWorkflowId } from '../src/workflowIds';

/**
 * npm run bench: what a reassignment costs and how it scales, measured the same way every time, against one
 * Temporal dev server. A benchmark, not a test: it reports timings and never fails on a slow machine (only
 * --check fails, and only on the counts that do not depend on machine speed).
 */

interface Options {
  sizes: number[];
  modes: Mode[];
  latencyMs: number;
  latencyN: number;
  floor: number;
  codecN: number;
  out: string;
  quick?: boolean;
  check?: boolean;
  batchSize?: number;
  parallel?: number;
  seed: number;
  /** The stores of the "several workers, one database" section (SQLite always beside PostgreSQL); none: no section. */
  store?: ('sqlite' | 'postgres')[];
  workers: number[];
  storeN: number;
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
};
const intList = (v: string) => v.split(',').map((x) => positiveInt(x.trim()));
const storeList = (v: string) => {
  const stores = v.split(',').map((x) => x.trim());
  if (!stores.every((x) => x === 'sqlite' || x === 'postgres'))
    throw new InvalidArgumentError('stores are sqlite and postgres');
  return stores as ('sqlite' | 'postgres')[];
};
const workerList = (v: string) => {
  const list = intList(v);
  if (list.some((w) => w < 1 || w > 8)) throw new InvalidArgumentError('from 1 to 8 workers');
  return list;
};
const modeList = (v: string) => {
  const modes = v.split(',').map((x) => x.trim());
  if (!modes.every((m) => m === 'prompt' || m === 'code')) throw new InvalidArgumentError('modes are prompt and code');
  return modes as Mode[];
};

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

interface WorkerProcess {
  taskQueue: string;
  /** Stops it; its peak memory. */
  stop(): Promise<number | undefined>;
  /** Its store's queries and time in the database, once it has stopped. */
  sql?: { roundTrips: number; timeMs: number };
}

async function main(opts: Options): Promise<number> {
  if (opts.quick) Object.assign(opts, { sizes: [10, 100], modes: ['prompt'], latencyMs: 0, floor: 0, codecN: 0 });
  const began = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-bench-'));
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(`bench: working in ${dir}`);
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.db'), startTimeoutMs: 120_000 });
  const connection = await Connection.connect({ address: server.address });
  // The workers inherit this environment, so they encrypt with the keyring this client reads.
  const client = new Client({ connection, dataConverter: dataConverterFor(loadConfig()) });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  const bundle = await bundleWorkflows(require.resolve('../src/bench/workflows'));
  fs.writeFileSync(bundlePath, bundle.code);
  const promptsDir = writeBenchPrompts(path.join(dir, 'prompts'), {
    batch_size: opts.batchSize,
    max_parallel_batches: opts.parallel,
  });
  const batching = benchBatching(promptsDir);
  const parallel = batching.batch_size * batching.max_parallel_batches;
  let workers = 0;

  /** A worker in its own process (its memory is its own), warmed up by a tiny floor run. */
  // The codec-off runs: a client and workers that write plain JSON (the codec's price is their difference).
  const plainClient = new Client({
    connection,
    dataConverter: dataConverterFor(loadConfig({ ...process.env, PAYLOAD_ENCRYPTION: 'off' })),
  });
  const startWorker = async (
    db: string | DatabaseTarget,
    latencyMs = 0,
    extraEnv: NodeJS.ProcessEnv = {},
    sharedQueue?: string,
  ): Promise<WorkerProcess> => {
    const taskQueue = sharedQueue ?? `bench-${process.pid}-${++workers}`;
    const target = asTarget(db);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      TASK_QUEUE: taskQueue,
      ...targetEnv(target),
      PROMPTS_DIR: promptsDir,
      OFFLINE_MODEL_LATENCY_MS: String(latencyMs),
      BENCH_WORKFLOW_BUNDLE: bundlePath,
      LOG_LEVEL: 'ERROR',
      ...extraEnv,
    };
    delete env.OPENAI_BASE_URL;
    const child = fork(path.join(projectRoot, 'scripts', 'benchWorker.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let peak: number | undefined;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const handle: WorkerProcess = { taskQueue, stop: () => Promise.resolve(undefined) };
    child.on('message', (m: { type: string; peakRss?: number; sql?: { roundTrips: number; timeMs: number } }) => {
      if (m.type === 'done') {
        peak = m.peakRss;
        handle.sql = m.sql;
      }
    });
    await new Promise<void>((resolve, reject) => {
      child.on('message', (m: { type: string }) => m.type === 'ready' && resolve());
      child.once('exit', (code) => reject(new Error(`the bench worker exited with code ${code} while starting`)));
    });
    await client.workflow.execute('floorWorkflow', {
      taskQueue,
      workflowId: `${taskQueue}-warmup-${workers}-${Date.now()}`,
      args: [{ activities: 20, parallel: 10 }],
    });
    handle.stop = async () => {
      child.send('stop');
      await exited;
      return peak;
    };
    return handle;
  };

  const report: Record<string, unknown> = {
    generated_at: new Date().toISOString(),
    machine: machine(),
    config: {
      sizes: opts.sizes,
      modes: opts.modes,
      latency_ms: opts.latencyMs,
      latency_n: opts.latencyN,
      floor_activities: opts.floor,
      prompt_label: 'production (approvals off for bulk runs)',
      ...batching,
      seed: opts.seed,
    },
    targets: TARGETS,
  };
  try {
    // The floor: no-op activities at our batches' parallelism.
    let floor:
      | { activities: number; wall_ms: number; activities_per_s: number; parallel: number; history_events: number }
      | undefined;
    if (opts.floor > 0) {
      const worker = await startWorker(path.join(dir, 'floor.db'));
      const id = `bench-floor-${Date.now()}`;
      const t0 = performance.now();
      await client.workflow.execute('floorWorkflow', {
        taskQueue: worker.taskQueue,
        workflowId: id,
        args: [{ activities: opts.floor, parallel }],
      });
      const wall = performance.now() - t0;
      const h = await historyStats(client, id);
      await worker.stop();
      floor = {
        activities: opts.floor,
        parallel,
        wall_ms: Math.round(wall),
        activities_per_s: Math.round((opts.floor / wall) * 1000 * 10) / 10,
        history_events: h.events,
      };
      say(
        `floor: ${opts.floor} no-op activities, ${parallel} in flight: ${floor.wall_ms} ms, ${floor.activities_per_s} activities/s`,
      );
    }
    report.floor = floor;

    const runs: Measurement[] = [];
    const measure = async (mode: Mode, n: number, latencyMs = 0, encryption = true) => {
      const dbFile = path.join(dir, `${mode}-${n}-${latencyMs}${encryption ? '' : '-plain'}.db`);
      const store = await SchedulingStore.open(dbFile);
      await store.load(syntheticDataset({ appointments: n, seed: opts.seed }));
      await store.close();
      const { days, until } = syntheticDays({ appointments: n });
      const worker = await startWorker(dbFile, latencyMs, encryption ? {} : { PAYLOAD_ENCRYPTION: 'off' });
      try {
        const m = await measureReassignment({
          client: encryption ? client : plainClient,
          taskQueue: worker.taskQueue,
          mode,
          n,
          input: { providerId: 'T001', date: '2025-11-21', ...(days > 1 ? { until } : {}), reason: 'bench' },
          workflowId: reassignmentWorkflowId({
            providerId: 'T001',
            date: '2025-11-21',
            tag: `bench-${mode}-${n}-${latencyMs}ms${encryption ? '' : '-plain'}`,
            stamp: idStamp(new Date()),
          }),
        });
        m.worker_peak_rss_bytes = await worker.stop();
        say(
          `${mode}-driven N=${n}${latencyMs ? ` latency ${latencyMs} ms` : ''}: ${m.wall_ms} ms, ${m.ms_per_appointment} ms/appt, ${m.per_appointment.llm_calls} calls/appt, ${m.per_appointment.input_tokens} input tokens/appt, largest history ${m.largest_history.events} events, worker peak ${mb(m.worker_peak_rss_bytes ?? 0)} MB`,
        );
        return m;
      } catch (err) {
        await worker.stop();
        throw err;
      }
    };
    for (const n of opts.sizes) for (const mode of opts.modes) runs.push(await measure(mode, n));
    report.runs = runs;

    let latency: LatencyFigures | undefined;
    if (opts.latencyMs > 0) {
      const m = await measure('prompt', opts.latencyN, opts.latencyMs);
      const sequential = m.llm_calls * opts.latencyMs;
      // The design's own minimum: every batch needs its turns one after another, and max_parallel_batches run at once.
      const waves = Math.ceil(m.batches / batching.max_parallel_batches);
      const minimum = waves * m.turns_per_batch * opts.latencyMs;
      latency = {
        n: opts.latencyN,
        latency_ms: opts.latencyMs,
        wall_ms: m.wall_ms,
        llm_calls: m.llm_calls,
        sequential_ms: sequential,
        wall_over_sequential: Math.round((m.wall_ms / sequential) * 1000) / 1000,
        speedup: Math.round((sequential / m.wall_ms) * 10) / 10,
        minimum_ms: minimum,
        waves,
        turns_per_batch: m.turns_per_batch,
        wall_over_minimum: Math.round((m.wall_ms / minimum) * 100) / 100,
      };
      say(
        `latency ${opts.latencyMs} ms, N=${opts.latencyN}: ${m.wall_ms} ms; the design's minimum ${waves} waves × ${m.turns_per_batch} turns × ${opts.latencyMs} ms = ${minimum} ms (${latency.wall_over_minimum}×)`,
      );
    }
    report.latency = latency;

    // The price of the payload codec: the same prompt-driven run with and without encryption.
    let codec: CodecFigures | undefined;
    if (opts.codecN > 0) {
      const on = await measure('prompt', opts.codecN);
      const off = await measure('prompt', opts.codecN, 0, false);
      const per = (m: Measurement) => ({
        wall_ms: m.wall_ms,
        ms_per_appointment: m.ms_per_appointment,
        history_bytes_per_appointment: m.per_appointment.history_bytes,
        worker_peak_rss_bytes: m.worker_peak_rss_bytes,
      });
      codec = {
        n: opts.codecN,
        on: per(on),
        off: per(off),
        time_on_over_off: Math.round((on.wall_ms / off.wall_ms) * 100) / 100,
        extra_bytes_per_appointment: on.per_appointment.history_bytes - off.per_appointment.history_bytes,
      };
      say(
        `codec N=${opts.codecN}: encrypted ${on.wall_ms} ms, ${on.per_appointment.history_bytes} history bytes/appt; plain ${off.wall_ms} ms, ${off.per_appointment.history_bytes} bytes/appt (${codec.time_on_over_off}×)`,
      );
    }
    report.codec = codec;

    // Several workers, one database: the same run on SQLite and on PostgreSQL, by 1, 2, 3… worker processes on one
    // task queue, each with its store's round trips and time in the database.
    if (opts.store) {
      const stores: StoreRow[] = [];
      const kinds = [...new Set<'sqlite' | 'postgres'>(['sqlite', ...opts.store])];
      // A folder of its own that the postgres user may enter (the bench's temp folder is its owner's only).
      const pgDir = kinds.includes('postgres') ? fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-bench-pg-')) : '';
      if (pgDir) fs.chmodSync(pgDir, 0o755);
      const pg = pgDir ? await startPostgres({ dir: path.join(pgDir, 'cluster'), stopWithProcess: true }) : undefined;
      if (pg) say(`bench: PostgreSQL at ${redactUrl(pg.url)}`);
      try {
        for (const kind of kinds)
          for (const w of opts.workers) {
            const name = `stores-${kind}-${w}`;
            const target: DatabaseTarget =
              kind === 'sqlite'
                ? { kind: 'sqlite', file: path.join(dir, `${name}.db`) }
                : { kind: 'postgres', url: await pg!.createDatabase(name.replace(/-/g, '_')) };
            const store = await SchedulingStore.open(target);
            await store.load(syntheticDataset({ appointments: opts.storeN, seed: opts.seed }));
            await store.close();
            const queue = `bench-${name}-${process.pid}`;
            const pool = await Promise.all(Array.from({ length: w }, () => startWorker(target, 0, {}, queue)));
            try {
              const m = await measureReassignment({
                client,
                taskQueue: queue,
                mode: 'prompt',
                n: opts.storeN,
                input: { providerId: 'T001', date: '2025-11-21', reason: 'bench' },
                workflowId: reassignmentWorkflowId({
                  providerId: 'T001',
                  date: '2025-11-21',
                  tag: `bench-${name}`,
                  stamp: idStamp(new Date()),
                }),
              });
              await Promise.all(pool.map((p) => p.stop()));
              const trips = pool.reduce((t, p) => t + (p.sql?.roundTrips ?? 0), 0);
              const dbMs = pool.reduce((t, p) => t + (p.sql?.timeMs ?? 0), 0);
              const row: StoreRow = {
                store: kind,
                workers: w,
                n: opts.storeN,
                wall_ms: m.wall_ms,
                appointments_per_s: m.appointments_per_s,
                db_round_trips_per_appointment: Math.round((trips / opts.storeN) * 10) / 10,
                db_ms_per_appointment: Math.round((dbMs / opts.storeN) * 100) / 100,
                decided: m.decided,
                status: m.status,
              };
              stores.push(row);
              say(
                `${kind}, ${w} worker(s), N=${opts.storeN}: ${m.wall_ms} ms, ${row.appointments_per_s} appointments/s, ${row.db_round_trips_per_appointment} round trips and ${row.db_ms_per_appointment} ms in the database per appointment`,
              );
            } catch (err) {
              await Promise.all(pool.map((p) => p.stop()));
              throw err;
            }
          }
      } finally {
        await pg?.stop();
        if (pgDir) fs.rmSync(pgDir, { recursive: true, force: true });
      }
      report.stores = stores;
    }
    report.ratios = ratios(runs, floor);
    report.verdicts = verdicts(runs, floor, latency);
    const violations = runs.flatMap(countViolations);
    report.count_violations = violations;

    report.duration_s = Math.round((Date.now() - began) / 1000);
    const cli = findTemporalCli({ install: false });
    if (cli) report.temporal_cli = /temporal version (\S+)/.exec(temporalCliVersion(cli))?.[1];

    const out = path.resolve(opts.out);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
    console.log(table(report, runs, floor, latency));
    if (codec)
      console.log(
        `\nPayload codec, N=${codec.n} prompt-driven: encrypted ${(codec.on.wall_ms / 1000).toFixed(1)} s (${codec.on.ms_per_appointment} ms per appointment), plain ${(codec.off.wall_ms / 1000).toFixed(1)} s (${codec.off.ms_per_appointment} ms) (${codec.time_on_over_off}×); history ${codec.on.history_bytes_per_appointment} vs ${codec.off.history_bytes_per_appointment} bytes per appointment.`,
      );
    console.log(`\nJSON: ${path.relative(process.cwd(), out)}`);
    // The committed results are what docs/performance.md shows: they are rewritten together.
    if (out === path.join(projectRoot, 'bench', 'results.json'))
      console.log(`docs: ${path.relative(process.cwd(), writePerformanceDoc(out))}`);
    if (opts.check && violations.length > 0) {
      console.error(`bench --check: ${violations.length} count target(s) exceeded:\n  ${violations.join('\n  ')}`);
      return 1;
    }
    return 0;
  } finally {
    await connection.close();
    await server.stop();
  }
}

const program = new Command('bench')
  .description('benchmark the reassignment workflows against one Temporal dev server (offline stand-in model)')
  .option('--sizes <list>', 'appointment counts N', intList, [10, 100, 1000, 10_000])
  .option('--modes <list>', 'workflows to measure: code, prompt', modeList, ['code', 'prompt'] as Mode[])
  .option('--latency-ms <ms>', 'simulated LLM latency for the latency run (0: skip it)', positiveInt, 1000)
  .option('--latency-n <n>', 'appointments in the latency run', positiveInt, 1000)
  .option('--codec-n <n>', 'appointments in the codec on/off runs (0: skip them)', positiveInt, 1000)
  .option('--floor <k>', 'no-op activities in the floor run (0: skip it)', positiveInt, 1000)
  .option('--out <file>', 'where the JSON goes (--quick: bench/results-quick.json)', 'bench/results.json')
  .option('--quick', 'the CI guard: N=10 and 100, prompt-driven, zero latency, no floor')
  .option('--check', 'exit 1 when a count target (LLM calls, tokens, history) is exceeded; timings never fail')
  .option('--batch-size <n>', "override the prompt config's batch_size", positiveInt)
  .option('--parallel <n>', "override the prompt config's max_parallel_batches", positiveInt)
  .option('--seed <n>', 'synthetic data seed', positiveInt, 42)
  .option(
    '--store <list>',
    'also measure several workers on one database: sqlite, postgres (SQLite is always measured beside PostgreSQL; a local cluster is started)',
    storeList,
  )
  .option('--workers <list>', 'worker processes on one task queue, for --store', workerList, [1, 2, 3])
  .option('--store-n <n>', 'appointments in each --store run', positiveInt, 1000)
  .action(async (opts: Options, command: Command) => {
    // A quick run must not overwrite the last full results.
    if (opts.quick && command.getOptionValueSource('out') === 'default') opts.out = 'bench/results-quick.json';
    process.exitCode = await main(opts);
  });

program.parseAsync(process.argv).catch((err) => {
  console.error(`bench: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
