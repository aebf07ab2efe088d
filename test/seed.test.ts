import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/config';
import { SchedulingStore } from '../src/domain/store';
import { auditStore, startHarness, storeEnv, tempDir } from './support/harness';
import { expectOneLineError, runScript } from './support/processes';

/** `npm run seed -- --unavailable T001,P001`: several providers off on one day, each with its run. */

/** The seed script, on the database env names (DB_PATH, or DATABASE_URL). */
const seed = (args: string[], env: Record<string, string>) =>
  runScript(path.join(projectRoot, 'scripts', 'seed.ts'), args, env);

test('seed --unavailable records each provider as unavailable on the day, and says what each has', async () => {
  const db = path.join(tempDir('seed'), 'scheduling.db');
  const r = await seed(['--unavailable', 'T001,p001', '--reason', 'flu'], { DB_PATH: db });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/T001 is unavailable on 2025-11-21: 3 appointment\(s\) \(npm run cli -- start -p T001/);
  expect(r.stdout).toMatch(/P001 is unavailable on 2025-11-21: 1 appointment\(s\)/);
  const store = await SchedulingStore.open(db);
  try {
    expect(await store.unavailability('T001', '2025-11-21')).toEqual({ reason: 'flu' });
    expect(await store.unavailability('P001', '2025-11-21')).toEqual({ reason: 'flu' });
    expect(await store.unavailability('P002', '2025-11-21')).toBeUndefined();
  } finally {
    await store.close();
  }
});

test('seed --unavailable --date: another day; --date alone is one line, and nothing is written', async () => {
  const db = path.join(tempDir('seed-date'), 'scheduling.db');
  const r = await seed(['--unavailable', 'T001', '--date', '2025-11-22'], { DB_PATH: db });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/T001 is unavailable on 2025-11-22: 1 appointment\(s\)/);
  const store = await SchedulingStore.open(db);
  try {
    expect(await store.unavailability('T001', '2025-11-22')).toEqual({ reason: 'unavailable' });
    expect(await store.unavailability('T001', '2025-11-21')).toBeUndefined();
  } finally {
    await store.close();
  }
  const alone = path.join(tempDir('seed-date-alone'), 'scheduling.db');
  expectOneLineError(await seed(['--date', '2025-11-22'], { DB_PATH: alone }), /--date goes with --unavailable/);
  expect(fs.existsSync(alone)).toBe(false);
});

test('an unknown provider is one line, and nothing is written', async () => {
  const db = path.join(tempDir('seed-bad'), 'scheduling.db');
  expectOneLineError(
    await seed(['--unavailable', 'T001,X999'], { DB_PATH: db }),
    /unknown provider X999: this data set has P001/,
  );
  expect(fs.existsSync(db)).toBe(false);
});

test('a multi-provider day: T001 and P001 off, each run moves its own patients, and never to the other', async () => {
  const h = await startHarness();
  try {
    const r = await seed(['--unavailable', 'T001,P001'], storeEnv(h.store));
    expect(r.code).toBe(0);
    const [t001, p001] = await Promise.all([
      h.run('codeDrivenReassignment', { providerId: 'T001', date: '2025-11-21', reason: 'flu' }),
      h.run('codeDrivenReassignment', { providerId: 'P001', date: '2025-11-21', reason: 'flu' }),
    ]);
    for (const result of [t001, p001]) {
      expect(result.total_affected).toBeGreaterThan(0);
      for (const a of result.assignments) expect(['T001', 'P001']).not.toContain(a.new_provider_id);
    }
    expect(t001.total_affected).toBe(3);
    expect(p001.total_affected).toBe(1);
    expect(await auditStore(h.store)).toEqual([]);
  } finally {
    await h.close();
  }
});
