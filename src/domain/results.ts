import { z } from 'zod';
import { appointmentIdSchema, isoDateSchema, patientIdSchema, providerIdSchema, slotTimeSchema } from './model';
import { bandSchema } from './policy';

/**
 * What the domain returns for each change and for a ranking, as zod schemas: the tool catalog validates tool
 * results with them, and the store's types are inferred from them, so the shape is written once. Pure.
 */

export const candidateSchema = z.object({
  provider_id: providerIdSchema,
  score: z.number().int(),
  band: bandSchema,
  approval_required: z.boolean(),
});
export type Candidate = z.infer<typeof candidateSchema>;

export const assignmentResultSchema = z.object({
  appointment_id: appointmentIdSchema,
  from_provider_id: providerIdSchema,
  new_provider_id: providerIdSchema,
  date: isoDateSchema,
  time: slotTimeSchema,
  score: z.number().int(),
  band: bandSchema,
  approved_by: z.string().nullable(),
});
export type AssignmentResult = z.infer<typeof assignmentResultSchema>;

export const waitlistResultSchema = z.object({
  appointment_id: appointmentIdSchema,
  patient_id: patientIdSchema,
  reason: z.string(),
  best_score: z.number().int().nullable(),
});
export type WaitlistResult = z.infer<typeof waitlistResultSchema>;

export const notificationKindSchema = z.enum(['reassigned', 'waitlisted']);
export const notificationResultSchema = z.object({
  appointment_id: appointmentIdSchema,
  patient_id: patientIdSchema,
  kind: notificationKindSchema,
  channel: z.string(),
});
export type NotificationResult = z.infer<typeof notificationResultSchema>;

/** The outcome figures of a scoring strategy's runs over a window (the store counts them, the adaptation policy judges). */
export interface OutcomeFigures {
  /** Offers created since this time were counted (the window's start, or the route's last move if later). */
  since: string;
  runs: number;
  offered_appointments: number;
  /** Offers answered accepted, declined or not at all by their deadline (an offer superseded is no answer). */
  answered: number;
  accepted: number;
  acceptance_rate: number | null;
  satisfaction_count: number;
  /** Mean satisfaction score over 5 (a 0-1 scale), null without scores. */
  satisfaction: number | null;
  escalations: number;
  /** Escalations raised about those runs' decisions per 100 offered appointments, null without offers. */
  escalations_per_100: number | null;
}
