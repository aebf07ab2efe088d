import type { Sql } from '../db/sql';
import type { Appointment, Patient, Provider } from './model';
import { approvalRequired, bandOf, type Policy, type Weights } from './policy';
import { DomainRefusal } from './refusals';
import type { Candidate } from './results';
import { scoreMatch, type MatchScore } from './scoring';

/**
 * What the scheduling database holds, read without changing anything: providers, patients, appointments,
 * free slots and ranked candidates, and the records the audit and the tests inspect. The connection is this
 * class's own: nothing outside the domain reaches the database but through these methods.
 */

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

/** Everything the store recorded about one appointment's reassignment: what an audit or a test inspects. */
interface AppointmentRecord {
  assignments: {
    from_provider_id: string;
    to_provider_id: string;
    run_id: string;
    decided_by: string;
    approved_by: string | null;
  }[];
  waitlist: { reason: string; run_id: string; decided_by: string }[];
  notifications: { kind: 'reassigned' | 'waitlisted'; change_ref: string }[];
  approvals: { provider_id: string; run_id: string; decision: string; decided_by: string; note: string | null }[];
}

/** A check over the whole database: rows returned are violations of the rule. */
export interface AuditRule {
  rule: string;
  /** One query for both databases, or one for each where they differ. */
  sql: string | Record<Sql['dialect'], string>;
}

export class SchedulingReads {
  constructor(protected readonly db: Sql) {}

  /** The connection itself, for tables beside the domain's in the same database (the API's log and keys). */
  get connection(): Sql {
    return this.db;
  }

  /** Where the data is (a file path, or a PostgreSQL URL without its password). */
  get location(): string {
    return this.db.location;
  }

  /** Queries sent and time spent in the database by this store (the bench reports them per appointment). */
  get sqlStats(): Readonly<{ roundTrips: number; timeMs: number }> {
    return this.db.stats;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** The schema migrations applied to the database, by number (src/db/schema.ts). */
  async appliedMigrations(): Promise<number[]> {
    const rows = await this.db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    return rows.map((r) => r.version);
  }

  async provider(id: string): Promise<Provider | undefined> {
    const r = await this.db.get<ProviderRow>('SELECT * FROM providers WHERE id = ?', [id]);
    return r && toProvider(r);
  }

  async patient(id: string): Promise<Patient | undefined> {
    const r = await this.db.get<PatientRow>('SELECT * FROM patients WHERE id = ?', [id]);
    return r && toPatient(r);
  }

  appointment(id: string): Promise<(Appointment & { original_provider_id: string }) | undefined> {
    return this.db.get('SELECT * FROM appointments WHERE id = ?', [id]);
  }

  async previousVisits(patientId: string, providerId: string): Promise<number> {
    const r = await this.db.get<{ visits: number }>(
      'SELECT visits FROM patient_history WHERE patient_id = ? AND provider_id = ?',
      [patientId, providerId],
    );
    return r?.visits ?? 0;
  }

  /** Every visit count of a patient, by provider (one query where a ranking needs them all). */
  private async visitsOf(patientId: string): Promise<Map<string, number>> {
    const rows = await this.patientHistory(patientId);
    return new Map(rows.map((r) => [r.provider_id, r.visits]));
  }

  patientHistory(patientId: string): Promise<{ provider_id: string; visits: number }[]> {
    return this.db.all('SELECT provider_id, visits FROM patient_history WHERE patient_id = ? ORDER BY provider_id', [
      patientId,
    ]);
  }

  unavailability(providerId: string, date: string): Promise<{ reason: string } | undefined> {
    return this.db.get('SELECT reason FROM unavailability WHERE provider_id = ? AND date = ?', [providerId, date]);
  }

  /** Appointments still booked with a provider who is unavailable that day (or on those days): the work left to do. */
  async affectedAppointments(providerId: string, date: string, until?: string): Promise<Appointment[]> {
    if (!(await this.provider(providerId)))
      throw new DomainRefusal(`unknown provider ${providerId}`, 'unknown_provider');
    if (until === undefined) {
      if (!(await this.unavailability(providerId, date))) return [];
      return this.db.all(
        "SELECT id, patient_id, provider_id, date, time, specialty, status FROM appointments WHERE provider_id = ? AND date = ? AND status = 'scheduled' ORDER BY time, id",
        [providerId, date],
      );
    }
    return this.db.all(
      `SELECT a.id, a.patient_id, a.provider_id, a.date, a.time, a.specialty, a.status FROM appointments a
         JOIN unavailability u ON u.provider_id = a.provider_id AND u.date = a.date
         WHERE a.provider_id = ? AND a.date BETWEEN ? AND ? AND a.status = 'scheduled' ORDER BY a.date, a.time, a.id`,
      [providerId, date, until],
    );
  }

  /** Appointments of a provider on a date (or from date through until), whatever their state. */
  async appointmentCount(providerId: string, date: string, until: string = date): Promise<number> {
    const r = await this.db.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM appointments WHERE provider_id = ? AND date BETWEEN ? AND ?',
      [providerId, date, until],
    );
    return r!.n;
  }

