/**
 * The scheduling database as the store sees it: SQL with `?` (or `@name`) parameters, rows as objects, and
 * transactions, whichever database holds the data. Two implementations: SQLite (one file, the embedded default)
 * and PostgreSQL (several worker processes on several hosts). The store's SQL is written once, in the dialect both
 * understand (`INSERT … ON CONFLICT DO NOTHING`, `CASE WHEN` in sums, `CAST(@x AS TEXT) IS NULL`); the few places
 * that differ ask `dialect`.
 */

export type Dialect = 'sqlite' | 'postgres';

/** Positional parameters for `?`, or named ones for `@name`. */
export type Params = readonly unknown[] | Readonly<Record<string, unknown>>;

export interface RunResult {
  /** Rows inserted, updated or deleted. */
  changes: number;
}

/** Queries sent and the time spent waiting for their answers: the bench's "round trips and time in the database". */
export interface SqlStats {
  roundTrips: number;
  timeMs: number;
}

export interface Sql {
  readonly dialect: Dialect;
  /** Where the data is, with no secret in it: a file path, or a URL without its password. */
  readonly location: string;
  readonly stats: SqlStats;
  all<T>(sql: string, params?: Params): Promise<T[]>;
  get<T>(sql: string, params?: Params): Promise<T | undefined>;
  run(sql: string, params?: Params): Promise<RunResult>;
  /** Several statements, no parameters (the schema's migrations). */
  exec(script: string): Promise<void>;
  /**
   * Runs fn in one transaction: every query fn makes (through this object, in its async flow) is in it. Nested
   * calls are savepoints. SQLite: BEGIN IMMEDIATE (one writer at a time). PostgreSQL: SERIALIZABLE, retried when
   * the database reports a serialization failure, so fn must only touch the database (it may run more than once).
   */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Runs fn while this process holds the database-wide lock of `key` (PostgreSQL: a session advisory lock on a
   * connection of its own; SQLite: fn as is, its write lock already lets one writer in at a time). Migrations use it.
   */
  withLock<T>(key: number, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The database cannot be used as configured (unreachable, wrong credentials, a schema newer than this program). */
export class DatabaseUnavailable extends Error {
  override name = 'DatabaseUnavailable';
}

/**
 * Rewrites `?` and `@name` parameters as PostgreSQL's `$n`, outside quoted strings. A named parameter used twice
 * is one `$n`.
 */
export function toNumberedParams(sql: string, params: Params | undefined): { text: string; values: unknown[] } {
  const named = params !== undefined && !Array.isArray(params);
  const values: unknown[] = named ? [] : [...((params as readonly unknown[] | undefined) ?? [])];
  const slots = new Map<string, number>();
  let positional = 0;
  let text = '';
  let quote: string | undefined;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!;
    if (quote) {
      text += ch;
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      text += ch;
    } else if (ch === '?' && !named) {
      positional += 1;
      text += `$${positional}`;
    } else if (ch === '@' && named && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const name = /^[A-Za-z_]\w*/.exec(sql.slice(i + 1))![0];
      let slot = slots.get(name);
      if (slot === undefined) {
        const record = params as Record<string, unknown>;
        if (!(name in record)) throw new Error(`no value for the SQL parameter @${name}`);
        values.push(record[name]);
        slot = values.length;
        slots.set(name, slot);
      }
      text += `$${slot}`;
      i += name.length;
    } else text += ch;
  }
  if (!named && positional !== values.length)
    throw new Error(`the SQL has ${positional} parameter(s), ${values.length} value(s) were given`);
  return { text, values };
}

/** A database URL with its password replaced: what may be printed or logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'an unparseable URL';
  }
}
