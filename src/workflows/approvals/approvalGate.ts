import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { durationMs } from '../../domain/policy';
import { tools, type ToolOutcome, type ToolResult } from '../../tools/catalog';
import { describeZodError } from '../../zodIssue';
import { toolProxy } from '../activityProxies';
import { readSignal } from '../signalPayloads';
import { workflowTimeMs } from '../workflowClock';
import { approvalNoticeSignal, approveSignal, rejectSignal } from '../contract/signals';
import {
  decisionSignalSchema,
  type ApprovalNotice,
  type BatchInput,
  type BatchOutcome,
  type DecisionSignal,
} from '../contract/types';

/** What the gate needs from the batch it serves. */
interface ApprovalHost {
  readonly input: BatchInput;
  /** The reassignment's workflow id, the run the store records approvals under. */
  readonly workflowId: string;
  readonly outcome: BatchOutcome;
  readonly cancelled: boolean;
  /** A shadow's session: no human is asked; the approval is assumed, and replayed in its dry runs. */
  readonly dryRun: boolean;
  assumeApproval(appointmentId: string, providerId: string, decidedBy: string): void;
  /** Another run holds this appointment (here: it is asking a human about it). */
  decidedElsewhere(appointmentId: string, detail: string): void;
  tool(name: 'calculate_match_score', args: unknown): Promise<ToolOutcome<ToolResult<'calculate_match_score'>>>;
}

/** Marks the version of the gate that claims an approval across runs before asking (older histories did not). */
const CLAIM_APPROVAL = 'claim-approval-across-runs';
/** Marks the versions whose approval notice carries the model's stated reason (the inbox shows it). */
const NOTICE_RATIONALE = 'approval-notice-rationale';

type Decision = { decision: 'approved' | 'rejected'; by: string; note?: string };

/**
 * Humans decide where the prompt says so: a batch's approvals, waited for durably with the deadline and the
 * timeout outcome of the pinned prompt config, and recorded in the store where the assign guard reads them.
 */
export class ApprovalGate {
  private readonly decisions = new Map<string, Decision>();
  /** Appointments waiting for a decision here, with the provider asked about. */
  private readonly pending = new Map<string, string>();
  /** Approvals settled in this batch, by appointment and provider: asking twice never asks a human twice. */
  private readonly settled = new Map<string, ToolResult<'request_approval'>>();
  private readonly askedFor = new Set<string>();

  constructor(private readonly host: ApprovalHost) {}

  /** approve/reject signals (forwarded by the parent, or sent to the batch directly). */
  install(): void {
    setHandler(approveSignal, (raw) => this.decide('approved', raw));
    setHandler(rejectSignal, (raw) => this.decide('rejected', raw));
  }

  /** Appointments a human was asked about here (or, in a dry run, would have been). */
  asked(): string[] {
    return [...this.askedFor];
  }

  /** The approvals given here (or, in a dry run, assumed), as "appointment→provider". */
  approvedPairs(): string[] {
    return [...this.settled].flatMap(([pair, r]) => (r.decision === 'approved' ? [pair] : []));
  }

  pendingIds(): string[] {
    return [...this.pending.keys()];
  }

  private decide(decision: Decision['decision'], raw: DecisionSignal): void {
    const parsed = readSignal(
      decision === 'approved' ? 'approve' : 'reject',
      decisionSignalSchema,
      raw,
      '{"appointmentId": "A002"}',
    );
    if (!parsed) return;
    const { appointmentId, by, note } = parsed.value;
    if (!this.pending.has(appointmentId)) {
      log.warn('ignored a decision for an appointment that awaits no approval here', { appointmentId, decision });
      return;
    }
    if (!this.decisions.has(appointmentId)) this.decisions.set(appointmentId, { decision, by: by ?? 'operator', note });
  }

