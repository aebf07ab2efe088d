import { ApplicationFailure, upsertMemo, workflowInfo } from '@temporalio/workflow';
import { ErrorType } from '../../errorTypes';
import { describeZodError } from '../../zodIssue';
import { adaptProxy } from '../activityProxies';
import { workflowTimeMs } from '../workflowClock';
import { adaptInputSchema, adaptVerdict, type AdaptInput, type AdaptResult } from './adaptVerdict';

/**
 * The adaptation policy, run by a Temporal Schedule (`npm run cli -- adapt schedule`): it reads the outcome
 * figures of the scoring strategy the label's route follows now, and moves the route between the conservative
 * and the aggressive strategy by adaptVerdict (hysteresis, cooldown, never a pinned route). What it saw, decided
 * and did goes into its memo and result, and a move into the store's label_route_moves, keyed by this
 * workflow's id so that a retried activity moves once.
 */
export async function adaptationPolicy(raw: AdaptInput): Promise<AdaptResult> {
  const parsed = adaptInputSchema.safeParse(raw ?? {});
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(
      `invalid input: ${describeZodError(parsed.error, '(input)')}`,
      ErrorType.invalidInput,
    );
  const s = parsed.data;
  const nowMs = workflowTimeMs();
  const since = new Date(nowMs - s.windowMinutes * 60_000).toISOString();
  const figures = await adaptProxy.adaptationFigures({ label: s.label, since });
  const verdict = adaptVerdict(figures, s, nowMs);
  let moved: AdaptResult['moved'] = null;
  if (verdict.move_to !== null && s.dryRun)
    verdict.reasons.push(`dry run: ${s.label} would move from ${figures.follows} to ${verdict.move_to}`);
  else if (verdict.move_to !== null) {
    const answer = await adaptProxy.moveLabelRoute({
      label: s.label,
      from: figures.follows,
      to: verdict.move_to,
      reason: verdict.reasons.join('; '),
      figures,
      policyId: workflowInfo().workflowId,
    });
    if ('moved' in answer) moved = answer.moved;
    else verdict.reasons.push(`not moved: ${answer.refused}`);
  }
  const result: AdaptResult = {
    prompt: 'scoring-strategy',
    label: s.label,
    dry_run: s.dryRun,
    figures,
    verdict,
    moved,
  };
  upsertMemo({ adaptation: result });
  return result;
}
