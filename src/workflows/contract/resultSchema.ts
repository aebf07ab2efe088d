import { z } from 'zod';
import { bandSchema } from '../../domain/policy';
import { armChoiceSchema, pinnedPromptSchema } from '../../prompts/schema';

/**
 * What a run tells the world, as zod schemas: its result (field names as in the seed) and its live progress.
 * The workflow's types are inferred from them, and the HTTP API documents and checks its answers with them.
 * Pure: imported by workflow code.
 */

/** Who decides an appointment: the prompt (the model) or the fixed code. */
export const modeSchema = z.enum(['prompt', 'code']);
/** How a run decides: one path, or both (one writes, the other decides in a dry run beside it). */
export const runModeSchema = z.enum(['prompt', 'code', 'shadow']);
const decidedBySchema = z.enum(['prompt', 'code']);

export const assignmentEntrySchema = z.object({
  appointment_id: z.string(),
  new_provider_id: z.string(),
  score: z.number(),
  band: bandSchema.optional(),
  approved_by: z.string().nullable().optional(),
  decided_by: decidedBySchema.optional(),
});

export const waitlistEntrySchema = z.object({
  appointment_id: z.string(),
  reason: z.string(),
  decided_by: decidedBySchema.optional(),
});

export const undecidedEntrySchema = z.object({ appointment_id: z.string(), reason: z.string() });

export const approvalCountsSchema = z.object({
  requested: z.number().int(),
  approved: z.number().int(),
  rejected: z.number().int(),
  timed_out: z.number().int(),
});

export const llmStatsSchema = z.object({
  calls: z.number().int(),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  invalid_tool_calls: z.number().int(),
  /** HTTP requests made, failed ones included (absent in outcomes of earlier versions). */
  attempts: z.number().int().optional(),
  /** Requests that failed (a transport error, a 5xx, a refused context), retried or not. */
  failed_attempts: z.number().int().optional(),
  /** Time spent waiting for the model, retries and back-off included (workflow clock, ms). */
  time_ms: z.number().optional(),
  /** The model that answered, as it named itself, and whether it was the offline stand-in. */
  model: z.string().optional(),
  offline: z.boolean().optional(),
  /** Input tokens the endpoint served from its prompt cache (usage.prompt_tokens_details.cached_tokens). */
  cached_tokens: z.number().int().optional(),
  /** Turns asked in json_schema mode (tool calls as one JSON object under a response_format schema). */
  schema_turns: z.number().int().optional(),
  /** Native mode: tool calls the model wrote as text, recovered and run. */
  recovered_tool_calls: z.number().int().optional(),
  /** tool_calling auto: batches that switched to json_schema because the endpoint showed no tool support. */
  mode_switches: z.number().int().optional(),
});

/** Appointments the prompt-driven loop could not finish, decided by the code-driven logic in the same run. */
export const fallbackEntrySchema = z.object({
  batch: z.number().int(),
  reason: z.string(),
  /** Decided by the code-driven logic. */
  appointments: z.array(z.string()),
  /** Decided by the model, but the patient told by the code-driven logic (the model stopped in between). */
  notified: z.array(z.string()),
});

/** Appointments another run holds (decided them first, or is asking a human about them): not this run's. */
export const decidedElsewhereEntrySchema = z.object({ appointment_id: z.string(), detail: z.string() });

/**
 * How a run ended. With the prompt config's fallback off, a batch the model could not finish stops the run:
 * `budget_exhausted` when a turn or token budget ran out, `model_stuck` when the model could not go on (a cut-off
 * reply, no tool support, repeated invalid calls, an unavailable model); the undecided reasons say which.
 */
export const runStatusSchema = z.enum([
  'completed',
  'completed_with_fallback',
  'completed_with_issues',
  'budget_exhausted',
  'model_stuck',
  'cancelled',
]);

