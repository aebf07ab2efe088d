import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { ReassignmentClient, type LaunchRequest } from '../src/client';
import { loadConfig, projectRoot } from '../src/config';
import { outcomesDemoDataset as demoDataset, DEMO_DATE, DEMO_PROVIDER_ID, DEMO_REASON } from '../src/domain/demoData';
import { endFollowUps } from '../src/temporal/followUps';
import { outcomeFiguresOf } from '../src/report/outcomeFigures';
import { PatientSimulator, SIMULATED_BY, SIMULATION_NOTICE } from '../src/outcomes/patientSimulator';
import { describeTarget, targetOf } from '../src/db/open';
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

  const store = await SchedulingStore.open(targetOf(config), config);
  // Follow-ups of an earlier demo wait on offers this reload removes: they end first.
  const ended = await endFollowUps(client.temporal, config.TASK_QUEUE, 'the demo reloaded its data');
  if (ended > 0) console.log(`Ended ${ended} patient follow-up(s) left by an earlier demo.`);
  await store.load(demoDataset());
  console.log(
    `Loaded the demo data into ${store.target.kind === 'sqlite' ? path.relative(process.cwd(), config.DB_PATH) : describeTarget(store.target)}: provider ${DEMO_PROVIDER_ID} is ${DEMO_REASON} on ${DEMO_DATE}.`,
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

    if (config.PATIENT_FOLLOW_UP === 'on') await patientsAnswer(client, store);

    console.log('\n▶ Code-driven baseline on a fresh copy of the same data');
    await endFollowUps(client.temporal, config.TASK_QUEUE, 'the demo reloaded its data');
    await store.load(demoDataset());
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
    await store.close();
    await server?.stop();
  }
}

/**
 * The outcome loop, with simulated patients: Maria Lopez (A001) declines P001 and is re-offered the next best
 * provider, which she accepts; the others answer as the seeded simulation says; each accepted visit is scored.
 * Answers and scores go through the same Updates as the API's; then the outcome figures of the run.
 */
async function patientsAnswer(client: ReassignmentClient, store: SchedulingStore): Promise<void> {
  console.log(`\n▶ Patients answer their new slots (${SIMULATION_NOTICE})`);
  const sim = new PatientSimulator(7, { A001: ['declined', 'accepted'] });
  const waitFor = async <T>(read: () => Promise<T | undefined>, ms = 60_000): Promise<T | undefined> => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
      const v = await read();
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const answered = new Set<string>();
  for (let round = 0; round < 4; round++) {
    const open = (await store.openOffers()).filter((o) => !answered.has(`${o.appointment_id}:${o.offer_no}`));
    if (open.length === 0) break;
    for (const offer of open) {
      answered.add(`${offer.appointment_id}:${offer.offer_no}`);
      const a = sim.answer(offer);
      if (a.answer === 'none') {
        console.log(
          `  ${offer.appointment_id}: offer ${offer.offer_no} (${offer.provider_id}) unanswered; its deadline decides`,
        );
        continue;
      }
      const done = await client.outcomes
        .answer(offer.appointment_id, { answer: a.answer, by: SIMULATED_BY, ...(a.reason ? { reason: a.reason } : {}) })
        .catch((err: unknown) => console.log(`  ${offer.appointment_id}: ${describeError(err)}`));
      if (!done) continue;
      const next = {
        visit: 'the visit stands',
        reoffer: 'the slot is released and re-offered',
        waitlist: 'the waitlist',
      }[done.next];
      console.log(
        `  ${done.appointment_id}: offer ${done.offer_no} (${done.provider_id}, ${offer.band}) ${done.answer} → ${next}`,
      );
      if (done.next === 'reoffer') {
        const again = await waitFor(async () => {
          const o = await store.latestOffer(offer.appointment_id);
          return o && o.offer_no > offer.offer_no
            ? o
            : (await store.appointment(offer.appointment_id))?.status === 'waitlisted'
              ? o
              : undefined;
        });
        if (again && again.offer_no > offer.offer_no)
          console.log(
            `  ${again.appointment_id}: re-offered ${again.provider_id} (score ${again.score}, ${again.band}) by ${again.run_id}`,
          );
        else console.log(`  ${offer.appointment_id}: no other good match; on the waitlist`);
      }
    }
  }
  for (const id of ['A001', 'A002', 'A003']) {
    const accepted = (await store.offers(id)).find((o) => o.status === 'accepted');
    if (!accepted) continue;
    const score = sim.satisfaction(accepted);
    const rated = await client.outcomes.rate(id, { score, by: SIMULATED_BY }).catch(() => undefined);
    if (rated) console.log(`  ${id}: the visit with ${accepted.provider_id} scored ${rated.score}/5`);
  }
  const offers = (await Promise.all(['A001', 'A002', 'A003'].map((id) => store.offers(id)))).flat();
  const runs = [...new Set(offers.map((o) => o.run_id))];
  // The report's outcome figures for the run and its re-offers (npm run cli -- report shows them per prompt version).
  const f = outcomeFiguresOf(await store.outcomeCounts(runs), 3);
  const pct = (x: number | null) => (x === null ? '–' : `${Math.round(x * 100)}%`);
  console.log('  Outcome report (the run and its re-offer runs):');
  console.log(
    `    offers ${f.offers} to ${f.offered_appointments} patients · accepted ${f.accepted}/${f.answered} = ${pct(f.acceptance_rate)}` +
      (f.acceptance_ci95
        ? ` (95% interval ${pct(f.acceptance_ci95[0])}–${pct(f.acceptance_ci95[1])}, a small sample)`
        : ''),
  );
  console.log(
    `    satisfaction ${f.satisfaction_mean?.toFixed(1) ?? '–'}/5 (n=${f.satisfaction_count}) · escalations ${f.escalations} · offers per offered patient ${f.offers_per_offered_appointment?.toFixed(2) ?? '–'}`,
  );
  console.log(
    '    npm run cli -- escalations · npm run cli -- report (per prompt version, with outcomes) · npm run cli -- offers A001',
  );
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
