import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { datesInRange, type Appointment, type Dataset, type Patient, type Provider } from './model';
import { approvalRequired, bandOf, type Band, type Policy, type Weights } from './policy';
import { DomainRefusal } from './refusals';
import { scoreMatch, type MatchScore } from './scoring';

export { DomainRefusal } from './refusals';

/**
 * The scheduling store: one SQLite file. Every change happens inside one transaction together with the
 * idempotency record of the call that made it, and every invariant is checked inside that transaction.
 */

/** Who is acting, and under which policy: fixed by the workflow, never by the model. */
export interface ActionContext {
  runId: string;
  idempotencyKey: string;
  policy: Policy;
  decidedBy: 'prompt' | 'code';
}

export interface Candidate {
  provider_id: string;
  score: number;
  band: Band;
  approval_required: boolean;
}

export interface AssignmentResult {
  appointment_id: string;
  from_provider_id: string;
  new_provider_id: string;
  date: string;
  time: string;
  score: number;
  band: Band;
  approved_by: string | null;
}

export interface WaitlistResult {
  appointment_id: string;
  patient_id: string;
  reason: string;
  best_score: number | null;
}

export interface NotificationResult {
  appointment_id: string;
  patient_id: string;
  kind: 'reassigned' | 'waitlisted';
  channel: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS providers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, specialty TEXT NOT NULL, gender TEXT NOT NULL,
  languages TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, experience_years INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS patients (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, gender_preference TEXT NOT NULL, language TEXT NOT NULL,
  lat REAL NOT NULL, lon REAL NOT NULL, max_distance_km REAL NOT NULL, notes TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS patient_history (
  patient_id TEXT NOT NULL, provider_id TEXT NOT NULL, visits INTEGER NOT NULL, PRIMARY KEY (patient_id, provider_id));
CREATE TABLE IF NOT EXISTS provider_slots (
  provider_id TEXT NOT NULL, date TEXT NOT NULL, time TEXT NOT NULL, PRIMARY KEY (provider_id, date, time));
-- find_candidates looks slots up by date and time: without this index every lookup scans all slots.
CREATE INDEX IF NOT EXISTS provider_slots_by_time ON provider_slots(date, time);
CREATE TABLE IF NOT EXISTS unavailability (
  provider_id TEXT NOT NULL, date TEXT NOT NULL, reason TEXT NOT NULL,
  recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), PRIMARY KEY (provider_id, date));
CREATE TABLE IF NOT EXISTS appointments (
  id TEXT PRIMARY KEY, patient_id TEXT NOT NULL REFERENCES patients(id), provider_id TEXT NOT NULL REFERENCES providers(id),
  original_provider_id TEXT NOT NULL, date TEXT NOT NULL, time TEXT NOT NULL, specialty TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('scheduled','waitlisted')));
-- No provider is ever booked twice in one slot, whatever the code above this line does.
CREATE UNIQUE INDEX IF NOT EXISTS one_booking_per_slot ON appointments(provider_id, date, time) WHERE status = 'scheduled';
CREATE INDEX IF NOT EXISTS appointments_by_provider_date ON appointments(provider_id, date, status);
CREATE TABLE IF NOT EXISTS assignments (
  appointment_id TEXT NOT NULL REFERENCES appointments(id), from_provider_id TEXT NOT NULL, to_provider_id TEXT NOT NULL,
  date TEXT NOT NULL, time TEXT NOT NULL, score INTEGER NOT NULL, band TEXT NOT NULL, approved_by TEXT,
  run_id TEXT NOT NULL, decided_by TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  PRIMARY KEY (appointment_id, from_provider_id));
CREATE TABLE IF NOT EXISTS waitlist (
  appointment_id TEXT PRIMARY KEY REFERENCES appointments(id), patient_id TEXT NOT NULL, from_provider_id TEXT NOT NULL,
  reason TEXT NOT NULL, best_score INTEGER, run_id TEXT NOT NULL, decided_by TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
CREATE TABLE IF NOT EXISTS approvals (
  appointment_id TEXT NOT NULL, provider_id TEXT NOT NULL, run_id TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('approved','rejected','timed_out')), decided_by TEXT NOT NULL, note TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  PRIMARY KEY (appointment_id, provider_id, run_id));
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT, patient_id TEXT NOT NULL, appointment_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('reassigned','waitlisted')), change_ref TEXT NOT NULL, channel TEXT NOT NULL,
  message TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  UNIQUE (appointment_id, kind, change_ref));
