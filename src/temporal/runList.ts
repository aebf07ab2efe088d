import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { z } from 'zod';
import { calendarDateSchema, providerIdSchema } from '../domain/model';
import { REASSIGNMENT_TYPES } from '../workflowIds';
import { runModeSchema, runStatusSchema } from '../workflows/contract/resultSchema';
import { searchAttributes } from '../workflows/contract/searchAttributes';

/**
 * Runs as Temporal's visibility lists them, narrowed by our search attributes: the HTTP API's
 * GET /api/reassignments and the CLI's `list` both read them here, with the same filters.
 */

export const runFiltersSchema = z
  .object({
    // One enum rather than a union, so that a bad value is answered with the list of good ones.
    status: z.enum([...runStatusSchema.options, 'running']).optional(),
    provider: providerIdSchema.optional(),
    date: calendarDateSchema.optional(),
    mode: runModeSchema.optional(),
    shadow: z.enum(['agree', 'disagree']).optional().describe('shadow runs that agreed or disagreed'),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();
export type RunFilters = z.infer<typeof runFiltersSchema>;

/** One run: its identity, Temporal's execution status, and what our search attributes say of it. */
export const runSummarySchema = z.object({
  workflow_id: z.string(),
  type: z.string(),
  mode: runModeSchema.nullable().describe('prompt, code or shadow (a routed run: the path it was given)'),
  shadow_agreement: z
    .enum(['agree', 'disagree'])
    .nullable()
    .describe('a shadow run: whether both paths decided alike (ShadowAgreement)'),
  execution_status: z.string(),
  status: z.string().nullable().describe('our status (ReassignStatus): running, completed, cancelled, ...'),
  provider_id: z.string().nullable(),
  date: z.string().nullable(),
  prompt_version: z.number().int().nullable(),
  started_at: z.string(),
  closed_at: z.string().nullable(),
});
export type RunSummary = z.infer<typeof runSummarySchema>;

// Filter values are checked by the schema above; dropping quotes and backslashes keeps the query well formed anyway.
const quote = (v: string) => `'${v.replace(/['\\]/g, '')}'`;

/** The visibility query for our runs on this task queue, narrowed by the filters. */
export function listQuery(taskQueue: string, f: Omit<RunFilters, 'limit'>): string {
  const parts = [`WorkflowType IN (${REASSIGNMENT_TYPES.map(quote).join(', ')})`, `TaskQueue = ${quote(taskQueue)}`];
  if (f.status) parts.push(`${searchAttributes.status.name} = ${quote(f.status)}`);
  if (f.provider) parts.push(`${searchAttributes.providerId.name} = ${quote(f.provider)}`);
  if (f.date) parts.push(`${searchAttributes.date.name} = ${quote(f.date)}`);
  if (f.mode) parts.push(`${searchAttributes.mode.name} = ${quote(f.mode)}`);
  if (f.shadow) parts.push(`${searchAttributes.shadowAgreement.name} = ${quote(f.shadow)}`);
  return parts.join(' AND ');
}

const shadowOf = (v: string | undefined) => (v === 'agree' || v === 'disagree' ? v : null);

export function runSummaryOf(e: WorkflowExecutionInfo): RunSummary {
  const sa = e.typedSearchAttributes;
  const mode = sa.get(searchAttributes.mode);
  return {
    workflow_id: e.workflowId,
    type: e.type,
    mode: mode === 'prompt' || mode === 'code' || mode === 'shadow' ? mode : null,
    shadow_agreement: shadowOf(sa.get(searchAttributes.shadowAgreement)),
    execution_status: e.status.name,
    status: sa.get(searchAttributes.status) ?? null,
    provider_id: sa.get(searchAttributes.providerId) ?? null,
    date: sa.get(searchAttributes.date) ?? null,
    prompt_version: sa.get(searchAttributes.promptVersion) ?? null,
    started_at: e.startTime.toISOString(),
    closed_at: e.closeTime?.toISOString() ?? null,
  };
}

/** How many runs a list reads at most before it sorts them (visibility's own order is not by start time). */
export const LIST_SCAN_LIMIT = 10_000;

/**
 * Our runs on the task queue, newest first by start time, at most `limit` of them. Visibility lists running runs
 * before closed ones, and closed ones by when they closed, so a run that started earlier but ended later came
 * first: the list is read (up to LIST_SCAN_LIMIT runs) and sorted here.
 */
export async function listRuns(client: Client, taskQueue: string, filters: RunFilters): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  for await (const e of client.workflow.list({ query: listQuery(taskQueue, filters), pageSize: 1000 })) {
    runs.push(runSummaryOf(e));
    if (runs.length >= LIST_SCAN_LIMIT) break;
  }
  return runs
    .sort((a, b) => b.started_at.localeCompare(a.started_at) || b.workflow_id.localeCompare(a.workflow_id))
    .slice(0, filters.limit);
}
