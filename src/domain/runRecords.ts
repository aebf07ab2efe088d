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

/** An appointment a cancelled or failed run left undecided, with the run. */
export interface LeftUndecided {
  appointment_id: string;
  provider_id: string;
  date: string;
  time: string;
  specialty: string;
  run_id: string;
  run_status: string;
  reason: string;
}

export class RunRecords extends SchedulingReads {
  /** Runs fn in one transaction; a key seen before returns its first result and writes nothing. */
  protected once<T>(key: string, tool: string, fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(async (): Promise<T> => {
      const prior = await this.db.get<{ tool: string; result_json: string }>(
        'SELECT tool, result_json FROM tool_calls WHERE idempotency_key = ?',
        [key],
      );
      if (prior) {
        if (prior.tool !== tool)
          throw new DomainRefusal(`idempotency key ${key} was already used by ${prior.tool}`, 'key_reused');
        return JSON.parse(prior.result_json) as T;
      }
      const result = await fn();
      await this.db.run('INSERT INTO tool_calls (idempotency_key, tool, result_json) VALUES (?,?,?)', [
        key,
        tool,
        JSON.stringify(result),
      ]);
      return result;
    });
  }

  /** A run over a provider's days has started (idempotent: a retry or a replay records nothing new). */
  async recordRunStart(run: {
    runId: string;
    providerId: string;
    date: string;
    until?: string;
    scope?: string[];
  }): Promise<void> {
    await this.db.run(
      'INSERT INTO runs (run_id, provider_id, date, until, scope) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING',
      [run.runId, run.providerId, run.date, run.until ?? run.date, run.scope ? JSON.stringify(run.scope) : null],
    );
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
  }): Promise<void> {
    return this.db.transaction(async () => {
      await this.recordRunStart(outcome);
      await this.db.run('UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?', [
        outcome.status,
        new Date().toISOString(),
        outcome.runId,
      ]);
      for (const u of outcome.undecided)
        await this.db.run(
          `INSERT INTO run_undecided (run_id, appointment_id, reason) VALUES (?,?,?)
           ON CONFLICT (run_id, appointment_id) DO UPDATE SET reason = excluded.reason`,
          [outcome.runId, u.appointment_id, u.reason],
        );
      // A finished run holds no appointment any more: what it was asked about may be asked about by another run.
      await this.db.run("UPDATE approval_requests SET status = 'closed' WHERE run_id = ? AND status = 'open'", [
        outcome.runId,
      ]);
    });
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
  }): Promise<ApprovalClaim> {
    return this.db.transaction(async (): Promise<ApprovalClaim> => {
      const now = new Date().toISOString();
      const other = await this.db.get<{ run_id: string; deadline: string }>(
        "SELECT run_id, deadline FROM approval_requests WHERE appointment_id = ? AND run_id <> ? AND status = 'open' AND deadline > ? ORDER BY created_at LIMIT 1",
        [claim.appointmentId, claim.runId, now],
      );
      if (other) return { claimed: false, run_id: other.run_id, deadline: other.deadline };
      const decided = await this.decidedBy(claim.appointmentId);
      if (decided) return { claimed: false, decided };
      const rejected = await this.db.get<{ run_id: string; decided_by: string }>(
        "SELECT run_id, decided_by FROM approvals WHERE appointment_id = ? AND provider_id = ? AND run_id <> ? AND decision = 'rejected' ORDER BY created_at LIMIT 1",
        [claim.appointmentId, claim.providerId, claim.runId],
      );
      if (rejected) return { claimed: false, rejected };
      // The later deadline of the two (a retry never shortens the hold).
      const later = this.db.dialect === 'sqlite' ? 'max' : 'GREATEST';
      await this.db.run(
        `INSERT INTO approval_requests (appointment_id, run_id, provider_id, deadline) VALUES (?,?,?,?)
         ON CONFLICT (appointment_id, run_id) DO UPDATE SET status = 'open', provider_id = excluded.provider_id,
           deadline = ${later}(approval_requests.deadline, excluded.deadline)`,
        [claim.appointmentId, claim.runId, claim.providerId, claim.deadline],
      );
      return { claimed: true };
    });
  }

  /** Which run wrote the appointment's decision, if one did (it is then no longer anyone's to ask about). */
  private decidedBy(appointmentId: string): Promise<{ run_id: string; outcome: string } | undefined> {
    return this.db.get(
      `SELECT run_id, 'reassigned to ' || to_provider_id AS outcome FROM assignments WHERE appointment_id = ? AND released_at IS NULL
       UNION ALL SELECT run_id, 'waitlisted' FROM waitlist WHERE appointment_id = ? LIMIT 1`,
      [appointmentId, appointmentId],
    );
  }

  /**
   * A human (or the timeout policy) answered: the run keeps holding the appointment until it writes the
   * decision, so no other run asks in between. The hold is renewed for the same window as the question had.
   */
  async holdDecidedApprovalRequest(appointmentId: string, runId: string): Promise<void> {
    const row = await this.db.get<{ deadline: string; created_at: string }>(
      "SELECT deadline, created_at FROM approval_requests WHERE appointment_id = ? AND run_id = ? AND status = 'open'",
      [appointmentId, runId],
    );
    if (!row) return;
    const window = Math.max(0, Date.parse(row.deadline) - Date.parse(row.created_at));
    const renewed = new Date(Date.now() + window).toISOString();
    if (renewed > row.deadline)
      await this.db.run('UPDATE approval_requests SET deadline = ? WHERE appointment_id = ? AND run_id = ?', [
        renewed,
        appointmentId,
        runId,
      ]);
  }

  /**
   * The run wrote the appointment's decision, or stopped asking (cancelled): another run may ask again about an
   * appointment this run left undecided.
   */
  async closeApprovalRequest(appointmentId: string, runId: string): Promise<void> {
    await this.db.run("UPDATE approval_requests SET status = 'closed' WHERE appointment_id = ? AND run_id = ?", [
      appointmentId,
      runId,
    ]);
  }

  /** What the store knows of a run: its status, and when it finished (none while it runs). */
  runRecord(
    runId: string,
  ): Promise<{ run_id: string; status: string; started_at: string; finished_at: string | null } | undefined> {
    return this.db.get('SELECT run_id, status, started_at, finished_at FROM runs WHERE run_id = ?', [runId]);
  }

  /** Runs recorded as still running (the audit asks Temporal whether their workflows still are). */
  runsMarkedRunning(): Promise<{ run_id: string; started_at: string }[]> {
    return this.db.all("SELECT run_id, started_at FROM runs WHERE status = 'running' ORDER BY started_at");
  }

  /** For each appointment a human was asked about, the runs that asked (one, unless two runs asked a person twice). */
  async approvalRequestRuns(): Promise<{ appointment_id: string; runs: string[] }[]> {
    const rows = await this.db.all<{ appointment_id: string; run_id: string }>(
      'SELECT DISTINCT appointment_id, run_id FROM approval_requests ORDER BY appointment_id, run_id',
    );
    const byAppointment = new Map<string, string[]>();
    for (const r of rows)
      byAppointment.set(r.appointment_id, [...(byAppointment.get(r.appointment_id) ?? []), r.run_id]);
    return [...byAppointment].map(([appointment_id, runs]) => ({ appointment_id, runs }));
  }

  /** How many approval requests a run still holds open (none once it has ended). */
  async openApprovalRequests(runId: string): Promise<number> {
    const r = await this.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM approval_requests WHERE run_id = ? AND status = 'open'",
      [runId],
    );
    return r!.n;
  }

  /** The appointments a finished run left undecided. */
  async runUndecided(runId: string): Promise<string[]> {
    const rows = await this.db.all<{ appointment_id: string }>(
      'SELECT appointment_id FROM run_undecided WHERE run_id = ? ORDER BY appointment_id',
      [runId],
    );
    return rows.map((r) => r.appointment_id);
  }

  /**
   * Appointments that cancelled or failed runs left undecided and that are still booked with the absent provider:
   * one line per appointment, from the latest run that left it.
   */
  async leftUndecided(): Promise<LeftUndecided[]> {
    const rows = await this.db.all<LeftUndecided & { finished_at: string | null }>(
      `SELECT ru.appointment_id, a.provider_id, a.date, a.time, a.specialty, r.run_id, r.status AS run_status,
              ru.reason, r.finished_at
       FROM run_undecided ru JOIN runs r ON r.run_id = ru.run_id JOIN appointments a ON a.id = ru.appointment_id
       WHERE r.status NOT IN ('running', 'completed') AND a.status = 'scheduled' AND a.provider_id = r.provider_id
       ORDER BY a.date, a.time, a.id, r.finished_at DESC`,
    );
    const seen = new Set<string>();
    return rows
      .filter((r) => !seen.has(r.appointment_id) && seen.add(r.appointment_id))
      .map(({ finished_at: _f, ...r }) => r);
  }
}
