import type { SchedulingStore } from './store';

/**
 * Checks the store's invariants after the fact (after an incident, or after a crash test): each decided
 * appointment in exactly one final state, no slot double-booked, no duplicate notification, every
 * assignment backed by a recorded decision and, where it carries an approver, by a recorded approval.
 */
export interface Violation {
  rule: string;
  detail: string;
}

export function checkInvariants(store: SchedulingStore): Violation[] {
  const db = store.db;
  const out: Violation[] = [];
  const add = (rule: string, rows: unknown[]) => rows.forEach((r) => out.push({ rule, detail: JSON.stringify(r) }));
  add(
    'slot double-booked',
    db
      .prepare(
        "SELECT provider_id, date, time, COUNT(*) AS bookings FROM appointments WHERE status = 'scheduled' GROUP BY 1, 2, 3 HAVING bookings > 1",
      )
      .all(),
  );
  add(
    'assigned and waitlisted',
    db.prepare('SELECT a.appointment_id FROM assignments a JOIN waitlist w USING (appointment_id)').all(),
  );
  add(
    'assigned more than once from the same provider',
    db
      .prepare('SELECT appointment_id, from_provider_id, COUNT(*) AS n FROM assignments GROUP BY 1, 2 HAVING n > 1')
      .all(),
  );
  add(
    'assignment not reflected in the appointment',
    db
      .prepare(
        'SELECT s.appointment_id, s.to_provider_id, a.provider_id FROM assignments s JOIN appointments a ON a.id = s.appointment_id WHERE s.created_at = (SELECT MAX(created_at) FROM assignments x WHERE x.appointment_id = s.appointment_id) AND a.provider_id <> s.to_provider_id',
      )
      .all(),
  );
  add(
    'waitlist entry not reflected in the appointment',
    db
      .prepare(
        "SELECT w.appointment_id FROM waitlist w JOIN appointments a ON a.id = w.appointment_id WHERE a.status <> 'waitlisted'",
      )
      .all(),
  );
  add(
    'duplicate notification',
    db
      .prepare(
        'SELECT appointment_id, kind, change_ref, COUNT(*) AS n FROM notifications GROUP BY 1, 2, 3 HAVING n > 1',
      )
      .all(),
  );
  add(
    'assignment without a recorded call',
    db
      .prepare(
        'SELECT s.appointment_id FROM assignments s LEFT JOIN tool_calls t ON t.idempotency_key = s.idempotency_key WHERE t.idempotency_key IS NULL',
      )
      .all(),
  );
  add(
    'approved assignment without a recorded approval',
    db
      .prepare(
        "SELECT s.appointment_id, s.approved_by FROM assignments s WHERE s.approved_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.appointment_id = s.appointment_id AND p.provider_id = s.to_provider_id AND p.run_id = s.run_id AND p.decision = 'approved')",
      )
      .all(),
  );
  add(
    'reassigned to a provider who is unavailable that day',
    db
      .prepare(
        "SELECT a.id AS appointment_id, a.provider_id FROM appointments a JOIN unavailability u ON u.provider_id = a.provider_id AND u.date = a.date JOIN assignments s ON s.appointment_id = a.id WHERE a.status = 'scheduled'",
      )
      .all(),
  );
  return out;
}
