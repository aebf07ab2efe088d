import fs from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { CopyRefused, copyDatabase } from '../db/copy';
import { schemaVersion } from '../db/migrate';
import { describeTarget, openSql, parseTarget, targetOf } from '../db/open';
import { LATEST_VERSION } from '../db/schema';
import { DatabaseUnavailable } from '../db/sql';
import { print, UserError } from './session';

/**
 * `db`: the scheduling database itself. `db copy` moves every table from one store to another (the SQLite file to
 * PostgreSQL: docs/deployment.md); `db status` says which database the configuration names and its schema version.
 */

const target = (flag: string) => (value: string) => {
  try {
    return parseTarget(value);
  } catch (err) {
    throw new UserError(`${flag}: ${(err as Error).message}`);
  }
};

export function addDbCommands(program: Command): void {
  const db = program.command('db').description('the scheduling database: its status, and a copy to another store');
  db.command('status')
    .description('which database the configuration names (DATABASE_URL, or DB_PATH), and its schema version')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const t = targetOf(config);
      const sql = await openSql(t, config).catch((err: unknown) => {
        throw err instanceof DatabaseUnavailable ? new UserError(err.message) : err;
      });
      try {
        const version = await schemaVersion(sql);
        const counts = await sql.get<Record<string, number>>(
          'SELECT (SELECT COUNT(*) FROM providers) AS providers, (SELECT COUNT(*) FROM appointments) AS appointments, (SELECT COUNT(*) FROM runs) AS runs',
        );
        const status = {
          database: describeTarget(t),
          schema_version: version,
          program_schema: LATEST_VERSION,
          ...counts,
        };
        print(
          status,
          !!opts.json,
          () =>
            `${status.database}: schema version ${version} (this program: ${LATEST_VERSION}); ${counts!.providers} providers, ${counts!.appointments} appointments, ${counts!.runs} runs`,
        );
      } finally {
        await sql.close();
      }
    });
  db.command('copy')
    .description(
      'copy every table from one database to another, in one transaction (e.g. --from sqlite:data/scheduling.db --to postgres://…)',
    )
    .requiredOption('--from <database>', 'sqlite:<file>, a file path, or postgres://…', target('--from'))
    .requiredOption('--to <database>', 'sqlite:<file>, a file path, or postgres://…', target('--to'))
    .option('--replace', 'overwrite a target that already holds data')
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        from: ReturnType<typeof parseTarget>;
        to: ReturnType<typeof parseTarget>;
        replace?: boolean;
        json?: boolean;
      }) => {
        if (opts.from.kind === 'sqlite' && !fs.existsSync(opts.from.file))
          throw new UserError(`--from: no SQLite database at ${opts.from.file}`);
        try {
          const report = await copyDatabase(opts.from, opts.to, { replace: !!opts.replace });
          print(
            report,
            !!opts.json,
            () =>
              `copied ${report.rows} rows from ${report.from} to ${report.to}: ${report.tables
                .filter((t) => t.rows > 0)
                .map((t) => `${t.rows} ${t.table}`)
                .join(', ')}`,
          );
        } catch (err) {
          if (err instanceof CopyRefused || err instanceof DatabaseUnavailable) throw new UserError(err.message);
          throw err;
        }
      },
    );
}
