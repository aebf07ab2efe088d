import type { AuditRule, SchedulingReads } from './reads';

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

/** Appointments left with the unavailable provider by a finished run that neither decided them nor listed them. */
const LEFT_BEHIND = `SELECT a.id AS appointment_id, a.provider_id, a.date, r.run_id, r.status FROM appointments a
      JOIN unavailability u ON u.provider_id = a.provider_id AND u.date = a.date
      JOIN runs r ON r.provider_id = a.provider_id AND a.date BETWEEN r.date AND r.until
      WHERE a.status = 'scheduled' AND r.status <> 'running'
        AND NOT EXISTS (SELECT 1 FROM run_undecided x WHERE x.run_id = r.run_id AND x.appointment_id = a.id)
        AND NOT EXISTS (SELECT 1 FROM assignments s WHERE s.appointment_id = a.id AND s.released_at >= r.finished_at)
        AND (r.scope IS NULL OR EXISTS (SELECT 1 FROM json_each(r.scope) j WHERE j.value = a.id))`;

const INVARIANTS: readonly AuditRule[] = [
  {
    rule: 'slot double-booked',
    sql: "SELECT provider_id, date, time, COUNT(*) AS bookings FROM appointments WHERE status = 'scheduled' GROUP BY 1, 2, 3 HAVING COUNT(*) > 1",
  },
  {
    rule: 'assigned and waitlisted',
    sql: 'SELECT a.appointment_id FROM assignments a JOIN waitlist w USING (appointment_id) WHERE a.released_at IS NULL',
  },
  {
    rule: 'assigned more than once from the same provider',
    sql: 'SELECT appointment_id, from_provider_id, COUNT(*) AS n FROM assignments WHERE released_at IS NULL GROUP BY 1, 2 HAVING COUNT(*) > 1',
  },
  {
    rule: 'assignment not reflected in the appointment',
    sql: 'SELECT s.appointment_id, s.to_provider_id, a.provider_id FROM assignments s JOIN appointments a ON a.id = s.appointment_id WHERE s.released_at IS NULL AND s.created_at = (SELECT MAX(created_at) FROM assignments x WHERE x.appointment_id = s.appointment_id AND x.released_at IS NULL) AND a.provider_id <> s.to_provider_id',
  },
  {
    rule: 'waitlist entry not reflected in the appointment',
    sql: "SELECT w.appointment_id FROM waitlist w JOIN appointments a ON a.id = w.appointment_id WHERE a.status <> 'waitlisted'",
  },
  {
    rule: 'duplicate notification',
    sql: 'SELECT appointment_id, kind, change_ref, COUNT(*) AS n FROM notifications GROUP BY 1, 2, 3 HAVING COUNT(*) > 1',
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
    sql: "SELECT a.id AS appointment_id, a.provider_id FROM appointments a JOIN unavailability u ON u.provider_id = a.provider_id AND u.date = a.date JOIN assignments s ON s.appointment_id = a.id AND s.released_at IS NULL WHERE a.status = 'scheduled'",
  },
  {
    // Decisions of a run still in flight may be told a moment later; every other decision is told exactly once.
    rule: 'decided without exactly one notification of its kind',
    sql: `SELECT s.appointment_id, 'reassigned' AS kind, COUNT(n.id) AS notifications FROM assignments s
      LEFT JOIN notifications n ON n.appointment_id = s.appointment_id AND n.kind = 'reassigned'
        AND n.change_ref = s.from_provider_id || '->' || s.to_provider_id
      WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = s.run_id AND r.status = 'running')
      GROUP BY s.appointment_id, s.from_provider_id, s.to_provider_id HAVING COUNT(n.id) <> 1
      UNION ALL
      SELECT w.appointment_id, 'waitlisted', COUNT(n.id) FROM waitlist w
      LEFT JOIN notifications n ON n.appointment_id = w.appointment_id AND n.kind = 'waitlisted'
        AND n.change_ref = w.from_provider_id || '->waitlist'
      WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = w.run_id AND r.status = 'running')
      GROUP BY w.appointment_id HAVING COUNT(n.id) <> 1`,
  },
  {
    // A finished run (completed, cancelled or failed) decided every affected appointment, or says in its
    // result which it left (undecided), so that a new run can take them.
    rule: 'left on the unavailable provider after its run completed',
    sql: {
      sqlite: LEFT_BEHIND,
      // The run's scope is a JSON array of appointment ids in both.
      postgres: LEFT_BEHIND.replace(
        'EXISTS (SELECT 1 FROM json_each(r.scope) j WHERE j.value = a.id)',
        '(r.scope::jsonb @> to_jsonb(a.id))',
      ),
    },
  },
  {
    // A released slot's assignment is history; the offer it made must have been answered no (or not at all).
    rule: 'assignment released without a declined or unanswered offer',
    sql: `SELECT s.appointment_id, s.to_provider_id FROM assignments s WHERE s.released_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.assignment_key = s.idempotency_key AND o.status IN ('declined','no_answer'))`,
  },
  {
    rule: 'offered again a provider the patient declined',
    sql: `SELECT o.appointment_id, o.provider_id, COUNT(*) AS offers FROM offers o GROUP BY 1, 2 HAVING COUNT(*) > 1`,
  },
  {
    rule: 'open offer whose assignment is not live',
    sql: `SELECT o.appointment_id, o.offer_no FROM offers o JOIN assignments s ON s.idempotency_key = o.assignment_key
      WHERE o.status IN ('open','accepted') AND s.released_at IS NOT NULL`,
  },
];

export function checkInvariants(store: SchedulingReads): Promise<Violation[]> {
  return store.findViolations(INVARIANTS);
}
