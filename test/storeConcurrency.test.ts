import { spawnSync } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { projectRoot } from '../src/config';
import { copyDatabase } from '../src/db/copy';
import { LATEST_VERSION } from '../src/db/schema';
import { DatabaseUnavailable } from '../src/db/sql';
import { checkInvariants } from '../src/domain/audit';
import { demoDataset } from '../src/domain/demoData';
import type { Dataset } from '../src/domain/model';
import type { Policy } from '../src/domain/policy';
import { DomainRefusal, SchedulingStore, type ActionContext } from '../src/domain/store';
import { LocalPromptRegistry, resolvePromptBundle } from '../src/prompts/registry';
import { tempDir } from './support/harness';
import { createTestDatabase, newTestTarget, type TestStoreKind } from './support/testStore';

/**
 * What several worker processes sharing one database rely on, against both stores. Each "process" is a store of
 * its own (its own connection or pool), all on one database, acting at the same moment: the same tool call twice,
 * two appointments wanting one free slot, two runs asking about one appointment, two notifications of one change.
 * The database decides: one writes, the others get the recorded answer or a refusal, and the audit stays clean.
 */

const kinds: TestStoreKind[] = ['sqlite', 'postgres'];

let policy: Policy;
beforeAll(async () => {
  const bundle = await resolvePromptBundle(new LocalPromptRegistry(path.join(projectRoot, 'prompts')), 'production');
  // No approvals here: the subject is the writes.
  policy = { ...bundle.policy, approval: { ...bundle.policy.approval, bands: [] } };
});

/** The demo, plus a second orthopedist off sick whose 09:00 patient wants the same free slot as A001 (P001 at 09:00). */
function contested(): Dataset {
  const d = demoDataset();
  d.providers.push({ ...d.providers.find((p) => p.id === 'T001')!, id: 'T002', name: 'Dr. Second Absent' });
  d.appointments.push({
    id: 'B001',
    patient_id: 'PAT011',
    provider_id: 'T002',
    date: '2025-11-21',
    time: '09:00',
    specialty: 'orthopedics',
    status: 'scheduled',
  });
  d.unavailability.push({ provider_id: 'T002', date: '2025-11-21', reason: 'sick' });
  return d;
}

const ctx = (key: string, runId = 'run-1'): ActionContext => ({
  runId,
  idempotencyKey: key,
  policy,
  decidedBy: 'prompt',
});

async function processes(kind: TestStoreKind, n: number, data: Dataset): Promise<SchedulingStore[]> {
  const target = await newTestTarget(tempDir(`concurrency-${kind}`), kind);
  const first = await SchedulingStore.open(target);
  await first.load(data);
  await first.markUnavailable('T001', '2025-11-21', 'sick');
  const others = await Promise.all(Array.from({ length: n - 1 }, () => SchedulingStore.open(target)));
  return [first, ...others];
}

/** The audit, but for the notification rule: these decisions are made without a run that would then tell the patient. */
const violations = async (store: SchedulingStore) =>
  (await checkInvariants(store)).filter((v) => v.rule !== 'decided without exactly one notification of its kind');

const settle = (ps: Promise<unknown>[]) => Promise.allSettled(ps);

