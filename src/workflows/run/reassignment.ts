import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  log,
  patched,
  TemporalFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { ErrorType } from '../../errorTypes';
import type { PromptBundle } from '../../prompts/schema';
import { describeZodError } from '../../zodIssue';
import { toolProxy } from '../activityProxies';
import { runBatches } from './batchLoop';
import { carryState, resumeState } from './carriedState';
import { prepareRun, publishRun } from './prepare';
import { ReassignmentRun } from './reassignmentRun';
import { buildResult, leftUndecided, runSummary } from './runResult';
import { searchAttributes } from '../contract/searchAttributes';
import {
  reassignmentInputSchema,
  type CarriedState,
  type Mode,
  type RequestedMode,
  type ParsedReassignmentInput,
  type ReassignmentInput,
  type ReassignmentResult,
} from '../contract/types';

/**
 * A reassignment run: pins its prompts, records the provider's unavailability, lists the affected
 * appointments, and hands them out in small batches to child workflows (one conversation each, a few at a
 * time). The parent's own history grows by a handful of events per batch; past a limit it continues as new,
 * carrying its exact state. Approvals, cancellation and progress are handled here for the whole run.
 */

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

/**
 * The generic entry point: the input's `mode` says how to decide (prompt, code, shadow, or auto: the rollout
 * share picks prompt or code for this run; auto by default).
 */
export async function reassignment(input: ReassignmentInput, carried?: CarriedState): Promise<ReassignmentResult> {
  return runReassignment(undefined, input, carried);
}

function parseInput(raw: ReassignmentInput, typed: Mode | undefined): ParsedReassignmentInput {
  const parsed = reassignmentInputSchema.safeParse(raw ?? {});
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(
      `invalid input: ${describeZodError(parsed.error, '(input)')}`,
      ErrorType.invalidInput,
    );
  if (typed && parsed.data.mode !== undefined && parsed.data.mode !== typed)
    throw ApplicationFailure.nonRetryable(
      `invalid input: mode ${parsed.data.mode} does not go with the ${typed}-driven workflow; start the reassignment workflow for it`,
      ErrorType.invalidInput,
    );
  return parsed.data;
}

async function runReassignment(
  typed: Mode | undefined,
  rawInput: ReassignmentInput,
  carried?: CarriedState,
): Promise<ReassignmentResult> {
  const input = parseInput(rawInput, typed);
  const requested: RequestedMode = typed ?? input.mode ?? 'auto';
  const run = new ReassignmentRun(requested, input, workflowInfo().workflowId, resumeState(carried));
  run.install();
  return CancellationScope.nonCancellable(async () => {
    try {
      const bundle = await prepareRun(run);
      publishRun(run, bundle);
      run.phase = 'reassigning';
      await runBatches(run, bundle);
      if (!run.cancelRequested && run.state.remaining.length > 0) {
        // The history is long: start afresh with the exact state, once no handler is mid-flight.
        await condition(allHandlersFinished);
        log.info('continuing as new', {
          remaining: run.state.remaining.length,
          historyLength: workflowInfo().historyLength,
        });
        return continueAsNew<typeof promptDrivenReassignment>(rawInput, carryState(run.state, bundle));
      }
      return finish(run, bundle);
    } catch (err) {
      // Only a Temporal failure fails the run; anything else fails the workflow task, which Temporal retries.
      if (err instanceof TemporalFailure && patched(CLOSE_FAILED_RUN)) await closeFailedRun(run, err);
      throw err;
    }
  });
}

/** Marks the versions that close a failed run's record (older ones left it 'running'). */
const CLOSE_FAILED_RUN = 'close-run-record-on-failure';

/** A failed run closes its record in the store, listing what it had not decided, before it fails. */
async function closeFailedRun(run: ReassignmentRun, err: TemporalFailure): Promise<void> {
  const { state, input } = run;
  const reason = `the run failed: ${err.message}`.slice(0, 500);
  const open = [...state.remaining, ...[...run.running.values()].flatMap((r) => r.appointments)];
  const undecided = [...leftUndecided(state.done), ...open.map((a) => ({ appointment_id: a.appointment_id, reason }))];
  await toolProxy.recordRunFailure.executeWithOptions({ summary: 'record failed run' }, [
    {
      runId: run.workflowId,
      providerId: input.providerId,
      date: input.date,
      ...(input.until !== undefined ? { until: input.until } : {}),
      error: err.message,
      undecided,
    },
  ]);
}

async function finish(run: ReassignmentRun, bundle: PromptBundle): Promise<ReassignmentResult> {
  const { state } = run;
  if (run.cancelRequested) {
    for (const a of state.remaining)
      state.done.undecided.push({ appointment_id: a.appointment_id, reason: 'cancelled before a decision' });
    state.remaining = [];
  }
  run.phase = 'finished';
  const status = run.status();
  upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
  await condition(allHandlersFinished);
  const result = buildResult({ mode: run.mode, workflowId: run.workflowId, input: run.input, status, state, bundle });
  if (result.shadow)
    upsertSearchAttributes([
      {
        key: searchAttributes.shadowAgreement,
        value: result.shadow.agreed === result.shadow.appointments ? 'agree' : 'disagree',
      },
    ]);
  // The run's outcome in the store and its trace (an activity: workflow code never traces).
  // Runs recorded before it existed replay without it.
  if (patched('trace-run-summary'))
    await toolProxy.recordRunSummary.executeWithOptions({ summary: `trace summary · ${status}` }, [
      { runId: run.workflowId, summary: runSummary(result) },
    ]);
  return result;
}
