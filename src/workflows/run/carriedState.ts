import type { PromptBundle } from '../../prompts/schema';
import { completeOutcome, emptyOutcome, type CompleteOutcome } from '../batch/outcome';
import type { BatchAppointment, CarriedState } from '../contract/types';

/**
 * The exact state of a run, as carried across continue-as-new. Histories recorded by earlier versions carry
 * outcomes without some lists; they are completed here, once, so that the rest of the code sees whole types.
 */

export interface RunState {
  /** Pinned once per run (then carried): absent only before the prompts are resolved. */
  bundle?: PromptBundle;
  remaining: BatchAppointment[];
  totalAffected: number;
  nextBatch: number;
  batchesDone: number;
  /** This run's number in its chain of continue-as-new runs (1 for the first). */
  runs: number;
  done: CompleteOutcome;
}

/** The state a run starts from: fresh, or what the previous run of its chain carried. */
export function resumeState(carried?: CarriedState): RunState {
  if (!carried)
    return {
      remaining: [],
      totalAffected: 0,
      nextBatch: 1,
      batchesDone: 0,
      runs: 1,
      done: emptyOutcome(0),
    };
  return { ...carried, runs: carried.runs + 1, done: completeOutcome(carried.done) };
}

/** What the next run of the chain gets: the exact state, never a summary written by the model. */
export function carryState(state: RunState, bundle: PromptBundle): CarriedState {
  const { remaining, totalAffected, nextBatch, done, batchesDone, runs } = state;
  return { bundle, remaining, totalAffected, nextBatch, done, batchesDone, runs };
}
