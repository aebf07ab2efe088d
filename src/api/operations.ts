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

/** Every approval awaited by a running reassignment, soonest deadline first (GET /api/approvals, MCP list_approvals). */
export async function listApprovals({ config, client }: ApiDeps): Promise<z.infer<typeof inboxSchema>> {
  const approvals = [];
  for await (const e of client.temporal.workflow.list({
    query: listQuery(config.TASK_QUEUE, { status: 'running' }),
  })) {
    if (e.status.name !== 'RUNNING') continue;
    const progress = await client.progress(e.workflowId).catch(() => undefined);
    // The model's stated reason is free text that may name the patient: it stays out of this list.
    for (const { rationale: _rationale, ...p } of progress?.pending_approvals ?? [])
      approvals.push({
        ...p,
        details: null,
        workflow_id: e.workflowId,
        provider_of_run: e.typedSearchAttributes.get(searchAttributes.providerId) ?? null,
      });
  }
  return { approvals: approvals.sort((a, b) => a.deadline.localeCompare(b.deadline)) };
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
