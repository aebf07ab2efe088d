import fs from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { benchActivities } from '../src/bench/benchActivities';
import { createReassignmentWorker } from '../src/worker';

/**
 * The benchmark's worker, in a process of its own so that its peak memory is its own: the same worker as
 * `npm run worker` (with the offline stand-in model inside it), a prebuilt workflow bundle, and its peak
 * RSS (the kernel's VmHWM) reported to the parent over IPC when it stops.
 */
function peakRss(): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kb ? Number(kb) * 1024 : process.memoryUsage().rss;
}

async function main(): Promise<void> {
  const config = loadConfig();
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const bundlePath = process.env.BENCH_WORKFLOW_BUNDLE;
  const handle = await createReassignmentWorker({
    connection,
    config,
    ...(bundlePath ? { workflowBundle: { code: fs.readFileSync(bundlePath, 'utf8') } } : {}),
    say: () => undefined,
    extraActivities: benchActivities,
    workflowsPath: require.resolve('../src/bench/workflows'),
  });
  // Sampled too, for a platform without /proc.
  let sampled = 0;
  const timer = setInterval(() => (sampled = Math.max(sampled, process.memoryUsage().rss)), 250);
  process.on('message', (m) => {
    if (m === 'stop') handle.shutdown();
  });
  process.send?.({ type: 'ready' });
  await handle.run();
  clearInterval(timer);
  await connection.close();
  process.send?.({ type: 'done', peakRss: Math.max(peakRss(), sampled), sql: { ...handle.store.sqlStats } }, () =>
    process.exit(0),
  );
}

main().catch((err) => {
  console.error(`bench worker: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
