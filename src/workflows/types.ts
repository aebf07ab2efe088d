import { z } from 'zod';
import { datesInRange, isoDateSchema, MAX_RANGE_DAYS, providerIdSchema } from '../domain/model';
import { bandSchema } from '../domain/policy';
import type { ArmChoice } from '../prompts/experiment';
import { labelSchema, type pinnedPromptSchema, type PromptBundle } from '../prompts/schema';

/** Contracts of the reassignment workflows: input, result, progress, signals' payloads. Pure. */

export const reassignmentInputSchema = z
  .object({
    providerId: providerIdSchema,
    date: isoDateSchema,
    reason: z.string().trim().min(1).max(200).default('unavailable'),
    promptLabel: labelSchema.default('production'),
    /** Continue-as-new once the run's own history passes this many events (Temporal's suggestion also counts). */
    historyEventLimit: z.number().int().min(100).max(40_000).default(5_000),
    /** Optional last day (inclusive) of a range: the provider is unavailable from date through until. */
    until: isoDateSchema.optional(),
  })
  .strict()
  .superRefine((i, ctx) => {
    if (i.until === undefined) return;
    if (i.until < i.date)
      ctx.addIssue({ code: 'custom', path: ['until'], message: `must be on or after date ${i.date}` });
    else if (datesInRange(i.date, i.until).length > MAX_RANGE_DAYS)
      ctx.addIssue({
        code: 'custom',
        path: ['until'],
        message: `must be at most ${MAX_RANGE_DAYS} days from date ${i.date}, inclusive`,
      });
  });
export type ReassignmentInput = z.input<typeof reassignmentInputSchema>;
export type ParsedReassignmentInput = z.output<typeof reassignmentInputSchema>;

export type Mode = 'prompt' | 'code';

export const assignmentEntrySchema = z.object({
  appointment_id: z.string(),
  new_provider_id: z.string(),
  score: z.number(),
  band: bandSchema.optional(),
  approved_by: z.string().nullable().optional(),
  decided_by: z.enum(['prompt', 'code']).optional(),
});
type AssignmentEntry = z.infer<typeof assignmentEntrySchema>;

export const waitlistEntrySchema = z.object({
  appointment_id: z.string(),
  reason: z.string(),
  decided_by: z.enum(['prompt', 'code']).optional(),
});
type WaitlistEntry = z.infer<typeof waitlistEntrySchema>;

/** What the model must answer at the end of a batch. Extra keys are tolerated; the numbers are checked. */
export const batchSummarySchema = z.object({
  total_affected: z.number().int().min(0),
  successful_assignments: z.number().int().min(0),
  waitlist_entries: z.number().int().min(0),
  assignments: z.array(
    z.object({ appointment_id: z.string(), new_provider_id: z.string(), score: z.number().optional() }),
  ),
  waitlisted: z.array(z.object({ appointment_id: z.string(), reason: z.string().optional() })),
});

interface UndecidedEntry {
  appointment_id: string;
  reason: string;
}

interface ApprovalCounts {
  requested: number;
  approved: number;
  rejected: number;
  timed_out: number;
}

export interface LlmStats {
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  invalid_tool_calls: number;
  /** HTTP requests made, failed ones included (absent in outcomes of earlier versions). */
  attempts?: number;
  /** Requests that failed (a transport error, a 5xx, a refused context), retried or not. */
  failed_attempts?: number;
  /** Time spent waiting for the model, retries and back-off included (workflow clock, ms). */
  time_ms?: number;
  /** The model that answered, as it named itself, and whether it was the offline stand-in. */
  model?: string;
  offline?: boolean;
}

type BatchStatus = 'completed' | 'cancelled' | 'budget_exhausted';

/** Appointments the prompt-driven loop could not finish, decided by the code-driven logic in the same run. */
export interface FallbackEntry {
  batch: number;
  reason: string;
  /** Decided by the code-driven logic. */
  appointments: string[];
  /** Decided by the model, but the patient told by the code-driven logic (the model stopped in between). */
  notified: string[];
}

/** Appointments another run decided first (two runs for the same provider and date): not this run's to report. */
export interface DecidedElsewhereEntry {
  appointment_id: string;
  detail: string;
}

