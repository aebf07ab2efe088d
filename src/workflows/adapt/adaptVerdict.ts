import { z } from 'zod';
import type { OutcomeFigures } from '../../domain/results';
import { labelSchema } from '../../prompts/schema';

/**
 * The adaptation policy's contract and its judgement, pure: a run of the policy reads the outcome figures of
 * the scoring strategy the route's label follows now (answers to offers, satisfaction, escalations) over a
 * window, and moves the label to the conservative strategy when patients fare badly, back to the aggressive one
 * only when both figures have recovered past a margin and the last move is older than the cooldown.
 */

const rate = z.number().min(0).max(1);
const per100 = z.number().min(0).max(10_000);

export const adaptInputObject = z
  .object({
    /** The label whose route moves (the one runs ask for). */
    label: labelSchema.default('production'),
    /** The label of the strategy that favours the patient's preferences: where bad outcomes send the route. */
    conservative: labelSchema.default('conservative'),
    /** The label of the strategy the route goes back to when outcomes recover. */
    aggressive: labelSchema.default('aggressive'),
    /** How far back offers are read, in minutes (and never before the route's last move). */
    windowMinutes: z
      .number()
      .int()
      .min(1)
      .max(90 * 24 * 60)
      .default(7 * 24 * 60),
    /** Fewer answered offers than this in the window: nothing is judged. */
    minOutcomes: z.number().int().min(1).max(100_000).default(20),
    /** Fewer satisfaction scores than this: satisfaction is not judged (escalations still are). */
    minSatisfactionScores: z.number().int().min(1).max(100_000).default(5),
    /** Mean satisfaction (score / 5) below this sends the route to the conservative strategy. */
    minSatisfaction: rate.default(0.8),
    /** Escalations per 100 offered appointments above this send the route to the conservative strategy. */
    maxEscalationsPer100: per100.default(10),
    /** Back to aggressive only with satisfaction at least this (the hysteresis margin above minSatisfaction). */
    recoverSatisfaction: rate.default(0.85),
    /** Back to aggressive only with escalations per 100 at most this; by default half of maxEscalationsPer100. */
    recoverEscalationsPer100: per100.optional(),
    /** No move back to aggressive within this many minutes of the last move. */
    cooldownMinutes: z
      .number()
      .int()
      .min(0)
      .max(90 * 24 * 60)
      .default(24 * 60),
    /** Judge and report only: move nothing. */
    dryRun: z.boolean().default(false),
  })
  .strict();

export const adaptInputSchema = adaptInputObject.superRefine((s, ctx) => {
  if (s.conservative === s.aggressive)
    ctx.addIssue({ code: 'custom', path: ['aggressive'], message: 'must differ from the conservative label' });
  if (s.recoverSatisfaction < s.minSatisfaction)
    ctx.addIssue({
      code: 'custom',
      path: ['recoverSatisfaction'],
      message: `must be at least minSatisfaction (${s.minSatisfaction})`,
    });
  if (s.recoverEscalationsPer100 !== undefined && s.recoverEscalationsPer100 > s.maxEscalationsPer100)
    ctx.addIssue({
      code: 'custom',
      path: ['recoverEscalationsPer100'],
      message: `must be at most maxEscalationsPer100 (${s.maxEscalationsPer100})`,
    });
});
export type AdaptInput = z.input<typeof adaptInputSchema>;
export type AdaptSettings = z.output<typeof adaptInputSchema>;

/** The route as the policy read it, and the figures of the strategy it follows now. */
export interface AdaptFigures extends OutcomeFigures {
  /** The label the route follows now (the label itself when there is no route). */
  follows: string;
  pinned_by: string | null;
  pinned_at: string | null;
  /** When the route last moved (by the policy or a person), if ever. */
  last_move_at: string | null;
}

export interface AdaptVerdict {
  /** Where the route should go, or null to leave it. */
  move_to: string | null;
  /** Why (each limit passed), or why nothing was done. */
  reasons: string[];
}

