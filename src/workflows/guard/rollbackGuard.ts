import { ApplicationFailure, upsertMemo, workflowInfo } from '@temporalio/workflow';
import { ErrorType } from '../../errorTypes';
import { describeZodError } from '../../zodIssue';
import { guardProxy } from '../activityProxies';
import { guardInputSchema, guardVerdict, type GuardInput, type GuardResult } from './guardVerdict';
import { workflowTimeMs } from '../workflowClock';

/**
 * The automatic rollback guard, run by a Temporal Schedule (`npm run cli -- guard schedule`): it reads the
 * figures of the label's current prompt version over the window, and moves the label back to the version
 * before when the fallback or shadow disagreement rate passes its limit. What it saw, decided and did goes
 * into its memo and result (and, for a move, into the new version's commit message in Langfuse).
 */
export async function rollbackGuard(raw: GuardInput): Promise<GuardResult> {
  const parsed = guardInputSchema.safeParse(raw ?? {});
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(
      `invalid input: ${describeZodError(parsed.error, '(input)')}`,
      ErrorType.invalidInput,
    );
  const s = parsed.data;
  const since = new Date(workflowTimeMs() - s.windowMinutes * 60_000).toISOString();
  const figures = await guardProxy.guardFigures({ prompt: s.prompt, label: s.label, since });
  const verdict = guardVerdict(figures, s);
  let moved: GuardResult['moved'] = null;
  if (verdict.roll_back) {
    const answer = await guardProxy.rollBackLabel({
      prompt: s.prompt,
      label: s.label,
      from: figures.version,
      reason: verdict.reasons.join('; '),
      guardId: workflowInfo().workflowId,
    });
    if ('moved' in answer) moved = answer.moved;
    else verdict.reasons.push(`not rolled back: ${answer.refused}`);
  }
  const result: GuardResult = { label: s.label, prompt: s.prompt, since, figures, verdict, moved };
  upsertMemo({ guard: result });
  return result;
}
