import { z } from 'zod';
import { labelSchema, type ArmChoice } from './schema';

export type { ArmChoice } from './schema';

/**
 * A/B experiments: two or more prompt labels with traffic shares. A run's arm is a pure function of its
 * workflow id, so the same id always gets the same arm, in any process, on any retry or replay.
 */

export const experimentSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be a short name such as exp1'),
    arms: z
      .array(z.object({ label: labelSchema, share: z.number().gt(0).max(1) }).strict())
      .min(2, 'an experiment needs two or more arms'),
  })
  .strict()
  .superRefine((exp, ctx) => {
    const sum = exp.arms.reduce((s, a) => s + a.share, 0);
    if (Math.abs(sum - 1) > 1e-6)
      ctx.addIssue({ code: 'custom', path: ['arms'], message: `shares add up to ${sum}, not 1` });
    const labels = exp.arms.map((a) => a.label);
    if (new Set(labels).size !== labels.length)
      ctx.addIssue({ code: 'custom', path: ['arms'], message: 'each arm needs its own label' });
  });
export type Experiment = z.infer<typeof experimentSchema>;

/** FNV-1a over UTF-16 code units, then murmur3's finaliser so that ids differing in the last character spread well. */
export function hashToUnit(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/** Picks the arm for a workflow id: the arms cover [0, 1) in order, each as wide as its share. */
export function pickArm(experiment: Experiment, workflowId: string): ArmChoice {
  const x = hashToUnit(`${experiment.name}:${workflowId}`);
  let edge = 0;
  for (const arm of experiment.arms) {
    edge += arm.share;
    if (x < edge) return { experiment: experiment.name, arm: arm.label };
  }
  return { experiment: experiment.name, arm: experiment.arms[experiment.arms.length - 1]!.label };
}

/**
 * The path of a routed run: prompt-driven when the hash of its workflow id falls below the share. A pure
 * function of the id, so a retry or a replay gets the same path, as an A/B arm does.
 */
export function routeRun(
  workflowId: string,
  share: number,
): { share: number; bucket: number; path: 'prompt' | 'code' } {
  const bucket = hashToUnit(`rollout:${workflowId}`);
  return { share, bucket: Math.round(bucket * 1e6) / 1e6, path: bucket < share ? 'prompt' : 'code' };
}
