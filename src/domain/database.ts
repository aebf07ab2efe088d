import type { Sql } from '../db/sql';
import type { Dataset } from './model';

/**
 * Loading a data set into the scheduling database (the schema itself is in src/db/schema.ts, applied by the
 * migrations when a store opens).
 */

/** The tables a data set replaces, children before parents. The API's own tables (its log, its keys) stay. */
const DATA_TABLES = [
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
];

/** Inserts rows many at a time (one statement per few hundred rows: fewer round trips to a database server). */
export async function insertRows(db: Sql, table: string, columns: readonly string[], rows: readonly unknown[][]) {
  const perStatement = Math.max(1, Math.floor(4000 / columns.length));
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    const tuple = `(${columns.map(() => '?').join(',')})`;
    await db.run(
      `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${chunk.map(() => tuple).join(',')}`,
      chunk.flat(),
    );
  }
}

/** Replaces the whole content of the database with a data set, in one transaction. */
export function loadDataset(db: Sql, data: Dataset): Promise<void> {
  return db.transaction(async () => {
    for (const t of DATA_TABLES) await db.run(`DELETE FROM ${t}`);
    await insertRows(
      db,
      'providers',
      ['id', 'name', 'specialty', 'gender', 'languages', 'lat', 'lon', 'experience_years'],
      data.providers.map((v) => [
        v.id,
        v.name,
        v.specialty,
        v.gender,
        JSON.stringify(v.languages),
        v.location.lat,
        v.location.lon,
        v.experience_years,
      ]),
    );
    await insertRows(
      db,
      'patients',
      ['id', 'name', 'gender_preference', 'language', 'lat', 'lon', 'max_distance_km', 'notes'],
      data.patients.map((v) => [
        v.id,
        v.name,
        v.gender_preference,
        v.language,
        v.location.lat,
        v.location.lon,
        v.max_distance_km,
        v.notes,
      ]),
    );
    await insertRows(
      db,
      'patient_history',
      ['patient_id', 'provider_id', 'visits'],
      data.history.map((v) => [v.patient_id, v.provider_id, v.visits]),
    );
    await insertRows(
      db,
      'provider_slots',
      ['provider_id', 'date', 'time'],
      data.slots.map((v) => [v.provider_id, v.date, v.time]),
    );
    await insertRows(
      db,
      'unavailability',
      ['provider_id', 'date', 'reason'],
      data.unavailability.map((v) => [v.provider_id, v.date, v.reason]),
    );
    await insertRows(
      db,
      'appointments',
      ['id', 'patient_id', 'provider_id', 'original_provider_id', 'date', 'time', 'specialty', 'status'],
      data.appointments.map((v) => [
        v.id,
        v.patient_id,
        v.provider_id,
        v.provider_id,
        v.date,
        v.time,
        v.specialty,
        v.status,
      ]),
    );
  });
}
