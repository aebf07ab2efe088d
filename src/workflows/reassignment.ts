import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { ErrorType } from '../errorTypes';
import type { PromptBundle } from '../prompts/schema';
import { describeZodError } from '../zodIssue';
import { modelCheckActivities, promptActivities, toolActivities } from './activityOptions';
import { codeDrivenBatch } from './codeDrivenBatch';
import { emptyOutcome, mergeOutcome } from './outcome';
import { promptDrivenBatch } from './promptDrivenBatch';
import { searchAttributes } from './searchAttributes';
import { approvalNoticeSignal, approveSignal, cancelSignal, progressQuery, rejectSignal } from './signals';
import {
  decisionSignalSchema,
  reassignmentInputSchema,
  type BatchAppointment,
  type BatchOutcome,
  type CarriedState,
  type DecisionSignal,
  type Mode,
  type PendingApproval,
  type Progress,
  type ReassignmentInput,
  type ReassignmentResult,
  type RunStatus,
} from './types';

/**
 * A reassignment run: pins its prompts, records the provider's unavailability, lists the affected
 * appointments, and hands them out in small batches to child workflows (one conversation each, a few at a
 * time). The parent's own history grows by a handful of events per batch; past a limit it continues as new,
 * carrying its exact state. Approvals, cancellation and progress are handled here for the whole run.
 */

/**
 * Continue as new once the run's own history passes this many bytes, whatever its event count: at 10,000
 * appointments the children's inputs and outcomes made a 3,000-event parent run weigh 5.4 MB. Temporal
 * counts the size (workflowInfo().historySize), so the decision replays exactly.
 */
const HISTORY_BYTES_LIMIT = 2 * 1024 * 1024;

export async function promptDrivenReassignment(
  input: ReassignmentInput,
  carried?: CarriedState,
): Promise<ReassignmentResult> {
  return runReassignment('prompt', input, carried);
}

export async function codeDrivenReassignment(
  input: ReassignmentInput,
  carried?: CarriedState,
): Promise<ReassignmentResult> {
  return runReassignment('code', input, carried);
}

/** A refused API key fails the run before anything is written; an endpoint that is only down is the batches' business. */
async function checkModel(): Promise<void> {
  try {
    const check = await modelCheckActivities.checkModel.executeWithOptions(
      { summary: 'check the model endpoint accepts our key' },
      [],
    );
    if (!check.reachable)
      log.warn('the model endpoint does not answer yet; batches will retry, then fall back if configured', {
        detail: check.detail,
      });
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)
      throw ApplicationFailure.nonRetryable(err.cause.message, err.cause.type ?? ErrorType.llmAuth);
    throw err;
  }
}

