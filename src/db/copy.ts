import { insertRows } from '../domain/database';
import { describeTarget, openSql, type DatabaseTarget } from './open';
import { IDENTITY_TABLES, TABLES } from './schema';
import { DatabaseUnavailable, type Sql } from './sql';

/**
 * Copies the whole scheduling database from one store to another (the SQLite file to PostgreSQL, when a clinic
 * moves to several workers; or back). Both are brought to the current schema first. The copy is one transaction on
 * the target: it is all there, or nothing is (a failure leaves the target as it was). A target that already holds
 * data is refused unless `replace` is set, then its rows are deleted in the same transaction. Counts are compared
 * table by table afterwards.
 */

export interface CopyReport {
  from: string;
  to: string;
  tables: { table: string; rows: number }[];
  rows: number;
}

export class CopyRefused extends Error {
  override name = 'CopyRefused';
}

async function count(db: Sql, table: string): Promise<number> {
  return (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n;
}

async function columnsOf(db: Sql, table: string): Promise<string[]> {
  const row = await db.get<Record<string, unknown>>(`SELECT * FROM ${table} LIMIT 1`);
  if (row) return Object.keys(row);
  return [];
}

export async function copyDatabase(
  fromTarget: DatabaseTarget,
  toTarget: DatabaseTarget,
  options: { replace?: boolean; batch?: number; progress?: (line: string) => void } = {},
): Promise<CopyReport> {
  const same =
    fromTarget.kind === toTarget.kind &&
    (fromTarget.kind === 'sqlite'
      ? fromTarget.file === (toTarget as { file: string }).file
      : fromTarget.url === (toTarget as { url: string }).url);
  if (same) throw new CopyRefused('--from and --to name the same database');
  const from = await openSql(fromTarget);
  try {
    const to = await openSql(toTarget);
    try {
      const held: { table: string; rows: number }[] = [];
      for (const t of TABLES) {
        const n = await count(to, t);
        if (n > 0) held.push({ table: t, rows: n });
      }
      if (held.length > 0 && !options.replace)
        throw new CopyRefused(
          `${describeTarget(toTarget)} already holds data (${held
            .slice(0, 3)
            .map((h) => `${h.rows} ${h.table}`)
            .join(', ')}${held.length > 3 ? ', …' : ''}): add --replace to overwrite it`,
        );
      const tables: { table: string; rows: number }[] = [];
      await to.transaction(async () => {
        for (const t of [...TABLES].reverse()) await to.run(`DELETE FROM ${t}`);
        for (const t of TABLES) {
          const rows = await from.all<Record<string, unknown>>(`SELECT * FROM ${t}`);
          if (rows.length > 0) {
            const columns = await columnsOf(from, t);
            await insertRows(
              to,
              t,
              columns,
              rows.map((r) => columns.map((c) => r[c])),
            );
          }
          tables.push({ table: t, rows: rows.length });
          options.progress?.(`${t}: ${rows.length}`);
        }
        // Keys the database assigns continue after the copied ones.
        if (to.dialect === 'postgres')
          for (const t of IDENTITY_TABLES)
            await to.run(
              `SELECT setval(pg_get_serial_sequence('${t}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM ${t}`,
            );
      });
      for (const { table, rows } of tables) {
        const copied = await count(to, table);
        if (copied !== rows)
          throw new DatabaseUnavailable(`the copy of ${table} holds ${copied} rows, the source ${rows}`);
      }
      return {
        from: describeTarget(fromTarget),
        to: describeTarget(toTarget),
        tables,
        rows: tables.reduce((n, t) => n + t.rows, 0),
      };
    } finally {
      await to.close();
    }
  } finally {
    await from.close();
  }
}