-- One row per side-effecting call that succeeded: a retry with the same key returns this result and writes nothing.
CREATE TABLE IF NOT EXISTS tool_calls (
  idempotency_key TEXT PRIMARY KEY, tool TEXT NOT NULL, result_json TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
`;

interface ProviderRow {
  id: string;
  name: string;
  specialty: string;
  gender: string;
  languages: string;
  lat: number;
  lon: number;
  experience_years: number;
}
interface PatientRow {
  id: string;
  name: string;
  gender_preference: string;
  language: string;
  lat: number;
  lon: number;
  max_distance_km: number;
  notes: string;
}

const toProvider = (r: ProviderRow): Provider => ({
  id: r.id,
  name: r.name,
  specialty: r.specialty,
  gender: r.gender as Provider['gender'],
  languages: JSON.parse(r.languages) as string[],
  location: { lat: r.lat, lon: r.lon },
  experience_years: r.experience_years,
});
const toPatient = (r: PatientRow): Patient => ({
  id: r.id,
  name: r.name,
  gender_preference: r.gender_preference as Patient['gender_preference'],
  language: r.language,
  location: { lat: r.lat, lon: r.lon },
  max_distance_km: r.max_distance_km,
  notes: r.notes,
});

export class SchedulingStore {
  readonly db: Database.Database;

  constructor(readonly file: string) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  // ---------------------------------------------------------------- data set

  /** Replaces the whole content of the store with a data set, in one transaction. */
  load(data: Dataset): void {
    const db = this.db;
    db.transaction(() => {
      for (const t of [
        'tool_calls',
        'notifications',
        'approvals',
        'waitlist',
        'assignments',
        'appointments',
        'unavailability',
        'provider_slots',
        'patient_history',
        'patients',
        'providers',
      ]) {
        db.prepare(`DELETE FROM ${t}`).run();
      }
      const p = db.prepare('INSERT INTO providers VALUES (?,?,?,?,?,?,?,?)');
      for (const v of data.providers)
        p.run(
          v.id,
          v.name,
          v.specialty,
          v.gender,
          JSON.stringify(v.languages),
          v.location.lat,
          v.location.lon,
          v.experience_years,
        );
      const pa = db.prepare('INSERT INTO patients VALUES (?,?,?,?,?,?,?,?)');
      for (const v of data.patients)
        pa.run(
          v.id,
          v.name,
          v.gender_preference,
          v.language,
          v.location.lat,
          v.location.lon,
          v.max_distance_km,
          v.notes,
        );
      const h = db.prepare('INSERT INTO patient_history VALUES (?,?,?)');
      for (const v of data.history) h.run(v.patient_id, v.provider_id, v.visits);
      const s = db.prepare('INSERT INTO provider_slots VALUES (?,?,?)');
      for (const v of data.slots) s.run(v.provider_id, v.date, v.time);
      const u = db.prepare('INSERT INTO unavailability (provider_id, date, reason) VALUES (?,?,?)');
      for (const v of data.unavailability) u.run(v.provider_id, v.date, v.reason);
      const a = db.prepare('INSERT INTO appointments VALUES (?,?,?,?,?,?,?,?)');
      for (const v of data.appointments)
        a.run(v.id, v.patient_id, v.provider_id, v.provider_id, v.date, v.time, v.specialty, v.status);
    })();
  }

  // ---------------------------------------------------------------- reads

  provider(id: string): Provider | undefined {
    const r = this.db.prepare('SELECT * FROM providers WHERE id = ?').get(id) as ProviderRow | undefined;
    return r && toProvider(r);
  }

  patient(id: string): Patient | undefined {
    const r = this.db.prepare('SELECT * FROM patients WHERE id = ?').get(id) as PatientRow | undefined;
    return r && toPatient(r);
  }

  appointment(id: string): (Appointment & { original_provider_id: string }) | undefined {
    return this.db.prepare('SELECT * FROM appointments WHERE id = ?').get(id) as
      (Appointment & { original_provider_id: string }) | undefined;
  }

  previousVisits(patientId: string, providerId: string): number {
    const r = this.db
      .prepare('SELECT visits FROM patient_history WHERE patient_id = ? AND provider_id = ?')
      .get(patientId, providerId) as { visits: number } | undefined;
    return r?.visits ?? 0;
  }

  patientHistory(patientId: string): { provider_id: string; visits: number }[] {
    return this.db
      .prepare('SELECT provider_id, visits FROM patient_history WHERE patient_id = ? ORDER BY provider_id')
      .all(patientId) as { provider_id: string; visits: number }[];
  }

  unavailability(providerId: string, date: string): { reason: string } | undefined {
    return this.db
      .prepare('SELECT reason FROM unavailability WHERE provider_id = ? AND date = ?')
      .get(providerId, date) as { reason: string } | undefined;
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

  /** Appointments still booked with a provider who is unavailable that day (or on those days): the work left to do. */
  affectedAppointments(providerId: string, date: string, until?: string): Appointment[] {
    if (!this.provider(providerId)) throw new DomainRefusal(`unknown provider ${providerId}`, 'unknown_provider');
    if (until === undefined) {
      if (!this.unavailability(providerId, date)) return [];
      return this.db
        .prepare(
          "SELECT id, patient_id, provider_id, date, time, specialty, status FROM appointments WHERE provider_id = ? AND date = ? AND status = 'scheduled' ORDER BY time, id",
        )
        .all(providerId, date) as Appointment[];
    }
    return this.db
      .prepare(
        `SELECT a.id, a.patient_id, a.provider_id, a.date, a.time, a.specialty, a.status FROM appointments a
         JOIN unavailability u ON u.provider_id = a.provider_id AND u.date = a.date
         WHERE a.provider_id = ? AND a.date BETWEEN ? AND ? AND a.status = 'scheduled' ORDER BY a.date, a.time, a.id`,
      )
      .all(providerId, date, until) as Appointment[];
  }

  /** Appointments of a provider on a date (or from date through until), whatever their state. */
  appointmentCount(providerId: string, date: string, until: string = date): number {
    return (
      this.db
        .prepare('SELECT COUNT(*) AS n FROM appointments WHERE provider_id = ? AND date BETWEEN ? AND ?')
        .get(providerId, date, until) as { n: number }
    ).n;
  }

  isBooked(providerId: string, date: string, time: string): boolean {
    return (
      this.db
        .prepare("SELECT 1 FROM appointments WHERE provider_id = ? AND date = ? AND time = ? AND status = 'scheduled'")
        .get(providerId, date, time) !== undefined
    );
  }

  /** Providers who work that slot, are not unavailable that day and are not booked then. */
  availableProviders(date: string, time: string | undefined, specialty: string | undefined): Provider[] {
    const rows = this.db
      .prepare(
        `SELECT DISTINCT p.* FROM providers p JOIN provider_slots s ON s.provider_id = p.id
         WHERE s.date = @date AND (@time IS NULL OR s.time = @time) AND (@specialty IS NULL OR p.specialty = @specialty)
           AND NOT EXISTS (SELECT 1 FROM unavailability u WHERE u.provider_id = p.id AND u.date = @date)
           AND (@time IS NULL OR NOT EXISTS (SELECT 1 FROM appointments a WHERE a.provider_id = p.id AND a.date = @date AND a.time = @time AND a.status = 'scheduled'))
         ORDER BY p.id`,
      )
      .all({ date, time: time ?? null, specialty: specialty ?? null }) as ProviderRow[];
    return rows.map(toProvider);
  }

  score(
    appointmentId: string,
    providerId: string,
    weights: Weights,
  ): MatchScore & { appointment_id: string; provider_id: string } {
    const appointment = this.requireAppointment(appointmentId);
    const provider = this.provider(providerId);
    if (!provider) throw new DomainRefusal(`unknown provider ${providerId}`, 'unknown_provider');
    const patient = this.patient(appointment.patient_id)!;
    const match = scoreMatch({
      appointment,
      patient,
      provider,
      previousVisits: this.previousVisits(patient.id, provider.id),
      weights,
    });
    return { appointment_id: appointmentId, provider_id: providerId, ...match };
  }

  /** The free providers of the appointment's specialty at its slot, best first. */
  rankCandidates(
    appointmentId: string,
    policy: Policy,
    limit: number,
  ): { appointment: Appointment; candidates: Candidate[]; considered: number } {
    const appointment = this.requireAppointment(appointmentId);
    const patient = this.patient(appointment.patient_id)!;
    const providers = this.availableProviders(appointment.date, appointment.time, appointment.specialty).filter(
      (p) => p.id !== appointment.provider_id,
    );
    const ranked = providers
      .map((provider) => {
        const { score } = scoreMatch({
          appointment,
          patient,
          provider,
          previousVisits: this.previousVisits(patient.id, provider.id),
          weights: policy.weights,
        });
        const band = bandOf(score, policy.thresholds);
        return { provider_id: provider.id, score, band, approval_required: approvalRequired(band, policy.approval) };
      })
      .sort((a, b) => b.score - a.score || a.provider_id.localeCompare(b.provider_id));
    return { appointment, candidates: ranked.slice(0, limit), considered: ranked.length };
  }

  // ---------------------------------------------------------------- side effects

  /** Runs fn in one IMMEDIATE transaction; a key seen before returns its first result and writes nothing. */
  private once<T>(key: string, tool: string, fn: () => T): T {
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

  private requireAppointment(id: string): Appointment & { original_provider_id: string } {
    const a = this.appointment(id);
    if (!a) throw new DomainRefusal(`unknown appointment ${id}`, 'unknown_appointment');
    return a;
  }

  /** The appointment must still be booked with an unavailable provider: otherwise there is nothing to decide. */
  private requireAffected(id: string): Appointment & { original_provider_id: string } {
    const a = this.requireAppointment(id);
    if (a.status === 'waitlisted')
      throw new DomainRefusal(`appointment ${id} is already on the waitlist`, 'already_decided');
    if (this.unavailability(a.provider_id, a.date)) return a;
    const already = this.db
      .prepare('SELECT to_provider_id FROM assignments WHERE appointment_id = ? ORDER BY created_at DESC LIMIT 1')
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
    const info = this.db
      .prepare(
        'INSERT OR IGNORE INTO approvals (appointment_id, provider_id, run_id, decision, decided_by, note) VALUES (?,?,?,?,?,?)',
      )
      .run(appointmentId, providerId, runId, decision, decidedBy, note ?? null);
    return { recorded: info.changes === 1 };
  }

  /** Tells the patient about a change that really happened; one notification per change, whatever the retries. */
  notify(appointmentId: string, kind: 'reassigned' | 'waitlisted', ctx: ActionContext): NotificationResult {
    return this.once(ctx.idempotencyKey, 'notify_patient', () => {
      const a = this.requireAppointment(appointmentId);
      let changeRef: string;
      let message: string;
      if (kind === 'reassigned') {
        const row = this.db
          .prepare(
            'SELECT to_provider_id, from_provider_id FROM assignments WHERE appointment_id = ? ORDER BY created_at DESC LIMIT 1',
          )
          .get(appointmentId) as { to_provider_id: string; from_provider_id: string } | undefined;
        if (!row)
          throw new DomainRefusal(
            `appointment ${appointmentId} has not been reassigned: nothing to notify`,
            'nothing_to_notify',
          );
        const provider = this.provider(row.to_provider_id)!;
        changeRef = `${row.from_provider_id}->${row.to_provider_id}`;
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
      return { appointment_id: appointmentId, patient_id: a.patient_id, kind, channel: 'sms' };
    });
  }

  // ---------------------------------------------------------------- reporting

  /** Every patient's name: what trace masking replaces wherever it occurs. */
  patientNames(): string[] {
    return this.db.prepare('SELECT name FROM patients').pluck().all() as string[];
  }

  counts(): Record<string, number> {
    const c = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      providers: c('SELECT COUNT(*) n FROM providers'),
      appointments: c('SELECT COUNT(*) n FROM appointments'),
      assignments: c('SELECT COUNT(*) n FROM assignments'),
      waitlist: c('SELECT COUNT(*) n FROM waitlist'),
      notifications: c('SELECT COUNT(*) n FROM notifications'),
      approvals: c('SELECT COUNT(*) n FROM approvals'),
      tool_calls: c('SELECT COUNT(*) n FROM tool_calls'),
    };
  }
}
