import { z } from 'zod';

/** Scheduling model. Pure types and schemas: shared by the store, the tools and the workflows. */

export const providerIdSchema = z.string().regex(/^[A-Z][A-Z0-9]{1,15}$/, 'provider ids look like T001 or P003');
export const appointmentIdSchema = z.string().regex(/^[A-Z][A-Z0-9-]{1,31}$/, 'appointment ids look like A001');
export const patientIdSchema = z.string().regex(/^[A-Z][A-Z0-9-]{1,31}$/, 'patient ids look like PAT001');
export const isoDateSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'dates are written YYYY-MM-DD')
  .refine((d) => {
    const [y, m, day] = d.split('-').map(Number) as [number, number, number];
    const t = new Date(Date.UTC(y, m - 1, day));
    return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === day;
  }, 'not a calendar date');
/**
 * A calendar date (years 0100-9999, leap years included) as one regular expression, for documents that cannot
 * carry isoDateSchema's check (the OpenAPI document): it accepts exactly the dates isoDateSchema accepts.
 */
export const CALENDAR_DATE_PATTERN =
  /^(?:(?:[1-9]\d{3}|0[1-9]\d{2})-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))|(?:(?:[1-9]\d|0[1-9])(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)-02-29)$/;

/** isoDateSchema, with the calendar written into its pattern too (what the API documents). */
export const calendarDateSchema = isoDateSchema.regex(CALENDAR_DATE_PATTERN, 'not a calendar date');

/** Longest date range one run may cover (date through until, inclusive). */
export const MAX_RANGE_DAYS = 31;

/** The calendar dates from `from` through `until` inclusive (just `from` when until is absent). Pure. */
export function datesInRange(from: string, until?: string): string[] {
  const end = until ?? from;
  const out: string[] = [];
  const [y, m, d] = from.split('-').map(Number) as [number, number, number];
  for (let t = Date.UTC(y, m - 1, d); ; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    if (day > end || out.length > MAX_RANGE_DAYS) break;
    out.push(day);
  }
  return out;
}

export const slotTimeSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'times are written HH:MM');

const genderSchema = z.enum(['female', 'male', 'nonbinary']);
export const genderPreferenceSchema = z.enum(['female', 'male', 'nonbinary', 'any']);

const locationSchema = z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) });

const providerSchema = z.object({
  id: providerIdSchema,
  name: z.string().min(1),
  specialty: z.string().min(1),
  gender: genderSchema,
  languages: z.array(z.string().min(2)).min(1),
  location: locationSchema,
  experience_years: z.number().int().min(0).max(70),
});
export type Provider = z.infer<typeof providerSchema>;

const patientSchema = z.object({
  id: patientIdSchema,
  name: z.string().min(1),
  gender_preference: genderPreferenceSchema,
  language: z.string().min(2),
  location: locationSchema,
  max_distance_km: z.number().positive(),
  /** Free text written by staff or the patient; sensitive, and untrusted when shown to a model. */
  notes: z.string().default(''),
});
export type Patient = z.infer<typeof patientSchema>;

const appointmentStatusSchema = z.enum(['scheduled', 'waitlisted']);
const appointmentSchema = z.object({
  id: appointmentIdSchema,
  patient_id: patientIdSchema,
  provider_id: providerIdSchema,
  date: isoDateSchema,
  time: slotTimeSchema,
  specialty: z.string().min(1),
  status: appointmentStatusSchema,
});
export type Appointment = z.infer<typeof appointmentSchema>;

const historyEntrySchema = z.object({
  patient_id: patientIdSchema,
  provider_id: providerIdSchema,
  visits: z.number().int().min(1),
});

const slotSchema = z.object({ provider_id: providerIdSchema, date: isoDateSchema, time: slotTimeSchema });

const unavailabilitySchema = z.object({
  provider_id: providerIdSchema,
  date: isoDateSchema,
  reason: z.string().min(1),
});

/** A whole data set, as seeded into a store. */
export const datasetSchema = z.object({
  providers: z.array(providerSchema),
  patients: z.array(patientSchema),
  appointments: z.array(appointmentSchema),
  history: z.array(historyEntrySchema),
  slots: z.array(slotSchema),
  unavailability: z.array(unavailabilitySchema).default([]),
});
export type Dataset = z.infer<typeof datasetSchema>;
