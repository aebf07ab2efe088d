import type { SchedulingReads } from './reads';

/**
 * The store's invariants, checked after the fact (after an incident, or after a crash test): each decided
 * appointment in exactly one final state, no slot double-booked, no duplicate notification, every
 * assignment backed by a recorded decision and, where it carries an approver, by a recorded approval.
 * Each rule is a read-only query whose rows are the violations.
 */
interface Violation {
  rule: string;
  detail: string;
}

const INVARIANTS: readonly { rule: string; sql: string }[] = [
  {
    rule: 'slot double-booked',
    sql: "SELECT provider_id, date, time, COUNT(*) AS bookings FROM appointments WHERE status = 'scheduled' GROUP BY 1, 2, 3 HAVING bookings > 1",
  },
  {
    rule: 'assigned and waitlisted',
    sql: 'SELECT a.appointment_id FROM assignments a JOIN waitlist w USING (appointment_id)',
  },
  {
    rule: 'assigned more than once from the same provider',
    sql: 'SELECT appointment_id, from_provider_id, COUNT(*) AS n FROM assignments GROUP BY 1, 2 HAVING n > 1',
  },
  {
    rule: 'assignment not reflected in the appointment',
    sql: 'SELECT s.appointment_id, s.to_provider_id, a.provider_id FROM assignments s JOIN appointments a ON a.id = s.appointment_id WHERE s.created_at = (SELECT MAX(created_at) FROM assignments x WHERE x.appointment_id = s.appointment_id) AND a.provider_id <> s.to_provider_id',
  },
  {
    rule: 'waitlist entry not reflected in the appointment',
    sql: "SELECT w.appointment_id FROM waitlist w JOIN appointments a ON a.id = w.appointment_id WHERE a.status <> 'waitlisted'",
  },
  {
    rule: 'duplicate notification',
    sql: 'SELECT appointment_id, kind, change_ref, COUNT(*) AS n FROM notifications GROUP BY 1, 2, 3 HAVING n > 1',
  },
  {
    rule: 'assignment without a recorded call',
    sql: 'SELECT s.appointment_id FROM assignments s LEFT JOIN tool_calls t ON t.idempotency_key = s.idempotency_key WHERE t.idempotency_key IS NULL',
  },
  {
    rule: 'approved assignment without a recorded approval',
    sql: "SELECT s.appointment_id, s.approved_by FROM assignments s WHERE s.approved_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.appointment_id = s.appointment_id AND p.provider_id = s.to_provider_id AND p.run_id = s.run_id AND p.decision = 'approved')",
  },
  {
    rule: 'reassigned to a provider who is unavailable that day',
    sql: "SELECT a.id AS appointment_id, a.provider_id FROM appointments a JOIN unavailability u ON u.provider_id = a.provider_id AND u.date = a.date JOIN assignments s ON s.appointment_id = a.id WHERE a.status = 'scheduled'",
  },
];

export function checkInvariants(store: SchedulingReads): Violation[] {
  return store.findViolations(INVARIANTS);
}
