import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { startApi, type RunningApi } from '../../src/api/main';
import { loadConfig, projectRoot, type AppConfig } from '../../src/config';
import { checkInvariants } from '../../src/domain/audit';
import { demoDataset } from '../../src/domain/demoData';
import type { Dataset } from '../../src/domain/model';
import type { DatabaseTarget } from '../../src/db/open';
import { SchedulingStore } from '../../src/domain/store';
import { openTestStore, targetEnv } from './testStore';
import type { ChatMessage } from '../../src/llm/chatTypes';
import type { AgentReply } from '../../src/llm/offline/agent';
import type { Fault } from '../../src/llm/offline/faults';
import { startOfflineModel, type OfflineModelServer } from '../../src/llm/offline/server';
import { dataConverterFor } from '../../src/temporal/dataConverter';
import { createReassignmentWorker, type WorkerHandle } from '../../src/worker';
import { progressQuery } from '../../src/workflows/contract/signals';
import type { Progress, ReassignmentInput, ReassignmentResult } from '../../src/workflows/contract/types';
import { reassignmentWorkflowId } from '../../src/workflowIds';

/**
 * The one place tests get their world from: the shared Temporal dev server and workflow bundle (started in
 * globalSetup), a worker on a task queue of its own, a fresh SQLite scheduling database, and a model
 * server on loopback (the offline stand-in, or a scripted one).
 */

let runtimeInstalled = false;
let counter = 0;

/** The workflow types a test starts: the typed ones, and the generic one (modes auto and shadow). */
type RunType = 'promptDrivenReassignment' | 'codeDrivenReassignment' | 'reassignment';

export interface Harness {
  client: Client;
  /** The worker's configuration (the client's data converter comes from it too). */
  config: AppConfig;
  store: SchedulingStore;
  taskQueue: string;
  address: string;
  model: OfflineModelServer;
  worker: WorkerHandle;
  promptsDir: string;
  /** Starts a run the way our CLI does and returns its handle. */
  start(type: RunType, input: ReassignmentInput, id?: string): Promise<WorkflowHandle>;
  run(type: RunType, input: ReassignmentInput, id?: string): Promise<ReassignmentResult>;
  reload(data?: Dataset): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  data?: Dataset;
  /** The scheduling database (a test that stops its own PostgreSQL); by default a new one of the run's kind. */
  target?: DatabaseTarget;
  /** With `target`: keep the data that database holds (a worker taking over another's store) instead of loading. */
  keepData?: boolean;
  /** Another Temporal server than the shared one (a test that restarts its own). */
  address?: string;
  /** Edits applied to the project's prompt files (a temp copy) before the worker starts. */
  editPrompts?: (files: { orchestrator: PromptDoc; scoring: PromptDoc }) => void;
  /** A scripted model instead of the offline stand-in. */
  agent?: (messages: ChatMessage[], offered?: readonly string[]) => AgentReply;
  /** Fault modes for the model (the offline stand-in, or the scripted agent): see src/llm/offline/faults.ts. */
  faults?: Fault[];
  /** More worker configuration (LLM_TIMEOUT_MS, Langfuse, an experiment, tracing, keys), as environment variables. */
  env?: Record<string, string>;
  /** Where the worker's notices go (the codec's missing-key line among them); silent by default. */
  say?: (line: string) => void;
}

/**
 * The test run's keys (random, made in globalSetup): the payload keyring (PAYLOAD_KEYS), which every test's
 * clients and workers encrypt with, and the key of patient id pseudonyms in traces (PATIENT_ID_HMAC_KEY). Child
 * processes inherit them, as one deployment's processes share one keyring.
 */
export function encryptionEnv(): Record<string, string> {
  const keys = process.env.PAYLOAD_KEYS;
  const pseudonymKey = process.env.PATIENT_ID_HMAC_KEY;
  if (!keys || !pseudonymKey) throw new Error('the jest globalSetup did not run');
  return { PAYLOAD_KEYS: keys, PATIENT_ID_HMAC_KEY: pseudonymKey };
}