async function runReassignment(
  mode: Mode,
  rawInput: ReassignmentInput,
  carried?: CarriedState,
): Promise<ReassignmentResult> {
  const parsedInput = reassignmentInputSchema.safeParse(rawInput ?? {});
  if (!parsedInput.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid input: ${describeZodError(parsedInput.error, '(input)')}`,
      ErrorType.invalidInput,
    );
  }
  const input = parsedInput.data;
  const runId = workflowInfo().workflowId;

  let phase: Progress['phase'] = carried ? 'reassigning' : 'resolving_prompt';
  let cancelRequested = false;
  let bundle: PromptBundle | undefined = carried?.bundle;
  let remaining: BatchAppointment[] = carried?.remaining ?? [];
  let totalAffected = carried?.totalAffected ?? 0;
  let nextBatch = carried?.nextBatch ?? 1;
  let batchesDone = carried?.batchesDone ?? 0;
  let batchesTotal = batchesDone;
  const runs = (carried?.runs ?? 0) + 1;
  const done: BatchOutcome = carried?.done ?? emptyOutcome(0);
  const running = new Map<
    number,
    { handle: ChildWorkflowHandle<typeof promptDrivenBatch>; appointments: BatchAppointment[] }
  >();
  const pending = new Map<string, PendingApproval & { child: string }>();

  const status = (): RunStatus => {
    if (cancelRequested) return 'cancelled';
    if (done.status === 'budget_exhausted') return 'budget_exhausted';
    if (done.undecided.length > 0 || done.discrepancies.length > 0) return 'completed_with_issues';
    if ((done.fallbacks ?? []).length > 0) return 'completed_with_fallback';
    return 'completed';
  };

  setHandler(progressQuery, (): Progress => {
    const inFlight = [...running.values()].reduce((n, r) => n + r.appointments.length, 0);
    return {
      workflow_id: runId,
      mode,
      phase,
      status: phase === 'finished' ? status() : cancelRequested ? 'cancelling' : 'running',
      total_affected: totalAffected,
      decided: done.assignments.length + done.waitlisted.length,
      assigned: done.assignments.length,
      waitlisted: done.waitlisted.length,
      undecided: Math.max(
        0,
        totalAffected -
          done.assignments.length -
          done.waitlisted.length -
          (done.decided_elsewhere?.length ?? 0) -
          inFlight -
          remaining.length,
      ),
      batches: { total: batchesTotal, done: batchesDone, running: running.size },
      pending_approvals: [...pending.values()].map(({ child: _c, ...p }) => p),
      llm_calls: done.llm.calls,
      tool_calls: done.tool_calls,
      prompt: bundle && {
        name: bundle.orchestrator.name,
        version: bundle.orchestrator.version,
        label: bundle.orchestrator.label,
      },
      runs,
    };
  });

  // Decisions are forwarded to the batch that waits for them; anything else is ignored, and logged.
  const forward = (signal: typeof approveSignal) => async (raw: DecisionSignal) => {
    const parsed = decisionSignalSchema.safeParse(raw);
    if (!parsed.success) {
      log.warn('ignored a malformed decision signal; expected {"appointmentId": "A002"}');
      return;
    }
    const waiting = pending.get(parsed.data.appointmentId);
    if (!waiting) {
      log.warn('ignored a decision for an appointment that awaits no approval', {
        appointmentId: parsed.data.appointmentId,
      });
      return;
    }
    // Handlers run in the root scope; forwarding must still work once the run is being cancelled.
    await CancellationScope.nonCancellable(() => getExternalWorkflowHandle(waiting.child).signal(signal, parsed.data));
  };
  setHandler(approveSignal, forward(approveSignal));
  setHandler(rejectSignal, forward(rejectSignal));

  const requestCancel = async (why: string) => {
    if (cancelRequested) return;
    cancelRequested = true;
    log.info('cancellation requested: finishing the steps in flight', { why });
    await CancellationScope.nonCancellable(() =>
      Promise.all(
        [...running.values()].map((r) =>
          getExternalWorkflowHandle(r.handle.workflowId).signal(cancelSignal, { reason: why }),
        ),
      ),
    );
  };
  setHandler(cancelSignal, (payload) => requestCancel(payload?.reason ?? 'cancel signal'));
  CancellationScope.current().cancelRequested.catch(() => requestCancel('Temporal cancellation'));

  setHandler(approvalNoticeSignal, (notice) => {
    if (notice.settled) pending.delete(notice.appointment_id);
    else
      pending.set(notice.appointment_id, {
        appointment_id: notice.appointment_id,
        provider_id: notice.provider_id,
        score: notice.score,
        batch: notice.batch,
        deadline: notice.deadline,
        child: notice.child_workflow_id,
      });
  });

  return CancellationScope.nonCancellable(async () => {
    if (!bundle) {
      bundle = await promptActivities.resolvePrompts.executeWithOptions(
        { summary: `resolve prompts · label ${input.promptLabel}` },
        [{ label: input.promptLabel, workflowId: runId }],
      );
      if (mode === 'prompt' && patched('check-model-before-writing')) await checkModel();
      // A date range (until) is optional; without it, the calls and their arguments are exactly those of one day.
      const range = input.until !== undefined ? { until: input.until } : {};
      const days = input.until !== undefined ? `${input.date} … ${input.until}` : input.date;
      await toolActivities.markProviderUnavailable.executeWithOptions(
        { summary: `mark ${input.providerId} unavailable on ${days} (${input.reason})` },
        [{ providerId: input.providerId, date: input.date, ...range, reason: input.reason }],
      );
      phase = 'finding_appointments';
      const affected = await toolActivities.callTool.executeWithOptions(
        { summary: `get_affected_appointments ${input.providerId} ${days}` },
        [
          {
            name: 'get_affected_appointments',
            args: { provider_id: input.providerId, date: input.date, ...range },
            runId,
            policy: bundle.policy,
            decidedBy: mode,
            candidatesPerAppointment: bundle.config.candidates_per_appointment,
          },
        ],
      );
      if (!affected.ok) throw ApplicationFailure.nonRetryable(affected.error, ErrorType.invalidInput);
      const list = (affected.result as { appointments: BatchAppointment[] }).appointments;
      remaining = list.map((a) => ({
        appointment_id: a.appointment_id,
        patient_id: a.patient_id,
        ...(a.date !== undefined ? { date: a.date } : {}),
        time: a.time,
        specialty: a.specialty,
      }));
      totalAffected = remaining.length;
    }
    const pinned = bundle;
    const pinnedPrompts = {
      orchestrator: pinned.orchestrator,
      scoring: pinned.scoring,
      ...(pinned.experiment ? { experiment: pinned.experiment } : {}),
    };
    upsertMemo({
      prompt: pinnedPrompts,
      provider: input.providerId,
      date: input.date,
      ...(input.until !== undefined ? { until: input.until } : {}),
      reason: input.reason,
    });
    upsertSearchAttributes([
      { key: searchAttributes.providerId, value: input.providerId },
      { key: searchAttributes.date, value: input.date },
      { key: searchAttributes.mode, value: mode },
      { key: searchAttributes.status, value: 'running' },
      { key: searchAttributes.promptName, value: pinned.orchestrator.name },
      { key: searchAttributes.promptLabel, value: pinned.orchestrator.label },
      { key: searchAttributes.promptVersion, value: pinned.orchestrator.version },
      { key: searchAttributes.promptSource, value: pinned.orchestrator.source },
      ...(pinned.experiment
        ? [
            { key: searchAttributes.experiment, value: pinned.experiment.experiment },
            { key: searchAttributes.promptArm, value: pinned.experiment.arm },
          ]
        : []),
    ]);
    phase = 'reassigning';

    const size = pinned.config.batch_size;
    batchesTotal = batchesDone + Math.ceil(remaining.length / size);
    const historyFull = () =>
      workflowInfo().continueAsNewSuggested ||
      workflowInfo().historyLength >= input.historyEventLimit ||
      workflowInfo().historySize >= HISTORY_BYTES_LIMIT;

    const launch = async () => {
      const appointments = remaining.slice(0, size);
      remaining = remaining.slice(size);
      const batch = nextBatch++;
      const first = appointments[0]!.appointment_id;
      const last = appointments[appointments.length - 1]!.appointment_id;
      const handle = await startChild(mode === 'prompt' ? promptDrivenBatch : codeDrivenBatch, {
        workflowId: `${runId}-batch-${String(batch).padStart(4, '0')}`,
        args: [
          {
            runId,
            batch,
            providerId: input.providerId,
            date: input.date,
            reason: input.reason,
            appointments,
            bundle: pinned,
          },
        ],
        staticSummary: `batch ${batch}: ${appointments.length} appointment(s), ${first}${first === last ? '' : ` … ${last}`} · ${mode}-driven`,
      });
      running.set(batch, { handle, appointments });
    };

    while (remaining.length > 0 || running.size > 0) {
      while (
        !cancelRequested &&
        remaining.length > 0 &&
        running.size < pinned.config.max_parallel_batches &&
        !historyFull()
      )
        await launch();
      if (running.size === 0) break; // cancelled, or history full with nothing in flight
      const [batch, outcome] = await Promise.race(
        [...running.entries()].map(([b, r]) => r.handle.result().then((o) => [b, o] as const)),
      );
      running.delete(batch);
      mergeOutcome(done, outcome);
      batchesDone += 1;
    }

    if (!cancelRequested && remaining.length > 0) {
      // The history is long: start afresh with the exact state, once no handler is mid-flight.
      await condition(allHandlersFinished);
      log.info('continuing as new', { remaining: remaining.length, historyLength: workflowInfo().historyLength });
      const next: CarriedState = { bundle: pinned, remaining, totalAffected, nextBatch, done, batchesDone, runs };
      return continueAsNew<typeof promptDrivenReassignment>(rawInput, next);
    }

    if (cancelRequested) {
      for (const a of remaining)
        done.undecided.push({ appointment_id: a.appointment_id, reason: 'cancelled before a decision' });
      remaining = [];
    }
    phase = 'finished';
    const final = status();
    upsertSearchAttributes([{ key: searchAttributes.status, value: final }]);
    await condition(allHandlersFinished);
    const decided = done.assignments.length + done.waitlisted.length;
    const result: ReassignmentResult = {
      status: final,
      mode,
      workflow_id: runId,
      provider_id: input.providerId,
      date: input.date,
      ...(input.until !== undefined ? { until: input.until } : {}),
      reason: input.reason,
      total_affected: totalAffected,
      successful_assignments: done.assignments.length,
      waitlist_entries: done.waitlisted.length,
      assignments: done.assignments.sort((a, b) => a.appointment_id.localeCompare(b.appointment_id)),
      waitlisted: done.waitlisted.sort((a, b) => a.appointment_id.localeCompare(b.appointment_id)),
      undecided: done.undecided.sort((a, b) => a.appointment_id.localeCompare(b.appointment_id)),
      decided_by: {
        prompt: [...done.assignments, ...done.waitlisted].filter((d) => d.decided_by === 'prompt').length,
        code: [...done.assignments, ...done.waitlisted].filter((d) => d.decided_by === 'code').length,
      },
      fallbacks: (done.fallbacks ?? []).sort((a, b) => a.batch - b.batch),
      decided_elsewhere: (done.decided_elsewhere ?? []).sort((a, b) =>
        a.appointment_id.localeCompare(b.appointment_id),
      ),
      approvals: done.approvals,
      prompt: pinnedPrompts,
      llm: {
        ...done.llm,
        model: mode === 'prompt' ? (done.llm.model ?? pinned.config.model.name) : 'none (code-driven)',
        offline: done.llm.offline ?? false,
        calls_per_appointment: decided > 0 ? Math.round((done.llm.calls / decided) * 100) / 100 : 0,
      },
      tool_calls: done.tool_calls,
      batches: batchesDone,
      runs,
      discrepancies: done.discrepancies,
      message:
        totalAffected === 0
          ? `no appointment of ${input.providerId} on ${input.date} is left to reassign: nothing to do · prompt ${pinned.orchestrator.name} v${pinned.orchestrator.version} (${pinned.orchestrator.label})`
          : `${totalAffected} affected: ${done.assignments.length} reassigned, ${done.waitlisted.length} waitlisted` +
            (done.undecided.length > 0 ? `, ${done.undecided.length} undecided` : '') +
            ((done.decided_elsewhere ?? []).length > 0
              ? `, ${done.decided_elsewhere!.length} decided by another run`
              : '') +
            ((done.fallbacks ?? []).length > 0
              ? ` (${(done.fallbacks ?? []).reduce((n, f) => n + f.appointments.length, 0)} by the code-driven fallback)`
              : '') +
            ` · ${final} · prompt ${pinned.orchestrator.name} v${pinned.orchestrator.version} (${pinned.orchestrator.label})`,
    };
    // The run's summary in its Langfuse trace (an activity: workflow code never traces). Runs recorded before it existed replay without it.
    if (patched('trace-run-summary')) {
      const { assignments: _a, waitlisted: _w, undecided, discrepancies, ...summary } = result;
      await toolActivities.recordRunSummary.executeWithOptions({ summary: `trace summary · ${final}` }, [
        { runId, summary: { ...summary, undecided: undecided.length, discrepancies: discrepancies.length } },
      ]);
    }
    return result;
  });
}