/** One appointment of a shadow run: what the writer did, what the shadow would have done, and how they differ. */
export const shadowEntrySchema = z.object({
  appointment_id: z.string(),
  writer: z.string().describe('the new provider, "waitlist", "undecided" or "elsewhere" (another run has it)'),
  shadow: z.string(),
  writer_asked_approval: z.boolean(),
  shadow_asked_approval: z.boolean(),
  agree: z.boolean(),
  differences: z.array(z.enum(['provider differs', 'assign vs waitlist', 'approval asked vs not', 'decided vs not'])),
});

export const shadowSummarySchema = z.object({
  writer: modeSchema,
  shadow: modeSchema,
  appointments: z.number().int(),
  agreed: z.number().int(),
  agreement: z.number(),
  entries: z.array(shadowEntrySchema),
  /** One line per disagreement. */
  discrepancies: z.array(z.string()),
  /** What the shadow's own model calls cost (included in `llm` too). */
  llm: llmStatsSchema,
});

/** A run the rollout routed: the share of runs that go prompt-driven, this run's place in [0, 1), and its path. */
const rolloutSchema = z.object({ share: z.number(), bucket: z.number(), path: modeSchema });

export const reassignmentResultSchema = z.object({
  status: runStatusSchema,
  mode: runModeSchema,
  workflow_id: z.string(),
  provider_id: z.string(),
  date: z.string(),
  until: z.string().optional(),
  reason: z.string(),
  total_affected: z.number().int(),
  successful_assignments: z.number().int(),
  waitlist_entries: z.number().int(),
  assignments: z.array(assignmentEntrySchema),
  waitlisted: z.array(waitlistEntrySchema),
  undecided: z.array(undecidedEntrySchema),
  /** Which path decided how many appointments, and why the code-driven fallback took over where it did. */
  decided_by: z.object({ prompt: z.number().int(), code: z.number().int() }),
  fallbacks: z.array(fallbackEntrySchema),
  decided_elsewhere: z.array(decidedElsewhereEntrySchema),
  approvals: approvalCountsSchema,
  prompt: z.object({
    orchestrator: pinnedPromptSchema,
    scoring: pinnedPromptSchema,
    experiment: armChoiceSchema.optional(),
  }),
  llm: llmStatsSchema.extend({ model: z.string(), offline: z.boolean(), calls_per_appointment: z.number() }),
  tool_calls: z.number().int(),
  /** Tool calls the domain refused (the model, or the code, asked for something an invariant forbids). */
  refused_calls: z.number().int().optional(),
  batches: z.number().int(),
  runs: z.number().int(),
  discrepancies: z.array(z.string()),
  rollout: rolloutSchema.optional(),
  shadow: shadowSummarySchema.optional(),
  message: z.string(),
});

export const pendingApprovalSchema = z.object({
  appointment_id: z.string(),
  provider_id: z.string(),
  score: z.number(),
  batch: z.number().int(),
  deadline: z.string(),
  rationale: z
    .string()
    .optional()
    .describe("the model's stated reason (free text that may name the patient: shown with patient data only)"),
});

export const progressSchema = z.object({
  workflow_id: z.string(),
  mode: runModeSchema,
  phase: z.enum(['resolving_prompt', 'finding_appointments', 'reassigning', 'finished']),
  status: z.union([runStatusSchema, z.enum(['running', 'cancelling'])]),
  total_affected: z.number().int(),
  decided: z.number().int(),
  assigned: z.number().int(),
  waitlisted: z.number().int(),
  undecided: z.number().int(),
  batches: z.object({ total: z.number().int(), done: z.number().int(), running: z.number().int() }),
  pending_approvals: z.array(pendingApprovalSchema),
  /** LLM calls so far, the batches in flight included (they report every few seconds). */
  llm_calls: z.number().int(),
  /** HTTP requests to the model so far, failed ones included. */
  llm_attempts: z.number().int(),
  tool_calls: z.number().int(),
  prompt: z.object({ name: z.string(), version: z.number().int(), label: z.string() }).optional(),
  runs: z.number().int(),
});