  /**
   * The approval gate: computes the true score (never the model's), waits durably for a human decision
   * until the deadline from the prompt config, and records the decision where the assign guard reads it.
   */
  async request(args: unknown): Promise<ToolOutcome<ToolResult<'request_approval'>>> {
    const parsed = tools.request_approval.input.safeParse(args);
    if (!parsed.success) {
      this.host.outcome.llm.invalid_tool_calls += 1;
      return {
        ok: false,
        code: 'invalid_arguments',
        error: `invalid arguments for request_approval: ${describeZodError(parsed.error, '(arguments)')}`,
      };
    }
    const { appointment_id, provider_id, rationale } = parsed.data;
    const earlier = this.settled.get(`${appointment_id}→${provider_id}`);
    if (earlier) return { ok: true, result: earlier };
    const scored = await this.host.tool('calculate_match_score', { appointment_id, provider_id });
    if (!scored.ok) return scored;
    const { score, band, approval_required } = scored.result;
    if (band === 'poor')
      return {
        ok: false,
        code: 'below_threshold',
        error: `score ${score} is below the assign threshold: no approval can allow it; add the patient to the waitlist`,
      };
    const approved = (decidedBy: string) =>
      ({
        ok: true,
        result: {
          appointment_id,
          provider_id,
          score,
          decision: 'approved',
          decided_by: decidedBy,
          next_step: 'call assign_appointment',
        },
      }) as const;
    if (!approval_required) return approved('policy: no approval needed for this band');

    this.askedFor.add(appointment_id);
    if (this.host.dryRun) {
      // A dry run asks nobody: it records that it would have asked, and goes on as if approved.
      const decidedBy = 'shadow: approval assumed (a dry run asks no one)';
      this.host.assumeApproval(appointment_id, provider_id, decidedBy);
      this.host.outcome.approvals.requested += 1;
      this.host.outcome.approvals.approved += 1;
      return approved(decidedBy);
    }
    const approval = this.host.input.bundle.policy.approval;
    const timeoutMs = durationMs(approval.timeout);
    // Workflow time: Temporal's deterministic clock, the same on every replay.
    const deadline = new Date(workflowTimeMs() + timeoutMs).toISOString();
    // Another run for the same provider may be asking about this appointment already: never ask a human twice.
    const claimed = patched(CLAIM_APPROVAL) && (await this.claim(appointment_id, provider_id, deadline));
    if (claimed && !claimed.claimed) {
      if ('rejected' in claimed) {
        // A human said no to this very move in another run: that answer stands, and nobody is asked again.
        const { run_id, decided_by } = claimed.rejected;
        const result = {
          appointment_id,
          provider_id,
          score,
          decision: 'rejected' as const,
          decided_by: `${decided_by} (in run ${run_id})`,
          next_step: 'call add_to_waitlist',
        };
        this.settled.set(`${appointment_id}→${provider_id}`, result);
        return { ok: true, result };
      }
      const detail =
        'decided' in claimed
          ? `already decided (${claimed.decided.outcome}) by run ${claimed.decided.run_id}`
          : `held by run ${claimed.run_id}, which asked a human about it (until ${claimed.deadline}); left to that run`;
      this.host.decidedElsewhere(appointment_id, detail);
      return { ok: false, code: 'approval_pending_elsewhere', error: `appointment ${appointment_id} is ${detail}` };
    }
    const notice: ApprovalNotice = {
      appointment_id,
      provider_id,
      score,
      batch: this.host.input.batch,
      child_workflow_id: workflowInfo().workflowId,
      deadline,
      ...(rationale && patched(NOTICE_RATIONALE) ? { rationale } : {}),
    };
    this.pending.set(appointment_id, provider_id);
    this.host.outcome.approvals.requested += 1;
    await this.notifyParent(notice);
    log.info('waiting for approval', { appointmentId: appointment_id, providerId: provider_id, score, deadline });

    const answered = await condition(() => this.decisions.has(appointment_id) || this.host.cancelled, timeoutMs, {
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
      this.host.outcome.approvals[decision] += 1;
    } else if (!answered) {
      decision = 'timed_out';
      decidedBy = `timeout after ${approval.timeout}`;
      this.host.outcome.approvals.timed_out += 1;
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
      if (claimed) await this.release(appointment_id);
    }
    await this.notifyParent({ ...notice, settled: decision });
    const result = { appointment_id, provider_id, score, decision, decided_by: decidedBy, next_step: nextStep };
    if (decision !== 'cancelled') this.settled.set(`${appointment_id}→${provider_id}`, result);
    return { ok: true, result };
  }

  private claim(appointmentId: string, providerId: string, deadline: string) {
    return CancellationScope.nonCancellable(() =>
      toolProxy.claimApproval.executeWithOptions({ summary: `claim approval ${appointmentId} → ${providerId}` }, [
        { appointmentId, providerId, runId: this.host.workflowId, deadline },
      ]),
    );
  }

  private release(appointmentId: string) {
    return CancellationScope.nonCancellable(() =>
      toolProxy.releaseApproval.executeWithOptions({ summary: `release approval ${appointmentId}` }, [
        { appointmentId, runId: this.host.workflowId },
      ]),
    );
  }

  private async recordApproval(
    appointmentId: string,
    providerId: string,
    decision: 'approved' | 'rejected' | 'timed_out',
    decidedBy: string,
    note?: string,
  ) {
    await CancellationScope.nonCancellable(() =>
      toolProxy.recordApproval.executeWithOptions(
        { summary: `record approval ${appointmentId} → ${providerId}: ${decision}` },
        [{ appointmentId, providerId, decision, decidedBy, note, runId: this.host.workflowId }],
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
}
