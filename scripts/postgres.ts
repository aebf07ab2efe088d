import path from 'node:path';
import { z } from 'zod';
import { projectRoot } from '../src/config';
import { postgresVersion, requirePostgresBin, startPostgres } from '../src/db/postgresServer';
import { describeError } from '../src/errors';
import { describeZodError } from '../src/zodIssue';

/**
 * `npm run postgres`: a local PostgreSQL cluster for the scheduling data, in data/pg (PG_DATA_DIR) on
 * 127.0.0.1:5433 (PG_PORT), made on first use from the PostgreSQL installed on the machine. Prints the
 * DATABASE_URL to use and stays in the foreground; Ctrl-C (or SIGTERM) stops the cluster, the data stays.
 * `--check`: prints where the server binaries are and their version (CI), exit 1 when there are none.
 */

const envSchema = z.object({
  PG_DATA_DIR: z
    .string()
    .optional()
    .transform((v) => path.resolve(v?.trim() || path.join(projectRoot, 'data', 'pg'))),
  PG_PORT: z.coerce.number('must be a port number').int().min(1).max(65535).default(5433),
});

/** A path as the person typing commands in this directory would write it. */
function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') ? relative : file;
}

function fail(message: string): never {
  console.error(`postgres: ${message}`);
  process.exit(1);
}

function check(): void {
  const bin = requirePostgresBin();
  console.log(`${bin} (${postgresVersion(bin)})`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--check')) return check();
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) fail(describeZodError(parsed.error, 'environment'));
  const { PG_DATA_DIR: dir, PG_PORT: port } = parsed.data;
  const server = await startPostgres({
    dir,
    port,
    log: (line) => console.error(`postgres: ${line}`),
    // Killed outright (no Ctrl-C), this process leaves no server behind either.
    stopWithProcess: true,
  });
  console.log(
    `DATABASE_URL=${server.url}  # PostgreSQL on 127.0.0.1:${server.port}, cluster in ${shown(dir)} (the password is stored in ${shown(path.join(dir, 'password'))}, the log in ${shown(path.join(dir, 'server.log'))}); Ctrl-C stops it`,
  );
  // `on`, not `once`: a second Ctrl-C while the cluster stops must not end this process half-way (stop runs once).
  const stop = () =>
    void server.stop().then(
      () => process.exit(0),
      (err: unknown) => fail(describeError(err)),
    );
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Also what keeps this process alive: the server is pg_ctl's child, not ours.
  setInterval(() => {
    if (!server.isRunning()) {
      console.error(`postgres: the server stopped on its own; see ${shown(path.join(dir, 'server.log'))}`);
      process.exit(1);
    }
  }, 2000);
}

main().catch((err) => fail(describeError(err)));
