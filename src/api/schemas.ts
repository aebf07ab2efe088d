import { z } from 'zod';
import { roleSchema } from './auth';
import { approvalDetailsSchema } from './schedulerViews';
import { appointmentIdSchema, calendarDateSchema, providerIdSchema } from '../domain/model';
import { labelSchema } from '../prompts/schema';
import { runFiltersSchema, runSummarySchema as runListEntrySchema } from '../temporal/runList';
import {
  modeSchema,
  pendingApprovalSchema,
  progressSchema,
  reassignmentResultSchema,
} from '../workflows/contract/resultSchema';

/**
 * The HTTP API's requests and answers, as zod schemas: Fastify validates with them, and the OpenAPI document
 * at /openapi.json is generated from them (what the fuzzer tests the server against).
 */

/** Every refusal: one line a person can act on. */
export const errorSchema = z.object({ error: z.string() });

/** The refusals every route may answer with, in the one-line format (a route adds its own, e.g. 409). */
export const refusalResponses = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  429: errorSchema,
  503: errorSchema,
};

/**
 * Free text as the document states it: 1 to max characters, not all blank. (Not trimmed here: a schema that trims
 * before it counts would accept what the document refuses; the handlers trim.)
 */
export const textSchema = (max: number) => z.string().min(1).max(max).regex(/\S/, 'must not be blank');

/** A workflow id as our tools and the Temporal CLI write them (letters, digits and . _ : @ -). */
const workflowIdSchema = z.string().regex(/^[\w.:@-]{1,200}$/, 'a workflow id such as reassign-T001-2025-11-21-a');

export const runParamsSchema = z.object({ id: workflowIdSchema });
export const approvalParamsSchema = z.object({ id: workflowIdSchema, appointmentId: appointmentIdSchema });

const requestedModeSchema = z.enum(['prompt', 'code', 'auto', 'shadow']);

/** POST /api/trigger-workflow-dynamic: named as in the design this product comes from. */
export const triggerBodySchema = z
  .object({
    provider_id: providerIdSchema.meta({ examples: ['T001'] }),
    date: calendarDateSchema.meta({ examples: ['2025-11-21'] }),
    until: calendarDateSchema.optional().describe('last day of a range, inclusive (at most 31 days)'),
    reason: textSchema(200).optional(),
    mode: requestedModeSchema
      .optional()
      .describe(
        'who decides: the prompt (LLM), fixed code, auto (the rollout share picks one) or shadow (one path writes, the other decides beside it in a dry run); default auto when a rollout share is configured, else prompt',
      ),
    shadow_writer: modeSchema.optional().describe('in a shadow run, the path that writes (default code)'),
    label: labelSchema.optional().describe('prompt label to resolve (default: production)'),
  })
  .strict();

/** A client's name for one request: a retry with the same key gets the same run, never a second one. */
export const triggerHeadersSchema = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, '1 to 200 printable ASCII characters, no spaces')
    .optional()
    .describe('the same key with the same request answers with the first run (200, Idempotent-Replayed: true)'),
});

const linksSchema = z.object({ self: z.string(), events: z.string(), temporal_ui: z.string() });

export const triggerResponseSchema = z.object({
  workflow_id: z.string(),
  run_id: z.string(),
  type: z.string(),
  mode: requestedModeSchema,
  links: linksSchema,
});

/** A run as Temporal's visibility lists it, with our search attributes, and its links. */
export const runSummarySchema = runListEntrySchema.extend({
  started_by: z.string().nullable().describe('who started it through the API (null: started elsewhere)'),
  links: linksSchema,
});

/** GET /api/reassignments: the same filters as the CLI's `list`. */
export const listQuerySchema = runFiltersSchema;

export const listResponseSchema = z.object({ runs: z.array(runSummarySchema) });

export const detailQuerySchema = z
  .object({
    include: z.enum(['patients']).optional().describe('patients: add patient names (operator role only)'),
  })
  .strict();

export const runDetailSchema = z.object({
  workflow_id: z.string(),
  execution_status: z.string(),
  progress: progressSchema.nullable(),
  result: reassignmentResultSchema.nullable(),
  failure: z.string().nullable().describe('why the run failed, when it did'),
  patients: z.record(z.string(), z.string()).optional().describe('patient name by appointment id (include=patients)'),
  started_by: z.string().nullable().describe('who started it through the API (null: started elsewhere)'),
  links: linksSchema,
});

export const decisionBodySchema = z
  .object({ decision: z.enum(['approve', 'reject']), note: z.string().max(500).optional() })
  .strict();

export const decisionResponseSchema = z.object({
  workflow_id: z.string(),
  appointment_id: z.string(),
  provider_id: z.string(),
  decision: z.enum(['approved', 'rejected']),
  by: z.string(),
});

export const cancelBodySchema = z.object({ reason: textSchema(300).optional() }).strict();
export const cancelResponseSchema = z.object({ workflow_id: z.string(), cancellation: z.literal('requested') });

export const inboxSchema = z.object({
  approvals: z.array(
    pendingApprovalSchema.extend({
      workflow_id: z.string(),
      provider_of_run: z.string().nullable(),
      details: approvalDetailsSchema
        .nullable()
        .describe('the appointment and the decision explained (null: not at hand)'),
    }),
  ),
});

export const meSchema = z.object({ name: z.string(), role: roleSchema, auth: z.boolean() });
export const healthSchema = z.object({ ok: z.boolean(), temporal: z.string() });
