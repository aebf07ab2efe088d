import {
  CancellationScope,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { tools, type ToolName, type ToolOutcome, type ToolResult } from '../../tools/catalog';
import { localReadProxy, toolProxy } from '../activityProxies';
import { emptyOutcome, type CompleteOutcome } from './outcome';
import { ApprovalGate } from '../approvals/approvalGate';
import { readSignal } from '../signalPayloads';
import { workflowTimeMs } from '../workflowClock';
import { batchProgressQuery, cancelSignal, llmProgressSignal } from '../contract/signals';
import type { DryWrite, ToolCallInput } from '../../activities/tools';
import { cancelSignalSchema, parentWorkflowId, type BatchInput, type BatchOutcome } from '../contract/types';
import { describeZodError } from '../../zodIssue';

const LIVE_LLM_REPORT_EVERY_MS = 2_000;

const truncate = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const LIVE_LLM_PROGRESS = 'live-llm-progress';
const LIVE_LLM_PROGRESS_BESIDE = 'live-llm-progress-beside';

/**
 * What both batch workflows share: tool calls with idempotency keys fixed by the workflow, the record of
 * what the tools really did, the approval gate, and clean cancellation (after the step in flight).
 */

/** A session that decides without writing: a shadow's, in a shadow run, or a preview's. */
export interface DryRunOptions {
  dryRun: true;
  /** The session that writes (a shadow's): its cancellation is this one's too. A preview's has none. */
  follows?: BatchSession;
  /** Would-be writes made before this session (a preview's earlier batches), replayed before each of its calls. */
  writes?: DryWrite[];
}

export class BatchSession {
  readonly outcome: CompleteOutcome;
  private cancelledHere = false;
  /** The would-be writes of a dry session, in order: replayed (and rolled back) before each of its calls. */
  private readonly dryWrites: DryWrite[] = [];
  private readonly approvals: ApprovalGate;
  private lastLlmReport = workflowTimeMs();
  private readonly assigned = new Map<string, BatchOutcome['assignments'][number]>();
  private readonly waitlisted = new Map<string, BatchOutcome['waitlisted'][number]>();
  private readonly notified = new Set<string>();
  private readonly elsewhere = new Map<string, string>();
  /** What find_candidates returned per appointment, and the providers the store then refused for it. */
  private readonly candidates = new Map<string, ToolResult<'find_candidates'>['candidates']>();
  private readonly refusedProviders = new Map<string, Set<string>>();
  /** The reassignment's workflow id: the idempotency keys' prefix and the store's run. */
  readonly workflowId: string;

  constructor(
    readonly input: BatchInput,
    /** Who decides the next steps: the model, or the code (from the start, or as the fallback). */
    public decidedBy: 'prompt' | 'code',
    private readonly dry?: DryRunOptions,
  ) {
    this.outcome = emptyOutcome(input.batch);
    this.workflowId = parentWorkflowId(input);
    this.approvals = new ApprovalGate(this);
    if (dry?.writes) this.dryWrites.push(...dry.writes);
  }

  get cancelled(): boolean {
    return this.dry?.follows ? this.dry.follows.cancelled : this.cancelledHere;
  }

  /** A dry session's would-be writes so far (those it was given first included), for the next batch of a preview. */
  dryWritesSoFar(): DryWrite[] {
    return [...this.dryWrites];
  }

  set cancelled(value: boolean) {
    this.cancelledHere = value;
  }

  /** True for a shadow's session: its writes are rolled back, its approvals assumed, nobody is told anything. */
  get dryRun(): boolean {
    return this.dry !== undefined;
  }

  /** A dry session's assumed approval, replayed before its later calls so the assign guard finds it. */
  assumeApproval(appointmentId: string, providerId: string, decidedBy: string): void {
    this.dryWrites.push({ kind: 'approval', appointmentId, providerId, decidedBy });
  }

  /** Appointments this session asked a human about (or, dry, would have). */
  approvalsAsked(): string[] {
    return this.approvals.asked();
  }

  /** Signal and query handlers; Temporal cancellation becomes the same clean stop as the cancel signal. */
  install(): void {
    this.approvals.install();
    setHandler(cancelSignal, (raw) => {
      if (readSignal('cancel', cancelSignalSchema, raw, '{"reason": "..."} or nothing')) this.cancelled = true;
    });
    setHandler(batchProgressQuery, () => ({ ...this.snapshot(), pending: this.approvals.pendingIds() }));
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

  /**
   * Every few seconds of a long conversation, the parent learns this batch's LLM figures so far, so that its
   * progress shows them live rather than when the batch ends. A fast batch (the offline model) never reports.
   */
  async reportLlmProgress(): Promise<void> {
    if (this.dryRun) return; // the writer's figures are the batch's progress
    const now = workflowTimeMs();
    if (now - this.lastLlmReport < LIVE_LLM_REPORT_EVERY_MS) return;
    // Histories recorded before this marker never reported.
    if (!patched(LIVE_LLM_PROGRESS)) return;
    this.lastLlmReport = now;
    const parent = workflowInfo().parent;
    if (!parent) return;
    const sent = getExternalWorkflowHandle(parent.workflowId)
      .signal(llmProgressSignal, { batch: this.input.batch, llm: { ...this.outcome.llm } })
      .catch((err: unknown) => log.warn('could not tell the parent the LLM figures so far', { error: String(err) }));
    // The report goes beside the batch's next step: nothing waits for it. Histories recorded before this marker
    // waited for the server to confirm each report.
    if (!patched(LIVE_LLM_PROGRESS_BESIDE)) await sent;
  }

  /** Another run holds this appointment (decided it first, or is asking a human about it): not ours to decide. */
  decidedElsewhere(appointmentId: string, detail: string): void {
    if (!this.assigned.has(appointmentId) && !this.waitlisted.has(appointmentId))
      this.elsewhere.set(appointmentId, detail);
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
    const call = this.prepareCall(name, args);
    if (!call.ok) return call;
    this.outcome.tool_calls += 1;
    const summarize = tools[name].summarize as (a: unknown) => string;
    // Side effects always finish once started: cancellation stops the run after the step in flight.
    const outcome = (await CancellationScope.nonCancellable(() =>
      toolProxy.callTool.executeWithOptions({ summary: `${summarize(call.input.args)} · batch ${this.input.batch}` }, [
        call.input,
      ]),
    )) as ToolOutcome<ToolResult<N>>;
    this.settle(name, call.input, outcome);
    return outcome;
  }

  /**
   * Several tool calls in one activity: each validated, keyed and recorded exactly as tool() would, in one round
   * trip (the activity runs them one after another, each in its own transaction with its own idempotency key, so
   * a retry repeats no write). A dry session makes them one by one (its would-be writes must follow each other).
   */
  async toolsTogether(
    calls: { name: Exclude<ToolName, 'request_approval'>; args: unknown }[],
    options: { localReads?: boolean } = {},
  ): Promise<ToolOutcome[]> {
    if (this.dryRun || calls.length <= 1) return Promise.all(calls.map((c) => this.tool(c.name, c.args)));
    const prepared = calls.map((c) => this.prepareCall(c.name, c.args));
    const inputs = prepared.flatMap((p) => (p.ok ? [p.input] : []));
    if (inputs.length === 0) return prepared as ToolOutcome[];
    this.outcome.tool_calls += inputs.length;
    const summary = inputs.map((i) => (tools[i.name as ToolName].summarize as (a: unknown) => string)(i.args));
    // Reads only may run as a local activity (the prefetch): nothing is written, so nothing needs the server's record.
    const local = options.localReads === true && inputs.every((i) => tools[i.name as ToolName].kind === 'read');
    const outcomes = (await CancellationScope.nonCancellable(() =>
      local
        ? localReadProxy.callTools({ calls: inputs })
        : toolProxy.callTools.executeWithOptions(
            { summary: `${truncate(summary.join(', '), 300)} · batch ${this.input.batch}` },
            [{ calls: inputs }],
          ),
    )) as ToolOutcome[];
    let next = 0;
    return prepared.map((p, i) => {
      if (!p.ok) return p;
      const outcome = outcomes[next++]!;
      this.settle(calls[i]!.name, p.input, outcome);
      return outcome;
    });
  }

  /** A call's arguments checked against the catalog, and the activity input with its idempotency key. */
  private prepareCall(
    name: Exclude<ToolName, 'request_approval'>,
    args: unknown,
  ): { ok: true; input: ToolCallInput } | { ok: false; code: 'invalid_arguments'; error: string } {
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
    // A shadow's keys are its own, so that nothing it does ever answers for the writer's calls.
    const prefix = this.dryRun ? `${this.workflowId}:shadow` : this.workflowId;
    const idempotencyKey = def.kind === 'write' && keyOf ? `${prefix}:${name}:${keyOf(parsed.data)}` : undefined;
    return {
      ok: true,
      input: {
        name,
        args: parsed.data,
        runId: this.workflowId,
        policy: this.input.bundle.policy,
        decidedBy: this.decidedBy,
        idempotencyKey,
        candidatesPerAppointment: this.input.bundle.config.candidates_per_appointment,
        ...(this.dryRun ? { dryRun: { writes: [...this.dryWrites] } } : {}),
      },
    };
  }

  /** What a finished call teaches the session: a dry write to replay, a decision, a refusal. */
  private settle(name: ToolName, input: ToolCallInput, outcome: ToolOutcome): void {
    if (outcome.ok && this.dryRun && tools[name].kind === 'write')
      this.dryWrites.push({ kind: 'tool', name, args: input.args, idempotencyKey: input.idempotencyKey });
    if (outcome.ok) this.record(name, outcome.result);
    else {
      this.outcome.refused_calls = (this.outcome.refused_calls ?? 0) + 1;
      this.noteRefusal(name, input.args as { appointment_id?: string }, outcome);
    }
  }

  private notifications: Promise<void> = Promise.resolve();
  private notificationError: unknown;

  /**
   * Queues a round of notifications after the ones queued before (each round reads who is still untold when it
   * starts, so nobody is told twice). A failure is kept for notificationsSent(), never left unhandled.
   */
  queueNotifications(round: () => Promise<void>): Promise<void> {
    this.notifications = this.notifications.then(round).catch((err: unknown) => {
      this.notificationError ??= err;
    });
    return this.notifications;
  }

  /** Waits for the queued notifications; throws what one of them failed with. */
  async notificationsSent(): Promise<void> {
    await this.notifications;
    if (this.notificationError !== undefined) throw this.notificationError;
  }

  /**
   * For a json_schema-mode turn, per appointment: the providers it may be assigned to now (proposed, not poor, and
   * approved where an approval is required) and those a person may still be asked about.
   */
  decisionChoices(appointmentId: string): { assign: string[]; ask: string[] } | undefined {
    const proposed = this.proposedFor(appointmentId);
    if (!proposed) return undefined;
    const details = new Map((this.candidates.get(appointmentId) ?? []).map((c) => [c.provider_id, c]));
    const approved = new Set(this.approvals.approvedPairs());
    const asked = this.approvals.asked().includes(appointmentId);
    const assign: string[] = [];
    const ask: string[] = [];
    for (const p of proposed) {
      const c = details.get(p);
      if (c?.band === 'poor') continue;
      if (!c?.approval_required || approved.has(`${appointmentId}→${p}`)) assign.push(p);
      else if (!asked) ask.push(p);
    }
    return { assign, ask };
  }

  /** The providers the tools proposed for an appointment (find_candidates), for json_schema-mode turns. */
  proposedFor(appointmentId: string): string[] | undefined {
    const refused = this.refusedProviders.get(appointmentId);
    return this.candidates
      .get(appointmentId)
      ?.map((c) => c.provider_id)
      .filter((p) => !refused?.has(p));
  }

  private noteRefusal(
    name: ToolName,
    args: { appointment_id?: string },
    outcome: { code: string; error: string },
  ): void {
    const id = args.appointment_id;
    if (!id || this.assigned.has(id) || this.waitlisted.has(id)) return;
    // A provider the store refused for this appointment (busy, below threshold, rejected) is no longer proposed
    // to a json_schema-mode model; one that only needed an approval stays.
    const refusedProvider = (args as { new_provider_id?: string }).new_provider_id;
    if (name === 'assign_appointment' && refusedProvider && outcome.code !== 'approval_required') {
      const refused = this.refusedProviders.get(id) ?? new Set<string>();
      this.refusedProviders.set(id, refused.add(refusedProvider));
    }
    // Another run (for the same provider and date) got there first: a fact to report, not a failure.
    if (outcome.code === 'already_decided' && (name === 'assign_appointment' || name === 'add_to_waitlist'))
      this.elsewhere.set(id, outcome.error);
    if (outcome.code === 'already_notified' && name === 'notify_patient') this.notified.add(id);
  }

  private record(name: ToolName, result: unknown): void {
    if (name === 'find_candidates') {
      const r = result as ToolResult<'find_candidates'>;
      this.candidates.set(r.appointment_id, r.candidates);
    } else if (name === 'assign_appointment') {
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

  /** The approval gate (request_approval): answered by the workflow itself, never by an activity. */
  requestApproval(args: unknown): Promise<ToolOutcome<ToolResult<'request_approval'>>> {
    return this.approvals.request(args);
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
