import { SchedulingReads } from './reads';
import { DomainRefusal } from './refusals';

/**
 * What the store keeps about the runs themselves, beside the scheduling data: each run's start and outcome
 * (what the audit judges a finished run by), and the open approval requests, so that two runs for the same
 * provider never ask a human about the same appointment twice.
 */

/** The answer to a claim: this run may ask, or another run is asking already (until its deadline). */
export type ApprovalClaim =
  | { claimed: true }
  /** Another run is asking a human about it, or holds the answer it got until it writes the decision. */
  | { claimed: false; run_id: string; deadline: string }
  /** Already decided (by this run or another). */
  | { claimed: false; decided: { run_id: string; outcome: string } }
  /** A human rejected this very move in another run: the rejection stands. */
  | { claimed: false; rejected: { run_id: string; decided_by: string } };

export class RunRecords extends SchedulingReads {
  /** Runs fn in one IMMEDIATE transaction; a key seen before returns its first result and writes nothing. */
  protected once<T>(key: string, tool: string, fn: () => T): T {
    return this.db
      .transaction((): T => {
        const prior = this.db.prepare('SELECT tool, result_json FROM tool_calls WHERE idempotency_key = ?').get(key) as
          { tool: string; result_json: string } | undefined;
        if (prior) {
          if (prior.tool !== tool)
            throw new DomainRefusal(`idempotency key ${key} was already used by ${prior.tool}`, 'key_reused');
          return JSON.parse(prior.result_json) as T;
        }
        const result = fn();
        this.db
          .prepare('INSERT INTO tool_calls (idempotency_key, tool, result_json) VALUES (?,?,?)')
          .run(key, tool, JSON.stringify(result));
        return result;
      })
      .immediate();
  }

