import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../../src/db/postgresServer';
import { startDevServer } from '../../src/temporal/devServer';
import { bundleWorkflows } from '../../src/temporal/workflowBundle';

/**
 * Once per test run: one real Temporal dev server (the CLI's, SQLite in a temp folder), one real PostgreSQL cluster
 * (Debian's, for the stores on PostgreSQL: each test makes its own databases in it) and one workflow bundle, shared
 * by every test file through environment variables, and the run's payload keyring.
 */
export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-test-'));
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.db'), startTimeoutMs: 120_000 });
  // Its own folder, which the postgres user (the cluster's owner when the tests run as root) may enter.
  const pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reassign-test-pg-'));
  fs.chmodSync(pgDir, 0o755);
  // stopWithProcess: a killed test run leaves no server behind.
  const postgres = await startPostgres({ dir: path.join(pgDir, 'cluster'), stopWithProcess: true });
  process.env.TEST_PG_ADMIN_URL = postgres.url;
  process.env.TEST_PG_DIR = pgDir;
  const bundle = await bundleWorkflows(require.resolve('../../src/workflows'));
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.TEST_TMP_DIR = dir;
  // One payload keyring for the run (every client and worker, child processes too): see encryptionEnv().
  process.env.PAYLOAD_KEYS = JSON.stringify({
    current: 'test-1',
    keys: { 'test-1': randomBytes(32).toString('base64') },
  });
  // The run's key for patient id pseudonyms in traces (so no test makes data/patient-id-key).
  process.env.PATIENT_ID_HMAC_KEY = randomBytes(32).toString('base64');
  delete process.env.PAYLOAD_ENCRYPTION;
  (globalThis as { __temporalServer?: typeof server }).__temporalServer = server;
  (globalThis as { __postgres?: typeof postgres }).__postgres = postgres;
}
