import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { durationMs } from '../domain/policy';
import { tools, type ToolName, type ToolOutcome, type ToolResult } from '../tools/catalog';
import { toolActivities } from './activityOptions';
import { emptyOutcome } from './outcome';
import { approvalNoticeSignal, approveSignal, batchProgressQuery, cancelSignal, rejectSignal } from './signals';
import {
  decisionSignalSchema,
  type ApprovalNotice,
  type BatchInput,
  type BatchOutcome,
  type DecisionSignal,
} from './types';
import { describeZodError } from '../zodIssue';

/**
 * What both batch workflows share: tool calls with idempotency keys fixed by the workflow, the record of
 * what the tools really did, the approval gate, and clean cancellation (after the step in flight).
 */

type Decision = { decision: 'approved' | 'rejected'; by: string; note?: string };

export class BatchSession {
  readonly outcome: BatchOutcome;
  cancelled = false;
  private readonly decisions = new Map<string, Decision>();
  private readonly pending = new Map<string, string>();
  private readonly assigned = new Map<string, BatchOutcome['assignments'][number]>();
  private readonly waitlisted = new Map<string, BatchOutcome['waitlisted'][number]>();
  private readonly notified = new Set<string>();
  private readonly elsewhere = new Map<string, string>();
  /** Approvals settled in this batch, by appointment and provider: asking twice never asks a human twice. */
  private readonly settled = new Map<string, ToolResult<'request_approval'>>();

  constructor(
    readonly input: BatchInput,
    /** Who decides the next steps: the model, or the code (from the start, or as the fallback). */
    public decidedBy: 'prompt' | 'code',
  ) {
    this.outcome = emptyOutcome(input.batch);
  }

  /** Signal and query handlers; Temporal cancellation becomes the same clean stop as the cancel signal. */
  install(): void {
    const decide = (decision: Decision['decision']) => (raw: DecisionSignal) => {
      const parsed = decisionSignalSchema.safeParse(raw);
      if (!parsed.success) {
        log.warn('ignored a malformed decision signal', { decision });
        return;
      }
      const { appointmentId, by, note } = parsed.data;
      if (!this.pending.has(appointmentId)) {
        log.warn('ignored a decision for an appointment that awaits no approval here', { appointmentId, decision });
        return;
      }
      if (!this.decisions.has(appointmentId))
        this.decisions.set(appointmentId, { decision, by: by ?? 'operator', note });
    };
    setHandler(approveSignal, decide('approved'));
    setHandler(rejectSignal, decide('rejected'));
    setHandler(cancelSignal, () => {
      this.cancelled = true;
    });
    setHandler(batchProgressQuery, () => ({ ...this.snapshot(), pending: [...this.pending.keys()] }));
    CancellationScope.current().cancelRequested.catch(() => {
      this.cancelled = true;
    });
  }

  snapshot(): BatchOutcome {
    return {
      ...this.outcome,
      assignments: [...this.assigned.values()],
      waitlisted: [...this.waitlisted.values()],
      decided_elsewhere: [...this.elsewhere].map(([appointment_id, detail]) => ({ appointment_id, detail })),
    };
  }

  /** Decided by this run, or found decided by another one: either way nothing is left to do here. */
  isDecided(appointmentId: string): boolean {
    return this.assigned.has(appointmentId) || this.waitlisted.has(appointmentId) || this.elsewhere.has(appointmentId);
  }

  /** Decided by this run but the patient not told yet (the model stopped between the two steps). */
  needsNotification(appointmentId: string): 'reassigned' | 'waitlisted' | undefined {
    if (this.notified.has(appointmentId)) return undefined;
    if (this.assigned.has(appointmentId)) return 'reassigned';
    if (this.waitlisted.has(appointmentId)) return 'waitlisted';
    return undefined;
  }

