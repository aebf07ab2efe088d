import {
  ApplicationFailure,
  CancellationScope,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { RunState } from './carriedState';
import type { promptDrivenBatch } from '../batch/promptDrivenBatch';
import { addLlmStats } from '../batch/outcome';
import {
  approvalNoticeSignal,
  approveSignal,
  cancelSignal,
  decideApprovalUpdate,
  llmProgressSignal,
  progressQuery,
  rejectSignal,
} from '../contract/signals';
import { describeZodError } from '../../zodIssue';
import { readSignal } from '../signalPayloads';
import {
  approvalDecisionRequestSchema,
  cancelSignalSchema,
  decisionSignalSchema,
  type ApprovalDecisionAccepted,
  type ApprovalDecisionRequest,
  type ApprovalNotice,
  type BatchAppointment,
  type DecisionSignal,
  type LlmStats,
  type RequestedMode,
  type RunMode,
  type ParsedReassignmentInput,
  type PendingApproval,
  type Progress,
  type RunStatus,
} from '../contract/types';

/** Marks the versions that tell a batch started during a cancel to stop (older ones left it waiting). */
const CANCEL_BATCH_STARTED_DURING_CANCEL = 'cancel-batch-started-during-cancel';

/** A decision the Update refuses: the caller gets this one line, and nothing is written. */
const refused = (message: string) =>
  ApplicationFailure.create({ message, type: 'ApprovalDecisionRefused', nonRetryable: true });

/** A batch in flight: its child workflow and the appointments it was given. */
interface RunningBatch {
  handle: ChildWorkflowHandle<typeof promptDrivenBatch>;
  appointments: BatchAppointment[];
}

/**
 * One reassignment run's live state and its message handlers (progress, approve, reject, cancel, and the
 * batches' approval notices), in one object as in Temporal's safe-message-handlers sample: the handlers and the
 * main loop read and change the same fields, and nothing else does.
 */
export class ReassignmentRun {
  phase: Progress['phase'];
  cancelRequested = false;
  /** Why the run is being cancelled, once it is (the batches are told). */
  private cancelReason = '';
  batchesTotal: number;
  readonly running = new Map<number, RunningBatch>();
  /** LLM figures of the batches in flight, as they last reported them. */
  readonly liveLlm = new Map<number, LlmStats>();
  /** Approvals awaited somewhere in the run, by appointment, with the batch (child workflow) that waits. */
  private readonly pending = new Map<
    string,
    PendingApproval & { child: string; decided?: ApprovalDecisionAccepted['decision'] }
  >();

  /** How this run decides: the requested mode, or for auto the path the rollout gave it (once known). */
  mode: RunMode;

  constructor(
    /** How the run was asked to decide: a path, shadow, or auto (the rollout share picks a path). */
    readonly requested: RequestedMode,
    readonly input: ParsedReassignmentInput,
    /** The reassignment's workflow id (not Temporal's run id: a run that continued as new keeps it). */
    readonly workflowId: string,
    readonly state: RunState,
  ) {
    this.mode = requested === 'auto' ? (state.bundle?.rollout?.path ?? 'prompt') : requested;
    this.phase = state.bundle ? 'reassigning' : 'resolving_prompt';
    this.batchesTotal = state.batchesDone;
  }

  /** Registers the handlers; called from the workflow's root scope, so Temporal cancellation reaches it. */
  install(): void {
    setHandler(progressQuery, () => this.progress());
    setHandler(approveSignal, (raw) => this.forwardDecision(approveSignal, raw));
    setHandler(rejectSignal, (raw) => this.forwardDecision(rejectSignal, raw));
    setHandler(cancelSignal, (raw) => {
      const payload = readSignal('cancel', cancelSignalSchema, raw, '{"reason": "..."} or nothing');
      return payload ? this.requestCancel(payload.value?.reason ?? 'cancel signal') : undefined;
    });
    setHandler(approvalNoticeSignal, (notice) => this.noteApproval(notice));
    setHandler(decideApprovalUpdate, (request) => this.decideByUpdate(request), {
      validator: (request) => void this.awaitingDecision(request),
    });
    setHandler(llmProgressSignal, ({ batch, llm }) => {
      if (this.running.has(batch)) this.liveLlm.set(batch, llm);
    });
    CancellationScope.current().cancelRequested.catch(() => this.requestCancel('Temporal cancellation'));
  }

  status(): RunStatus {
    const { done } = this.state;
    if (this.cancelRequested) return 'cancelled';
    if (done.status === 'budget_exhausted' || done.status === 'model_stuck') return done.status;
    if (done.undecided.length > 0 || done.discrepancies.length > 0) return 'completed_with_issues';
    if (done.fallbacks.length > 0) return 'completed_with_fallback';
    return 'completed';
  }

  progress(): Progress {
    const { done, bundle, remaining, totalAffected } = this.state;
    const inFlight = [...this.running.values()].reduce((n, r) => n + r.appointments.length, 0);
    const llm = { ...done.llm };
    for (const live of this.liveLlm.values()) addLlmStats(llm, live);
    const decided = done.assignments.length + done.waitlisted.length;
    return {
      workflow_id: this.workflowId,
      mode: this.mode,
      phase: this.phase,
      status: this.phase === 'finished' ? this.status() : this.cancelRequested ? 'cancelling' : 'running',
      total_affected: totalAffected,
      decided,
      assigned: done.assignments.length,
      waitlisted: done.waitlisted.length,
      undecided: Math.max(0, totalAffected - decided - done.decided_elsewhere.length - inFlight - remaining.length),
      batches: { total: this.batchesTotal, done: this.state.batchesDone, running: this.running.size },
      pending_approvals: [...this.pending.values()].map(({ child: _c, decided: _d, ...p }) => p),
      llm_calls: llm.calls,
      llm_attempts: llm.attempts ?? llm.calls,
      tool_calls: done.tool_calls,
      prompt: bundle && {
        name: bundle.orchestrator.name,
        version: bundle.orchestrator.version,
        label: bundle.orchestrator.label,
      },
      runs: this.state.runs,
    };
  }

  /** Stops launching batches and tells the running ones to stop after their step in flight. */
  async requestCancel(why: string): Promise<void> {
    if (this.cancelRequested) return;
    this.cancelRequested = true;
    log.info('cancellation requested: finishing the steps in flight', { why });
    this.cancelReason = why;
    await Promise.all([...this.running.entries()].map(([batch, r]) => this.cancelBatch(batch, r.handle.workflowId)));
  }

  /**
   * A batch whose start was under way when the cancel came was not among the running ones then: it is told as
   * soon as it has started. Runs recorded before this marker never had it told (it waited for its approvals).
   */
  async batchStarted(batch: number, workflowId: string): Promise<void> {
    if (this.cancelRequested && patched(CANCEL_BATCH_STARTED_DURING_CANCEL)) await this.cancelBatch(batch, workflowId);
  }

  private async cancelBatch(batch: number, workflowId: string): Promise<void> {
    try {
      await CancellationScope.nonCancellable(() =>
        getExternalWorkflowHandle(workflowId).signal(cancelSignal, { reason: this.cancelReason }),
      );
    } catch (err) {
      // A batch that finished a moment ago cannot be signalled: it needs no cancel, its outcome is on its way.
      log.info('a batch had finished before the cancel reached it', { batch, error: String(err) });
    }
  }

  /**
   * The Update's validator: the request is well formed and its appointment awaits a decision here that nobody
   * gave yet. Otherwise the caller hears why at once, and nothing is written to the history.
   */
  private awaitingDecision(raw: ApprovalDecisionRequest) {
    const parsed = approvalDecisionRequestSchema.safeParse(raw);
    if (!parsed.success) throw refused(`invalid decision: ${describeZodError(parsed.error, '(request)')}`);
    const request = parsed.data;
    const waiting = this.pending.get(request.appointmentId);
    if (!waiting) {
      const awaiting = [...this.pending.keys()].join(', ') || 'none';
      throw refused(`${request.appointmentId} is not awaiting approval in ${this.workflowId} (awaiting: ${awaiting})`);
    }
    if (waiting.decided) throw refused(`${request.appointmentId} was already ${waiting.decided} in ${this.workflowId}`);
    return { request, waiting };
  }

  private async decideByUpdate(raw: ApprovalDecisionRequest): Promise<ApprovalDecisionAccepted> {
    const { request, waiting } = this.awaitingDecision(raw);
    const decision = request.decision === 'approve' ? 'approved' : 'rejected';
    waiting.decided = decision;
    const signal = request.decision === 'approve' ? approveSignal : rejectSignal;
    const payload = {
      appointmentId: request.appointmentId,
      by: request.by,
      ...(request.note ? { note: request.note } : {}),
    };
    try {
      await CancellationScope.nonCancellable(() => getExternalWorkflowHandle(waiting.child).signal(signal, payload));
    } catch {
      // The batch ended (cancelled, or its deadline passed) before the decision reached it: nothing was decided.
      delete waiting.decided;
      throw refused(
        `${request.appointmentId} is no longer awaiting approval in ${this.workflowId}: its batch has ended`,
      );
    }
    return {
      workflow_id: this.workflowId,
      appointment_id: request.appointmentId,
      provider_id: waiting.provider_id,
      decision,
      by: request.by,
    };
  }

  /** A decision goes to the batch that waits for it; anything else is ignored, and logged. */
  private async forwardDecision(signal: typeof approveSignal, raw: DecisionSignal): Promise<void> {
    const parsed = readSignal(signal.name, decisionSignalSchema, raw, '{"appointmentId": "A002"}');
    if (!parsed) return;
    const decision = parsed.value;
    const waiting = this.pending.get(decision.appointmentId);
    if (!waiting) {
      log.warn('ignored a decision for an appointment that awaits no approval', {
        appointmentId: decision.appointmentId,
      });
      return;
    }
    waiting.decided ??= signal.name === 'approve' ? 'approved' : 'rejected';
    // Handlers run in the root scope; forwarding must still work once the run is being cancelled.
    await CancellationScope.nonCancellable(() =>
      getExternalWorkflowHandle(waiting.child).signal(signal, decision),
    ).catch((err: unknown) => {
      // The batch ended before the decision reached it; a signal has no caller to tell, so it is logged.
      log.warn('ignored a decision whose batch has already ended', {
        appointmentId: decision.appointmentId,
        error: String(err),
      });
    });
  }

  private noteApproval(notice: ApprovalNotice): void {
    if (notice.settled) {
      this.pending.delete(notice.appointment_id);
      return;
    }
    // A new request (after a rejection, another candidate may be asked about) starts undecided.
    const { appointment_id, provider_id, score, batch, deadline, child_workflow_id, rationale } = notice;
    this.pending.set(appointment_id, {
      appointment_id,
      provider_id,
      score,
      batch,
      deadline,
      child: child_workflow_id,
      ...(rationale !== undefined ? { rationale } : {}),
    });
  }
}