/** The outcome of one batch (one conversation, one child workflow). */
export interface BatchOutcome {
  batch: number;
  status: BatchStatus;
  assignments: AssignmentEntry[];
  waitlisted: WaitlistEntry[];
  undecided: UndecidedEntry[];
  approvals: ApprovalCounts;
  llm: LlmStats;
  tool_calls: number;
  discrepancies: string[];
  /** Absent in outcomes carried by runs of an earlier version. */
  fallbacks?: FallbackEntry[];
  decided_elsewhere?: DecidedElsewhereEntry[];
  message?: string;
}

export interface BatchAppointment {
  appointment_id: string;
  patient_id: string;
  /** Only in a run over a date range. */
  date?: string;
  time: string;
  specialty: string;
}

export interface BatchInput {
  runId: string;
  batch: number;
  providerId: string;
  date: string;
  reason: string;
  appointments: BatchAppointment[];
  bundle: PromptBundle;
}

export const runStatusSchema = z.enum([
  'completed',
  'completed_with_fallback',
  'completed_with_issues',
  'budget_exhausted',
  'cancelled',
]);
export type RunStatus = z.infer<typeof runStatusSchema>;

export interface ReassignmentResult {
  status: RunStatus;
  mode: Mode;
  workflow_id: string;
  provider_id: string;
  date: string;
  until?: string;
  reason: string;
  total_affected: number;
  successful_assignments: number;
  waitlist_entries: number;
  assignments: AssignmentEntry[];
  waitlisted: WaitlistEntry[];
  undecided: UndecidedEntry[];
  /** Which path decided how many appointments, and why the code-driven fallback took over where it did. */
  decided_by: { prompt: number; code: number };
  fallbacks: FallbackEntry[];
  decided_elsewhere: DecidedElsewhereEntry[];
  approvals: ApprovalCounts;
  prompt: {
    orchestrator: z.infer<typeof pinnedPromptSchema>;
    scoring: z.infer<typeof pinnedPromptSchema>;
    experiment?: ArmChoice;
  };
  llm: LlmStats & { model: string; offline: boolean; calls_per_appointment: number };
  tool_calls: number;
  batches: number;
  runs: number;
  discrepancies: string[];
  message: string;
}

export interface PendingApproval {
  appointment_id: string;
  provider_id: string;
  score: number;
  batch: number;
  deadline: string;
}

export interface Progress {
  workflow_id: string;
  mode: Mode;
  phase: 'resolving_prompt' | 'finding_appointments' | 'reassigning' | 'finished';
  status: RunStatus | 'running' | 'cancelling';
  total_affected: number;
  decided: number;
  assigned: number;
  waitlisted: number;
  undecided: number;
  batches: { total: number; done: number; running: number };
  pending_approvals: PendingApproval[];
  /** LLM calls so far, the batches in flight included (they report every few seconds). */
  llm_calls: number;
  /** HTTP requests to the model so far, failed ones included. */
  llm_attempts: number;
  tool_calls: number;
  prompt?: { name: string; version: number; label: string };
  runs: number;
}

/** Payload of the cancel signal: nothing, or an object with an optional reason. */
export const cancelSignalSchema = z.object({ reason: z.string().max(500).optional() }).optional();
export type CancelSignal = z.infer<typeof cancelSignalSchema>;

/** Payload of approve/reject signals, as typed in the Temporal CLI or Web UI: {"appointmentId": "A002"}. */
export const decisionSignalSchema = z.object({
  appointmentId: z.string().min(1),
  by: z.string().min(1).max(100).optional(),
  note: z.string().max(500).optional(),
});
export type DecisionSignal = z.infer<typeof decisionSignalSchema>;

/** Child → parent: an approval is awaited, or settled. */
export interface ApprovalNotice {
  appointment_id: string;
  provider_id: string;
  score: number;
  batch: number;
  child_workflow_id: string;
  deadline: string;
  settled?: 'approved' | 'rejected' | 'timed_out' | 'cancelled';
}

/** State carried across continue-as-new: exact, never a summary written by the model. */
export interface CarriedState {
  bundle: PromptBundle;
  remaining: BatchAppointment[];
  totalAffected: number;
  nextBatch: number;
  done: BatchOutcome;
  batchesDone: number;
  runs: number;
}