  /** Runs one catalog tool as an activity. Writes get a key derived from the run and the change itself. */
  async tool<N extends Exclude<ToolName, 'request_approval'>>(
    name: N,
    args: unknown,
  ): Promise<ToolOutcome<ToolResult<N>>> {
    const def = tools[name];
    const parsed = def.input.safeParse(args);
    if (!parsed.success) {
      this.outcome.llm.invalid_tool_calls += 1;
      return {
        ok: false,
        code: 'invalid_arguments',
        error: `invalid arguments for ${name}: ${describeZodError(parsed.error, '(arguments)')}`,
      };
    }
    const keyOf = def.keyOf as ((a: unknown) => string) | undefined;
    const idempotencyKey =
      def.kind === 'write' && keyOf ? `${this.input.runId}:${name}:${keyOf(parsed.data)}` : undefined;
    this.outcome.tool_calls += 1;
    const summarize = def.summarize as (a: unknown) => string;
    // Side effects always finish once started: cancellation stops the run after the step in flight.
    const outcome = (await CancellationScope.nonCancellable(() =>
      toolActivities.callTool.executeWithOptions({ summary: `${summarize(parsed.data)} · batch ${this.input.batch}` }, [
        {
          name,
          args: parsed.data,
          runId: this.input.runId,
          policy: this.input.bundle.policy,
          decidedBy: this.decidedBy,
          idempotencyKey,
          candidatesPerAppointment: this.input.bundle.config.candidates_per_appointment,
        },
      ]),
    )) as ToolOutcome<ToolResult<N>>;
    if (outcome.ok) this.record(name, outcome.result);
    else this.noteRefusal(name, parsed.data as { appointment_id?: string }, outcome);
    return outcome;
  }

  private noteRefusal(
    name: ToolName,
    args: { appointment_id?: string },
    outcome: { code: string; error: string },
  ): void {
    const id = args.appointment_id;
    if (!id || this.assigned.has(id) || this.waitlisted.has(id)) return;
    // Another run (for the same provider and date) got there first: a fact to report, not a failure.
    if (outcome.code === 'already_decided' && (name === 'assign_appointment' || name === 'add_to_waitlist'))
      this.elsewhere.set(id, outcome.error);
    if (outcome.code === 'already_notified' && name === 'notify_patient') this.notified.add(id);
  }

  private record(name: ToolName, result: unknown): void {
    if (name === 'assign_appointment') {
      const r = result as ToolResult<'assign_appointment'>;
      this.assigned.set(r.appointment_id, {
        appointment_id: r.appointment_id,
        new_provider_id: r.new_provider_id,
        score: r.score,
        band: r.band,
        approved_by: r.approved_by,
        decided_by: this.decidedBy,
      });
    } else if (name === 'add_to_waitlist') {
      const r = result as ToolResult<'add_to_waitlist'>;
      this.waitlisted.set(r.appointment_id, {
        appointment_id: r.appointment_id,
        reason: r.reason,
        decided_by: this.decidedBy,
      });
    } else if (name === 'notify_patient') {
      this.notified.add((result as ToolResult<'notify_patient'>).appointment_id);
    }
  }

