import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Dataset } from './model';

/**
 * The scheduling database: one SQLite file, its tables, and the database-level guards (a partial unique index
 * makes a double booking impossible, whatever the code above it does).
 */

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
  -- Set when the patient declined the slot or did not answer: the slot went back, the row stays as history.
  released_at TEXT);
-- One live assignment per appointment and provider it was moved from (a released one no longer counts).
CREATE UNIQUE INDEX IF NOT EXISTS one_live_assignment ON assignments(appointment_id, from_provider_id) WHERE released_at IS NULL;
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
-- Each reassignment run over a provider's days: started, then finished with its status and what it left undecided.
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, provider_id TEXT NOT NULL, date TEXT NOT NULL, until TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'running',
  -- The appointments a run was limited to (a re-offer's one), as a JSON array; NULL: all of the provider's days.
  scope TEXT,
  started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), finished_at TEXT);
CREATE TABLE IF NOT EXISTS run_undecided (
  run_id TEXT NOT NULL, appointment_id TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (run_id, appointment_id));
-- A human is being asked about an appointment: at most one open request per appointment, across runs, until
-- it is settled or its deadline passes (a run that died cannot block the appointment for longer).
CREATE TABLE IF NOT EXISTS approval_requests (
  appointment_id TEXT NOT NULL, run_id TEXT NOT NULL, provider_id TEXT NOT NULL, deadline TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','closed')),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  PRIMARY KEY (appointment_id, run_id));
-- The prompts each run pinned, and its path: what the outcomes of its decisions are attributed to.
CREATE TABLE IF NOT EXISTS run_prompts (
  run_id TEXT PRIMARY KEY, mode TEXT NOT NULL, prompt_name TEXT NOT NULL, prompt_label TEXT NOT NULL,
  prompt_version INTEGER NOT NULL, scoring_label TEXT NOT NULL, scoring_version INTEGER NOT NULL,
  experiment TEXT, arm TEXT, bundle_json TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
-- Each new slot a patient was told about is an offer, answered accepted or declined, or no_answer by its deadline.
CREATE TABLE IF NOT EXISTS offers (
  appointment_id TEXT NOT NULL REFERENCES appointments(id), offer_no INTEGER NOT NULL CHECK (offer_no >= 1),
  provider_id TEXT NOT NULL, from_provider_id TEXT NOT NULL, score INTEGER NOT NULL, band TEXT NOT NULL,
  run_id TEXT NOT NULL, decided_by TEXT NOT NULL, assignment_key TEXT NOT NULL UNIQUE,
  -- The follow-up workflow that waits for the answer.
  follow_up_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','accepted','declined','no_answer')),
  reason TEXT, answered_by TEXT, answered_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  PRIMARY KEY (appointment_id, offer_no));
CREATE UNIQUE INDEX IF NOT EXISTS one_open_offer ON offers(appointment_id) WHERE status = 'open';
-- A patient's score (1-5) of the visit, kept with the offer (and so the decision) that produced the slot.
CREATE TABLE IF NOT EXISTS satisfaction (
  appointment_id TEXT PRIMARY KEY REFERENCES appointments(id), offer_no INTEGER NOT NULL,
  score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5), run_id TEXT NOT NULL, recorded_by TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  FOREIGN KEY (appointment_id, offer_no) REFERENCES offers(appointment_id, offer_no));
-- What a head of department must see. (kind, ref) is an escalation's identity: raising it again changes nothing.
CREATE TABLE IF NOT EXISTS escalations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('approval_rejected','approval_timed_out','second_decline','offers_exhausted','waitlisted_soon','fallback_majority')),
  ref TEXT NOT NULL, appointment_id TEXT, run_id TEXT, reason TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','acknowledged','resolved')),
  acknowledged_by TEXT, acknowledged_at TEXT, resolved_by TEXT, resolved_at TEXT, note TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  UNIQUE (kind, ref));
-- A label of a prompt that resolves as another label (production follows conservative), set by the adaptation
-- policy or by a person; a pinned route is never moved by the policy.
CREATE TABLE IF NOT EXISTS label_routes (
  prompt TEXT NOT NULL, label TEXT NOT NULL, follows TEXT NOT NULL, pinned_by TEXT, pinned_at TEXT,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), PRIMARY KEY (prompt, label));
-- Every move of a label route, with why and who (the policy's workflow id, or a person).
CREATE TABLE IF NOT EXISTS label_route_moves (
  id INTEGER PRIMARY KEY AUTOINCREMENT, prompt TEXT NOT NULL, label TEXT NOT NULL, from_label TEXT,
  to_label TEXT NOT NULL, reason TEXT NOT NULL, figures_json TEXT, moved_by TEXT NOT NULL,
  idempotency_key TEXT UNIQUE, created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
-- One row per side-effecting call that succeeded: a retry with the same key returns this result and writes nothing.
CREATE TABLE IF NOT EXISTS tool_calls (
  idempotency_key TEXT PRIMARY KEY, tool TEXT NOT NULL, result_json TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
`;

/** Opens (and creates, if need be) the scheduling database with the settings every process uses. */
export function openSchedulingDatabase(file: string): Database.Database {
  if (file !== ':memory:') {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    // Patient data: readable by its owner only. SQLite gives its -wal and -shm files the same mode.
    if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600));
  }
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 10000');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  migrate(db);
  db.exec(SCHEMA);
  return db;
}

/**
 * Brings a database written by an earlier version to the current shape, in one transaction, before the schema
 * above is applied. Until then `assignments` allowed one row per appointment and provider moved from, ever; a
 * patient who declines a slot makes the appointment movable again, so the table is rebuilt with `released_at`
 * and a partial unique index (SQLite cannot change a primary key in place).
 */
function migrate(db: Database.Database): void {
  const runColumns = db.prepare("SELECT name FROM pragma_table_info('runs')").pluck().all() as string[];
  if (runColumns.length > 0 && !runColumns.includes('scope')) db.exec('ALTER TABLE runs ADD COLUMN scope TEXT');
  const columns = db.prepare("SELECT name FROM pragma_table_info('assignments')").pluck().all() as string[];
  if (columns.length === 0 || columns.includes('released_at')) return;
  const kept = columns.join(', ');
  db.transaction(() => {
    db.exec(`ALTER TABLE assignments RENAME TO assignments_before_offers;
      CREATE TABLE assignments (
        appointment_id TEXT NOT NULL REFERENCES appointments(id), from_provider_id TEXT NOT NULL, to_provider_id TEXT NOT NULL,
        date TEXT NOT NULL, time TEXT NOT NULL, score INTEGER NOT NULL, band TEXT NOT NULL, approved_by TEXT,
        run_id TEXT NOT NULL, decided_by TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), released_at TEXT);
      INSERT INTO assignments (${kept}) SELECT ${kept} FROM assignments_before_offers;
      DROP TABLE assignments_before_offers;`);
  })();
}

/** Replaces the whole content of the database with a data set, in one transaction. */
export function loadDataset(db: Database.Database, data: Dataset): void {
  db.transaction(() => {
    for (const t of [
      'label_route_moves',
      'label_routes',
      'escalations',
      'satisfaction',
      'offers',
      'run_prompts',
      'approval_requests',
      'run_undecided',
      'runs',
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
      pa.run(v.id, v.name, v.gender_preference, v.language, v.location.lat, v.location.lon, v.max_distance_km, v.notes);
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
