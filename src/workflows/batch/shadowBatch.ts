import { CancellationScope } from '@temporalio/workflow';
import { BatchSession } from './batchSession';
import { runCodePath } from './codeDrivenBatch';
import { runPromptPath } from './promptDrivenBatch';
import { addLlmStats } from './outcome';
import { compareShadow, shadowPaths } from './shadowCompare';
import type { BatchInput, BatchOutcome, Mode } from '../contract/types';

/**
 * A batch of a shadow run. The shadow path decides first, in a dry run: its tools go through the same guards
 * in transactions that are rolled back (after its own earlier would-be writes), so it sees what it would have
 * done and nothing is kept; it asks no human, and tells no patient. Then the writing path decides for real,
 * exactly as in an ordinary run. The outcome is the writer's, with the two compared appointment by appointment.
 */
export async function shadowBatch(input: BatchInput): Promise<BatchOutcome> {
  const { writer: writerPath, shadow: shadowPath } = shadowPaths(input.shadowWriter);
  const writer = new BatchSession(input, writerPath);
  writer.install();
  const shadow = new BatchSession(input, shadowPath, { dryRun: true, follows: writer });
  const run = (path: Mode, session: BatchSession) =>
    path === 'prompt' ? runPromptPath(session, input) : runCodePath(session, input);
  return CancellationScope.nonCancellable(async () => {
    const would = await run(shadowPath, shadow);
    const outcome = await run(writerPath, writer);
    outcome.shadow = compareShadow(
      input.appointments.map((a) => a.appointment_id),
      { outcome, asked: writer.approvalsAsked() },
      { outcome: would, asked: shadow.approvalsAsked() },
    );
    // The shadow's model calls were real calls: they count in the run's figures, and apart.
    outcome.shadow_llm = would.llm;
    addLlmStats(outcome.llm, would.llm);
    if (would.llm.model !== undefined && outcome.llm.model === undefined) {
      outcome.llm.model = would.llm.model;
      outcome.llm.offline = would.llm.offline;
    }
    return outcome;
  });
}
