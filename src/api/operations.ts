import type { z } from 'zod';
import { listQuery } from '../temporal/runList';
import { searchAttributes } from '../workflows/contract/searchAttributes';
import { reassignmentInputSchema } from '../workflows/contract/types';
import { REASSIGNMENT_TYPES } from '../workflowIds';
import { describeZodError } from '../zodIssue';
import type { Principal } from './auth';
import type { ApiDeps } from './deps';
import { fingerprintOf, KeyReused, StartDedup } from './startDedup';
import { ApiError, fromTemporal, linksOf } from './runViews';
import type { inboxSchema, triggerBodySchema, triggerResponseSchema } from './schemas';

/**
 * The operations the HTTP API's routes and the MCP server (src/mcp/) both offer, written once: starting a run,
 * the approvals inbox, cancelling. Everything goes through the product's client (src/client.ts), so through
 * Temporal; a refusal is an ApiError (or the client's LaunchRefused) in one line.
 */

/**
 * Starts a reassignment (POST /api/trigger-workflow-dynamic, MCP start_reassignment), once per request: the body
 * checked as the workflow will check it (a request of the documented shape that asks for what cannot be done is a
 * 422), then started through the API's dedup when there is one (an Idempotency-Key, or identical concurrent starts:
 * one run), and its starter recorded. `replayed`: an earlier request's run answers this one.
 */
export async function startReassignment(
  { config, client, dedup }: ApiDeps,
  body: z.infer<typeof triggerBodySchema>,
  who: string,
  key?: string,
): Promise<z.infer<typeof triggerResponseSchema> & { replayed: boolean }> {
  const mode = body.mode ?? (config.ROLLOUT_PROMPT_SHARE !== undefined ? 'auto' : 'prompt');
  if (body.shadow_writer && mode !== 'shadow')
    throw new ApiError(422, 'invalid body: shadow_writer goes with mode shadow only');
  const candidate = {
    providerId: body.provider_id,
    date: body.date,
    ...(body.until !== undefined ? { until: body.until } : {}),
    reason: body.reason?.trim() ?? 'unavailable',
    promptLabel: body.label ?? config.PROMPT_LABEL,
    ...(body.shadow_writer ? { shadowWriter: body.shadow_writer } : {}),
  };
  // The workflow's own schema has the last word (date ranges), in the API's field names.
  const parsed = reassignmentInputSchema.safeParse(candidate);
  if (!parsed.success)
    throw new ApiError(
      422,
      `invalid body: ${describeZodError(parsed.error, '(body)').replace(/^providerId\b/, 'provider_id')}`,
    );
  const workflowId = key ? StartDedup.workflowIdFor(who, key, body.provider_id, body.date) : undefined;
  const launch = async () => {
    const s = await client
      .start({ input: candidate, mode, ...(workflowId ? { workflowId } : {}) })
      .catch((err: unknown) => {
        if ((err as { name?: string }).name === 'WorkflowExecutionAlreadyStartedError')
          throw new ApiError(409, 'a run with that workflow id is already running');
        throw err;
      });
    return { ...s, mode };
  };
  const existing = async (id: string) => {
    const d = await client.temporal.workflow.getHandle(id).describe();
    return { workflowId: id, runId: d.runId, type: d.type, mode };
  };
  const isRunning = async (id: string) =>
    (await client.temporal.workflow.getHandle(id).describe()).status.name === 'RUNNING';
  const request = { who, fingerprint: fingerprintOf({ ...candidate, mode }), ...(key ? { key, workflowId } : {}) };
  const started = await (
    dedup ? dedup.start(request, launch, isRunning, existing) : launch().then((s) => ({ ...s, replayed: false }))
  ).catch((err: unknown) => {
    if (err instanceof KeyReused) throw new ApiError(422, err.message);
    throw err;
  });
  if (!started.replayed) await dedup?.recordStarter(started.workflowId, who);
  return {
    workflow_id: started.workflowId,
    run_id: started.runId,
    type: started.type,
    mode,
    links: linksOf(config, started.workflowId),
    replayed: started.replayed,
  };
}

/**
 * Every approval awaited by a running reassignment, soonest deadline first, with the decision explained (GET
 * /api/approvals, MCP list_approvals). The runs' progress queries go side by side; the list is shared through the
 * API's list cache when there is one. Patient names and the model's stated reason (free text that may name the
 * patient) are added only `withPatients`, for this answer only: never in the shared cache.
 */
export async function listApprovals(
  { config, client, lists, views }: ApiDeps,
  withPatients = false,
): Promise<z.infer<typeof inboxSchema>> {
  const read = async () => {
    const running = [];
    for await (const e of client.temporal.workflow.list({
      query: listQuery(config.TASK_QUEUE, { status: 'running' }),
    }))
      if (e.status.name === 'RUNNING') running.push(e);
    const answers = await Promise.all(
      running.map(async (e) => ({ e, progress: await client.progress(e.workflowId).catch(() => undefined) })),
    );
    const approvals = await Promise.all(
      answers.flatMap(({ e, progress }) =>
        (progress?.pending_approvals ?? []).map(async (p) => ({
          ...p,
          workflow_id: e.workflowId,
          provider_of_run: e.typedSearchAttributes.get(searchAttributes.providerId) ?? null,
          label: progress?.prompt?.label ?? config.PROMPT_LABEL,
          details: (await views?.approvalDetails(p, progress?.prompt?.label ?? config.PROMPT_LABEL, false)) ?? null,
        })),
      ),
    );
    return { approvals: approvals.sort((a, b) => a.deadline.localeCompare(b.deadline)) };
  };
  const inbox = await (lists ? (lists.get('approvals', read) as ReturnType<typeof read>) : read());
  const approvals = await Promise.all(
    inbox.approvals.map(async ({ label, rationale, ...a }) =>
      withPatients
        ? {
            ...a,
            ...(rationale !== undefined ? { rationale } : {}),
            details: a.details && ((await views?.approvalDetails(a, label, true)) ?? a.details),
          }
        : a,
    ),
  );
  return { approvals };
}

/** Asks a running reassignment to stop after the step in flight (POST …/cancel, MCP cancel_reassignment). */
export async function cancelReassignment(
  { client }: ApiDeps,
  principal: Principal,
  id: string,
  reason?: string,
  through = 'the API',
): Promise<void> {
  const handle = client.temporal.workflow.getHandle(id);
  const described = await handle.describe().catch((err: unknown) => fromTemporal(err, id));
  if (!REASSIGNMENT_TYPES.includes(described.type)) throw new ApiError(404, `${id} is not a reassignment`);
  if (described.status.name !== 'RUNNING') throw new ApiError(409, `${id} has finished (${described.status.name})`);
  await client
    .cancel(id, { reason: reason ?? `cancelled by ${principal.name} through ${through}` })
    .catch((err: unknown) => fromTemporal(err, id));
}
