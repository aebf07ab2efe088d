import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import {
  DatabaseUnavailable,
  redactUrl,
  toNumberedParams,
  type Params,
  type RunResult,
  type Sql,
  type SqlStats,
} from './sql';

/**
 * The PostgreSQL side of `Sql`, on a `pg` pool. Several worker processes share the database, so the store's
 * invariants hold across them:
 *
 * - in the schema where a database can: unique constraints (one live booking per slot, one outcome per
 *   appointment, one notification per change, one row per idempotency key) and foreign keys;
 * - in transactions where it cannot (a check, then a write): every transaction is SERIALIZABLE. The store's
 *   checks are reads followed by writes, written once for both databases; under SERIALIZABLE, PostgreSQL
 *   guarantees the outcome of concurrent transactions is that of some serial order, exactly what SQLite's one
 *   writer gives, without listing which rows each check must lock (row locks would, and one forgotten `FOR UPDATE`
 *   would be a double booking). The price is that a transaction may be refused with a serialization failure
 *   (40001) or a deadlock (40P01): it is run again, up to 10 times with a short random back-off, and a unique
 *   violation (23505) caused by a concurrent insert twice, after which the store's own check answers.
 */

export interface PostgresOptions {
  url: string;
  poolSize: number;
  statementTimeoutMs: number;
  applicationName: string;
}

const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 10;
const UNIQUE_RETRIES = 2;

/** PostgreSQL's int8 (COUNT, SUM) and numeric (AVG) arrive as strings by default: as numbers here, as in SQLite. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (v: string) => Number(v);
    if (oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

interface Scope {
  client: pg.PoolClient;
  depth: number;
}

export class PostgresSql implements Sql {
  readonly dialect = 'postgres' as const;
  readonly stats: SqlStats = { roundTrips: 0, timeMs: 0 };
  readonly location: string;
  private readonly pool: pg.Pool;
  private readonly current = new AsyncLocalStorage<Scope>();

  constructor(options: PostgresOptions) {
    this.location = redactUrl(options.url);
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      statement_timeout: options.statementTimeoutMs,
      application_name: options.applicationName,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      // A command that is done exits, without waiting for idle connections to time out.
      allowExitOnIdle: true,
      types,
    });
    // An idle client that loses its server (a restart) must not crash the process: the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  /** Connects once, to say clearly at start when the database cannot be reached. */
  async check(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (err) {
      throw new DatabaseUnavailable(`cannot reach PostgreSQL at ${this.location}: ${describePgError(err)}`, {
        cause: err,
      });
    }
  }

  private async query<T>(sql: string, params?: Params): Promise<pg.QueryResult<T & pg.QueryResultRow>> {
    const { text, values } = toNumberedParams(sql, params);
    const scope = this.current.getStore();
    const started = performance.now();
    try {
      return scope ? await scope.client.query(text, values) : await this.pool.query(text, values);
    } finally {
      this.stats.roundTrips += 1;
      this.stats.timeMs += performance.now() - started;
    }
  }

  async all<T>(sql: string, params?: Params): Promise<T[]> {
    return (await this.query<T>(sql, params)).rows;
  }

  async get<T>(sql: string, params?: Params): Promise<T | undefined> {
    return (await this.query<T>(sql, params)).rows[0];
  }

  async run(sql: string, params?: Params): Promise<RunResult> {
    return { changes: (await this.query(sql, params)).rowCount ?? 0 };
  }

  async exec(script: string): Promise<void> {
    const scope = this.current.getStore();
    this.stats.roundTrips += 1;
    if (scope) await scope.client.query(script);
    else await this.pool.query(script);
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    const outer = this.current.getStore();
    if (outer) return this.savepoint(outer, fn);
    let uniqueRetries = 0;
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      // A connection lost while the client is checked out (the server restarted between two queries) is an
      // 'error' event: kept, so that the client is thrown away, and never an uncaught exception.
      const lost = (err: Error) => (broken = err);
      client.on('error', lost);
      try {
        await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        this.stats.roundTrips += 2;
        const value = await this.current.run({ client, depth: 0 }, fn);
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        const code = (err as { code?: string }).code;
        const again =
          attempt < MAX_ATTEMPTS &&
          (RETRYABLE.has(code ?? '') || (code === '23505' && uniqueRetries++ < UNIQUE_RETRIES));
        if (!again) throw err;
      } finally {
        client.off('error', lost);
        client.release(broken);
      }
      await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    }
  }

  async withLock<T>(key: number, fn: () => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const lost = (err: Error) => (broken = err);
    client.on('error', lost);
    try {
      await client.query('SELECT pg_advisory_lock($1)', [key]);
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [key]).catch((e: Error) => (broken = e));
      }
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }

  private async savepoint<T>(outer: Scope, fn: () => Promise<T>): Promise<T> {
    const name = `sp${outer.depth + 1}`;
    await outer.client.query(`SAVEPOINT ${name}`);
    try {
      const value = await this.current.run({ client: outer.client, depth: outer.depth + 1 }, fn);
      await outer.client.query(`RELEASE SAVEPOINT ${name}`);
      return value;
    } catch (err) {
      await outer.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** A PostgreSQL error in one line: its message and code, never the password. */
export function describePgError(err: unknown): string {
  const e = err as { message?: string; code?: string };
  const message = (e.message ?? String(err)).split('\n')[0];
  return e.code ? `${message} (${e.code})` : message!;
}
