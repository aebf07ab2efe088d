import { ApplicationFailure } from '@temporalio/common';
import type { Policy } from '../domain/policy';
import { DomainRefusal, type SchedulingStore } from '../domain/store';
import { ErrorType } from '../errorTypes';
import { isToolName, tools, type ToolOutcome } from '../tools/catalog';
import { isActivityTool, toolHandlers } from '../tools/handlers';
import { describeZodError } from '../zodIssue';
import type { Trace } from './tracing';

export interface ToolCallInput {
  name: string;
  args: unknown;
  runId: string;
  policy: Policy;
  decidedBy: 'prompt' | 'code';
  idempotencyKey?: string;
  candidatesPerAppointment: number;
}

export function toolActivities(store: SchedulingStore, trace: Trace) {
  return {
    /** Records the provider's unavailability (idempotent) and checks the input against the store. */
    async markProviderUnavailable(input: { providerId: string; date: string; until?: string; reason: string }) {
      try {
        if (input.until !== undefined)
          return store.markUnavailableRange(input.providerId, input.date, input.until, input.reason);
        return store.markUnavailable(input.providerId, input.date, input.reason);
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
      const startTime = new Date();
      const outcome = runTool(input);
      await trace((t) =>
        t.tool({
          runId: input.runId,
          name: input.name,
          input: input.args,
          output: outcome,
          startTime,
          endTime: new Date(),
          ...(outcome.ok ? {} : { level: 'WARNING' as const, statusMessage: outcome.error }),
        }),
      );
      return outcome;
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
      const recorded = store.recordApproval(
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
  };

  /** The tool call itself (callTool adds its trace). */
  function runTool(input: ToolCallInput): ToolOutcome {
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
      const handler = toolHandlers[input.name] as (a: unknown, c: unknown) => unknown;
      const result = handler(args.data, {
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
