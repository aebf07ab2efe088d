import type { SchedulingStore } from '../../src/domain/store';

/**
 * Outcome rows written straight into a scheduling database, as the follow-up of a run would leave them: an
 * appointment, the run's pinned scoring label (run_prompts), an answered offer, a satisfaction score and an
 * escalation. For the adaptation tests, whose subject is what the policy makes of the figures, not how patients
 * answer (the follow-up workflow's own tests cover that). Plain SQL with literal values, past every guard of the
 * store: the same on SQLite and PostgreSQL.
 */

export interface OutcomeRow {
  /** The scoring-strategy label the run that decided it had pinned. */
  scoringLabel: string;
  answer: 'accepted' | 'declined' | 'no_answer';
  /** A satisfaction score 1-5 (only for an accepted offer). */
  satisfaction?: number;
  escalated?: boolean;
}

let serial = 0;

/** A value as an SQL literal: a string quoted (its quotes doubled), a whole number as it is. */
function lit(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`not a whole number: ${value}`);
    return String(value);
  }
  return `'${value.replace(/'/g, "''")}'`;
}

export async function writeOutcomes(store: SchedulingStore, rows: OutcomeRow[]): Promise<void> {
  const statements: string[] = [];
  for (const r of rows) {
    serial += 1;
    const appointment = `OUT${process.pid}-${serial}`;
    const id = lit(appointment);
    const runId = lit(`reassign-test-outcomes-${r.scoringLabel}-${serial}`);
    const answeredAt = lit(new Date().toISOString());
    statements.push(
      `INSERT INTO appointments (id, patient_id, provider_id, original_provider_id, date, time, specialty, status) VALUES (${id}, 'PAT001', 'T001', 'T001', '2025-12-01', '09:00', 'orthopedics', 'waitlisted')`,
      `INSERT INTO run_prompts (run_id, mode, prompt_name, prompt_label, prompt_version, scoring_label, scoring_version, bundle_json) VALUES (${runId}, 'prompt', 'healthcare-orchestrator', 'production', 1, ${lit(r.scoringLabel)}, 1, '{}')`,
      `INSERT INTO offers (appointment_id, offer_no, provider_id, from_provider_id, score, band, run_id, decided_by, assignment_key, follow_up_id, status, answered_by, answered_at) VALUES (${id}, 1, 'P001', 'T001', 150, 'good', ${runId}, 'prompt', ${lit(`key-${appointment}`)}, ${lit(`follow-up-${appointment}`)}, ${lit(r.answer)}, 'test', ${answeredAt})`,
    );
    if (r.satisfaction !== undefined)
      statements.push(
        `INSERT INTO satisfaction (appointment_id, offer_no, score, run_id, recorded_by) VALUES (${id}, 1, ${lit(r.satisfaction)}, ${runId}, 'test')`,
      );
    if (r.escalated)
      statements.push(
        `INSERT INTO escalations (kind, ref, appointment_id, run_id, reason) VALUES ('second_decline', ${id}, ${id}, ${runId}, 'test')`,
      );
  }
  if (statements.length === 0) return;
  // One transaction, as the follow-up would write them (and one round trip).
  try {
    await store.unsafeExecute(['BEGIN', ...statements, 'COMMIT'].join(';\n'));
  } catch (err) {
    await store.unsafeExecute('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** n offers answered, accepted and scored `score` each. */
export const scored = (scoringLabel: string, score: number, n: number): OutcomeRow[] =>
  Array.from({ length: n }, () => ({ scoringLabel, answer: 'accepted' as const, satisfaction: score }));
