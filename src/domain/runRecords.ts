import { SchedulingReads } from './reads';

/**
 * What the store keeps about the runs themselves, beside the scheduling data: each run's start and outcome
 * (what the audit judges a finished run by), and the open approval requests, so that two runs for the same
 * provider never ask a human about the same appointment twice.
 */

/** The answer to a claim: this run may ask, or another run is asking already (until its deadline). */
export type ApprovalClaim = { claimed: true } | { claimed: false; run_id: string; deadline: string };

export class RunRecords extends SchedulingReads {
  /** A run over a provider's days has started (idempotent: a retry or a replay records nothing new). */
  recordRunStart(run: { runId: string; providerId: string; date: string; until?: string }): void {
    this.db
      .prepare('INSERT OR IGNORE INTO runs (run_id, provider_id, date, until) VALUES (?,?,?,?)')
      .run(run.runId, run.providerId, run.date, run.until ?? run.date);
  }

  /**
   * A run has finished: its status and the appointments it left undecided (with why), which the audit allows
   * to stay with the unavailable provider. A run started before runs were recorded is recorded now.
   */
  recordRunOutcome(outcome: {
    runId: string;
    providerId: string;
    date: string;
    until?: string;
    status: string;
    undecided: { appointment_id: string; reason: string }[];
  }): void {
    this.db.transaction(() => {
      this.recordRunStart(outcome);
      this.db
        .prepare("UPDATE runs SET status = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE run_id = ?")
        .run(outcome.status, outcome.runId);
      const add = this.db.prepare(
        'INSERT OR REPLACE INTO run_undecided (run_id, appointment_id, reason) VALUES (?,?,?)',
      );
      for (const u of outcome.undecided) add.run(outcome.runId, u.appointment_id, u.reason);
    })();
  }

  /**
   * Claims the right to ask a human about an appointment, in one transaction: refused while another run has an
   * open request whose deadline has not passed. Idempotent for the run that holds it (a retry, a replay).
   */
  claimApprovalRequest(claim: {
    appointmentId: string;
    providerId: string;
    runId: string;
    deadline: string;
  }): ApprovalClaim {
    return this.db
      .transaction((): ApprovalClaim => {
        const now = new Date().toISOString();
        const other = this.db
          .prepare(
            "SELECT run_id, deadline FROM approval_requests WHERE appointment_id = ? AND run_id <> ? AND status = 'open' AND deadline > ? ORDER BY created_at LIMIT 1",
          )
          .get(claim.appointmentId, claim.runId, now) as { run_id: string; deadline: string } | undefined;
        if (other) return { claimed: false, run_id: other.run_id, deadline: other.deadline };
        this.db
          .prepare(
            'INSERT OR IGNORE INTO approval_requests (appointment_id, run_id, provider_id, deadline) VALUES (?,?,?,?)',
          )
          .run(claim.appointmentId, claim.runId, claim.providerId, claim.deadline);
        return { claimed: true };
      })
      .immediate();
  }

  /** The run asked and got its answer (or was cancelled): the appointment may be asked about again. */
  closeApprovalRequest(appointmentId: string, runId: string): void {
    this.db
      .prepare("UPDATE approval_requests SET status = 'closed' WHERE appointment_id = ? AND run_id = ?")
      .run(appointmentId, runId);
  }
}