/** The data converter of the test run's clients and workers (or of other settings, such as a rotated keyring). */
export function testDataConverter(env: Record<string, string> = {}) {
  return dataConverterFor(loadConfig({ ...encryptionEnv(), ...env }));
}

export interface PromptDoc {
  versions: {
    version: number;
    labels: string[];
    config: Record<string, unknown> & { approval?: Record<string, unknown>; budgets?: Record<string, unknown> };
    prompt: string;
  }[];
}

export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export function tempDir(name: string): string {
  const base = process.env.TEST_TMP_DIR ?? fs.mkdtempSync('/tmp/reassign-');
  const dir = path.join(base, uniqueName(name));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Copies prompts/ to a temp folder and applies edits: how a test changes the prompt without touching the repo. */
export function promptsCopy(edit?: HarnessOptions['editPrompts']): string {
  const dir = tempDir('prompts');
  const read = (name: string) =>
    parseYaml(fs.readFileSync(path.join(projectRoot, 'prompts', `${name}.yaml`), 'utf8')) as PromptDoc;
  const files = { orchestrator: read('healthcare-orchestrator'), scoring: read('scoring-strategy') };
  edit?.(files);
  fs.writeFileSync(
    path.join(dir, 'healthcare-orchestrator.yaml'),
    stringifyYaml(files.orchestrator, { aliasDuplicateObjects: false }),
  );
  fs.writeFileSync(
    path.join(dir, 'scoring-strategy.yaml'),
    stringifyYaml(files.scoring, { aliasDuplicateObjects: false }),
  );
  return dir;
}

/** One quiet Temporal Runtime per test process: some tests provoke warnings on purpose (a tampered history, refused calls). */
export function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  try {
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
    });
  } catch {
    // Already installed by another file in this process.
  }
  runtimeInstalled = true;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const address = options.address ?? process.env.TEST_TEMPORAL_ADDRESS;
  const bundlePath = process.env.TEST_WORKFLOW_BUNDLE;
  if (!address || !bundlePath) throw new Error('the jest globalSetup did not run');
  installQuietRuntime();
  const taskQueue = options.env?.TASK_QUEUE ?? uniqueName('tq');
  const dir = tempDir('db');
  const store = options.target ? await SchedulingStore.open(options.target) : await openTestStore(dir);
  if (!(options.target && options.keepData)) await store.load(options.data ?? demoDataset());
  // A scripted model is served here; otherwise the worker starts the offline stand-in itself, as in production.
  const scripted =
    options.agent || options.faults
      ? await startOfflineModel({ agent: options.agent, faults: options.faults })
      : undefined;
  const promptsDir = options.editPrompts ? promptsCopy(options.editPrompts) : path.join(projectRoot, 'prompts');
  const config = loadConfig({
    TEMPORAL_ADDRESS: address,
    TASK_QUEUE: taskQueue,
    ...storeEnv(store),
    PROMPTS_DIR: promptsDir,
    ...(scripted ? { OPENAI_BASE_URL: scripted.url } : {}),
    LOG_LEVEL: 'ERROR',
    // Patients' follow-ups are for the tests about them (outcomes.test.ts): elsewhere a run ends at the notification.
    PATIENT_FOLLOW_UP: 'off',
    ...encryptionEnv(),
    ...options.env,
  });
  const native = await NativeConnection.connect({ address });
  const worker = await createReassignmentWorker({
    connection: native,
    config,
    store,
    workflowBundle: { code: fs.readFileSync(bundlePath, 'utf8') },
    say: options.say ?? (() => undefined),
  });
  const running = worker.run();
  const model = (scripted ?? worker.offlineModel)!;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, dataConverter: dataConverterFor(config) });

  const start = (type: RunType, input: ReassignmentInput, id?: string) =>
    client.workflow.start(type, {
      taskQueue,
      workflowId:
        id ?? reassignmentWorkflowId({ providerId: input.providerId, date: input.date, stamp: uniqueName('t') }),
      args: [input],
    });

  return {
    client,
    config,
    store,
    taskQueue,
    address,
    model,
    worker,
    promptsDir,
    start,
    run: async (type, input, id) => (await start(type, input, id)).result() as Promise<ReassignmentResult>,
    reload: (data) => store.load(data ?? demoDataset()),
    async close() {
      worker.shutdown();
      await running;
      await native.close();
      await connection.close();
      await scripted?.close();
      await store.close();
    },
  };
}

