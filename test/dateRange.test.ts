import { syntheticDataset } from '../src/domain/syntheticData';
import { auditStore, startHarness, type Harness } from './support/harness';

/**
 * A run over a date range: the provider is unavailable from `date` through `until` (inclusive), and every
 * affected appointment of every day of the range is decided. Without `until`, a run covers its one day only.
 */

// 30 synthetic appointments, 10 a day: 2025-11-21, -22 and -23.
const data = () => syntheticDataset({ appointments: 30, perDay: 10, seed: 11 });

describe('a reassignment over a date range', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ data: data() });
  });
  afterAll(() => h.close());

  test.each(['promptDrivenReassignment', 'codeDrivenReassignment'] as const)(
    '%s over 3 days decides the appointments of all 3 days',
    async (type) => {
      await h.reload(data());
      const r = await h.run(type, {
        providerId: 'T001',
        date: '2025-11-21',
        until: '2025-11-23',
        reason: 'leave',
        promptLabel: 'staging',
      });
      expect(r.status).toBe('completed');
      expect(r.until).toBe('2025-11-23');
      expect(r.total_affected).toBe(30);
      expect(r.successful_assignments + r.waitlist_entries).toBe(30);
      const decided = new Set([...r.assignments, ...r.waitlisted].map((a) => a.appointment_id));
      const days = new Set(
        data()
          .appointments.filter((a) => decided.has(a.id))
          .map((a) => a.date),
      );
      expect([...days].sort()).toEqual(['2025-11-21', '2025-11-22', '2025-11-23']);
      for (const day of ['2025-11-21', '2025-11-22', '2025-11-23'])
        expect(await h.store.unavailability('T001', day)).toBeDefined();
      expect(await auditStore(h.store)).toEqual([]);
    },
  );

  test('without until, a run covers its one day only', async () => {
    await h.reload(data());
    const r = await h.run('codeDrivenReassignment', {
      providerId: 'T001',
      date: '2025-11-22',
      reason: 'sick',
      promptLabel: 'staging',
    });
    expect(r.total_affected).toBe(10);
    expect(r.until).toBeUndefined();
    expect(await h.store.unavailability('T001', '2025-11-21')).toBeUndefined();
    expect(await h.store.affectedAppointments('T001', '2025-11-23')).toEqual([]);
  });

  test.each([
    ['2025-11-20', /until.*on or after date/],
    ['2025-12-22', /until.*at most 31 days/],
  ])('until %s fails the run at once with a readable reason', async (until, reason) => {
    const handle = await h.start('promptDrivenReassignment', { providerId: 'T001', date: '2025-11-21', until });
    const failure = await handle.result().catch((e: { cause?: { message?: string } }) => e.cause?.message);
    expect(failure).toMatch(reason);
  });
});
