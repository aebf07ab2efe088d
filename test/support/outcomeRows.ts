import Database from 'better-sqlite3';

/**
 * Outcome rows written straight into a scheduling database, as the follow-up of a run would leave them: an
 * appointment, the run's pinned scoring label (run_prompts), an answered offer, a satisfaction score and an
 * escalation. For the adaptation tests, whose subject is what the policy makes of the figures, not how patients
 * answer (the follow-up workflow's own tests cover that).
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

export function writeOutcomes(dbFile: string, rows: OutcomeRow[]): void {
  const db = new Database(dbFile);
  try {
    db.pragma('foreign_keys = ON');
    db.transaction(() => {
      for (const r of rows) {
        serial += 1;
        const id = `OUT${process.pid}-${serial}`;
        const runId = `reassign-test-outcomes-${r.scoringLabel}-${serial}`;
        db.prepare(
          "INSERT INTO appointments (id, patient_id, provider_id, original_provider_id, date, time, specialty, status) VALUES (?, 'PAT001', 'T001', 'T001', '2025-12-01', '09:00', 'orthopedics', 'waitlisted')",
        ).run(id);
        db.prepare(
          "INSERT INTO run_prompts (run_id, mode, prompt_name, prompt_label, prompt_version, scoring_label, scoring_version, bundle_json) VALUES (?, 'prompt', 'healthcare-orchestrator', 'production', 1, ?, 1, '{}')",
        ).run(runId, r.scoringLabel);
        db.prepare(
          "INSERT INTO offers (appointment_id, offer_no, provider_id, from_provider_id, score, band, run_id, decided_by, assignment_key, follow_up_id, status, answered_by, answered_at) VALUES (?, 1, 'P001', 'T001', 150, 'good', ?, 'prompt', ?, ?, ?, 'test', strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
        ).run(id, runId, `key-${id}`, `follow-up-${id}`, r.answer);
        if (r.satisfaction !== undefined)
          db.prepare(
            "INSERT INTO satisfaction (appointment_id, offer_no, score, run_id, recorded_by) VALUES (?, 1, ?, ?, 'test')",
          ).run(id, r.satisfaction, runId);
        if (r.escalated)
          db.prepare(
            "INSERT INTO escalations (kind, ref, appointment_id, run_id, reason) VALUES ('second_decline', ?, ?, ?, 'test')",
          ).run(id, id, runId);
      }
    })();
  } finally {
    db.close();
  }
}

/** n offers answered, accepted and scored `score` each. */
export const scored = (scoringLabel: string, score: number, n: number): OutcomeRow[] =>
  Array.from({ length: n }, () => ({ scoringLabel, answer: 'accepted' as const, satisfaction: score }));
