import fs from 'node:fs';
import { datesInRange, type Appointment, type Dataset } from './model';
import { approvalRequired, bandOf, type Policy } from './policy';
import { loadDataset } from './database';
import { OutcomeRecords, type LiveAssignment } from './outcomes';
import { DomainRefusal } from './refusals';
import type { AssignmentResult, NotificationResult, WaitlistResult } from './results';
import { scoreMatch } from './scoring';

export { DomainRefusal } from './refusals';

/**
 * The scheduling store: the reads, plus every change the tools make. Each change happens inside one
 * transaction together with the idempotency record of the call that made it, and every invariant is checked
 * inside that transaction.
 */

/** Who is acting, and under which policy: fixed by the workflow, never by the model. */
export interface ActionContext {
  runId: string;
  idempotencyKey: string;
  policy: Policy;
  decidedBy: 'prompt' | 'code';
}

/**
 * Runs fn on the scheduling database at file, opened for that call only; undefined when the file does not exist
 * (the API and the CLI may run where the database is not).
 */
export function withSchedulingStore<T>(file: string, fn: (store: SchedulingStore) => T): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  const store = new SchedulingStore(file);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

export class SchedulingStore extends OutcomeRecords {
  /** Replaces the whole content of the store with a data set, in one transaction. */
  load(data: Dataset): void {
    loadDataset(this.db, data);
  }

  /** Records that a provider is unavailable on a date. Idempotent: the first reason recorded stays. */
  markUnavailable(
    providerId: string,
    date: string,
    reason: string,
  ): { provider_id: string; date: string; reason: string; newly_recorded: boolean } {
    if (!this.provider(providerId)) throw new DomainRefusal(`unknown provider ${providerId}`, 'unknown_provider');
    const info = this.db
      .prepare('INSERT OR IGNORE INTO unavailability (provider_id, date, reason) VALUES (?,?,?)')
      .run(providerId, date, reason);
    const stored = this.unavailability(providerId, date)!;
    return { provider_id: providerId, date, reason: stored.reason, newly_recorded: info.changes === 1 };
  }

  /** Records the unavailability of every day from date through until (inclusive), in one transaction. */
  markUnavailableRange(
    providerId: string,
    date: string,
    until: string,
    reason: string,
  ): { provider_id: string; date: string; until: string; days: number; newly_recorded: number } {
    return this.db.transaction(() => {
      const days = datesInRange(date, until);
      const recorded = days.map((d) => this.markUnavailable(providerId, d, reason));
      return {
        provider_id: providerId,
        date,
        until,
        days: days.length,
        newly_recorded: recorded.filter((r) => r.newly_recorded).length,
      };
    })();
  }

  /** The appointment must still be booked with an unavailable provider: otherwise there is nothing to decide. */
  private requireAffected(id: string): Appointment & { original_provider_id: string } {
    const a = this.requireAppointment(id);
    if (a.status === 'waitlisted')
      throw new DomainRefusal(`appointment ${id} is already on the waitlist`, 'already_decided');
    if (this.unavailability(a.provider_id, a.date)) return a;
    const already = this.db
      .prepare(
        'SELECT to_provider_id FROM assignments WHERE appointment_id = ? AND released_at IS NULL ORDER BY created_at DESC LIMIT 1',
      )
      .get(id) as { to_provider_id: string } | undefined;
    if (already)
      throw new DomainRefusal(
        `appointment ${id} was already reassigned to ${already.to_provider_id}`,
        'already_decided',
      );
    throw new DomainRefusal(
      `appointment ${id} is not affected: provider ${a.provider_id} is available on ${a.date}`,
      'not_affected',
    );
  }

