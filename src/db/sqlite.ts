import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Params, RunResult, Sql, SqlStats } from './sql';

/**
 * The SQLite side of `Sql`: one better-sqlite3 connection (synchronous calls, so each query is quick and never
 * interleaves with another). A transaction spans awaits, so the connection is held for it: other queries of this
 * process wait until it ends, and queries inside it (found through the async flow) run at once. Other processes
 * on the same file wait for SQLite's write lock (busy_timeout).
 */
export class SqliteSql implements Sql {
  readonly dialect = 'sqlite' as const;
  readonly stats: SqlStats = { roundTrips: 0, timeMs: 0 };
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  /** The transaction (its savepoint depth) of the current async flow, if it is in one. */
  private readonly current = new AsyncLocalStorage<{ depth: number }>();
  /** Ends when the transaction holding the connection ends. */
  private held: Promise<void> = Promise.resolve();

  get isOpen(): boolean {
    return this.db.open;
  }

  constructor(readonly location: string) {
    if (location !== ':memory:') {
      fs.mkdirSync(path.dirname(path.resolve(location)), { recursive: true });
      // Patient data: readable by its owner only. SQLite gives its -wal and -shm files the same mode.
      if (!fs.existsSync(location)) fs.closeSync(fs.openSync(location, 'a', 0o600));
    }
    this.db = new Database(location);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
  }

  private statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Runs a synchronous step once no other flow's transaction holds the connection. */
  private async step<T>(fn: () => T): Promise<T> {
    if (!this.current.getStore()) {
      // Wait for the transaction in progress (and any that started while waiting).
      let seen: Promise<void>;
      do {
        seen = this.held;
        await seen;
      } while (seen !== this.held);
    }
    const started = performance.now();
    try {
      return fn();
    } finally {
      this.stats.roundTrips += 1;
      this.stats.timeMs += performance.now() - started;
    }
  }

  private bind(params: Params | undefined): unknown[] {
    if (params === undefined) return [];
    return Array.isArray(params) ? params : [params];
  }

  all<T>(sql: string, params?: Params): Promise<T[]> {
    return this.step(() => this.statement(sql).all(...this.bind(params)) as T[]);
  }

  get<T>(sql: string, params?: Params): Promise<T | undefined> {
    return this.step(() => this.statement(sql).get(...this.bind(params)) as T | undefined);
  }

  run(sql: string, params?: Params): Promise<RunResult> {
    return this.step(() => {
      const s = this.statement(sql);
      if (s.reader) {
        s.all(...this.bind(params));
        return { changes: 0 };
      }
      return { changes: s.run(...this.bind(params)).changes };
    });
  }

  exec(script: string): Promise<void> {
    return this.step(() => {
      this.db.exec(script);
    });
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    const outer = this.current.getStore();
    if (outer) {
      const name = `sp${outer.depth + 1}`;
      this.db.exec(`SAVEPOINT ${name}`);
      try {
        const value = await this.current.run({ depth: outer.depth + 1 }, fn);
        this.db.exec(`RELEASE ${name}`);
        return value;
      } catch (err) {
        this.db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
        throw err;
      }
    }
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    // Take the connection: wait for the transaction that holds it, then hold it until this one ends.
    let seen: Promise<void>;
    do {
      seen = this.held;
      await seen;
    } while (seen !== this.held);
    this.held = mine;
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const value = await this.current.run({ depth: 0 }, fn);
        this.db.exec('COMMIT');
        return value;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      release();
    }
  }

  withLock<T>(_key: number, fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async close(): Promise<void> {
    await this.held;
    if (this.db.open) this.db.close();
  }
}

/**
 * One connection per file and process, shared by every store this process opens on it. Two connections to one
 * file in one thread would deadlock: a transaction spans awaits, and the other connection's write would wait for
 * SQLite's lock synchronously, so the event loop that would end the transaction never runs. Through one
 * connection, the second waits its turn in the queue above instead.
 */
const shared = new Map<string, { sql: SqliteSql; refs: number }>();

export function openSharedSqlite(file: string): Sql {
  const key = file === ':memory:' ? `:memory:${shared.size}` : path.resolve(file);
  let entry = shared.get(key);
  if (!entry || !entry.sql.isOpen) {
    entry = { sql: new SqliteSql(file), refs: 0 };
    shared.set(key, entry);
  }
  entry.refs += 1;
  const held = entry;
  let closed = false;
  // The same connection, with a close of its own: the last one closes the connection.
  return new Proxy(held.sql, {
    get(target, prop, receiver) {
      if (prop === 'close')
        return async () => {
          if (closed) return;
          closed = true;
          held.refs -= 1;
          if (held.refs === 0) {
            if (shared.get(key) === held) shared.delete(key);
            await target.close();
          }
        };
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
