import type { LabelRouteRecords } from '../domain/labelRoutes';
import { SCORING_PROMPT } from '../prompts/registry';
import type { AdaptFigures, AdaptMove } from '../workflows/adapt/adaptVerdict';

/**
 * The adaptation policy's activities: the route of a scoring-strategy label and the outcome figures of the
 * strategy it follows (from the store), and the route's move (in the store, once per policy run).
 */
export function adaptActivities(store: LabelRouteRecords) {
  return {
    /** Offers are counted from the window's start, or from the route's last move when that is later. */
    async adaptationFigures(input: { label: string; since: string }): Promise<AdaptFigures> {
      const route = await store.labelRoute(SCORING_PROMPT, input.label);
      const last = (await store.labelRouteMoves(SCORING_PROMPT, input.label, 1))[0];
      const since = last && last.created_at > input.since ? last.created_at : input.since;
      const { label, ...f } = await store.scoringOutcomeFigures(route?.follows ?? input.label, since);
      return {
        follows: label,
        pinned_by: route?.pinned_by ?? null,
        pinned_at: route?.pinned_at ?? null,
        last_move_at: last?.created_at ?? null,
        ...f,
      };
    },

    /** Moves the route. A move that cannot be made as things stand (pinned, moved meanwhile) is an answer. */
    async moveLabelRoute(input: {
      label: string;
      from: string;
      to: string;
      reason: string;
      figures: AdaptFigures;
      policyId: string;
    }): Promise<{ moved: AdaptMove } | { refused: string }> {
      const answer = await store.moveLabelRoute({
        prompt: SCORING_PROMPT,
        label: input.label,
        from: input.from,
        to: input.to,
        reason: input.reason,
        figures: input.figures,
        by: input.policyId,
        key: `adapt:${input.policyId}`,
      });
      if ('refused' in answer) return answer;
      const m = answer.moved;
      return {
        moved: { id: m.id, from: m.from_label ?? input.from, to: m.to_label, reason: m.reason, at: m.created_at },
      };
    },
  };
}
