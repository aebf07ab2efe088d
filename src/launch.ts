import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import type { AppConfig } from './config';
import { SchedulingStore } from './domain/store';
import { LocalPromptRegistry, PromptError, resolvePromptBundle } from './prompts/registry';
import type { RequestedMode, ReassignmentInput } from './workflows/contract/types';
import { idStamp, reassignmentWorkflowId } from './workflowIds';

/**
 * Starting a reassignment, the same way from the CLI, the HTTP API and the eval: the input already validated
 * with the workflow's own schema, the provider, dates and local prompts checked where they live on this
 * machine (so a mistake is one line now, not a failed run later), then the workflow started on the task queue.
 */

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

/** When the scheduling database is on this machine, check the provider and dates before starting a run. */
function checkAgainstStore(config: AppConfig, providerId: string, date: string, until?: string): void {
  if (!fs.existsSync(config.DB_PATH)) return;
  const store = new SchedulingStore(config.DB_PATH);
  try {
    if (store.counts().providers === 0)
      throw new LaunchRefused(`the scheduling database ${config.DB_PATH} is empty: load data first (npm run seed)`);
    if (!store.provider(providerId))
      throw new LaunchRefused(`unknown provider ${providerId} in ${config.DB_PATH}`, 'not_found');
    if (until !== undefined) {
      if (store.appointmentCount(providerId, date, until) === 0)
        throw new LaunchRefused(
          `provider ${providerId} has no appointments from ${date} through ${until}: nothing to reassign`,
        );
    } else if (store.appointmentCount(providerId, date) === 0 && !store.unavailability(providerId, date))
      throw new LaunchRefused(`provider ${providerId} has no appointments on ${date}: nothing to reassign`);
  } finally {
    store.close();
  }
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

/** Everything checked before a run starts (nothing needs Temporal yet): a mistake is a LaunchRefused. */
export async function preflight(config: AppConfig, input: LaunchRequest['input']): Promise<void> {
  checkAgainstStore(config, input.providerId, input.date, input.until);
  await checkPrompts(config, input.promptLabel);
}

/** Starts the run (after preflight) and returns its ids. */
export async function launchReassignment(
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
