import { Client, Connection, WorkflowFailedError, type ConnectionOptions } from '@temporalio/client';
import { loadConfig, type AppConfig } from './config';
import { targetOf } from './db/open';
import { withSchedulingStore } from './domain/store';
import { OutcomeDesk } from './outcomeDesk';
import { describeError } from './errors';
import { LocalPromptRegistry, PromptError, resolvePromptBundle } from './prompts/registry';
import { decideApproval } from './temporal/approvalDecision';
import { dataConverterFor } from './temporal/dataConverter';
import { listRuns, type RunFilters, type RunSummary } from './temporal/runList';
import { cancelSignal, progressQuery } from './workflows/contract/signals';
import type {
  ApprovalDecisionAccepted,
  ApprovalDecisionRequest,
  Progress,
  ReassignmentInput,
  ReassignmentResult,
  RequestedMode,
} from './workflows/contract/types';
import { idStamp, reassignmentWorkflowId } from './workflowIds';
import { runPreview } from './previewRun';
import type { PreviewInput, PreviewResult } from './workflows/preview/previewContract';

/**
 * The product's Temporal client, the one every caller goes through: our CLI, the HTTP API, the eval runner and
 * the demo, and a user's own code. It connects (the one place where the client's data converter and, later, a
 * payload codec are set), starts a run the same way for everyone (the input checked with the workflow's own
 * schema by the caller, the provider, dates and local prompts checked where they live, so that a mistake is one
 * line now and not a failed run later), reads progress and results, decides approvals through the run's Update,
 * cancels, and lists runs.
 *
 *   const client = await ReassignmentClient.connect();
 *   const { workflowId } = await client.start({ input: { providerId: 'T001', date: '2025-11-21',
 *     reason: 'sick', promptLabel: 'production' }, mode: 'prompt' });
 *   await client.decide(workflowId, { appointmentId: 'A002', decision: 'approve', by: 'dr-house' });
 *   console.log((await client.result(workflowId)).status);
 *   await client.close();
 */

/** The Temporal server does not answer: one line, with what to do about it. */
export class TemporalUnreachable extends Error {}

/** A run that failed: its failure in one line. */
export class RunFailed extends Error {}

/** A start refused before anything happens: a user's mistake, told in one line. */
export class LaunchRefused extends Error {
  constructor(
    message: string,
    /** What kind of mistake: an unknown thing (404-like) or a request that cannot be done (422-like). */
    readonly kind: 'not_found' | 'invalid' = 'invalid',
  ) {
    super(message);
    this.name = 'LaunchRefused';
  }
}

/**
 * The workflow type a mode starts: the typed workflows for prompt and code (their names say in the Web UI
 * who decides), the generic `reassignment` for auto (the rollout share picks) and shadow.
 */
const workflowTypeOf = (mode: RequestedMode) =>
  mode === 'prompt' ? 'promptDrivenReassignment' : mode === 'code' ? 'codeDrivenReassignment' : 'reassignment';

/** When the scheduling database is at hand, check the provider and dates before starting a run. */
async function checkAgainstStore(config: AppConfig, providerId: string, date: string, until?: string): Promise<void> {
  await withSchedulingStore(
    targetOf(config),
    async (store) => {
      if ((await store.counts()).providers === 0)
        throw new LaunchRefused('the scheduling database is empty: load data first (npm run seed)');
      if (!(await store.provider(providerId))) throw new LaunchRefused(`unknown provider ${providerId}`, 'not_found');
      const when = until !== undefined ? `from ${date} through ${until}` : `on ${date}`;
      if ((await store.appointmentCount(providerId, date, until)) === 0)
        throw new LaunchRefused(`provider ${providerId} has no appointments ${when}: nothing to reassign`);
      // A repeated request: every appointment was moved or waitlisted already (each by the run that decided it).
      if ((await store.scheduledCount(providerId, date, until)) === 0)
        throw new LaunchRefused(
          `provider ${providerId} has nothing left to reassign ${when}: every appointment was already moved or waitlisted`,
        );
    },
    config,
  );
}

/** The local prompt files are read here too, so that a file that does not parse or a missing label is one line now. */
async function checkPrompts(config: AppConfig, label: string): Promise<void> {
  if (config.PROMPT_SOURCE !== 'local') return;
  try {
    await resolvePromptBundle(new LocalPromptRegistry(config.PROMPTS_DIR), label);
  } catch (err) {
    if (err instanceof PromptError) throw new LaunchRefused(err.message);
    throw err;
  }
}

export interface LaunchRequest {
  /** Validated with reassignmentInputSchema by the caller, with the caller's wording for mistakes. */
  input: ReassignmentInput & { promptLabel: string };
  mode: RequestedMode;
  workflowId?: string;
}

/**
 * Everything checked before a run starts (nothing needs Temporal yet): a mistake is a LaunchRefused. The CLI calls
 * it before it even connects, so that a mistake is told as such when no server answers either.
 */
export async function preflight(config: AppConfig, input: LaunchRequest['input']): Promise<void> {
  await checkAgainstStore(config, input.providerId, input.date, input.until);
  await checkPrompts(config, input.promptLabel);
}

