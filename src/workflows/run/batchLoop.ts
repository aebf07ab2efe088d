import { patched, startChild, workflowInfo } from '@temporalio/workflow';
import type { PromptBundle } from '../../prompts/schema';
import { codeDrivenBatch } from '../batch/codeDrivenBatch';
import { mergeOutcome } from '../batch/outcome';
import { promptDrivenBatch } from '../batch/promptDrivenBatch';
import { shadowBatch } from '../batch/shadowBatch';
import { shadowPaths } from '../batch/shadowCompare';
import type { BatchInput } from '../contract/types';
import type { ReassignmentRun } from './reassignmentRun';
import { batchWorkflowId } from '../../workflowIds';

/**
 * Continue as new once the run's own history passes this many bytes, whatever its event count: at 10,000
 * appointments the children's inputs and outcomes made a 3,000-event parent run weigh 5.4 MB. Temporal
 * counts the size (workflowInfo().historySize), so the decision replays exactly.
 */
const HISTORY_BYTES_LIMIT = 2 * 1024 * 1024;

/** Marks the versions that start a wave's batches together. */
const LAUNCH_BATCHES_TOGETHER = 'launch-batches-together';

/** The run's own history is long enough to start afresh (continue as new) before launching more batches. */
function historyFull(historyEventLimit: number): boolean {
  const info = workflowInfo();
  return (
    info.continueAsNewSuggested || info.historyLength >= historyEventLimit || info.historySize >= HISTORY_BYTES_LIMIT
  );
}

/**
 * Hands the appointments out in batches, one child workflow each, up to max_parallel_batches at a time, and
 * adds each finished batch to the run's total. Returns when nothing is left or running, or when cancelled, or
 * when the history is full and the batches in flight have finished (the caller then continues as new).
 */
export async function runBatches(run: ReassignmentRun, bundle: PromptBundle): Promise<void> {
  const { state, input } = run;
  const size = bundle.config.batch_size;
  run.batchesTotal = state.batchesDone + Math.ceil(state.remaining.length / size);
  const launchable = () => !run.cancelRequested && state.remaining.length > 0 && !historyFull(input.historyEventLimit);
  // Histories recorded before this marker started the batches of a wave one after another, each waiting for the
  // server to confirm the one before; now a wave's starts go out together, in one workflow task.
  const together = patched(LAUNCH_BATCHES_TOGETHER);

  while (state.remaining.length > 0 || run.running.size > 0) {
    if (together) {
      const starts: Promise<void>[] = [];
      while (launchable() && run.running.size + starts.length < bundle.config.max_parallel_batches)
        starts.push(launch(run, bundle, size));
      await Promise.all(starts);
    } else
      while (launchable() && run.running.size < bundle.config.max_parallel_batches) await launch(run, bundle, size);
    if (run.running.size === 0) break; // cancelled, or history full with nothing in flight
    const [batch, outcome] = await Promise.race(
      [...run.running.entries()].map(([b, r]) => r.handle.result().then((o) => [b, o] as const)),
    );
    run.running.delete(batch);
    run.liveLlm.delete(batch);
    mergeOutcome(state.done, outcome);
    state.batchesDone += 1;
  }
}

async function launch(run: ReassignmentRun, bundle: PromptBundle, size: number): Promise<void> {
  const { state, input, mode, workflowId } = run;
  const appointments = state.remaining.slice(0, size);
  state.remaining = state.remaining.slice(size);
  const batch = state.nextBatch++;
  const first = appointments[0]!.appointment_id;
  const last = appointments[appointments.length - 1]!.appointment_id;
  const batchInput: BatchInput = {
    workflowId,
    batch,
    providerId: input.providerId,
    date: input.date,
    reason: input.reason,
    appointments,
    bundle,
    // Only a shadow batch has a writer; the other batches' input stays as it always was.
    ...(mode === 'shadow' ? { shadowWriter: shadowPaths(input.shadowWriter).writer } : {}),
  };
  const how = mode === 'shadow' ? `${batchInput.shadowWriter}-driven, shadowed` : `${mode}-driven`;
  const handle = await startChild(
    mode === 'shadow' ? shadowBatch : mode === 'prompt' ? promptDrivenBatch : codeDrivenBatch,
    {
      workflowId: batchWorkflowId(workflowId, batch),
      args: [batchInput],
      staticSummary: `batch ${batch}: ${appointments.length} appointment(s), ${first}${first === last ? '' : ` … ${last}`} · ${how}`,
    },
  );
  run.running.set(batch, { handle, appointments });
  await run.batchStarted(batch, handle.workflowId);
}