describe.each(kinds)('several processes on one %s database', (kind) => {
  let stores: SchedulingStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
  });

  test('the same tool call from four processes at once writes once, and all four get the same answer', async () => {
    stores = await processes(kind, 4, demoDataset());
    const results = await Promise.all(stores.map((s) => s.assign('A001', 'P001', ctx('same-call'))));
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(results[0]).toMatchObject({ appointment_id: 'A001', new_provider_id: 'P001' });
    const record = await stores[0]!.appointmentRecord('A001');
    expect(record.assignments).toHaveLength(1);
    expect((await stores[0]!.counts()).tool_calls).toBe(1);
    expect(await violations(stores[0]!)).toEqual([]);
  });

  test('two appointments wanting one free slot: exactly one gets it, the other is refused, never a double booking', async () => {
    stores = await processes(kind, 2, contested());
    for (let round = 0; round < 5; round++) {
      await stores[0]!.load(contested());
      await stores[0]!.markUnavailable('T001', '2025-11-21', 'sick');
      const [a, b] = await settle([
        stores[0]!.assign('A001', 'P001', ctx(`a-${round}`, 'run-a')),
        stores[1]!.assign('B001', 'P001', ctx(`b-${round}`, 'run-b')),
      ]);
      const outcomes = [a!, b!];
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]!.reason).toBeInstanceOf(DomainRefusal);
      expect((lost[0]!.reason as DomainRefusal).code).toBe('slot_taken');
      expect(await stores[0]!.isBooked('P001', '2025-11-21', '09:00')).toBe(true);
      expect(await violations(stores[0]!)).toEqual([]);
    }
  });

  test('two runs deciding one appointment at once (different keys): one outcome, the other is told it is decided', async () => {
    stores = await processes(kind, 2, demoDataset());
    const [assign, waitlist] = await settle([
      stores[0]!.assign('A001', 'P001', ctx('run-a:assign', 'run-a')),
      stores[1]!.waitlist('A001', 'no good match', ctx('run-b:waitlist', 'run-b')),
    ]);
    const fulfilled = [assign!, waitlist!].filter((o) => o.status === 'fulfilled');
    expect(fulfilled).toHaveLength(1);
    const refused = [assign!, waitlist!].find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
    expect((refused.reason as DomainRefusal).code).toBe('already_decided');
    const record = await stores[0]!.appointmentRecord('A001');
    expect(record.assignments.length + record.waitlist.length).toBe(1);
    expect(await violations(stores[0]!)).toEqual([]);
  });

  test('one change notified from two processes with different keys: one notification, the other refused', async () => {
    stores = await processes(kind, 2, demoDataset());
    await stores[0]!.assign('A001', 'P001', ctx('assign'));
    const outcomes = await settle([
      stores[0]!.notify('A001', 'reassigned', ctx('notify-1')),
      stores[1]!.notify('A001', 'reassigned', ctx('notify-2')),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
    expect((refused.reason as DomainRefusal).code).toBe('already_notified');
    expect((await stores[0]!.appointmentRecord('A001')).notifications).toHaveLength(1);
    expect(await stores[0]!.offers('A001')).toHaveLength(1);
  });

  test('two runs asking a human about one appointment at once: exactly one may ask', async () => {
    stores = await processes(kind, 3, demoDataset());
    const deadline = new Date(Date.now() + 60_000).toISOString();
    const claims = await Promise.all(
      stores.map((s, i) =>
        s.claimApprovalRequest({ appointmentId: 'A002', providerId: 'P001', runId: `run-${i}`, deadline }),
      ),
    );
    expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    expect((await stores[0]!.approvalRequestRuns()).find((r) => r.appointment_id === 'A002')?.runs).toHaveLength(1);
  });

  test('an escalation raised by three processes at once is one escalation', async () => {
    stores = await processes(kind, 3, demoDataset());
    const raised = await Promise.all(
      stores.map((s) => s.raiseEscalation({ kind: 'second_decline', ref: 'A001', appointmentId: 'A001', reason: 'x' })),
    );
    expect(raised.filter((r) => r.raised)).toHaveLength(1);
    expect(new Set(raised.map((r) => r.escalation.id)).size).toBe(1);
    expect(await stores[0]!.escalations()).toHaveLength(1);
  });

  test('processes opening a new database at once migrate it once (five rounds of four)', async () => {
    for (let round = 0; round < 5; round++) {
      const target = await newTestTarget(tempDir(`migrate-${kind}-${round}`), kind);
      const opened = await Promise.all(Array.from({ length: 4 }, () => SchedulingStore.open(target)));
      stores.push(...opened);
      expect(await opened[0]!.appliedMigrations()).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
    }
  });

  test('a database whose schema is newer than the program is refused in one line, and nothing is written', async () => {
    const target = await newTestTarget(tempDir(`newer-${kind}`), kind);
    const store = await SchedulingStore.open(target);
    await store.load(demoDataset());
    await store.unsafeExecute(
      `INSERT INTO schema_migrations (version, name, applied_at) VALUES (${LATEST_VERSION + 1}, 'from the future', '2030-01-01T00:00:00.000Z')`,
    );
    const before = await store.counts();
    await store.close();
    const refused = await SchedulingStore.open(target).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DatabaseUnavailable);
    expect((refused as Error).message).toMatch(
      new RegExp(`schema version ${LATEST_VERSION + 1}, newer than this program's ${LATEST_VERSION}`),
    );
    expect((refused as Error).message).not.toContain('\n');
    // Read past the store, the data is as it was.
    if (kind === 'sqlite') {
      const Database = (await import('better-sqlite3')).default;
      const db = new Database((target as { file: string }).file, { readonly: true });
      expect((db.prepare('SELECT COUNT(*) AS n FROM appointments').get() as { n: number }).n).toBe(before.appointments);
      db.close();
    } else {
      const c = new pg.Client({ connectionString: (target as { url: string }).url });
      await c.connect();
      expect(Number((await c.query('SELECT COUNT(*) AS n FROM appointments')).rows[0].n)).toBe(before.appointments);
      await c.end();
    }
  });
});

