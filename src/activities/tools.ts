import { ApplicationFailure } from '@temporalio/common';
import type { Policy } from '../domain/policy';
import { DomainRefusal, type SchedulingStore } from '../domain/store';
import { ErrorType } from '../errorTypes';
import { isToolName, tools, type ToolOutcome } from '../tools/catalog';
import { isActivityTool, toolHandlers } from '../tools/handlers';
import { describeZodError } from '../zodIssue';
import { runTags } from '../langfuse/tracing';
import type { Trace } from './tracing';

export interface ToolCallInput {
  name: string;
  args: unknown;
  /**
   * The reassignment's workflow id, the run the store records writes under (its `run_id`), not Temporal's run id.
   * In every activity input here `runId` means that; the key stays because recorded histories carry it.
   */
  runId: string;
  policy: Policy;
  decidedBy: 'prompt' | 'code';
  idempotencyKey?: string;
  candidatesPerAppointment: number;
  /**
   * A shadow's dry run: the call runs in a transaction that is rolled back, after the shadow's own earlier
   * would-be writes (replayed in order), so it sees what it would have done and keeps nothing.
   */
  dryRun?: { writes: DryWrite[] };
}

/**
 * A write a dry run would have made: a tool call (with its key), an approval assumed given, or (a preview's first)
 * the provider's unavailability, which a preview never records but its tools must see.
 */
export type DryWrite =
  | { kind: 'tool'; name: string; args: unknown; idempotencyKey?: string }
  | { kind: 'approval'; appointmentId: string; providerId: string; decidedBy: string }
  | { kind: 'unavailable'; providerId: string; date: string; reason: string };

/** What the workflow sends at the end of a run: its result without the long lists (ids of the undecided kept). */
export interface RunSummary {
  status: string;
  provider_id: string;
  date: string;
  until?: string;
  /** Absent in histories recorded before the store kept run outcomes. */
  undecided_appointments?: { appointment_id: string; reason: string }[];
  mode: string;
  message: string;
  prompt: { orchestrator: { name: string; version: number }; experiment?: { experiment: string; arm: string } };
  [field: string]: unknown;
}

/** What follows a tool call that wrote: a follow-up for a patient told of a new slot, an imminent waitlist escalated. */
export interface ToolHooks {
  onOffer?: (appointmentId: string) => Promise<void>;
  /** A patient waitlisted this close to (or past) the appointment is escalated; undefined: never. */
  escalateWaitlistDays?: number;
}

