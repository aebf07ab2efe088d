import fs from 'node:fs';
import type { AppConfig } from '../config';
import { migrate } from './migrate';
import { PostgresSql, describePgError } from './postgres';
import { DatabaseUnavailable, redactUrl, type Sql } from './sql';
import { openSharedSqlite } from './sqlite';

/** Where the scheduling data is: a SQLite file (the embedded default), or a PostgreSQL database. */
export type DatabaseTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** The PostgreSQL pool's settings (from the configuration); SQLite ignores them. */
export type PoolSettings = Pick<AppConfig, 'PG_POOL_SIZE' | 'PG_STATEMENT_TIMEOUT_MS' | 'PG_APPLICATION_NAME'>;

const DEFAULT_POOL: PoolSettings = {
  PG_POOL_SIZE: 10,
  PG_STATEMENT_TIMEOUT_MS: 30_000,
  PG_APPLICATION_NAME: 'reassignment',
};

/** The configured database: DATABASE_URL when set, otherwise the SQLite file at DB_PATH. */
export function targetOf(config: Pick<AppConfig, 'DB_PATH' | 'DATABASE_URL'>): DatabaseTarget {
  return config.DATABASE_URL
    ? { kind: 'postgres', url: config.DATABASE_URL }
    : { kind: 'sqlite', file: config.DB_PATH };
}

/** `sqlite:<file>`, `postgres://…` (or `postgresql://…`), or a plain file path (SQLite). */
export function parseTarget(spec: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//.test(spec)) return { kind: 'postgres', url: spec };
  if (spec.startsWith('sqlite:')) {
    const file = spec.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!file) throw new DatabaseUnavailable('sqlite: needs a file, e.g. sqlite:data/scheduling.db');
    return { kind: 'sqlite', file };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec))
    throw new DatabaseUnavailable(`unsupported database URL scheme in ${redactUrl(spec)}: use postgres:// or sqlite:`);
  return { kind: 'sqlite', file: spec };
}

/** A target, or a plain file path (SQLite), as the store's callers may give it. */
export function asTarget(target: DatabaseTarget | string): DatabaseTarget {
  return typeof target === 'string' ? { kind: 'sqlite', file: target } : target;
}

/**
 * The environment that points a process (a worker, a config) at a database. For a SQLite file DATABASE_URL is
 * emptied (empty is unset), so that a process that inherits another's environment does not go elsewhere.
 */
export function targetEnv(target: DatabaseTarget): Record<string, string> {
  return target.kind === 'sqlite' ? { DB_PATH: target.file, DATABASE_URL: '' } : { DATABASE_URL: target.url };
}

/** A target as it may be printed (no password). */
export function describeTarget(target: DatabaseTarget): string {
  return target.kind === 'sqlite' ? `SQLite ${target.file}` : `PostgreSQL ${redactUrl(target.url)}`;
}

/** Whether there is anything to open without creating it (a SQLite file that is not there yet is not). */
export function targetExists(target: DatabaseTarget): boolean {
  return target.kind === 'postgres' || target.file === ':memory:' || fs.existsSync(target.file);
}

/**
 * Opens the database and brings its schema up to date. Refused with one clear line (DatabaseUnavailable) when it
 * cannot be reached, the credentials are wrong, or its schema is newer than this program; nothing is written then.
 */
export async function openSql(target: DatabaseTarget, pool: Partial<PoolSettings> = {}): Promise<Sql> {
  const settings = { ...DEFAULT_POOL, ...pool };
  let sql: Sql;
  if (target.kind === 'sqlite') {
    try {
      sql = openSharedSqlite(target.file);
    } catch (err) {
      throw new DatabaseUnavailable(`cannot open the SQLite database ${target.file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  } else {
    const pg = new PostgresSql({
      url: target.url,
      poolSize: settings.PG_POOL_SIZE,
      statementTimeoutMs: settings.PG_STATEMENT_TIMEOUT_MS,
      applicationName: settings.PG_APPLICATION_NAME,
    });
    try {
      await pg.check();
    } catch (err) {
      await pg.close().catch(() => undefined);
      throw err;
    }
    sql = pg;
  }
  try {
    await migrate(sql);
  } catch (err) {
    await sql.close().catch(() => undefined);
    if (err instanceof DatabaseUnavailable) throw err;
    const detail = target.kind === 'postgres' ? describePgError(err) : (err as Error).message;
    throw new DatabaseUnavailable(`cannot prepare the scheduling database (${describeTarget(target)}): ${detail}`, {
      cause: err,
    });
  }
  return sql;
}

/** The configuration, pointed at another database (a test's, an eval scenario's): the one setting that names it. */
export function withTarget<C extends Pick<AppConfig, 'DB_PATH' | 'DATABASE_URL'>>(
  config: C,
  target: DatabaseTarget,
): C {
  return target.kind === 'sqlite'
    ? { ...config, DB_PATH: target.file, DATABASE_URL: undefined }
    : { ...config, DATABASE_URL: target.url };
}