/** Polls the progress query until the predicate holds. */
export async function waitForProgress(
  handle: WorkflowHandle,
  predicate: (p: Progress) => boolean,
  timeoutMs = 30_000,
): Promise<Progress> {
  const deadline = Date.now() + timeoutMs;
  let last: Progress | undefined;
  while (Date.now() < deadline) {
    try {
      last = await handle.query(progressQuery);
      if (predicate(last)) return last;
    } catch {
      // not started yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`progress never matched; last: ${JSON.stringify(last)}`);
}

/**
 * Temporal's visibility is eventually consistent: asks again, every 500 ms and 40 times at most, until the
 * answer is complete, and returns the last answer (the test's assertions then say what was missing).
 */
export async function untilVisible<T>(ask: () => Promise<T>, complete: (answer: T) => boolean): Promise<T> {
  let last = await ask();
  for (let attempt = 1; attempt < 40 && !complete(last); attempt++) {
    await new Promise((res) => setTimeout(res, 500));
    last = await ask();
  }
  return last;
}

/** The store's invariants, as the audit command checks them: an empty list when all hold. */
export async function auditStore(store: SchedulingStore): Promise<string[]> {
  return (await checkInvariants(store)).map((v) => `${v.rule}: ${v.detail}`);
}

/**
 * The rows of a read-only query, for a test that inspects a table no store method reads (the API's access log).
 * Through the store's audit queries (each row comes back as JSON), so it works on either database.
 */
export async function queryRows(store: SchedulingStore, sql: string): Promise<Record<string, unknown>[]> {
  const rows = await store.findViolations([{ rule: 'query', sql }]);
  return rows.map((r) => JSON.parse(r.detail) as Record<string, unknown>);
}

/**
 * The configuration (or child-process environment) that points at the store's database: DB_PATH for a SQLite
 * file, DATABASE_URL for PostgreSQL.
 */
export function storeEnv(store: SchedulingStore): Record<string, string> {
  return targetEnv(store.target);
}

/**
 * The HTTP API in this process on a free port, pointed at the harness's Temporal server, task queue, store and
 * prompts, encrypting as the workers do; `env` adds to (or overrides) that configuration. Its log lines are dropped.
 */
export function startHarnessApi(h: Harness, env: Record<string, string> = {}): Promise<RunningApi> {
  return startApi(
    loadConfig({
      TEMPORAL_ADDRESS: h.address,
      TASK_QUEUE: h.taskQueue,
      ...storeEnv(h.store),
      PROMPTS_DIR: h.promptsDir,
      API_PORT: '0',
      ...encryptionEnv(),
      ...env,
    }),
    () => undefined,
  );
}

export { temporalCli } from './processes';

/**
 * The orchestrator prompt as it was with two versions (production on v1, staging on v2): for the tests of labels
 * moving between versions in Langfuse, whose version numbers they assert, and which are about the moving.
 */
export function twoVersions(files: { orchestrator: PromptDoc; scoring?: PromptDoc }): void {
  files.orchestrator.versions = files.orchestrator.versions.filter((v) => v.version <= 2);
  files.orchestrator.versions.find((v) => v.version === 1)!.labels = ['production'];
  // The scoring strategy as it was with one version (before the conservative one of issue 18).
  if (files.scoring) {
    files.scoring.versions = files.scoring.versions.filter((v) => v.version === 1);
    files.scoring.versions[0]!.labels = ['production', 'staging'];
  }
}