  /** The appointments still booked with a provider on a date, whether or not the absence is recorded yet. */
  scheduledAppointments(providerId: string, date: string): Promise<Appointment[]> {
    return this.db.all(
      "SELECT id, patient_id, provider_id, date, time, specialty, status FROM appointments WHERE provider_id = ? AND date = ? AND status = 'scheduled' ORDER BY time, id",
      [providerId, date],
    );
  }

  /** Appointments still booked with a provider on a date (or from date through until): what a run could move. */
  async scheduledCount(providerId: string, date: string, until: string = date): Promise<number> {
    const r = await this.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM appointments WHERE provider_id = ? AND date BETWEEN ? AND ? AND status = 'scheduled'",
      [providerId, date, until],
    );
    return r!.n;
  }

  async isBooked(providerId: string, date: string, time: string): Promise<boolean> {
    const r = await this.db.get(
      "SELECT 1 AS one FROM appointments WHERE provider_id = ? AND date = ? AND time = ? AND status = 'scheduled'",
      [providerId, date, time],
    );
    return r !== undefined;
  }

  /** Providers who work that slot, are not unavailable that day and are not booked then. */
  async availableProviders(date: string, time: string | undefined, specialty: string | undefined): Promise<Provider[]> {
    const rows = await this.db.all<ProviderRow>(
      `SELECT DISTINCT p.* FROM providers p JOIN provider_slots s ON s.provider_id = p.id
         WHERE s.date = @date AND (CAST(@time AS TEXT) IS NULL OR s.time = @time)
           AND (CAST(@specialty AS TEXT) IS NULL OR p.specialty = @specialty)
           AND NOT EXISTS (SELECT 1 FROM unavailability u WHERE u.provider_id = p.id AND u.date = @date)
           AND (CAST(@time AS TEXT) IS NULL OR NOT EXISTS (SELECT 1 FROM appointments a WHERE a.provider_id = p.id AND a.date = @date AND a.time = @time AND a.status = 'scheduled'))
         ORDER BY p.id`,
      { date, time: time ?? null, specialty: specialty ?? null },
    );
    return rows.map(toProvider);
  }

  async score(
    appointmentId: string,
    providerId: string,
    weights: Weights,
  ): Promise<MatchScore & { appointment_id: string; provider_id: string }> {
    const appointment = await this.requireAppointment(appointmentId);
    const provider = await this.provider(providerId);
    if (!provider) throw new DomainRefusal(`unknown provider ${providerId}`, 'unknown_provider');
    const patient = (await this.patient(appointment.patient_id))!;
    const match = scoreMatch({
      appointment,
      patient,
      provider,
      previousVisits: await this.previousVisits(patient.id, provider.id),
      weights,
    });
    return { appointment_id: appointmentId, provider_id: providerId, ...match };
  }

  /** The free providers of the appointment's specialty at its slot, best first. */
  async rankCandidates(
    appointmentId: string,
    policy: Policy,
    limit: number,
  ): Promise<{ appointment: Appointment; candidates: Candidate[]; considered: number }> {
    const appointment = await this.requireAppointment(appointmentId);
    const patient = (await this.patient(appointment.patient_id))!;
    // Never the provider it is booked with, nor one whose offer of this slot the patient turned down.
    const turnedDown = new Set(
      (
        await this.db.all<{ provider_id: string }>(
          "SELECT provider_id FROM offers WHERE appointment_id = ? AND status IN ('declined','no_answer')",
          [appointmentId],
        )
      ).map((r) => r.provider_id),
    );
    const providers = (await this.availableProviders(appointment.date, appointment.time, appointment.specialty)).filter(
      (p) => p.id !== appointment.provider_id && !turnedDown.has(p.id),
    );
    const visits = await this.visitsOf(patient.id);
    const ranked = providers
      .map((provider) => {
        const { score } = scoreMatch({
          appointment,
          patient,
          provider,
          previousVisits: visits.get(provider.id) ?? 0,
          weights: policy.weights,
        });
        const band = bandOf(score, policy.thresholds);
        return { provider_id: provider.id, score, band, approval_required: approvalRequired(band, policy.approval) };
      })
      .sort((a, b) => b.score - a.score || a.provider_id.localeCompare(b.provider_id));
    return { appointment, candidates: ranked.slice(0, limit), considered: ranked.length };
  }

  protected async requireAppointment(id: string): Promise<Appointment & { original_provider_id: string }> {
    const a = await this.appointment(id);
    if (!a) throw new DomainRefusal(`unknown appointment ${id}`, 'unknown_appointment');
    return a;
  }

  /** Assignments, waitlist entries, notifications and approvals recorded for one appointment, oldest first. */
  async appointmentRecord(appointmentId: string): Promise<AppointmentRecord> {
    const all = <T>(sql: string) => this.db.all<T>(sql, [appointmentId]);
    // Rows written in the same millisecond keep the order they were written in (SQLite's rowid, PostgreSQL's ctid).
    const tie = this.db.dialect === 'sqlite' ? 'rowid' : 'ctid';
    return {
      assignments: await all(
        `SELECT from_provider_id, to_provider_id, run_id, decided_by, approved_by FROM assignments WHERE appointment_id = ? ORDER BY created_at, ${tie}`,
      ),
      waitlist: await all(
        'SELECT reason, run_id, decided_by FROM waitlist WHERE appointment_id = ? ORDER BY created_at',
      ),
      notifications: await all('SELECT kind, change_ref FROM notifications WHERE appointment_id = ? ORDER BY id'),
      approvals: await all(
        `SELECT provider_id, run_id, decision, decided_by, note FROM approvals WHERE appointment_id = ? ORDER BY created_at, ${tie}`,
      ),
    };
  }

  /** Runs audit rules (read-only queries over the whole database) and lists each row that breaks one. */
  async findViolations(rules: readonly AuditRule[]): Promise<{ rule: string; detail: string }[]> {
    const found: { rule: string; detail: string }[] = [];
    for (const { rule, sql } of rules) {
      const text = typeof sql === 'string' ? sql : sql[this.db.dialect];
      for (const row of await this.db.all(text)) found.push({ rule, detail: JSON.stringify(row) });
    }
    return found;
  }

  /** Every patient's name: what trace masking replaces wherever it occurs. */
  async patientNames(): Promise<string[]> {
    return (await this.db.all<{ name: string }>('SELECT name FROM patients')).map((r) => r.name);
  }

  /** Every patient's id: what trace masking pseudonymises wherever it occurs. */
  async patientIds(): Promise<string[]> {
    return (await this.db.all<{ id: string }>('SELECT id FROM patients')).map((r) => r.id);
  }

  async counts(): Promise<Record<string, number>> {
    const tables = ['providers', 'appointments', 'assignments', 'waitlist', 'notifications', 'approvals', 'tool_calls'];
    const row = await this.db.get<Record<string, number>>(
      `SELECT ${tables.map((t) => `(SELECT COUNT(*) FROM ${t}) AS ${t}`).join(', ')}`,
    );
    return row!;
  }
}