  assign(appointmentId: string, providerId: string, ctx: ActionContext): AssignmentResult {
    return this.once(ctx.idempotencyKey, 'assign_appointment', () => {
      const a = this.requireAffected(appointmentId);
      const provider = this.provider(providerId);
      if (!provider) throw new DomainRefusal(`unknown provider ${providerId}`, 'unknown_provider');
      if (provider.specialty !== a.specialty)
        throw new DomainRefusal(
          `provider ${providerId} is ${provider.specialty}, the appointment needs ${a.specialty}`,
          'wrong_specialty',
        );
      if (this.unavailability(providerId, a.date))
        throw new DomainRefusal(`provider ${providerId} is unavailable on ${a.date}`, 'provider_unavailable');
      if (this.refusedProvidersOf(appointmentId).includes(providerId))
        throw new DomainRefusal(
          `the patient of ${appointmentId} already turned down ${providerId} for this appointment`,
          'declined_by_patient',
        );
      const works = this.db
        .prepare('SELECT 1 FROM provider_slots WHERE provider_id = ? AND date = ? AND time = ?')
        .get(providerId, a.date, a.time);
      if (!works) throw new DomainRefusal(`provider ${providerId} does not work at ${a.date} ${a.time}`, 'no_slot');
      if (this.isBooked(providerId, a.date, a.time))
        throw new DomainRefusal(`provider ${providerId} is already booked at ${a.date} ${a.time}`, 'slot_taken');
      const patient = this.patient(a.patient_id)!;
      const { score } = scoreMatch({
        appointment: a,
        patient,
        provider,
        previousVisits: this.previousVisits(patient.id, providerId),
        weights: ctx.policy.weights,
      });
      const band = bandOf(score, ctx.policy.thresholds);
      if (band === 'poor')
        throw new DomainRefusal(
          `score ${score} is below the assign threshold ${ctx.policy.thresholds.good}: add the patient to the waitlist instead`,
          'below_threshold',
        );
      let approvedBy: string | null = null;
      if (approvalRequired(band, ctx.policy.approval)) {
        const approval = this.db
          .prepare(
            "SELECT decided_by FROM approvals WHERE appointment_id = ? AND provider_id = ? AND run_id = ? AND decision = 'approved'",
          )
          .get(appointmentId, providerId, ctx.runId) as { decided_by: string } | undefined;
        if (!approval)
          throw new DomainRefusal(
            `a ${band} match (score ${score}) needs a human approval first: call request_approval`,
            'approval_required',
          );
        approvedBy = approval.decided_by;
      }
      this.db.prepare('UPDATE appointments SET provider_id = ? WHERE id = ?').run(providerId, appointmentId);
      this.closeApprovalRequest(appointmentId, ctx.runId);
      this.db
        .prepare(
          'INSERT INTO assignments (appointment_id, from_provider_id, to_provider_id, date, time, score, band, approved_by, run_id, decided_by, idempotency_key) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
        )
        .run(
          appointmentId,
          a.provider_id,
          providerId,
          a.date,
          a.time,
          score,
          band,
          approvedBy,
          ctx.runId,
          ctx.decidedBy,
          ctx.idempotencyKey,
        );
      return {
        appointment_id: appointmentId,
        from_provider_id: a.provider_id,
        new_provider_id: providerId,
        date: a.date,
        time: a.time,
        score,
        band,
        approved_by: approvedBy,
      };
    });
  }

  waitlist(appointmentId: string, reason: string, ctx: ActionContext): WaitlistResult {
    return this.once(ctx.idempotencyKey, 'add_to_waitlist', () => {
      const a = this.requireAffected(appointmentId);
      const best = this.rankCandidates(appointmentId, ctx.policy, 1).candidates[0];
      this.db.prepare("UPDATE appointments SET status = 'waitlisted' WHERE id = ?").run(appointmentId);
      this.closeApprovalRequest(appointmentId, ctx.runId);
      this.db
        .prepare(
          'INSERT INTO waitlist (appointment_id, patient_id, from_provider_id, reason, best_score, run_id, decided_by, idempotency_key) VALUES (?,?,?,?,?,?,?,?)',
        )
        .run(
          appointmentId,
          a.patient_id,
          a.provider_id,
          reason,
          best?.score ?? null,
          ctx.runId,
          ctx.decidedBy,
          ctx.idempotencyKey,
        );
      return { appointment_id: appointmentId, patient_id: a.patient_id, reason, best_score: best?.score ?? null };
    });
  }

