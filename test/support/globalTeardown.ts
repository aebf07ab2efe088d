import fs from 'node:fs';
import type { PostgresServer } from '../../src/db/postgresServer';
import type { DevServer } from '../../src/temporal/devServer';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __temporalServer?: DevServer }).__temporalServer;
  await server?.stop();
  await (globalThis as { __postgres?: PostgresServer }).__postgres?.stop();
  if (process.env.TEST_PG_DIR) fs.rmSync(process.env.TEST_PG_DIR, { recursive: true, force: true });
  if (process.env.TEST_TMP_DIR) fs.rmSync(process.env.TEST_TMP_DIR, { recursive: true, force: true });
}
