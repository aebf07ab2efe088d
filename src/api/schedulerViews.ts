import { z } from 'zod';
import type { AppConfig } from '../config';
import { calendarDateSchema, providerIdSchema } from '../domain/model';
import { FACTORS, bandOf, type Policy } from '../domain/policy';
import { labelSchema } from '../prompts/schema';
import { targetOf } from '../db/open';
import { withSchedulingStore, type SchedulingStore } from '../domain/store';
import { LocalPromptRegistry, resolvePromptBundle } from '../prompts/registry';

/**
 * What a scheduler needs beside the ids: for an approval, the appointment (date, time, specialty), the score's six
 * factors, the band, the next-best colleagues and what happens when the deadline passes; the appointments that
 * cancelled or failed runs left with the absent provider (needs attention); and the body of a preview (the preview
 * itself is a dry run of the prompt-driven path in Temporal: src/workflows/preview/). All read from the scheduling
 * database when it is on this machine; nothing here writes.
 */

const factorSchema = z.object({ points: z.number(), max: z.number(), detail: z.string() });

export const approvalDetailsSchema = z.object({
  date: z.string(),
  time: z.string(),
  specialty: z.string(),
  band: z.string().describe('excellent, good or poor, under the run prompt version policy'),
  factors: z.record(z.string(), factorSchema).describe('the six factors the score adds up'),
  alternatives: z
    .array(z.object({ provider_id: z.string(), score: z.number(), band: z.string() }))
    .describe('the next-best free colleagues at that slot, best first'),
  on_timeout: z.enum(['waitlist', 'assign']).describe('what happens when nobody decides before the deadline'),
  patient: z.string().optional().describe('the patient name (include=patients, operator role)'),
});
export type ApprovalDetails = z.infer<typeof approvalDetailsSchema>;

export const attentionEntrySchema = z.object({
  appointment_id: z.string(),
  provider_id: z.string().describe('the unavailable provider the appointment is still booked with'),
  date: z.string(),
  time: z.string(),
  specialty: z.string(),
  run_id: z.string().describe('the run that left it undecided'),
  run_status: z.string(),
  reason: z.string(),
});

export const previewBodySchema = z
  .object({
    provider_id: providerIdSchema,
    date: calendarDateSchema,
    label: labelSchema.optional(),
  })
  .strict();

export class SchedulerViews {
  private readonly policies = new Map<string, { at: number; policy: Policy; version: number }>();

  constructor(private readonly config: AppConfig) {}

  private async policyOf(label: string): Promise<{ policy: Policy; version: number }> {
    const hit = this.policies.get(label);
    if (hit && Date.now() - hit.at < 10_000) return hit;
    const bundle = await resolvePromptBundle(new LocalPromptRegistry(this.config.PROMPTS_DIR), label);
    const entry = { at: Date.now(), policy: bundle.policy, version: bundle.orchestrator.version };
    this.policies.set(label, entry);
    return entry;
  }

  private withStore<T>(fn: (store: SchedulingStore) => Promise<T>): Promise<T | undefined> {
    return withSchedulingStore(targetOf(this.config), fn, this.config);
  }

  /** An awaited approval, explained; undefined when the database or the prompt is not at hand. */
  async approvalDetails(
    a: { appointment_id: string; provider_id: string },
    label: string,
    withPatient: boolean,
  ): Promise<ApprovalDetails | undefined> {
    const resolved = await this.policyOf(label).catch(() => undefined);
    if (!resolved) return undefined;
    const { policy } = resolved;
    return this.withStore(async (store) => {
      const appointment = await store.appointment(a.appointment_id);
      if (!appointment) return undefined;
      const match = await store.score(a.appointment_id, a.provider_id, policy.weights);
      const factors = Object.fromEntries(FACTORS.map((f) => [f, match.factors[f]]));
      const { candidates } = await store.rankCandidates(a.appointment_id, policy, 4);
      const patient = withPatient ? (await store.patient(appointment.patient_id))?.name : undefined;
      return {
        date: appointment.date,
        time: appointment.time,
        specialty: appointment.specialty,
        band: bandOf(match.score, policy.thresholds),
        factors,
        alternatives: candidates
          .filter((c) => c.provider_id !== a.provider_id)
          .slice(0, 3)
          .map(({ provider_id, score, band }) => ({ provider_id, score, band })),
        on_timeout: policy.approval.on_timeout,
        ...(patient ? { patient } : {}),
      };
    });
  }

  /** Appointments that cancelled or failed runs left undecided and still booked with the absent provider. */
  async needsAttention(): Promise<z.infer<typeof attentionEntrySchema>[]> {
    const rows = await this.withStore((store) => store.leftUndecided()).catch(() => undefined);
    return (rows ?? []) as z.infer<typeof attentionEntrySchema>[];
  }
}
