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
