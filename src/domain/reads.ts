import type Database from 'better-sqlite3';
import { openSchedulingDatabase } from './database';
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
interface AuditRule {
  rule: string;
  sql: string;
}

export class SchedulingReads {
  protected readonly db: Database.Database;

  constructor(readonly file: string) {
    this.db = openSchedulingDatabase(file);
  }

  close(): void {
    this.db.close();
  }

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

  /** The appointments still booked with a provider on a date, whether or not the absence is recorded yet. */
  scheduledAppointments(providerId: string, date: string): Appointment[] {
    return this.db
      .prepare(
        "SELECT id, patient_id, provider_id, date, time, specialty, status FROM appointments WHERE provider_id = ? AND date = ? AND status = 'scheduled' ORDER BY time, id",
      )
      .all(providerId, date) as Appointment[];
  }

  /** Appointments still booked with a provider on a date (or from date through until): what a run could move. */
  scheduledCount(providerId: string, date: string, until: string = date): number {
    return (
      this.db
        .prepare(
          "SELECT COUNT(*) AS n FROM appointments WHERE provider_id = ? AND date BETWEEN ? AND ? AND status = 'scheduled'",
        )
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
    // Never the provider it is booked with, nor one whose offer of this slot the patient turned down.
    const turnedDown = new Set(
      this.db
        .prepare("SELECT provider_id FROM offers WHERE appointment_id = ? AND status IN ('declined','no_answer')")
        .pluck()
        .all(appointmentId) as string[],
    );
    const providers = this.availableProviders(appointment.date, appointment.time, appointment.specialty).filter(
      (p) => p.id !== appointment.provider_id && !turnedDown.has(p.id),
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

  protected requireAppointment(id: string): Appointment & { original_provider_id: string } {
    const a = this.appointment(id);
    if (!a) throw new DomainRefusal(`unknown appointment ${id}`, 'unknown_appointment');
    return a;
  }

  /** Assignments, waitlist entries, notifications and approvals recorded for one appointment, oldest first. */
  appointmentRecord(appointmentId: string): AppointmentRecord {
    const all = <T>(sql: string) => this.db.prepare(sql).all(appointmentId) as T[];
    return {
      assignments: all(
        'SELECT from_provider_id, to_provider_id, run_id, decided_by, approved_by FROM assignments WHERE appointment_id = ? ORDER BY created_at, rowid',
      ),
      waitlist: all('SELECT reason, run_id, decided_by FROM waitlist WHERE appointment_id = ? ORDER BY created_at'),
      notifications: all('SELECT kind, change_ref FROM notifications WHERE appointment_id = ? ORDER BY id'),
      approvals: all(
        'SELECT provider_id, run_id, decision, decided_by, note FROM approvals WHERE appointment_id = ? ORDER BY created_at, rowid',
      ),
    };
  }

  /** Runs audit rules (read-only queries over the whole database) and lists each row that breaks one. */
  findViolations(rules: readonly AuditRule[]): { rule: string; detail: string }[] {
    return rules.flatMap(({ rule, sql }) =>
      this.db
        .prepare(sql)
        .all()
        .map((row) => ({ rule, detail: JSON.stringify(row) })),
    );
  }

  /** Every patient's name: what trace masking replaces wherever it occurs. */
  patientNames(): string[] {
    return this.db.prepare('SELECT name FROM patients').pluck().all() as string[];
  }

  /** Every patient's id: what trace masking pseudonymises wherever it occurs. */
  patientIds(): string[] {
    return this.db.prepare('SELECT id FROM patients').pluck().all() as string[];
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
