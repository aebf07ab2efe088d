import { asTarget, openSql, targetExists, type DatabaseTarget, type PoolSettings } from '../db/open';
import type { Sql } from '../db/sql';
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

/** PostgreSQL stores shared by the calls of this process (one pool each), by URL. */
const sharedStores = new Map<string, Promise<SchedulingStore>>();

/**
 * Runs fn on the scheduling database, for the API and the CLI, which may run where the data is not: undefined
 * when it is a SQLite file that does not exist. A SQLite file is opened for the call only; a PostgreSQL database
 * through one pool per process, kept until closeSharedStores().
 */
export async function withSchedulingStore<T>(
  target: DatabaseTarget | string,
  fn: (store: SchedulingStore) => Promise<T> | T,
  pool?: Partial<PoolSettings>,
): Promise<T | undefined> {
  const t = asTarget(target);
  if (t.kind === 'postgres') return fn(await sharedStore(t, pool));
  if (!targetExists(t)) return undefined;
  const store = await SchedulingStore.open(t, pool);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** This process's store on a PostgreSQL database: one pool, opened on first use. */
export function sharedStore(
  target: { kind: 'postgres'; url: string },
  pool?: Partial<PoolSettings>,
): Promise<SchedulingStore> {
  let shared = sharedStores.get(target.url);
  if (!shared) {
    shared = SchedulingStore.open(target, pool);
    sharedStores.set(target.url, shared);
    shared.catch(() => sharedStores.delete(target.url));
  }
  return shared;
}

/** Closes the PostgreSQL pools withSchedulingStore opened (a server that stops). */
export async function closeSharedStores(): Promise<void> {
  const stores = [...sharedStores.values()];
  sharedStores.clear();
  await Promise.all(stores.map(async (s) => (await s.catch(() => undefined))?.close()));
}

export class SchedulingStore extends OutcomeRecords {
  /**
   * Opens the store on a database (a SQLite file path, or a target from the configuration), its schema brought up
   * to date. Refused with one line (DatabaseUnavailable) when the database cannot be used.
   */
  static async open(target: DatabaseTarget | string, pool?: Partial<PoolSettings>): Promise<SchedulingStore> {
    const t = asTarget(target);
    return new SchedulingStore(await openSql(t, pool), t);
  }

  constructor(
    db: Sql,
    /** The database it was opened on (what another process opens to share it). */
    readonly target: DatabaseTarget,
  ) {
    super(db);
  }

  /** Replaces the whole content of the store with a data set, in one transaction. */
  load(data: Dataset): Promise<void> {
    return loadDataset(this.db, data);
  }

  /** Records that a provider is unavailable on a date. Idempotent: the first reason recorded stays. */
  async markUnavailable(
    providerId: string,
    date: string,
    reason: string,
  ): Promise<{ provider_id: string; date: string; reason: string; newly_recorded: boolean }> {
    if (!(await this.provider(providerId)))
      throw new DomainRefusal(`unknown provider ${providerId}`, 'unknown_provider');
    const info = await this.db.run(
      'INSERT INTO unavailability (provider_id, date, reason) VALUES (?,?,?) ON CONFLICT DO NOTHING',
      [providerId, date, reason],
    );
    const stored = (await this.unavailability(providerId, date))!;
    return { provider_id: providerId, date, reason: stored.reason, newly_recorded: info.changes === 1 };
  }

  /** Records the unavailability of every day from date through until (inclusive), in one transaction. */
  markUnavailableRange(
    providerId: string,
    date: string,
    until: string,
    reason: string,
  ): Promise<{ provider_id: string; date: string; until: string; days: number; newly_recorded: number }> {
    return this.db.transaction(async () => {
      const days = datesInRange(date, until);
      let newly = 0;
      for (const d of days) if ((await this.markUnavailable(providerId, d, reason)).newly_recorded) newly += 1;
      return { provider_id: providerId, date, until, days: days.length, newly_recorded: newly };
    });
  }

  /** The appointment must still be booked with an unavailable provider: otherwise there is nothing to decide. */
  private async requireAffected(id: string): Promise<Appointment & { original_provider_id: string }> {
    const a = await this.requireAppointment(id);
    if (a.status === 'waitlisted')
      throw new DomainRefusal(`appointment ${id} is already on the waitlist`, 'already_decided');
    if (await this.unavailability(a.provider_id, a.date)) return a;
    const already = await this.db.get<{ to_provider_id: string }>(
      'SELECT to_provider_id FROM assignments WHERE appointment_id = ? AND released_at IS NULL ORDER BY created_at DESC LIMIT 1',
      [id],
    );
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

  assign(appointmentId: string, providerId: string, ctx: ActionContext): Promise<AssignmentResult> {
    return this.once(ctx.idempotencyKey, 'assign_appointment', async () => {
      const a = await this.requireAffected(appointmentId);
      const provider = await this.provider(providerId);
      if (!provider) throw new DomainRefusal(`unknown provider ${providerId}`, 'unknown_provider');
      if (provider.specialty !== a.specialty)
        throw new DomainRefusal(
          `provider ${providerId} is ${provider.specialty}, the appointment needs ${a.specialty}`,
          'wrong_specialty',
        );
      if (await this.unavailability(providerId, a.date))
        throw new DomainRefusal(`provider ${providerId} is unavailable on ${a.date}`, 'provider_unavailable');
      if ((await this.refusedProvidersOf(appointmentId)).includes(providerId))
        throw new DomainRefusal(
          `the patient of ${appointmentId} already turned down ${providerId} for this appointment`,
          'declined_by_patient',
        );
      const works = await this.db.get(
        'SELECT 1 AS one FROM provider_slots WHERE provider_id = ? AND date = ? AND time = ?',
        [providerId, a.date, a.time],
      );
      if (!works) throw new DomainRefusal(`provider ${providerId} does not work at ${a.date} ${a.time}`, 'no_slot');
      if (await this.isBooked(providerId, a.date, a.time))
        throw new DomainRefusal(`provider ${providerId} is already booked at ${a.date} ${a.time}`, 'slot_taken');
      const patient = (await this.patient(a.patient_id))!;
      const { score } = scoreMatch({
        appointment: a,
        patient,
        provider,
        previousVisits: await this.previousVisits(patient.id, providerId),
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
        const approval = await this.db.get<{ decided_by: string }>(
          "SELECT decided_by FROM approvals WHERE appointment_id = ? AND provider_id = ? AND run_id = ? AND decision = 'approved'",
          [appointmentId, providerId, ctx.runId],
        );
        if (!approval)
          throw new DomainRefusal(
            `a ${band} match (score ${score}) needs a human approval first: call request_approval`,
            'approval_required',
          );
        approvedBy = approval.decided_by;
      }
      await this.db.run('UPDATE appointments SET provider_id = ? WHERE id = ?', [providerId, appointmentId]);
      await this.closeApprovalRequest(appointmentId, ctx.runId);
      await this.db.run(
        'INSERT INTO assignments (appointment_id, from_provider_id, to_provider_id, date, time, score, band, approved_by, run_id, decided_by, idempotency_key) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
        [
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
        ],
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

  waitlist(appointmentId: string, reason: string, ctx: ActionContext): Promise<WaitlistResult> {
    return this.once(ctx.idempotencyKey, 'add_to_waitlist', async () => {
      const a = await this.requireAffected(appointmentId);
      const best = (await this.rankCandidates(appointmentId, ctx.policy, 1)).candidates[0];
      await this.db.run("UPDATE appointments SET status = 'waitlisted' WHERE id = ?", [appointmentId]);
      await this.closeApprovalRequest(appointmentId, ctx.runId);
      await this.db.run(
        'INSERT INTO waitlist (appointment_id, patient_id, from_provider_id, reason, best_score, run_id, decided_by, idempotency_key) VALUES (?,?,?,?,?,?,?,?)',
        [
          appointmentId,
          a.patient_id,
          a.provider_id,
          reason,
          best?.score ?? null,
          ctx.runId,
          ctx.decidedBy,
          ctx.idempotencyKey,
        ],
      );
      return { appointment_id: appointmentId, patient_id: a.patient_id, reason, best_score: best?.score ?? null };
    });
  }

  async recordApproval(
    appointmentId: string,
    providerId: string,
    decision: 'approved' | 'rejected' | 'timed_out',
    decidedBy: string,
    note: string | undefined,
    runId: string,
  ): Promise<{ recorded: boolean }> {
    await this.requireAppointment(appointmentId);
    return this.db.transaction(async () => {
      await this.holdDecidedApprovalRequest(appointmentId, runId);
      const info = await this.db.run(
        'INSERT INTO approvals (appointment_id, provider_id, run_id, decision, decided_by, note) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING',
        [appointmentId, providerId, runId, decision, decidedBy, note ?? null],
      );
      // A refused or unanswered approval is something a head of department must see.
      if (decision !== 'approved' && info.changes === 1)
        await this.raiseEscalation({
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
    });
  }

  /** Tells the patient about a change that really happened; one notification per change, whatever the retries. */
  notify(appointmentId: string, kind: 'reassigned' | 'waitlisted', ctx: ActionContext): Promise<NotificationResult> {
    return this.once(ctx.idempotencyKey, 'notify_patient', async () => {
      const a = await this.requireAppointment(appointmentId);
      let changeRef: string;
      let message: string;
      let offerFrom: LiveAssignment | undefined;
      if (kind === 'reassigned') {
        const row = await this.db.get<LiveAssignment>(
          'SELECT to_provider_id, from_provider_id, idempotency_key, score, band, run_id, decided_by FROM assignments WHERE appointment_id = ? AND released_at IS NULL ORDER BY created_at DESC LIMIT 1',
          [appointmentId],
        );
        if (!row)
          throw new DomainRefusal(
            `appointment ${appointmentId} has not been reassigned: nothing to notify`,
            'nothing_to_notify',
          );
        const provider = (await this.provider(row.to_provider_id))!;
        changeRef = `${row.from_provider_id}->${row.to_provider_id}`;
        offerFrom = row;
        message = `Your appointment on ${a.date} at ${a.time} is now with ${provider.name}.`;
      } else {
        const row = await this.db.get<{ from_provider_id: string }>(
          'SELECT from_provider_id FROM waitlist WHERE appointment_id = ?',
          [appointmentId],
        );
        if (!row)
          throw new DomainRefusal(
            `appointment ${appointmentId} is not on the waitlist: nothing to notify`,
            'nothing_to_notify',
          );
        changeRef = `${row.from_provider_id}->waitlist`;
        message = `Your appointment on ${a.date} at ${a.time} could not be moved; you are on the waitlist and will be contacted.`;
      }
      const dup = await this.db.get(
        'SELECT 1 AS one FROM notifications WHERE appointment_id = ? AND kind = ? AND change_ref = ?',
        [appointmentId, kind, changeRef],
      );
      if (dup)
        throw new DomainRefusal(
          `the patient of ${appointmentId} was already notified of this change`,
          'already_notified',
        );
      await this.db.run(
        'INSERT INTO notifications (patient_id, appointment_id, kind, change_ref, channel, message, idempotency_key) VALUES (?,?,?,?,?,?,?)',
        [a.patient_id, appointmentId, kind, changeRef, 'sms', message, ctx.idempotencyKey],
      );
      // Telling a patient about a new slot offers it: the patient accepts, declines or lets it pass.
      if (offerFrom) await this.openOfferFor(appointmentId, offerFrom);
      return { appointment_id: appointmentId, patient_id: a.patient_id, kind, channel: 'sms' as const };
    });
  }

  /**
   * Runs `fn` inside one transaction that is always rolled back: what the writes would have done, with every
   * guard applied, and nothing kept. A shadow run's dry-run tool calls go through here.
   */
  async rolledBack<T>(fn: () => Promise<T>): Promise<T> {
    const rollback = Symbol('rollback');
    let out: { value: T } | undefined;
    try {
      await this.db.transaction(async () => {
        out = { value: await fn() };
        throw rollback;
      });
    } catch (err) {
      if (err !== rollback) throw err;
    }
    return out!.value;
  }

  /**
   * Raw SQL past every guard, for tests and incident drills only (tampering on purpose to show the audit
   * catches it). Never called by the product.
   */
  unsafeExecute(sql: string): Promise<void> {
    return this.db.exec(sql);
  }
}
