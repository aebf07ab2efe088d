import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { ReassignmentClient, type LaunchRequest } from '../src/client';
import { loadConfig, projectRoot } from '../src/config';
import { demoDataset, DEMO_DATE, DEMO_PROVIDER_ID, DEMO_REASON } from '../src/domain/demoData';
import { SchedulingStore } from '../src/domain/store';
import { describeError } from '../src/errors';
import { decisionsOf, formatProgress, formatResult } from '../src/cli/format';
import { startDevServer, isListening, type DevServer } from '../src/temporal/devServer';
import { ensureSearchAttributes } from '../src/temporal/searchAttributeSetup';
import { createReassignmentWorker } from '../src/worker';
import type { Mode, PendingApproval, ReassignmentResult } from '../src/workflows/contract/types';
import { startApi } from '../src/api/main';
import { startCodecServer } from '../src/codecServer/main';
import { idStamp, reassignmentWorkflowId } from '../src/workflowIds';

/**
 * The whole thing end to end on the embedded defaults: the Temporal dev server (SQLite file, Web UI on
 * 8233), a worker with the offline stand-in model, the seed's example reassigned by the prompt-driven
 * workflow (the demo plays the human who approves), then the code-driven baseline on the same data.
 */

async function main(): Promise<void> {
  const config = loadConfig({ DB_PATH: path.join(projectRoot, 'data', 'demo.db'), LOG_LEVEL: 'WARN', ...process.env });
  Runtime.install({ logger: new DefaultLogger(config.LOG_LEVEL) });
  const [host, portText] = config.TEMPORAL_ADDRESS.split(':') as [string, string];
  let server: DevServer | undefined;
  if (await isListening(host, Number(portText))) {
    console.log(`Using the Temporal server already running at ${config.TEMPORAL_ADDRESS}.`);
  } else {
    console.log(
      `Starting the Temporal dev server (SQLite ${path.relative(process.cwd(), config.TEMPORAL_DB_PATH)}, Web UI on port ${config.TEMPORAL_UI_PORT}) ...`,
    );
    server = await startDevServer({
      dbFile: config.TEMPORAL_DB_PATH,
      ip: host,
      port: Number(portText),
      uiPort: config.TEMPORAL_UI_PORT,
      uiCodecEndpoint: `http://localhost:${config.CODEC_PORT}`,
    });
  }
  const uiBase = `http://localhost:${config.TEMPORAL_UI_PORT}`;

  const client = await ReassignmentClient.connect(config);
  if (client.connection) await ensureSearchAttributes(client.connection, config.TEMPORAL_NAMESPACE);

  const store = new SchedulingStore(config.DB_PATH);
  store.load(demoDataset());
  console.log(
    `Loaded the demo data into ${path.relative(process.cwd(), config.DB_PATH)}: provider ${DEMO_PROVIDER_ID} is ${DEMO_REASON} on ${DEMO_DATE}.`,
  );

  const native = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const handle = await createReassignmentWorker({ connection: native, config, store });
  const running = handle.run();
  // The operator console and API (loopback only: the demo configures no API keys). A busy port gets another.
  const api = await startApi(config, () => undefined).catch(() =>
    startApi({ ...config, API_PORT: 0 }, () => undefined),
  );
  console.log(`Operator console: ${api.url}   (API: ${api.url}/api, OpenAPI document: ${api.url}/openapi.json)`);
  // Payloads are encrypted: the Web UI reads them through the codec server (loopback, like the console).
  const codec = await startCodecServer(config, () => undefined).catch(() => undefined);
  if (!codec) console.log(`Port ${config.CODEC_PORT} is busy: the Web UI will show the runs' payloads encrypted.`);
  const interactive = process.stdin.isTTY === true;

  try {
    const stamp = idStamp(new Date());
    const input = {
      providerId: DEMO_PROVIDER_ID,
      date: DEMO_DATE,
      reason: DEMO_REASON,
      promptLabel: config.PROMPT_LABEL,
    };

    console.log('\n▶ Prompt-driven reassignment (the prompt decides, the domain guards)');
    const promptRun = await runAndWatch(
      client,
      'prompt',
      reassignmentWorkflowId({ providerId: DEMO_PROVIDER_ID, date: DEMO_DATE, tag: 'prompt', stamp }),
      input,
      // In a terminal, the decision is yours, in the console; otherwise the demo plays the operator.
      interactive ? personDecides(api.url) : demoDecides,
    );
    console.log(formatResult(promptRun));
    console.log(`  Web UI: ${uiBase}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows/${promptRun.workflow_id}`);

    console.log('\n▶ Code-driven baseline on a fresh copy of the same data');
    store.load(demoDataset());
    const codeRun = await runAndWatch(
      client,
      'code',
      reassignmentWorkflowId({ providerId: DEMO_PROVIDER_ID, date: DEMO_DATE, tag: 'code', stamp }),
      input,
      demoDecides,
    );
    console.log(formatResult(codeRun));
    const same = JSON.stringify(decisionsOf(promptRun)) === JSON.stringify(decisionsOf(codeRun));
    console.log(
      `\nPrompt-driven and code-driven ${same ? 'agree on every appointment' : 'DISAGREE'}: ${JSON.stringify(decisionsOf(promptRun))}`,
    );

    console.log(`\nTemporal Web UI: ${uiBase}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows`);
    if (codec) console.log(`Codec server:    ${codec.url}   (the Web UI decodes the encrypted payloads through it)`);
    if (server && process.stdin.isTTY) {
      console.log(
        `The dev server and the console (${api.url}) keep running so you can browse the runs; press Ctrl-C to stop.`,
      );
      handle.shutdown();
      await running;
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    if (!same) process.exitCode = 1;
  } finally {
    await api.close();
    await codec?.close();
    handle.shutdown();
    await running.catch(() => undefined);
    await native.close();
    await client.close();
    store.close();
    await server?.stop();
  }
}

type Approver = (client: ReassignmentClient, workflowId: string, approval: PendingApproval) => Promise<void>;

/** The demo plays the operator: it approves through the same Update the console and the API use. */
const demoDecides: Approver = async (client, workflowId, a) => {
  console.log(
    `  → ${a.appointment_id} → ${a.provider_id} (score ${a.score}) needs a human decision. The demo approves it as "demo operator";`,
  );
  console.log(
    `    yourself: the operator console, or npm run cli -- approve ${workflowId} ${a.appointment_id}   (or: temporal workflow signal --workflow-id ${workflowId} --name approve --input '{"appointmentId":"${a.appointment_id}"}')`,
  );
  await approve(client, workflowId, a);
};

async function approve(client: ReassignmentClient, workflowId: string, a: PendingApproval): Promise<void> {
  await client
    .decide(workflowId, { appointmentId: a.appointment_id, decision: 'approve', by: 'demo operator' })
    .catch((err: unknown) => console.log(`    (not approved by the demo: ${describeError(err)})`));
}

/** In a terminal the person decides, in the console; Enter lets the demo approve instead. */
const personDecides =
  (consoleUrl: string): Approver =>
  async (client, workflowId, a) => {
    console.log(`  → ${a.appointment_id} → ${a.provider_id} (score ${a.score}) needs a human decision.`);
    console.log(
      `    Approve (or reject) it in the operator console: ${consoleUrl}   — or press Enter and the demo approves it.`,
    );
    let waiting = true;
    const enter = new Promise<'enter'>((resolve) => {
      process.stdin.resume();
      process.stdin.once('data', () => resolve('enter'));
    });
    const decided = (async (): Promise<'decided'> => {
      while (waiting) {
        const p = await client.progress(workflowId).catch(() => undefined);
        if (!p || !p.pending_approvals.some((x) => x.appointment_id === a.appointment_id)) return 'decided';
        await new Promise((r) => setTimeout(r, 500));
      }
      return 'decided';
    })();
    const how = await Promise.race([enter, decided]);
    waiting = false;
    process.stdin.pause();
    if (how === 'enter') await approve(client, workflowId, a);
    else console.log(`    decided in the console`);
  };

/** Starts a run, prints its progress as it changes, and hands each awaited approval to the approver. */
async function runAndWatch(
  client: ReassignmentClient,
  mode: Mode,
  workflowId: string,
  input: LaunchRequest['input'],
  approver: Approver,
): Promise<ReassignmentResult> {
  await client.start({ input, mode, workflowId });
  console.log(`  started ${workflowId}`);
  const asked = new Set<string>();
  let last = '';
  const result = client.result(workflowId);
  let finished = false;
  void result.finally(() => {
    finished = true;
  });
  while (!finished) {
    try {
      const p = await client.progress(workflowId);
      const line = formatProgress(p);
      if (line !== last) console.log(`  ${line}`);
      last = line;
      for (const a of p.pending_approvals) {
        if (asked.has(a.appointment_id)) continue;
        asked.add(a.appointment_id);
        await approver(client, workflowId, a);
      }
    } catch {
      // The run may finish between two queries.
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, 300))]);
  }
  return result;
}

main().catch((err) => {
  console.error(`demo: ${describeError(err)}`);
  process.exit(1);
});
