import { z } from 'zod';
import { labelSchema } from '../../prompts/schema';

/**
 * The rollback guard's contract and its judgement, pure: a run of the guard reads the figures of the label's
 * current prompt version over a window (the same figures `report` prints) and rolls the label back when the
 * fallback rate or the shadow disagreement rate passes its limit, once enough runs were seen to tell.
 */

export const guardInputSchema = z
  .object({
    /** The label to watch and move back. */
    label: labelSchema.default('production'),
    /** The prompt whose label moves (the orchestrator: the one the model follows). */
    prompt: z.enum(['healthcare-orchestrator', 'scoring-strategy']).default('healthcare-orchestrator'),
    /** How far back the runs are read, in minutes. */
    windowMinutes: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 60)
      .default(60),
    /** Appointments decided by the code-driven fallback over those the model was to decide. */
    maxFallbackRate: z.number().min(0).max(1).default(0.2),
    /** Appointments on which a shadow run's paths disagreed, over those shadow runs compared. */
    maxDisagreementRate: z.number().min(0).max(1).default(0.1),
    /** Fewer runs than this in the window: nothing is judged. */
    minRuns: z.number().int().min(1).max(10_000).default(3),
  })
  .strict();
export type GuardInput = z.input<typeof guardInputSchema>;
export type GuardSettings = z.output<typeof guardInputSchema>;

export interface GuardFigures {
  /** The version the label is on now (the runs counted are this version's), and its hash. */
  version: number;
  hash: string;
  runs: number;
  appointments: number;
  fallback_rate: number;
  shadow_runs: number;
  shadow_disagreement_rate: number;
}

export interface GuardVerdict {
  roll_back: boolean;
  /** Why (each limit passed), or why nothing was done. */
  reasons: string[];
}

const pct = (r: number) => `${(r * 100).toFixed(1)}%`;

export function guardVerdict(f: GuardFigures, s: GuardSettings): GuardVerdict {
  const window = `${s.windowMinutes} min`;
  if (f.runs < s.minRuns)
    return {
      roll_back: false,
      reasons: [
        `${f.runs} run(s) of ${s.prompt} v${f.version} in the last ${window}: fewer than ${s.minRuns}, nothing judged`,
      ],
    };
  const reasons: string[] = [];
  if (f.fallback_rate > s.maxFallbackRate)
    reasons.push(`fallback rate ${pct(f.fallback_rate)} > ${pct(s.maxFallbackRate)} over ${f.runs} runs in ${window}`);
  if (f.shadow_runs > 0 && f.shadow_disagreement_rate > s.maxDisagreementRate)
    reasons.push(
      `shadow disagreement ${pct(f.shadow_disagreement_rate)} > ${pct(s.maxDisagreementRate)} over ${f.shadow_runs} shadow runs in ${window}`,
    );
  if (reasons.length > 0) return { roll_back: true, reasons };
  return {
    roll_back: false,
    reasons: [
      `within limits over ${f.runs} runs in ${window}: fallback ${pct(f.fallback_rate)}, shadow disagreement ${f.shadow_runs ? pct(f.shadow_disagreement_rate) : '-'}`,
    ],
  };
}

/** What the guard did: the label's move, when it moved. */
export interface GuardMove {
  from: number;
  /** The version whose text and config the label went back to. */
  to: number;
  /** The new version holding that copy, whose commit message records the move. */
  version: number;
  commit_message: string;
}

export interface GuardResult {
  label: string;
  prompt: string;
  since: string;
  figures: GuardFigures | null;
  verdict: GuardVerdict;
  moved: GuardMove | null;
}
