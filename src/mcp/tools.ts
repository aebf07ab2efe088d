import { z } from 'zod';
import { roleAllows, type Principal, type Role } from '../api/auth';
import type { ApiDeps } from '../api/deps';
import { cancelReassignment, listApprovals, startReassignment } from '../api/operations';
import { ApiError, detailOf, fromTemporal, linksOf } from '../api/runViews';
import { triggerBodySchema } from '../api/schemas';
import { targetExists, targetOf } from '../db/open';
import { withSchedulingStore, type SchedulingStore } from '../domain/store';
import { resolvePromptBundle } from '../prompts/registry';
import { promptRegistryFor } from '../prompts/registryFromConfig';
import { runFiltersSchema } from '../temporal/runList';
import { tools as catalog } from '../tools/catalog';
import { toolHandlers } from '../tools/handlers';

/**
 * The product's operations as MCP tools: each a name, a description, a zod input schema (the MCP tool list's JSON
 * Schema is generated from it), the least role it needs, and a handler that calls the same functions as the HTTP
 * API (src/api/operations.ts, runViews.ts, the product's client): everything that changes something goes through
 * Temporal, never around the workflow. The two domain reads take the catalog's own schemas and handlers.
 */

export interface McpContext {
  deps: ApiDeps;
  principal: Principal;
  /** The answer carries patient data (over HTTP, the API's access log records it). */
  viewedPatientData?: () => void;
}

interface McpTool<I extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  input: I;
  role: Role;
  /** MCP tool annotations: what a client may assume about the call. */
  readOnly: boolean;
  run: (args: z.infer<I>, ctx: McpContext) => Promise<unknown>;
}

const define = <I extends z.ZodType>(t: McpTool<I>) => t;

const workflowIdSchema = z
  .string()
  .regex(/^[\w.:@-]{1,200}$/, 'must be a workflow id such as reassign-T001-2025-11-21-a');

/** The scheduling database and the production policy, for the domain reads (never a write). */
async function readDomain<T>(
  { deps }: McpContext,
  read: (store: SchedulingStore, bundle: Awaited<ReturnType<typeof resolvePromptBundle>>) => Promise<T>,
): Promise<T> {
  const { config } = deps;
  const target = targetOf(config);
  if (!targetExists(target))
    // Named by its variable, never by its path: error messages name no file (the API's rule).
    throw new ApiError(503, 'the scheduling database (DB_PATH) is not on this machine');
  const bundle = await resolvePromptBundle(promptRegistryFor(config), config.PROMPT_LABEL);
  return (await withSchedulingStore(target, (store) => read(store, bundle), config))!;
}

export const mcpTools = [
  define({
    name: 'start_reassignment',
    description:
      'Start moving the appointments of an unavailable provider (on date, or date through until) to the best available providers, as a durable Temporal run. Returns the workflow id.',
    input: triggerBodySchema,
    role: 'operator',
    readOnly: false,
    run: async (args, { deps, principal }) => {
      const { replayed: _replayed, ...started } = await startReassignment(deps, args, principal.name);
      return started;
    },
  }),
  define({
    name: 'get_reassignment',
    description:
      "A run's progress while it runs (phase, decided so far, approvals awaited), its result once it is over. include_patients adds patient names (operator role only).",
    input: z.object({ workflow_id: workflowIdSchema, include_patients: z.boolean().optional() }).strict(),
    role: 'viewer',
    readOnly: true,
    run: ({ workflow_id, include_patients }, { deps, principal, viewedPatientData }) => {
      if (include_patients && principal.role !== 'operator')
        throw new ApiError(403, 'patient names are for the operator role only');
      if (include_patients) viewedPatientData?.();
      return detailOf(deps.client.temporal, deps.config, workflow_id, include_patients === true);
    },
  }),
  define({
    name: 'list_reassignments',
    description: 'Reassignment runs, newest first, optionally narrowed by status, provider, date or mode.',
    input: runFiltersSchema,
    role: 'viewer',
    readOnly: true,
    run: async (filters, { deps }) => ({
      runs: (await deps.client.list(filters)).map((run) => ({ ...run, links: linksOf(deps.config, run.workflow_id) })),
    }),
  }),
  define({
    name: 'list_approvals',
    description:
      'Every assignment a running reassignment waits on a human for: workflow id, appointment, provider, score and deadline.',
    input: z.object({}).strict(),
    role: 'viewer',
    readOnly: true,
    run: (_args, { deps }) => listApprovals(deps),
  }),
  define({
    name: 'decide_approval',
    description:
      "Approve or reject the assignment an appointment waits on, through the run's decideApproval Update: accepted at once, or refused with the reason (not awaiting approval, already decided). Recorded with the caller's name.",
    input: z
      .object({
        workflow_id: workflowIdSchema,
        appointment_id: catalog.find_candidates.input.shape.appointment_id,
        decision: z.enum(['approve', 'reject']),
        note: z.string().max(500).optional(),
      })
      .strict(),
    role: 'operator',
    readOnly: false,
    run: ({ workflow_id, appointment_id, decision, note }, { deps, principal }) =>
      deps.client
        .decide(workflow_id, {
          appointmentId: appointment_id,
          decision,
          by: principal.name,
          ...(note ? { note } : {}),
        })
        .catch((err: unknown) => fromTemporal(err, workflow_id)),
  }),
  define({
    name: 'cancel_reassignment',
    description: 'Stop a running reassignment after the step in flight; what is done stays done.',
    input: z.object({ workflow_id: workflowIdSchema, reason: z.string().trim().min(1).max(300).optional() }).strict(),
    role: 'operator',
    readOnly: false,
    run: async ({ workflow_id, reason }, { deps, principal }) => {
      await cancelReassignment(deps, principal, workflow_id, reason, 'MCP');
      return { workflow_id, cancellation: 'requested' };
    },
  }),
  define({
    name: 'find_candidates',
    description: `${catalog.find_candidates.description} Read only, under the production prompt's policy.`,
    input: catalog.find_candidates.input,
    role: 'viewer',
    readOnly: true,
    run: (args, ctx) =>
      readDomain(ctx, (store, bundle) =>
        toolHandlers.find_candidates(args, {
          store,
          policy: bundle.policy,
          runId: 'mcp',
          decidedBy: 'prompt',
          candidatesPerAppointment: bundle.config.candidates_per_appointment,
        }),
      ),
  }),
  define({
    name: 'calculate_match_score',
    description: `${catalog.calculate_match_score.description} Read only, under the production prompt's policy.`,
    input: catalog.calculate_match_score.input,
    role: 'viewer',
    readOnly: true,
    run: (args, ctx) =>
      readDomain(ctx, (store, bundle) =>
        toolHandlers.calculate_match_score(args, {
          store,
          policy: bundle.policy,
          runId: 'mcp',
          decidedBy: 'prompt',
          candidatesPerAppointment: bundle.config.candidates_per_appointment,
        }),
      ),
  }),
];

/** Whether a principal may call a tool; the refusal reads as the HTTP API's 403. */
export function mayCall(tool: Pick<McpTool, 'role'>, principal: Principal): string | undefined {
  return roleAllows(principal.role, tool.role)
    ? undefined
    : `the ${principal.role} role may not do this: it needs the ${tool.role} role`;
}
