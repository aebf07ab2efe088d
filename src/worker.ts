import { Connection } from '@temporalio/client';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerInterceptors,
  type WorkflowBundle,
} from '@temporalio/worker';
import { createActivities } from './activities';
import { loadConfig, usesOfflineModel, type AppConfig } from './config';
import { describeTarget, targetOf } from './db/open';
import { SchedulingStore } from './domain/store';
import { checkModelEndpoint, createOpenAiClient } from './llm/chatClient';
import { LlmRateLimiter } from './llm/rateLimit';
import { parseFaultSetting } from './llm/offline/faults';
import { OFFLINE_NOTICE, startOfflineModel, type OfflineModelServer } from './llm/offline/server';
import { configureLangfuseLogging, createLangfuseClient } from './langfuse/client';
import { PromptOps } from './langfuse/promptOps';
import { OutcomeScorer } from './langfuse/outcomeScores';
import { pseudonymsFor } from './langfuse/patientPseudonyms';
import { RunTracer } from './langfuse/tracing';
import type { PromptRegistry } from './prompts/registry';
import { promptRegistryFor } from './prompts/registryFromConfig';
import { ensureSearchAttributes } from './temporal/searchAttributeSetup';
import { dataConverterFor, describeEncryption } from './temporal/dataConverter';
import { describeError } from './errors';

/** The worker: runs the workflows and the activities. With no OPENAI_BASE_URL it starts the offline stand-in. */

export interface WorkerHandle {
  worker: Worker;
  store: SchedulingStore;
  offlineModel?: OfflineModelServer;
  /** Langfuse tracing, when on; flushed when the worker stops. */
  tracer?: RunTracer;
  /** Runs until shutdown() (or a signal); then closes the model server and the store. */
  run(): Promise<void>;
  shutdown(): void;
}

export interface WorkerOptions {
  connection: NativeConnection;
  config: AppConfig;
  /** A bundle built once (tests share one); by default the worker bundles src/workflows itself. */
  workflowBundle?: WorkflowBundle;
  store?: SchedulingStore;
  say?: (line: string) => void;
  /** Extra interceptors (the crash suite traces activities with one). */
  interceptors?: WorkerInterceptors;
  /** Where prompts come from; by default as the configuration says (local files, or Langfuse with a local fallback). */
  registry?: PromptRegistry;
  /** More activities beside the production ones (the benchmark's no-op). */
  extraActivities?: Record<string, (...args: never[]) => Promise<unknown>>;
  /** Another workflow bundle entry than src/workflows (the benchmark's adds its floor workflow). */
  workflowsPath?: string;
}

