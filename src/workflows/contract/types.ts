import { z } from 'zod';
import { datesInRange, isoDateSchema, MAX_RANGE_DAYS, providerIdSchema } from '../../domain/model';
import { labelSchema, type PromptBundle } from '../../prompts/schema';
import type {
  approvalCountsSchema,
  assignmentEntrySchema,
  decidedElsewhereEntrySchema,
  fallbackEntrySchema,
  llmStatsSchema,
  modeSchema,
  pendingApprovalSchema,
  runModeSchema,
  shadowEntrySchema,
  shadowSummarySchema,
  progressSchema,
  reassignmentResultSchema,
  runStatusSchema,
  undecidedEntrySchema,
  waitlistEntrySchema,
} from './resultSchema';

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
    /**
     * The generic `reassignment` workflow's way to decide: prompt, code, auto (the rollout share picks one of
     * them) or shadow (one path writes, the other decides beside it in a dry run). The typed workflows
     * (promptDrivenReassignment, codeDrivenReassignment) have their own and refuse another.
     */
    mode: z.enum(['prompt', 'code', 'auto', 'shadow']).optional(),
    /** In a shadow run: the path that writes (the other one is the shadow). Code-driven by default. */
    shadowWriter: z.enum(['prompt', 'code']).optional(),
    /** Only these appointments of the provider's day (a re-offer's one); all of them when absent. */
    only: z.array(z.string().min(1).max(64)).min(1).max(100).optional(),
    /** Use the prompts another run pinned (a re-offer decides with the version that made the first decision). */
    pinFrom: z.string().min(1).max(200).optional(),
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

export type Mode = z.infer<typeof modeSchema>;
export type RunMode = z.infer<typeof runModeSchema>;
export type RequestedMode = RunMode | 'auto';
export type ShadowEntry = z.infer<typeof shadowEntrySchema>;
export type ShadowSummary = z.infer<typeof shadowSummarySchema>;
export type AssignmentEntry = z.infer<typeof assignmentEntrySchema>;
export type WaitlistEntry = z.infer<typeof waitlistEntrySchema>;
type UndecidedEntry = z.infer<typeof undecidedEntrySchema>;
type ApprovalCounts = z.infer<typeof approvalCountsSchema>;
export type LlmStats = z.infer<typeof llmStatsSchema>;
export type FallbackEntry = z.infer<typeof fallbackEntrySchema>;
export type DecidedElsewhereEntry = z.infer<typeof decidedElsewhereEntrySchema>;
export type RunStatus = z.infer<typeof runStatusSchema>;
export type ReassignmentResult = z.infer<typeof reassignmentResultSchema>;
export type PendingApproval = z.infer<typeof pendingApprovalSchema>;
export type Progress = z.infer<typeof progressSchema>;

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

type BatchStatus = Extract<RunStatus, 'completed' | 'cancelled' | 'budget_exhausted' | 'model_stuck'>;

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
  /** Tool calls the domain refused (a forbidden assignment, a taken slot, ...); absent in earlier versions. */
  refused_calls?: number;
  discrepancies: string[];
  /** Absent in outcomes carried by runs of an earlier version. */
  fallbacks?: FallbackEntry[];
  decided_elsewhere?: DecidedElsewhereEntry[];
  /** A shadow batch's comparison, appointment by appointment, and what its shadow's model calls cost. */
  shadow?: ShadowEntry[];
  shadow_llm?: LlmStats;
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
  /** The parent reassignment's workflow id. Absent in batches started by earlier versions: read it with `parentWorkflowId`. */
  workflowId?: string;
  /**
   * Earlier versions' key for `workflowId` (it was never a Temporal run id). Still read, because committed
   * histories carry batch inputs with only this key and must replay.
   */
  runId?: string;
  batch: number;
  providerId: string;
  date: string;
  reason: string;
  appointments: BatchAppointment[];
  bundle: PromptBundle;
  /** A shadow batch: the path that writes. */
  shadowWriter?: Mode;
}

/** The workflow id of the reassignment a batch belongs to, under the key of whichever version started the batch. */
export function parentWorkflowId(input: Pick<BatchInput, 'workflowId' | 'runId'>): string {
  const id = input.workflowId ?? input.runId;
  if (id === undefined) throw new TypeError('batch input names no parent workflow id (workflowId or runId)');
  return id;
}

/**
 * Payload of the cancel signal: nothing, or an object with an optional reason and nothing else. Strict, so that
 * a payload meant for another signal (`{"appointmentId": "A002"}` sent to cancel by mistake) stops nothing.
 */
export const cancelSignalSchema = z
  .object({ reason: z.string().max(500).optional() })
  .strict()
  .nullish();
export type CancelSignal = z.infer<typeof cancelSignalSchema>;

/** Payload of approve/reject signals, as typed in the Temporal CLI or Web UI: {"appointmentId": "A002"}. */
export const decisionSignalSchema = z.object({
  appointmentId: z.string().min(1),
  by: z.string().min(1).max(100).optional(),
  note: z.string().max(500).optional(),
});
export type DecisionSignal = z.infer<typeof decisionSignalSchema>;

/** The approval Update's request (the HTTP API sends it): who decides is the caller's authenticated name. */
export const approvalDecisionRequestSchema = z
  .object({
    appointmentId: z.string().min(1).max(64),
    decision: z.enum(['approve', 'reject']),
    by: z.string().min(1).max(100),
    note: z.string().max(500).optional(),
  })
  .strict();
export type ApprovalDecisionRequest = z.infer<typeof approvalDecisionRequestSchema>;

/** The approval Update's answer: the decision was accepted and handed to the batch that waits for it. */
export interface ApprovalDecisionAccepted {
  workflow_id: string;
  appointment_id: string;
  provider_id: string;
  decision: 'approved' | 'rejected';
  by: string;
}

/** Child → parent: an approval is awaited, or settled. */
export interface ApprovalNotice {
  appointment_id: string;
  provider_id: string;
  score: number;
  batch: number;
  child_workflow_id: string;
  deadline: string;
  /** The model's stated reason for the move (request_approval's rationale), when it gave one. */
  rationale?: string;
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
