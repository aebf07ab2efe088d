import path from 'node:path';
import pg from 'pg';
import type { DatabaseTarget } from '../../src/db/open';
import { SchedulingStore } from '../../src/domain/store';

/**
 * Which database the tests' scheduling stores are on. `TEST_STORE=postgres` (scripts/test.ts runs the domain,
 * tool, workflow and crash suites a second time so): a fresh PostgreSQL database per store, on the cluster the
 * jest global setup started (TEST_PG_ADMIN_URL). Otherwise a fresh SQLite file.
 */

export type TestStoreKind = 'sqlite' | 'postgres';

export function testStoreKind(): TestStoreKind {
  return process.env.TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';
}

let counter = 0;

/** The admin URL of the test run's PostgreSQL cluster (started by the jest global setup). */
export function pgAdminUrl(): string {
  const url = process.env.TEST_PG_ADMIN_URL;
  if (!url) throw new Error('no PostgreSQL for the tests: the jest globalSetup did not start it (TEST_PG_ADMIN_URL)');
  return url;
}

/** A new, empty PostgreSQL database on the test cluster; its URL. */
export async function createTestDatabase(prefix: string): Promise<string> {
  counter += 1;
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Client({ connectionString: pgAdminUrl() });
  try {
    // end() even when connect() fails: a half-open client would hold PostgreSQL's DROP DATABASE up.
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(pgAdminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/** A new, empty database of the kind this run tests: a SQLite file in dir, or a PostgreSQL database. */
export async function newTestTarget(dir: string, kind: TestStoreKind = testStoreKind()): Promise<DatabaseTarget> {
  if (kind === 'postgres') return { kind: 'postgres', url: await createTestDatabase(path.basename(dir)) };
  return { kind: 'sqlite', file: path.join(dir, 'scheduling.db') };
}

/** A store on a new, empty database of the kind this run tests. */
export async function openTestStore(dir: string, kind: TestStoreKind = testStoreKind()): Promise<SchedulingStore> {
  return SchedulingStore.open(await newTestTarget(dir, kind));
}

export { targetEnv } from '../../src/db/open';