export async function createReassignmentWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const { config } = options;
  const say = options.say ?? ((l: string) => console.log(l));
  const store = options.store ?? (await SchedulingStore.open(targetOf(config), config));
  let offlineModel: OfflineModelServer | undefined;
  let baseURL = config.OPENAI_BASE_URL;
  if (usesOfflineModel(config)) {
    const faults = parseFaultSetting(config.OFFLINE_MODEL_FAULTS);
    offlineModel = await startOfflineModel({ latencyMs: config.OFFLINE_MODEL_LATENCY_MS, faults });
    baseURL = offlineModel.url;
    say(`${OFFLINE_NOTICE} (${offlineModel.url})`);
    if (faults.length > 0) say(`offline model fault modes on: ${faults.map((f) => f.mode).join(', ')}`);
  }
  if (config.langfuse) configureLangfuseLogging(config.LOG_LEVEL);
  const tracer =
    config.tracing && config.langfuse
      ? RunTracer.create({
          connection: config.langfuse,
          masking: config.TRACE_MASKING === 'on',
          names: () => store.patientNames(),
          patientIds: () => store.patientIds(),
          ...(config.TRACE_MASKING === 'on' ? { pseudonyms: pseudonymsFor(config, say) } : {}),
        })
      : undefined;
  if (tracer)
    say(
      `tracing to Langfuse at ${config.langfuse!.baseUrl}${config.TRACE_MASKING === 'on' ? ' (patient data masked, patient ids pseudonymised)' : ' (masking OFF)'}`,
    );
  const activities = createActivities({
    store,
    outcomes: {
      enabled: config.PATIENT_FOLLOW_UP === 'on',
      responseMs: Math.round(config.PATIENT_RESPONSE_HOURS * 3_600_000),
      maxReoffers: config.MAX_OFFERS,
      satisfactionMs: Math.round(config.SATISFACTION_WINDOW_DAYS * 86_400_000),
      escalateWaitlistDays: config.ESCALATE_WAITLIST_DAYS,
      taskQueue: config.TASK_QUEUE,
    },
    ...(config.langfuse ? { scorer: new OutcomeScorer(createLangfuseClient(config.langfuse)) } : {}),
    registry: options.registry ?? promptRegistryFor(config),
    llm: createOpenAiClient({ baseURL: baseURL!, apiKey: config.OPENAI_API_KEY, timeoutMs: config.LLM_TIMEOUT_MS }),
    modelOverride: config.LLM_MODEL,
    offline: offlineModel !== undefined,
    experiment: config.PROMPT_EXPERIMENT,
    ...(config.ROLLOUT_PROMPT_SHARE !== undefined ? { rolloutShare: config.ROLLOUT_PROMPT_SHARE } : {}),
    taskQueue: config.TASK_QUEUE,
    // The rollback guard moves labels in Langfuse, when it is configured.
    ...(config.langfuse ? { promptOps: new PromptOps(createLangfuseClient(config.langfuse)) } : {}),
    tracer,
    ...(config.prices ? { prices: config.prices } : {}),
    ...(config.LLM_MAX_RPM !== undefined || config.LLM_MAX_TPM !== undefined
      ? {
          limiter: new LlmRateLimiter({
            ...(config.LLM_MAX_RPM !== undefined ? { requestsPerMinute: config.LLM_MAX_RPM } : {}),
            ...(config.LLM_MAX_TPM !== undefined ? { tokensPerMinute: config.LLM_MAX_TPM } : {}),
          }),
        }
      : {}),
  });
  const worker = await Worker.create({
    connection: options.connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TASK_QUEUE,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: options.workflowsPath ?? require.resolve('./workflows') }),
    activities: { ...activities, ...options.extraActivities },
    dataConverter: dataConverterFor(config, { say }),
    ...(options.interceptors ? { interceptors: options.interceptors } : {}),
    // Ten batches in flight run up to ten tool calls each in parallel, plus their LLM calls.
    maxConcurrentActivityTaskExecutions: 128,
    maxCachedWorkflows: 500,
    // After a crash, a dead worker's sticky workflow tasks move to the shared queue after this long (default 10 s).
    stickyQueueScheduleToStartTimeout: '5 seconds',
  });
  const ownsStore = options.store === undefined;
  return {
    worker,
    store,
    offlineModel,
    tracer,
    async run() {
      try {
        await worker.run();
      } finally {
        await tracer?.shutdown().catch((err: unknown) => say(`could not flush the traces: ${String(err)}`));
        await offlineModel?.close();
        if (ownsStore) await store.close();
      }
    },
    shutdown: () => {
      // Idempotent: the demo and tests may ask twice.
      if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  // Settings only the worker reads are checked now, before anything connects.
  parseFaultSetting(config.OFFLINE_MODEL_FAULTS);
  const encryption = describeEncryption(config);
  Runtime.install({ logger: new DefaultLogger(config.LOG_LEVEL) });
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  } catch {
    throw new Error(
      `cannot reach the Temporal server at ${config.TEMPORAL_ADDRESS}: start it with \`npm run server\` or set TEMPORAL_ADDRESS`,
    );
  }
  const client = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const added = await ensureSearchAttributes(client, config.TEMPORAL_NAMESPACE);
  if (added.length > 0) console.log(`registered search attributes: ${added.join(', ')}`);
  await client.close();
  if (!usesOfflineModel(config)) {
    // A refused key is a one-line error now, not a failed run later.
    const llm = createOpenAiClient({
      baseURL: config.OPENAI_BASE_URL!,
      apiKey: config.OPENAI_API_KEY,
      timeoutMs: 10_000,
    });
    const check = await checkModelEndpoint(llm);
    if (!check.reachable)
      console.log(
        `warning: the model endpoint ${config.OPENAI_BASE_URL} does not answer (${check.detail}); runs will retry, then fall back to code-driven where the prompt config allows`,
      );
  }
  const handle = await createReassignmentWorker({ connection, config });
  if ((await handle.store.counts()).appointments === 0)
    console.log(
      `note: the scheduling database ${handle.store.location} is empty; load the demo data with \`npm run seed\``,
    );
  console.log(`scheduling data: ${describeTarget(handle.store.target)}`);
  console.log(
    `worker polling task queue "${config.TASK_QUEUE}" on ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE}, ${encryption}); Ctrl-C stops it`,
  );
  await handle.run();
  await connection.close();
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`worker: ${describeError(err)}`);
    process.exit(1);
  });
}