const pct = (r: number) => `${(r * 100).toFixed(1)}%`;
const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

export function adaptVerdict(f: AdaptFigures, s: AdaptSettings, nowMs: number): AdaptVerdict {
  const judged = judge(f, s, nowMs);
  if (judged.move_to !== null && f.pinned_by)
    return {
      move_to: null,
      reasons: [...judged.reasons, `pinned by ${f.pinned_by} at ${f.pinned_at}: not moved`],
    };
  return judged;
}

function judge(f: AdaptFigures, s: AdaptSettings, nowMs: number): AdaptVerdict {
  const onConservative = f.follows === s.conservative;
  const where = `${s.label} follows ${f.follows}`;
  if (f.answered < s.minOutcomes)
    return {
      move_to: null,
      reasons: [
        `${where}: ${f.answered} answered offer(s) since ${f.since}, fewer than ${s.minOutcomes}, nothing judged`,
      ],
    };
  const satJudged = f.satisfaction !== null && f.satisfaction_count >= s.minSatisfactionScores;
  const sat = satJudged ? `satisfaction ${f.satisfaction!.toFixed(2)} (${f.satisfaction_count} scores)` : null;
  const esc = f.escalations_per_100 ?? 0;
  const escText = `escalations ${num(esc)} per 100 offered appointments`;
  if (!onConservative) {
    const reasons: string[] = [];
    if (satJudged && f.satisfaction! < s.minSatisfaction) reasons.push(`${sat} < ${s.minSatisfaction}`);
    if (esc > s.maxEscalationsPer100) reasons.push(`${escText} > ${num(s.maxEscalationsPer100)}`);
    if (reasons.length > 0)
      return {
        move_to: s.conservative,
        reasons: reasons.map((r) => `${r} over ${f.answered} answered offers of ${f.follows}`),
      };
    return {
      move_to: null,
      reasons: [
        `${where}: within limits over ${f.answered} answered offers: ${sat ?? `satisfaction not judged (${f.satisfaction_count} of ${s.minSatisfactionScores} scores)`}, ${escText}, acceptance ${f.acceptance_rate === null ? '-' : pct(f.acceptance_rate)}`,
      ],
    };
  }
  const recoverEsc = s.recoverEscalationsPer100 ?? s.maxEscalationsPer100 / 2;
  const short: string[] = [];
  if (!satJudged) short.push(`satisfaction not judged (${f.satisfaction_count} of ${s.minSatisfactionScores} scores)`);
  else if (f.satisfaction! < s.recoverSatisfaction) short.push(`${sat} < ${s.recoverSatisfaction}`);
  if (esc > recoverEsc) short.push(`${escText} > ${num(recoverEsc)}`);
  if (short.length > 0)
    return {
      move_to: null,
      reasons: [`${where}: not recovered over ${f.answered} answered offers: ${short.join(', ')}`],
    };
  if (f.last_move_at !== null) {
    const since = nowMs - Date.parse(f.last_move_at);
    if (since < s.cooldownMinutes * 60_000)
      return {
        move_to: null,
        reasons: [
          `${where}: recovered (${sat}, ${escText}) but the last move was ${Math.floor(since / 60_000)} min ago, within the ${s.cooldownMinutes} min cooldown`,
        ],
      };
  }
  return {
    move_to: s.aggressive,
    reasons: [
      `recovered over ${f.answered} answered offers of ${f.follows}: ${sat} >= ${s.recoverSatisfaction}, ${escText} <= ${num(recoverEsc)}`,
    ],
  };
}

/** What the policy did: the route's move, when it moved. */
export interface AdaptMove {
  id: number;
  from: string;
  to: string;
  reason: string;
  at: string;
}

export interface AdaptResult {
  prompt: 'scoring-strategy';
  label: string;
  dry_run: boolean;
  figures: AdaptFigures;
  verdict: AdaptVerdict;
  moved: AdaptMove | null;
}