  /** A run over a provider's days has started (idempotent: a retry or a replay records nothing new). */
  recordRunStart(run: { runId: string; providerId: string; date: string; until?: string; scope?: string[] }): void {
    this.db
      .prepare('INSERT OR IGNORE INTO runs (run_id, provider_id, date, until, scope) VALUES (?,?,?,?,?)')
      .run(run.runId, run.providerId, run.date, run.until ?? run.date, run.scope ? JSON.stringify(run.scope) : null);
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
      // A finished run holds no appointment any more: what it was asked about may be asked about by another run.
      this.db
        .prepare("UPDATE approval_requests SET status = 'closed' WHERE run_id = ? AND status = 'open'")
        .run(outcome.runId);
    })();
  }

  /**
   * Claims the right to ask a human about an appointment, in one transaction. Refused while another run holds
   * the appointment (it asked, and has not written its decision yet, until its deadline), when the appointment
   * is already decided, and when a human already rejected this very move in another run: a rejection stands
   * across runs (see docs/runs.md, "Approvals across runs"). Idempotent for the run that holds it (a retry, a
   * replay), and the same run may ask again about another provider for the appointment.
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
        const decided = this.decidedBy(claim.appointmentId);
        if (decided) return { claimed: false, decided };
        const rejected = this.db
          .prepare(
            "SELECT run_id, decided_by FROM approvals WHERE appointment_id = ? AND provider_id = ? AND run_id <> ? AND decision = 'rejected' ORDER BY created_at LIMIT 1",
          )
          .get(claim.appointmentId, claim.providerId, claim.runId) as
          { run_id: string; decided_by: string } | undefined;
        if (rejected) return { claimed: false, rejected };
        this.db
          .prepare(
            `INSERT INTO approval_requests (appointment_id, run_id, provider_id, deadline) VALUES (?,?,?,?)
             ON CONFLICT (appointment_id, run_id) DO UPDATE SET status = 'open', provider_id = excluded.provider_id,
               deadline = max(approval_requests.deadline, excluded.deadline)`,
          )
          .run(claim.appointmentId, claim.runId, claim.providerId, claim.deadline);
        return { claimed: true };
      })
      .immediate();
  }

  /** Which run wrote the appointment's decision, if one did (it is then no longer anyone's to ask about). */
  private decidedBy(appointmentId: string): { run_id: string; outcome: string } | undefined {
    return this.db
      .prepare(
        `SELECT run_id, 'reassigned to ' || to_provider_id AS outcome FROM assignments WHERE appointment_id = ? AND released_at IS NULL
         UNION ALL SELECT run_id, 'waitlisted' FROM waitlist WHERE appointment_id = ? LIMIT 1`,
      )
      .get(appointmentId, appointmentId) as { run_id: string; outcome: string } | undefined;
  }

  /**
   * A human (or the timeout policy) answered: the run keeps holding the appointment until it writes the
   * decision, so no other run asks in between. The hold is renewed for the same window as the question had.
   */
  holdDecidedApprovalRequest(appointmentId: string, runId: string): void {
    const row = this.db
      .prepare(
        "SELECT deadline, created_at FROM approval_requests WHERE appointment_id = ? AND run_id = ? AND status = 'open'",
      )
      .get(appointmentId, runId) as { deadline: string; created_at: string } | undefined;
    if (!row) return;
    const window = Math.max(0, Date.parse(row.deadline) - Date.parse(row.created_at));
    const renewed = new Date(Date.now() + window).toISOString();
    if (renewed > row.deadline)
      this.db
        .prepare('UPDATE approval_requests SET deadline = ? WHERE appointment_id = ? AND run_id = ?')
        .run(renewed, appointmentId, runId);
  }

  /**
   * The run wrote the appointment's decision, or stopped asking (cancelled): another run may ask again about an
   * appointment this run left undecided.
   */
  closeApprovalRequest(appointmentId: string, runId: string): void {
    this.db
      .prepare("UPDATE approval_requests SET status = 'closed' WHERE appointment_id = ? AND run_id = ?")
      .run(appointmentId, runId);
  }

  /** What the store knows of a run: its status, and when it finished (none while it runs). */
  runRecord(
    runId: string,
  ): { run_id: string; status: string; started_at: string; finished_at: string | null } | undefined {
    return this.db.prepare('SELECT run_id, status, started_at, finished_at FROM runs WHERE run_id = ?').get(runId) as
      { run_id: string; status: string; started_at: string; finished_at: string | null } | undefined;
  }

  /** Runs recorded as still running (the audit asks Temporal whether their workflows still are). */
  runsMarkedRunning(): { run_id: string; started_at: string }[] {
    return this.db
      .prepare("SELECT run_id, started_at FROM runs WHERE status = 'running' ORDER BY started_at")
      .all() as { run_id: string; started_at: string }[];
  }

  /** For each appointment a human was asked about, the runs that asked (one, unless two runs asked a person twice). */
  approvalRequestRuns(): { appointment_id: string; runs: string[] }[] {
    const rows = this.db
      .prepare(
        'SELECT appointment_id, group_concat(run_id) AS runs FROM (SELECT DISTINCT appointment_id, run_id FROM approval_requests ORDER BY run_id) GROUP BY appointment_id ORDER BY appointment_id',
      )
      .all() as { appointment_id: string; runs: string }[];
    return rows.map((r) => ({ appointment_id: r.appointment_id, runs: r.runs.split(',') }));
  }

  /** How many approval requests a run still holds open (none once it has ended). */
  openApprovalRequests(runId: string): number {
    return this.db
      .prepare("SELECT COUNT(*) FROM approval_requests WHERE run_id = ? AND status = 'open'")
      .pluck()
      .get(runId) as number;
  }

  /** The appointments a finished run left undecided. */
  runUndecided(runId: string): string[] {
    return this.db
      .prepare('SELECT appointment_id FROM run_undecided WHERE run_id = ? ORDER BY appointment_id')
      .pluck()
      .all(runId) as string[];
  }
}
