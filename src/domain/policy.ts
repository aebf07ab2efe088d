import { z } from 'zod';

/** The decision policy a prompt's config carries: scoring weights, score bands and the approval rule. Pure. */

export const FACTORS = ['specialty', 'gender', 'language', 'distance', 'continuity', 'experience'] as const;
export type Factor = (typeof FACTORS)[number];

const MAX_SCORE = 200;

const weight = z.number().int().min(0).max(MAX_SCORE);
export const weightsSchema = z
  .object({
    specialty: weight,
    gender: weight,
    language: weight,
    distance: weight,
    continuity: weight,
    experience: weight,
  })
  .strict()
  .refine((w) => FACTORS.reduce((sum, f) => sum + w[f], 0) === MAX_SCORE, {
    message: `the six weights must add up to ${MAX_SCORE}`,
  });
export type Weights = z.infer<typeof weightsSchema>;

export const thresholdsSchema = z
  .object({
    excellent: z.number().int().min(0).max(MAX_SCORE),
    good: z.number().int().min(0).max(MAX_SCORE),
  })
  .strict()
  .refine((t) => t.excellent >= t.good, { message: 'thresholds.excellent must be at least thresholds.good' });
type Thresholds = z.infer<typeof thresholdsSchema>;

/** A duration as Temporal writes it: 30s, 10m, 2h, 1d. */
const durationSchema = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'durations are written like 30s, 10m, 2h or 1d');

export const bandSchema = z.enum(['excellent', 'good', 'poor']);
type Band = z.infer<typeof bandSchema>;

export const approvalPolicySchema = z
  .object({
    /** Score bands whose assignments wait for a human decision. */
    bands: z.array(z.enum(['excellent', 'good'])).default(['good']),
    timeout: durationSchema.default('24h'),
    /** What happens when nobody decides before the timeout. */
    on_timeout: z.enum(['waitlist', 'assign']).default('waitlist'),
  })
  .strict();
type ApprovalPolicy = z.infer<typeof approvalPolicySchema>;

export const policySchema = z.object({
  weights: weightsSchema,
  thresholds: thresholdsSchema,
  approval: approvalPolicySchema,
});
export type Policy = z.infer<typeof policySchema>;

export function bandOf(score: number, thresholds: Thresholds): Band {
  if (score >= thresholds.excellent) return 'excellent';
  if (score >= thresholds.good) return 'good';
  return 'poor';
}

export function approvalRequired(band: Band, approval: ApprovalPolicy): boolean {
  return band !== 'poor' && approval.bands.includes(band);
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration written like 30s, 10m, 2h or 1d. */
export function durationMs(duration: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(duration);
  if (!m) throw new RangeError(`not a duration: ${duration}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
