import { CancellationScope } from '@temporalio/workflow';
import { BatchSession } from './batchSession';
import type { BatchAppointment, BatchInput, BatchOutcome } from '../contract/types';

/**
 * The same steps as fixed code, with the same tool activities and the same guards: the baseline to compare
 * the prompt-driven path with, its fallback, and the oracle of the tests. Thresholds and approval bands come
 * from the pinned prompt config, so both paths decide by the same policy.
 */
export async function codeDrivenBatch(input: BatchInput): Promise<BatchOutcome> {
  const session = new BatchSession(input, 'code');
  session.install();
  return CancellationScope.nonCancellable(() => runCodePath(session, input));
}

/** The code-driven path on a session: every appointment of the batch decided by the fixed steps. */
export async function runCodePath(session: BatchSession, input: BatchInput): Promise<BatchOutcome> {
  await decideByCode(session, input.appointments);
  if (session.cancelled) session.outcome.status = 'cancelled';
  return session.finish(session.cancelled ? 'cancelled before a decision' : 'no decision could be made');
}

/**
 * Decides the given appointments by fixed steps, in parallel. Also the prompt-driven path's fallback: it then
 * skips what the model already decided and only tells the patients the model did not get to.
 */
export async function decideByCode(session: BatchSession, appointments: BatchAppointment[]): Promise<void> {
  await Promise.all(appointments.map((a) => decide(session, a)));
}

/**
 * Tells every patient whose appointment this batch decided and who has not been told yet, even when the run is
 * being cancelled: a decision is never left untold. Returns the appointments it told.
 */
export async function notifyDecided(session: BatchSession, appointments: BatchAppointment[]): Promise<string[]> {
  const untold = untoldOf(session, appointments);
  await Promise.all(untold.map((u) => session.tool('notify_patient', u)));
  return untold.map((u) => u.appointment_id);
}

/** The appointments decided here whose patient is not told yet, with what to tell them. */
export function untoldOf(
  session: BatchSession,
  appointments: BatchAppointment[],
): { appointment_id: string; kind: 'reassigned' | 'waitlisted' }[] {
  return appointments.flatMap((a) => {
    const kind = session.needsNotification(a.appointment_id);
    return kind ? [{ appointment_id: a.appointment_id, kind }] : [];
  });
}

async function decide(session: BatchSession, appointment: BatchAppointment): Promise<void> {
  const id = appointment.appointment_id;
  if (session.cancelled) return;
  if (session.isDecided(id)) {
    const kind = session.needsNotification(id);
    if (kind) await session.tool('notify_patient', { appointment_id: id, kind });
    return;
  }
  const found = await session.tool('find_candidates', { appointment_id: id });
  if (!found.ok) return;
  for (const candidate of found.result.candidates) {
    if (session.cancelled) return;
    if (candidate.band === 'poor') break;
    if (candidate.approval_required) {
      const approval = await session.requestApproval({ appointment_id: id, provider_id: candidate.provider_id });
      if (!approval.ok || session.cancelled) return;
      if (!/assign_appointment/.test(approval.result.next_step)) break;
    }
    const assigned = await session.tool('assign_appointment', {
      appointment_id: id,
      new_provider_id: candidate.provider_id,
    });
    if (assigned.ok) {
      await session.tool('notify_patient', { appointment_id: id, kind: 'reassigned' });
      return;
    }
    if (assigned.code === 'already_decided') return;
    // Taken meanwhile (another run booked the slot): try the next candidate.
  }
  if (session.cancelled) return;
  const best = found.result.candidates[0];
  const reason = best
    ? `best match ${best.provider_id} scores ${best.score}, no assignable candidate`
    : 'no available provider of the right specialty';
  const waitlisted = await session.tool('add_to_waitlist', { appointment_id: id, reason });
  if (waitlisted.ok) await session.tool('notify_patient', { appointment_id: id, kind: 'waitlisted' });
}
