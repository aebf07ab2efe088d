import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  ApprovalDecisionAccepted,
  ApprovalDecisionRequest,
  ApprovalNotice,
  BatchOutcome,
  CancelSignal,
  DecisionSignal,
  LlmStats,
  Progress,
} from './types';

/** Signals and queries, by the names people type in the Temporal CLI and Web UI. */
export const approveSignal = defineSignal<[DecisionSignal]>('approve');
export const rejectSignal = defineSignal<[DecisionSignal]>('reject');
export const cancelSignal = defineSignal<[CancelSignal?]>('cancel');
/**
 * approve or reject with an answer: accepted (and handed to the batch that waits), or rejected at once with a
 * one-line reason when the appointment awaits nothing here or was decided already. The HTTP API uses it.
 */
export const decideApprovalUpdate = defineUpdate<ApprovalDecisionAccepted, [ApprovalDecisionRequest]>('decideApproval');
export const progressQuery = defineQuery<Progress>('progress');

/** Internal: a batch tells its parent that an approval is awaited or settled. */
export const approvalNoticeSignal = defineSignal<[ApprovalNotice]>('approvalNotice');
/** Internal: a batch in flight tells its parent its LLM figures so far, every few seconds (for progress). */
export const llmProgressSignal = defineSignal<[{ batch: number; llm: LlmStats }]>('llmProgress');
/** Internal: a batch's own live state. */
export const batchProgressQuery = defineQuery<Omit<BatchOutcome, 'batch'> & { batch: number; pending: string[] }>(
  'batchProgress',
);