describe('PostgreSQL settings and failures', () => {
  test('wrong credentials: one line naming the server, no password in it', async () => {
    const url = new URL(await createTestDatabase('wrongpw'));
    url.username = 'nobody_here';
    url.password = 'not-the-password-x9';
    const refused = await SchedulingStore.open({ kind: 'postgres', url: url.toString() }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DatabaseUnavailable);
    const message = (refused as Error).message;
    expect(message).toMatch(/^cannot reach PostgreSQL at postgres:\/\//);
    expect(message).not.toContain('not-the-password-x9');
    expect(message).not.toContain('\n');
  });

  test('a worker started on a bad DATABASE_URL, an unreachable server or a newer schema: one line, exit 1', async () => {
    const worker = (env: Record<string, string>) =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/worker.ts')], {
        cwd: projectRoot,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
          TASK_QUEUE: `bad-db-${process.pid}`,
          LOG_LEVEL: 'ERROR',
          ...env,
        },
      });
    const newer = await createTestDatabase('newer_worker');
    const store = await SchedulingStore.open({ kind: 'postgres', url: newer });
    await store.unsafeExecute(
      `INSERT INTO schema_migrations (version, name, applied_at) VALUES (${LATEST_VERSION + 1}, 'from the future', '2030-01-01T00:00:00.000Z')`,
    );
    await store.close();
    const unreachable = new URL(newer);
    unreachable.port = '1';
    for (const [env, line] of [
      [
        { DATABASE_URL: 'mysql://root:secret@localhost/db' },
        /^worker: invalid configuration: DATABASE_URL must be a PostgreSQL URL/,
      ],
      [
        { DATABASE_URL: unreachable.toString() },
        /^worker: cannot reach PostgreSQL at postgres:\/\/.*:\*\*\*@127\.0\.0\.1:1\//,
      ],
      [
        { DATABASE_URL: newer },
        new RegExp(`^worker: the scheduling database at .* has schema version ${LATEST_VERSION + 1}`),
      ],
    ] as const) {
      const r = worker(env);
      expect(r.status).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(line);
      expect(r.stderr).not.toMatch(/secret| {4}at /);
    }
  });

  test('a query past PG_STATEMENT_TIMEOUT_MS is cancelled by the server', async () => {
    const store = await SchedulingStore.open(
      { kind: 'postgres', url: await createTestDatabase('timeout') },
      { PG_STATEMENT_TIMEOUT_MS: 200 },
    );
    try {
      await expect(store.unsafeExecute('SELECT pg_sleep(2)')).rejects.toMatchObject({ code: '57014' });
    } finally {
      await store.close();
    }
  });
});

describe('db copy', () => {
  test('SQLite → PostgreSQL → SQLite keeps every row, and a target with data is refused without --replace', async () => {
    const dir = tempDir('copy');
    const source = await SchedulingStore.open(path.join(dir, 'source.db'));
    await source.load(demoDataset());
    await source.markUnavailable('T001', '2025-11-21', 'sick');
    await source.assign('A001', 'P001', ctx('copy-assign'));
    await source.notify('A001', 'reassigned', ctx('copy-notify'));
    await source.raiseEscalation({ kind: 'second_decline', ref: 'A003', appointmentId: 'A003', reason: 'test' });
    const expected = {
      counts: await source.counts(),
      record: await source.appointmentRecord('A001'),
      offers: await source.offers('A001'),
      escalations: (await source.escalations()).map(({ created_at: _c, ...e }) => e),
    };
    await source.close();

    const pgUrl = await createTestDatabase('copy');
    const there = await copyDatabase(
      { kind: 'sqlite', file: path.join(dir, 'source.db') },
      { kind: 'postgres', url: pgUrl },
    );
    expect(there.rows).toBeGreaterThan(30);
    const back = await copyDatabase(
      { kind: 'postgres', url: pgUrl },
      { kind: 'sqlite', file: path.join(dir, 'back.db') },
    );
    expect(back.rows).toBe(there.rows);
    for (const target of [
      { kind: 'postgres' as const, url: pgUrl },
      { kind: 'sqlite' as const, file: path.join(dir, 'back.db') },
    ]) {
      const s = await SchedulingStore.open(target);
      try {
        expect(await s.counts()).toEqual(expected.counts);
        expect(await s.appointmentRecord('A001')).toEqual(expected.record);
        expect(await s.offers('A001')).toEqual(expected.offers);
        expect((await s.escalations()).map(({ created_at: _c, ...e }) => e)).toEqual(expected.escalations);
        // Keys the database assigns go on after the copied ones.
        const next = await s.raiseEscalation({ kind: 'second_decline', ref: 'A002', reason: 'after the copy' });
        expect(next.escalation.id).toBeGreaterThan(expected.escalations[0]!.id);
        expect(await checkInvariants(s)).toEqual([]);
      } finally {
        await s.close();
      }
    }

    // From the command line: a target that holds data is refused in one line, exit 1.
    const cli = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(projectRoot, 'src/cli/index.ts'),
        'db',
        'copy',
        '--from',
        `sqlite:${path.join(dir, 'source.db')}`,
        '--to',
        pgUrl,
      ],
      { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, DATABASE_URL: '' } },
    );
    expect(cli.status).toBe(1);
    expect(cli.stderr.trim()).toMatch(/^error: PostgreSQL postgres:\/\/.* already holds data .*: add --replace/);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);

    // The audit on PostgreSQL, as on the file.
    const audit = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'src/cli/index.ts'), 'audit'],
      {
        cwd: projectRoot,
        encoding: 'utf8',
        env: { ...process.env, DATABASE_URL: pgUrl, TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS },
      },
    );
    expect(audit.status).toBe(0);
    expect(audit.stdout).toMatch(
      /^PostgreSQL postgres:\/\/.*: 5 appointments, 1 assignments, 0 waitlisted, 1 notifications; 0 violation\(s\)$/m,
    );
  });
});
