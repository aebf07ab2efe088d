import fs from 'node:fs';
import { Context } from '@temporalio/activity';
import { DefaultLogger, NativeConnection, Runtime, type ActivityInboundCallsInterceptor } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { createReassignmentWorker } from '../../src/worker';

/**
 * The worker as a separate process, for the crash suite: the production worker factory, the test run's
 * workflow bundle, and one extra: an activity interceptor that prints a line as each activity starts and
 * ends, so the suite can `kill -9` this process at a chosen point. CRASH_TOOL_DELAY_MS holds each tool call
 * open a little, so that a kill can land while several of a turn's calls are in flight, and a batch of calls
 * (callTools) open after its writes, so that a kill can land between its writes and its completion.
 */

const toolDelayMs = Number(process.env.CRASH_TOOL_DELAY_MS ?? 0);

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`@@${JSON.stringify({ ...event, t: Date.now() })}\n`);
}

const traceActivities = (): ActivityInboundCallsInterceptor => ({
  async execute(input, next) {
    const { activityType, attempt } = Context.current().info;
    const detail =
      activityType === 'callTool'
        ? (input.args[0] as { name: string }).name
        : activityType === 'callTools'
          ? (input.args[0] as { calls: { name: string }[] }).calls.map((c) => c.name).join(',')
          : undefined;
    emit({ e: 'start', type: activityType, detail, attempt });
    if (toolDelayMs > 0 && activityType === 'callTool') await new Promise((r) => setTimeout(r, toolDelayMs));
    const result = await next(input);
    if (activityType === 'callTools') {
      // Every call of the batch is written, and the activity not yet complete: a kill here makes Temporal run the
      // whole batch again, and each call's idempotency key must keep it from writing twice.
      emit({ e: 'written', type: activityType, detail, attempt });
      if (toolDelayMs > 0) await new Promise((r) => setTimeout(r, toolDelayMs));
    }
    emit({ e: 'end', type: activityType, detail, attempt });
    return result;
  },
});

async function main(): Promise<void> {
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
  const config = loadConfig();
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const handle = await createReassignmentWorker({
    connection,
    config,
    workflowBundle: { code: fs.readFileSync(process.env.WORKFLOW_BUNDLE!, 'utf8') },
    say: () => undefined,
    interceptors: { activity: [() => ({ inbound: traceActivities() })] },
  });
  const running = handle.run();
  emit({ e: 'ready', pid: process.pid });
  process.on('SIGTERM', () => handle.shutdown());
  await running;
  await connection.close();
}

main().catch((err) => {
  process.stderr.write(`crash worker: ${(err as Error).message}\n`);
  process.exit(1);
});
