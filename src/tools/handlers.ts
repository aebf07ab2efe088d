import { DomainRefusal, type ActionContext, type SchedulingStore } from '../domain/store';
import { approvalRequired, bandOf, type Policy } from '../domain/policy';
import type { ToolInput, ToolName, ToolResult } from './catalog';

/** The handlers of the catalog's tools: thin calls into the store, typed against the catalog. */

interface ToolContext {
  store: SchedulingStore;
  policy: Policy;
  runId: string;
  decidedBy: 'prompt' | 'code';
  /** Fixed by the workflow for write tools. */
  idempotencyKey?: string;
  candidatesPerAppointment: number;
}

type ActivityToolName = Exclude<ToolName, 'request_approval'>;
type Handlers = { [N in ActivityToolName]: (args: ToolInput<N>, ctx: ToolContext) => Promise<ToolResult<N>> };

function action(ctx: ToolContext): ActionContext {
  if (!ctx.idempotencyKey) throw new Error('write tools need an idempotency key from the workflow');
  return { runId: ctx.runId, idempotencyKey: ctx.idempotencyKey, policy: ctx.policy, decidedBy: ctx.decidedBy };
}

export const toolHandlers: Handlers = {
  get_affected_appointments: async ({ provider_id, date, until }, { store }) => {
    const list = await store.affectedAppointments(provider_id, date, until);
    // Over a range, each appointment carries its date; a single day's list stays as it always was.
    const appointments = list.map((a) => ({
      appointment_id: a.id,
      patient_id: a.patient_id,
      ...(until !== undefined ? { date: a.date } : {}),
      time: a.time,
      specialty: a.specialty,
    }));
    return { provider_id, date, ...(until !== undefined ? { until } : {}), count: list.length, appointments };
  },
  get_patient_details: async ({ patient_id }, { store }) => {
    const p = await store.patient(patient_id);
    if (!p) throw new DomainRefusal(`unknown patient ${patient_id}`, 'unknown_patient');
    // The name stays out: the decision does not need it.
    return {
      patient_id: p.id,
      gender_preference: p.gender_preference,
      language: p.language,
      max_distance_km: p.max_distance_km,
      notes: p.notes,
      history: await store.patientHistory(p.id),
    };
  },
  get_available_providers: async ({ date, time, specialty }, { store }) => {
    const list = await store.availableProviders(date, time, specialty);
    return {
      count: list.length,
      providers: list.map((p) => ({
        provider_id: p.id,
        specialty: p.specialty,
        gender: p.gender,
        languages: p.languages,
        experience_years: p.experience_years,
      })),
    };
  },
  calculate_match_score: async ({ appointment_id, provider_id }, { store, policy }) => {
    const s = await store.score(appointment_id, provider_id, policy.weights);
    const band = bandOf(s.score, policy.thresholds);
    return {
      appointment_id,
      provider_id,
      score: s.score,
      band,
      approval_required: approvalRequired(band, policy.approval),
      distance_km: s.distance_km,
      factors: s.factors,
    };
  },
  find_candidates: async ({ appointment_id }, { store, policy, candidatesPerAppointment }) => {
    const { appointment, candidates, considered } = await store.rankCandidates(
      appointment_id,
      policy,
      candidatesPerAppointment,
    );
    return { appointment_id, patient_id: appointment.patient_id, time: appointment.time, considered, candidates };
  },
  assign_appointment: ({ appointment_id, new_provider_id }, ctx) =>
    ctx.store.assign(appointment_id, new_provider_id, action(ctx)),
  add_to_waitlist: ({ appointment_id, reason }, ctx) => ctx.store.waitlist(appointment_id, reason, action(ctx)),
  notify_patient: ({ appointment_id, kind }, ctx) => ctx.store.notify(appointment_id, kind, action(ctx)),
};

export function isActivityTool(name: ToolName): name is ActivityToolName {
  return name !== 'request_approval';
}