  recordApproval(
    appointmentId: string,
    providerId: string,
    decision: 'approved' | 'rejected' | 'timed_out',
    decidedBy: string,
    note: string | undefined,
    runId: string,
  ): { recorded: boolean } {
    this.requireAppointment(appointmentId);
    return this.db.transaction(() => {
      this.holdDecidedApprovalRequest(appointmentId, runId);
      const info = this.db
        .prepare(
          'INSERT OR IGNORE INTO approvals (appointment_id, provider_id, run_id, decision, decided_by, note) VALUES (?,?,?,?,?,?)',
        )
        .run(appointmentId, providerId, runId, decision, decidedBy, note ?? null);
      // A refused or unanswered approval is something a head of department must see.
      if (decision !== 'approved' && info.changes === 1)
        this.raiseEscalation({
          kind: decision === 'rejected' ? 'approval_rejected' : 'approval_timed_out',
          ref: `${appointmentId}:${runId}:${providerId}`,
          appointmentId,
          runId,
          reason:
            decision === 'rejected'
              ? `${decidedBy} rejected moving ${appointmentId} to ${providerId}${note ? `: ${note}` : ''}`
              : `nobody decided on moving ${appointmentId} to ${providerId} before the deadline`,
        });
      return { recorded: info.changes === 1 };
    })();
  }

  /** Tells the patient about a change that really happened; one notification per change, whatever the retries. */
  notify(appointmentId: string, kind: 'reassigned' | 'waitlisted', ctx: ActionContext): NotificationResult {
    return this.once(ctx.idempotencyKey, 'notify_patient', () => {
      const a = this.requireAppointment(appointmentId);
      let changeRef: string;
      let message: string;
      let offerFrom: LiveAssignment | undefined;
      if (kind === 'reassigned') {
        const row = this.db
          .prepare(
            'SELECT to_provider_id, from_provider_id, idempotency_key, score, band, run_id, decided_by FROM assignments WHERE appointment_id = ? AND released_at IS NULL ORDER BY created_at DESC LIMIT 1',
          )
          .get(appointmentId) as LiveAssignment | undefined;
        if (!row)
          throw new DomainRefusal(
            `appointment ${appointmentId} has not been reassigned: nothing to notify`,
            'nothing_to_notify',
          );
        const provider = this.provider(row.to_provider_id)!;
        changeRef = `${row.from_provider_id}->${row.to_provider_id}`;
        offerFrom = row;
        message = `Your appointment on ${a.date} at ${a.time} is now with ${provider.name}.`;
      } else {
        const row = this.db
          .prepare('SELECT from_provider_id FROM waitlist WHERE appointment_id = ?')
          .get(appointmentId) as { from_provider_id: string } | undefined;
        if (!row)
          throw new DomainRefusal(
            `appointment ${appointmentId} is not on the waitlist: nothing to notify`,
            'nothing_to_notify',
          );
        changeRef = `${row.from_provider_id}->waitlist`;
        message = `Your appointment on ${a.date} at ${a.time} could not be moved; you are on the waitlist and will be contacted.`;
      }
      const dup = this.db
        .prepare('SELECT 1 FROM notifications WHERE appointment_id = ? AND kind = ? AND change_ref = ?')
        .get(appointmentId, kind, changeRef);
      if (dup)
        throw new DomainRefusal(
          `the patient of ${appointmentId} was already notified of this change`,
          'already_notified',
        );
      this.db
        .prepare(
          'INSERT INTO notifications (patient_id, appointment_id, kind, change_ref, channel, message, idempotency_key) VALUES (?,?,?,?,?,?,?)',
        )
        .run(a.patient_id, appointmentId, kind, changeRef, 'sms', message, ctx.idempotencyKey);
      // Telling a patient about a new slot offers it: the patient accepts, declines or lets it pass.
      if (offerFrom) this.openOfferFor(appointmentId, offerFrom);
      return { appointment_id: appointmentId, patient_id: a.patient_id, kind, channel: 'sms' };
    });
  }

  /**
   * Runs `fn` inside one transaction that is always rolled back: what the writes would have done, with every
   * guard applied, and nothing kept. A shadow run's dry-run tool calls go through here.
   */
  rolledBack<T>(fn: () => T): T {
    const rollback = Symbol('rollback');
    let out: { value: T } | undefined;
    try {
      this.db
        .transaction(() => {
          out = { value: fn() };
          throw rollback;
        })
        .immediate();
    } catch (err) {
      if (err !== rollback) throw err;
    }
    return out!.value;
  }

  /**
   * Raw SQL past every guard, for tests and incident drills only (tampering on purpose to show the audit
   * catches it). Never called by the product.
   */
  unsafeExecute(sql: string): void {
    this.db.exec(sql);
  }
}