/** Starts the run (after preflight) and returns its ids. */
async function launchReassignment(
  client: Client,
  config: AppConfig,
  request: LaunchRequest,
): Promise<{ workflowId: string; runId: string; type: string }> {
  const { input, mode } = request;
  const workflowId =
    request.workflowId ??
    reassignmentWorkflowId({ providerId: input.providerId, date: input.date, stamp: idStamp(new Date()) });
  const type = workflowTypeOf(mode);
  // The generic workflow reads its mode from the input; the typed ones have theirs in their name.
  const args = [type === 'reassignment' ? { ...input, mode } : input];
  const handle = await client.workflow.start(type, { taskQueue: config.TASK_QUEUE, workflowId, args });
  return { workflowId, runId: handle.firstExecutionRunId, type };
}

export class ReassignmentClient {
  constructor(
    /** The Temporal SDK's client, for what this one does not cover (schedules, visibility queries). */
    readonly temporal: Client,
    readonly config: AppConfig,
    /** The connection connect() opened (close() closes it); absent when built on a caller's own client. */
    readonly connection?: Connection,
  ) {}

  /** Connects to TEMPORAL_ADDRESS (namespace TEMPORAL_NAMESPACE); refuses in one line when nobody answers. */
  static async connect(
    config: AppConfig = loadConfig(),
    options: { address?: string; connectTimeoutMs?: number; interceptors?: ConnectionOptions['interceptors'] } = {},
  ): Promise<ReassignmentClient> {
    const address = options.address ?? config.TEMPORAL_ADDRESS;
    // The keyring first: a bad PAYLOAD_KEYS is told as such, whether or not a server answers.
    const dataConverter = dataConverterFor(config);
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({
        address,
        connectTimeout: options.connectTimeoutMs ?? 3000,
        ...(options.interceptors ? { interceptors: options.interceptors } : {}),
      });
      await connection.workflowService.getSystemInfo({});
    } catch {
      await connection?.close().catch(() => undefined);
      throw new TemporalUnreachable(
        `cannot reach the Temporal server at ${address}: start it with \`npm run server\` (or set TEMPORAL_ADDRESS)`,
      );
    }
    return new ReassignmentClient(
      new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter }),
      config,
      connection,
    );
  }

  /** Checks (preflight), then starts the run on the task queue; returns its workflow id and type. */
  async start(request: LaunchRequest): Promise<{ workflowId: string; runId: string; type: string }> {
    await preflight(this.config, request.input);
    return launchReassignment(this.temporal, this.config, request);
  }

  /**
   * What a prompt-driven run would decide, with nothing written (the preview workflow, a dry run of the same loop):
   * checked as a start is (preflight), then waited for, at most PREVIEW_TIMEOUT_MS (a PreviewTimedOut past it).
   */
  async preview(input: PreviewInput & { promptLabel: string }): Promise<PreviewResult> {
    await preflight(this.config, { ...input, reason: input.reason ?? 'unavailable' });
    return runPreview(this.temporal, this.config, input, (message, kind) => new LaunchRefused(message, kind));
  }

  /** The run's live progress (the `progress` query). */
  progress(workflowId: string): Promise<Progress> {
    return this.temporal.workflow.getHandle(workflowId).query(progressQuery);
  }

  /** The run's result, waiting for it if it still runs; a failed run is a RunFailed with its reason. */
  async result(workflowId: string): Promise<ReassignmentResult> {
    try {
      return (await this.temporal.workflow.getHandle(workflowId).result()) as ReassignmentResult;
    } catch (err) {
      if (err instanceof WorkflowFailedError)
        throw new RunFailed(`the reassignment failed: ${describeError(err.cause ?? err)}`);
      throw err;
    }
  }

  /** Approves or rejects through the run's Update: accepted, or a DecisionRefused in one line. */
  decide(workflowId: string, request: ApprovalDecisionRequest): Promise<ApprovalDecisionAccepted> {
    return decideApproval(this.temporal, workflowId, request);
  }

  /**
   * Stops the run after its steps in flight (what is done stays done): the cancel signal with a reason, or
   * Temporal's own cancellation (the same outcome).
   */
  async cancel(workflowId: string, how: { reason?: string; temporal?: boolean } = {}): Promise<void> {
    const handle = this.temporal.workflow.getHandle(workflowId);
    if (how.temporal) await handle.cancel();
    else await handle.signal(cancelSignal, how.reason ? { reason: how.reason } : {});
  }

  /** Runs on this task queue, newest first, with the API's filters. */
  list(filters: RunFilters): Promise<RunSummary[]> {
    return listRuns(this.temporal, this.config.TASK_QUEUE, filters);
  }

  /** Patients' answers, visit scores, offers and escalations (src/outcomeDesk.ts). */
  get outcomes(): OutcomeDesk {
    return new OutcomeDesk(this.temporal, this.config);
  }

  async close(): Promise<void> {
    await this.connection?.close();
  }
}