export function toolActivities(store: SchedulingStore, trace: Trace, hooks: ToolHooks = {}) {
  return {
    /** Records the provider's unavailability (idempotent) and checks the input against the store. */
    async markProviderUnavailable(input: {
      providerId: string;
      date: string;
      until?: string;
      reason: string;
      /** The run that reassigns these days (absent in histories recorded before runs were recorded). */
      runId?: string;
      /** The appointments the run is limited to (a re-offer). */
      scope?: string[];
    }) {
      try {
        const marked =
          input.until !== undefined
            ? await store.markUnavailableRange(input.providerId, input.date, input.until, input.reason)
            : await store.markUnavailable(input.providerId, input.date, input.reason);
        if (input.runId) await store.recordRunStart({ ...input, runId: input.runId });
        return marked;
      } catch (err) {
        if (err instanceof DomainRefusal) throw ApplicationFailure.nonRetryable(err.message, ErrorType.invalidInput);
        throw err;
      }
    },

    /**
     * One tool call, dispatched by name through the catalog. A refusal by the domain or invalid arguments
     * come back as a result the model can read; only infrastructure failures throw (and are retried).
     */
    async callTool(input: ToolCallInput): Promise<ToolOutcome> {
      return callOne(input);
    },

    /**
     * Several calls of one tool that the workflow itself makes (the prefetch before the first turn, the
     * notifications after decisions), in one activity: run one after another, each its own transaction with its
     * own idempotency key, so a retry of the whole activity repeats none of the writes.
     */
    async callTools(input: { calls: ToolCallInput[] }): Promise<ToolOutcome[]> {
      const outcomes: ToolOutcome[] = [];
      for (const call of input.calls) outcomes.push(await callOne(call));
      return outcomes;
    },

    /** Writes a human's (or the timeout policy's) decision; the assign guard reads it. Idempotent. */
    async recordApproval(input: {
      appointmentId: string;
      providerId: string;
      decision: 'approved' | 'rejected' | 'timed_out';
      decidedBy: string;
      note?: string;
      runId: string;
    }) {
      const recorded = await store.recordApproval(
        input.appointmentId,
        input.providerId,
        input.decision,
        input.decidedBy,
        input.note,
        input.runId,
      );
      await trace((t) =>
        t.event({
          runId: input.runId,
          name: `approval ${input.decision} · ${input.appointmentId} → ${input.providerId}`,
          input,
          output: recorded,
        }),
      );
      return recorded;
    },

    /** Before a batch waits for a human: may this run ask, or is another run asking about it already? */
    async claimApproval(input: { appointmentId: string; providerId: string; runId: string; deadline: string }) {
      return store.claimApprovalRequest(input);
    },

    /** The run stopped waiting without an answer (cancelled): another run may ask again. */
    async releaseApproval(input: { appointmentId: string; runId: string }): Promise<void> {
      await store.closeApprovalRequest(input.appointmentId, input.runId);
    },

    /**
     * The run's outcome, the last activity of a run: recorded in the store (status, and what it left undecided,
     * which the audit reads) and in the run's trace.
     */
    async recordRunSummary(input: { runId: string; summary: RunSummary }): Promise<void> {
      const { summary } = input;
      await store.recordRunOutcome({
        runId: input.runId,
        providerId: summary.provider_id,
        date: summary.date,
        ...(summary.until !== undefined ? { until: summary.until } : {}),
        status: summary.status,
        undecided: summary.undecided_appointments ?? [],
      });
      await escalateFallbackMajority(input.runId, summary);
      await trace((t) =>
        t.span({
          runId: input.runId,
          name: 'summary',
          output: summary,
          trace: {
            tags: runTags({
              prompt: summary.prompt.orchestrator,
              mode: summary.mode,
              experiment: summary.prompt.experiment,
            }),
            output: {
              status: summary.status,
              message: summary.message,
              total_affected: summary.total_affected,
              successful_assignments: summary.successful_assignments,
              waitlist_entries: summary.waitlist_entries,
            },
          },
          ...(summary.status === 'completed' ? {} : { level: 'WARNING' as const, statusMessage: summary.status }),
        }),
      );
    },

    /**
     * A run failed (a non-retryable error ended it): its record is closed as failed, with the appointments it
     * had not decided, so the audit judges it and a new run can pick them up.
     */
    async recordRunFailure(input: {
      runId: string;
      providerId: string;
      date: string;
      until?: string;
      error: string;
      undecided: { appointment_id: string; reason: string }[];
    }): Promise<void> {
      await store.recordRunOutcome({ ...input, status: 'failed' });
      await trace((t) =>
        t.span({
          runId: input.runId,
          name: 'failed',
          output: { error: input.error, undecided: input.undecided.length },
          level: 'ERROR',
          statusMessage: input.error,
        }),
      );
    },
  };

  /** A prompt-driven run whose appointments were mostly decided by the code-driven fallback: a head of department sees it. */
  async function escalateFallbackMajority(runId: string, summary: RunSummary): Promise<void> {
    const fallbacks = (summary.fallbacks ?? []) as { appointments: string[]; reason?: string }[];
    const total = Number(summary.total_affected ?? 0);
    const byFallback = fallbacks.reduce((n, f) => n + f.appointments.length, 0);
    if (summary.mode !== 'prompt' || total === 0 || byFallback * 2 <= total) return;
    await store.raiseEscalation({
      kind: 'fallback_majority',
      ref: runId,
      runId,
      reason:
        `the code-driven fallback decided ${byFallback} of the ${total} appointments of ${runId} (${fallbacks.map((f) => f.reason).filter(Boolean)[0] ?? 'the model failed'})`.slice(
          0,
          500,
        ),
    });
  }

  /** One tool call and its trace. */
  async function callOne(input: ToolCallInput): Promise<ToolOutcome> {
    const startTime = new Date();
    const outcome = input.dryRun ? await dryRun(input, input.dryRun.writes) : await runTool(input);
    if (!input.dryRun) await afterWrite(input, outcome);
    await trace((t) =>
      t.tool({
        runId: input.runId,
        name: input.dryRun ? `${input.name} (dry run)` : input.name,
        input: input.args,
        output: outcome,
        startTime,
        endTime: new Date(),
        ...(outcome.ok ? {} : { level: 'WARNING' as const, statusMessage: outcome.error }),
      }),
    );
    return outcome;
  }

  /**
   * After a real call: a patient told of a new slot gets a follow-up (also when the notification was sent by an
   * earlier attempt: starting it is idempotent), and an imminent waitlist is escalated. Both are retried with the
   * activity when they fail.
   */
  async function afterWrite(input: ToolCallInput, outcome: ToolOutcome): Promise<void> {
    const args = (input.args ?? {}) as { appointment_id?: unknown; kind?: unknown };
    const appointmentId = typeof args.appointment_id === 'string' ? args.appointment_id : undefined;
    if (!appointmentId) return;
    const done = outcome.ok || outcome.code === 'already_notified';
    if (input.name === 'notify_patient' && args.kind === 'reassigned' && done && hooks.onOffer)
      await hooks.onOffer(appointmentId);
    if (input.name === 'add_to_waitlist' && outcome.ok && hooks.escalateWaitlistDays !== undefined) {
      const a = await store.appointment(appointmentId);
      const days = a ? (Date.parse(`${a.date}T00:00:00Z`) - Date.now()) / 86_400_000 : Infinity;
      if (a && days <= hooks.escalateWaitlistDays)
        await store.raiseEscalation({
          kind: 'waitlisted_soon',
          ref: appointmentId,
          appointmentId,
          runId: input.runId,
          reason: `${appointmentId} (${a.date} ${a.time}) is on the waitlist ${days < 0 ? 'after its date' : `${Math.ceil(days)} day(s) before it`}`,
        });
    }
  }

  /**
   * The call as it would go after the shadow's earlier would-be writes, rolled back with them. A would-be write
   * that no longer applies (the writer or another run changed the data since) is skipped.
   */
  function dryRun(input: ToolCallInput, writes: DryWrite[]): Promise<ToolOutcome> {
    return store.rolledBack(async () => {
      for (const w of writes) {
        if (w.kind === 'approval')
          await store.recordApproval(w.appointmentId, w.providerId, 'approved', w.decidedBy, undefined, input.runId);
        else if (w.kind === 'unavailable') await store.markUnavailable(w.providerId, w.date, w.reason);
        else await runTool({ ...input, name: w.name, args: w.args, idempotencyKey: w.idempotencyKey });
      }
      return runTool(input);
    });
  }

  /** The tool call itself (callTool adds its trace). */
  async function runTool(input: ToolCallInput): Promise<ToolOutcome> {
    if (!isToolName(input.name) || !isActivityTool(input.name)) {
      return { ok: false, code: 'unknown_tool', error: `there is no tool named ${input.name}` };
    }
    const def = tools[input.name];
    const args = def.input.safeParse(input.args);
    if (!args.success) {
      return {
        ok: false,
        code: 'invalid_arguments',
        error: `invalid arguments for ${input.name}: ${describeZodError(args.error, '(arguments)')}`,
      };
    }
    try {
      const handler = toolHandlers[input.name] as (a: unknown, c: unknown) => Promise<unknown>;
      const result = await handler(args.data, {
        store,
        policy: input.policy,
        runId: input.runId,
        decidedBy: input.decidedBy,
        idempotencyKey: input.idempotencyKey,
        candidatesPerAppointment: input.candidatesPerAppointment,
      });
      return { ok: true, result: def.result.parse(result) };
    } catch (err) {
      if (err instanceof DomainRefusal) return { ok: false, code: err.code, error: err.message };
      throw err;
    }
  }
}