  /**
   * The approval gate: computes the true score (never the model's), waits durably for a human decision
   * until the deadline from the prompt config, and records the decision where the assign guard reads it.
   */
  async requestApproval(args: unknown): Promise<ToolOutcome<ToolResult<'request_approval'>>> {
    const parsed = tools.request_approval.input.safeParse(args);
    if (!parsed.success) {
      this.outcome.llm.invalid_tool_calls += 1;
      return {
        ok: false,
        code: 'invalid_arguments',
        error: `invalid arguments for request_approval: ${describeZodError(parsed.error, '(arguments)')}`,
      };
    }
    const { appointment_id, provider_id } = parsed.data;
    const earlier = this.settled.get(`${appointment_id}→${provider_id}`);
    if (earlier) return { ok: true, result: earlier };
    const scored = await this.tool('calculate_match_score', { appointment_id, provider_id });
    if (!scored.ok) return scored;
    const { score, band, approval_required } = scored.result;
    if (band === 'poor')
      return {
        ok: false,
        code: 'below_threshold',
        error: `score ${score} is below the assign threshold: no approval can allow it; add the patient to the waitlist`,
      };
    if (!approval_required)
      return {
        ok: true,
        result: {
          appointment_id,
          provider_id,
          score,
          decision: 'approved',
          decided_by: 'policy: no approval needed for this band',
          next_step: 'call assign_appointment',
        },
      };

    const approval = this.input.bundle.policy.approval;
    const timeoutMs = durationMs(approval.timeout);
    // Workflow time: Temporal's deterministic clock, the same on every replay.
    const deadline = new Date(new Date().getTime() + timeoutMs).toISOString();
    const notice: ApprovalNotice = {
      appointment_id,
      provider_id,
      score,
      batch: this.input.batch,
      child_workflow_id: workflowInfo().workflowId,
      deadline,
    };
    this.pending.set(appointment_id, provider_id);
    this.outcome.approvals.requested += 1;
    await this.notifyParent(notice);
    log.info('waiting for approval', { appointmentId: appointment_id, providerId: provider_id, score, deadline });

    const answered = await condition(() => this.decisions.has(appointment_id) || this.cancelled, timeoutMs, {
      summary: `approval deadline ${appointment_id} → ${provider_id} (${approval.timeout}, then ${approval.on_timeout})`,
    });
    const human = this.decisions.get(appointment_id);
    this.pending.delete(appointment_id);
    let decision: ToolResult<'request_approval'>['decision'];
    let decidedBy: string;
    let nextStep: string;
    if (human) {
      decision = human.decision;
      decidedBy = human.by;
      nextStep = decision === 'approved' ? 'call assign_appointment' : 'call add_to_waitlist';
      await this.recordApproval(appointment_id, provider_id, decision, decidedBy, human.note);
      this.outcome.approvals[decision] += 1;
    } else if (!answered) {
      decision = 'timed_out';
      decidedBy = `timeout after ${approval.timeout}`;
      this.outcome.approvals.timed_out += 1;
      if (approval.on_timeout === 'assign') {
        // The prompt config says silence means yes: that is recorded as the approval the guard needs.
        await this.recordApproval(
          appointment_id,
          provider_id,
          'approved',
          `timeout policy (${approval.timeout}, on_timeout: assign)`,
        );
        nextStep = 'call assign_appointment';
      } else {
        await this.recordApproval(appointment_id, provider_id, 'timed_out', decidedBy);
        nextStep = 'call add_to_waitlist';
      }
    } else {
      decision = 'cancelled';
      decidedBy = 'cancellation';
      nextStep = 'stop: the run is being cancelled';
    }
    await this.notifyParent({ ...notice, settled: decision });
    const result = { appointment_id, provider_id, score, decision, decided_by: decidedBy, next_step: nextStep };
    if (decision !== 'cancelled') this.settled.set(`${appointment_id}→${provider_id}`, result);
    return { ok: true, result };
  }

  private async recordApproval(
    appointmentId: string,
    providerId: string,
    decision: 'approved' | 'rejected' | 'timed_out',
    decidedBy: string,
    note?: string,
  ) {
    await CancellationScope.nonCancellable(() =>
      toolActivities.recordApproval.executeWithOptions(
        { summary: `record approval ${appointmentId} → ${providerId}: ${decision}` },
        [{ appointmentId, providerId, decision, decidedBy, note, runId: this.input.runId }],
      ),
    );
  }

  private async notifyParent(notice: ApprovalNotice): Promise<void> {
    const parent = workflowInfo().parent;
    if (!parent) return;
    try {
      await getExternalWorkflowHandle(parent.workflowId).signal(approvalNoticeSignal, notice);
    } catch (err) {
      // The parent only shows pending approvals in its progress; the decision itself lives here.
      log.warn('could not tell the parent about an approval', { error: String(err) });
    }
  }

  /** Closes the batch: every appointment the tools did not decide is listed with a reason. */
  finish(reasonForUndecided: string): BatchOutcome {
    const out = this.snapshot();
    out.undecided = this.input.appointments
      .filter((a) => !this.isDecided(a.appointment_id))
      .map((a) => ({ appointment_id: a.appointment_id, reason: reasonForUndecided }));
    return out;
  }
}
