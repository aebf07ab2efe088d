import { LATEST_VERSION, MIGRATIONS, migrationSql } from './schema';
import { DatabaseUnavailable, type Sql } from './sql';

/**
 * Brings a database to the schema this program knows, one numbered migration at a time (src/db/schema.ts). Two
 * processes starting at once do not both migrate: on PostgreSQL each takes a session advisory lock before it
 * even reads the applied versions; on SQLite, BEGIN IMMEDIATE lets one writer in and each reads the applied
 * versions again inside its transaction. A
 * database whose schema is newer than this program is refused: an older program must not write into it.
 */

/** The lock id of migrations (PostgreSQL advisory locks are numbers): any constant the product uses only here. */
const MIGRATION_LOCK = 7_210_421;

const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`;

export async function schemaVersion(db: Sql): Promise<number> {
  const row = await db.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  return row?.v ?? 0;
}

export async function migrate(db: Sql): Promise<{ from: number; to: number }> {
  // The whole of it under one lock, held by a session of its own: each process reads the applied versions only
  // once the one before it has finished (a transaction's snapshot would be taken before the lock is granted).
  return db.withLock(MIGRATION_LOCK, async () => {
    await db.exec(BOOKKEEPING);
    const from = await schemaVersion(db);
    if (from > LATEST_VERSION)
      throw new DatabaseUnavailable(
        `the scheduling database at ${db.location} has schema version ${from}, newer than this program's ${LATEST_VERSION}: run a newer version of the program against it`,
      );
    if (from === LATEST_VERSION) return { from, to: from };
    await db.transaction(async () => {
      let applied = await schemaVersion(db);
      if (applied === 0 && db.dialect === 'sqlite' && (await isUnversionedSqlite(db))) {
        await baselineUnversioned(db);
        applied = 1;
      }
      for (const m of MIGRATIONS.filter((x) => x.version > applied)) {
        await db.exec(migrationSql(m, db.dialect));
        await db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?,?,?)', [
          m.version,
          m.name,
          new Date().toISOString(),
        ]);
      }
    });
    return { from, to: LATEST_VERSION };
  });
}

/** A SQLite file written before migrations were numbered: it has the tables, and no record of versions. */
async function isUnversionedSqlite(db: Sql): Promise<boolean> {
  return (await db.get("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'providers'")) !== undefined;
}

/**
 * Once, for such a file: the changes made in place before migrations were numbered (`runs.scope`, and
 * `assignments` rebuilt with `released_at`, since SQLite cannot change a primary key in place), then whatever
 * tables it still lacks, and it is recorded at version 1.
 */
async function baselineUnversioned(db: Sql): Promise<void> {
  const columnsOf = async (table: string) =>
    (await db.all<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`)).map((r) => r.name);
  const runColumns = await columnsOf('runs');
  if (runColumns.length > 0 && !runColumns.includes('scope')) await db.exec('ALTER TABLE runs ADD COLUMN scope TEXT');
  const columns = await columnsOf('assignments');
  if (columns.length > 0 && !columns.includes('released_at')) {
    const kept = columns.join(', ');
    await db.exec(`ALTER TABLE assignments RENAME TO assignments_before_offers;
      CREATE TABLE assignments (
        appointment_id TEXT NOT NULL REFERENCES appointments(id), from_provider_id TEXT NOT NULL, to_provider_id TEXT NOT NULL,
        date TEXT NOT NULL, time TEXT NOT NULL, score INTEGER NOT NULL, band TEXT NOT NULL, approved_by TEXT,
        run_id TEXT NOT NULL, decided_by TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), released_at TEXT);
      INSERT INTO assignments (${kept}) SELECT ${kept} FROM assignments_before_offers;
      DROP TABLE assignments_before_offers;`);
  }
  const v1 = migrationSql(MIGRATIONS[0]!, 'sqlite').replace(
    /CREATE (UNIQUE )?(TABLE|INDEX) /g,
    (_, unique: string | undefined, what: string) => `CREATE ${unique ?? ''}${what} IF NOT EXISTS `,
  );
  await db.exec(v1);
  await db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?,?,?)', [
    1,
    `${MIGRATIONS[0]!.name} (baseline of an unversioned file)`,
    new Date().toISOString(),
  ]);
}
