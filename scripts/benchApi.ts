import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig, projectRoot } from '../src/config';
import { demoDataset } from '../src/domain/demoData';
import { SchedulingStore } from '../src/domain/store';
import { dataConverterFor } from '../src/temporal/dataConverter';
import { freePort, startDevServer } from '../src/temporal/devServer';
import { bundleWorkflows } from '../src/temporal/workflowBundle';
import { createReassignmentWorker } from '../src/worker';
import { idStamp, reassignmentWorkflowId } from '../src/workflowIds';
import { progressQuery } from '../src/workflows/contract/signals';

// autocannon ships no types: the part used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (opts: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
}) => Promise<{
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}>;

/**
 * npm run bench:api: how many list requests a second the API serves, and how fast, under 50 clients (the consoles
 * of 50 schedulers, each polling the runs and the inbox every two seconds, and more). A benchmark, not a test: it
 * reports figures and fails on nothing but errors. Its own Temporal dev server and worker, the demo's data with 20
 * finished runs and one waiting for an approval, the API in a process of its own (as `npm run api`, rate limit
 * off), and autocannon (50 connections, 10 s per endpoint), with the list cache on (API_LIST_CACHE_MS 1000) and off.
 */

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const KEY = 'bench-viewer-key-0123456789';

async function waitForHealth(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the API at ${url} did not start`);
}

async function startApiProcess(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src', 'api', 'main.ts')], {
    env: { ...process.env, ...env, API_PORT: String(port), API_HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url);
  return { url, child };
}

async function main(): Promise<void> {
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-api-'));
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.db'), port: await freePort() });
  const taskQueue = 'bench-api';
  const env = {
    TEMPORAL_ADDRESS: server.address,
    TASK_QUEUE: taskQueue,
    DB_PATH: path.join(dir, 'scheduling.db'),
    PAYLOAD_KEY_FILE: path.join(dir, 'payload-keys.json'),
    LOG_LEVEL: 'ERROR',
  };
  const config = loadConfig(env);
  const store = await SchedulingStore.open(config.DB_PATH);
  const native = await NativeConnection.connect({ address: server.address });
  const worker = await createReassignmentWorker({
    connection: native,
    config,
    store,
    workflowBundle: await bundleWorkflows(require.resolve('../src/workflows')),
    say: () => undefined,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, dataConverter: dataConverterFor(config) });
  const start = (label: string) =>
    client.workflow.start('promptDrivenReassignment', {
      taskQueue,
      workflowId: reassignmentWorkflowId({ providerId: 'T001', date: '2025-11-21', stamp: idStamp(new Date()) }),
      args: [{ providerId: 'T001', date: '2025-11-21', reason: 'bench', promptLabel: label }],
    });
  const apis: ChildProcess[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      await store.load(demoDataset());
      await (await start('staging')).result();
    }
    await store.load(demoDataset());
    const waiting = await start('production');
    for (let i = 0; i < 300; i++) {
      const p = await waiting.query(progressQuery).catch(() => undefined);
      if (p && p.pending_approvals.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const rows: Record<string, unknown>[] = [];
    for (const cacheMs of ['1000', '0']) {
      const api = await startApiProcess({
        ...env,
        API_KEYS: JSON.stringify([{ name: 'bench', key: KEY, role: 'viewer' }]),
        API_RATE_LIMIT: '0',
        API_LIST_CACHE_MS: cacheMs,
      });
      apis.push(api.child);
      for (const endpoint of ['/api/reassignments?limit=25', '/api/approvals', '/healthz']) {
        if (endpoint === '/healthz' && cacheMs === '0') continue;
        const r = await autocannon({
          url: `${api.url}${endpoint}`,
          connections: CONNECTIONS,
          duration: DURATION_S,
          headers: { authorization: `Bearer ${KEY}` },
        });
        const row = {
          endpoint,
          list_cache_ms: Number(cacheMs),
          requests_per_s: Math.round(r.requests.average),
          p50_ms: r.latency.p50,
          p99_ms: r.latency.p99,
          max_ms: r.latency.max,
          requests: r.requests.total,
          non_2xx: r.non2xx,
          errors: r.errors + r.timeouts,
        };
        rows.push(row);
        console.log(JSON.stringify(row));
      }
      api.child.kill('SIGTERM');
      await new Promise((r) => api.child.once('exit', r));
    }
    const out = {
      measured_at: new Date().toISOString(),
      machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
      connections: CONNECTIONS,
      duration_s: DURATION_S,
      runs_listed: 21,
      rows,
    };
    fs.writeFileSync(path.join(projectRoot, 'bench', 'api-results.json'), `${JSON.stringify(out, null, 2)}\n`);
    console.log('written to bench/api-results.json');
    await waiting.cancel();
  } finally {
    for (const c of apis) if (c.exitCode === null) c.kill('SIGTERM');
    worker.shutdown();
    await running;
    await native.close();
    await connection.close();
    await store.close();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(`bench:api: ${(err as Error).message}`);
  process.exit(1);
});
