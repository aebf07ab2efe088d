import type { Dataset } from '../src/domain/model';
import type { ReassignmentResult } from '../src/workflows/contract/types';
import { approveSignal, progressQuery } from '../src/workflows/contract/signals';
import { auditStore, startHarness } from './support/harness';
import { seedInput } from './support/seed';

/**
 * Two reassignments at the same time, competing for the same few free slots: the store's one-transaction
 * guard and the unique index mean a slot is booked once whatever the interleaving; both runs finish, and
 * every appointment ends in exactly one state.
 */

const DATE = '2025-11-21';
const TIMES = ['09:00', '09:30', '10:00', '10:30', '11:00', '11:30', '12:00', '12:30'];

/** Orthopedists T001 and T002 both off sick, with appointments at the same times; three colleagues with a few free slots. */
function competingDataset(): Dataset {
  const here = { lat: 38.72, lon: -9.14 };
  const data: Dataset = { providers: [], patients: [], appointments: [], history: [], slots: [], unavailability: [] };
  for (const id of ['T001', 'T002'])
    data.providers.push({
      id,
      name: `Absent ${id}`,
      specialty: 'orthopedics',
      gender: 'male',
      languages: ['en'],
      location: here,
      experience_years: 10,
    });
  for (const id of ['P001', 'P002', 'P003'])
    data.providers.push({
      id,
      name: `Colleague ${id}`,
      specialty: 'orthopedics',
      gender: 'female',
      languages: ['en'],
      location: here,
      experience_years: 12,
    });
  TIMES.forEach((time, i) => {
    for (const sick of ['T001', 'T002']) {
      const n = `${sick.slice(1)}${i}`;
      data.patients.push({
        id: `PAT${n}`,
        name: `Patient ${n}`,
        gender_preference: 'any',
        language: 'en',
        location: here,
        max_distance_km: 25,
        notes: '',
      });
      data.appointments.push({
        id: `A${n}`,
        patient_id: `PAT${n}`,
        provider_id: sick,
        date: DATE,
        time,
        specialty: 'orthopedics',
        status: 'scheduled',
      });
      data.slots.push({ provider_id: sick, date: DATE, time });
    }
    // Fewer free slots than appointments: P001 works every hour, P002 every other one, P003 only at 09:00.
    data.slots.push({ provider_id: 'P001', date: DATE, time });
    if (i % 2 === 0) data.slots.push({ provider_id: 'P002', date: DATE, time });
    if (i === 0) data.slots.push({ provider_id: 'P003', date: DATE, time });
  });
  return data;
}

function decisions(results: ReassignmentResult[]) {
  return results.flatMap((r) => [
    ...r.assignments.map((a) => a.appointment_id),
    ...r.waitlisted.map((w) => w.appointment_id),
  ]);
}

describe('two reassignments at once', () => {
  test.each(['promptDrivenReassignment', 'codeDrivenReassignment'] as const)(
    'two providers sick the same day, competing for a few slots (%s): no slot booked twice, both finish',
    async (type) => {
      const data = competingDataset();
      const h = await startHarness({ data });
      try {
        const [a, b] = await Promise.all([
          h.run(type, { providerId: 'T001', date: DATE, reason: 'sick', promptLabel: 'staging' }),
          h.run(type, { providerId: 'T002', date: DATE, reason: 'sick', promptLabel: 'staging' }),
        ]);
        expect([a.status, b.status]).toEqual(['completed', 'completed']);
        expect(a.total_affected + b.total_affected).toBe(16);
        // Every appointment decided exactly once, across both runs.
        const all = decisions([a, b]).sort();
        expect(all).toEqual(data.appointments.map((x) => x.id).sort());
        // Each free slot booked at most once: there are 13 of them for 16 appointments.
        const slots = [...a.assignments, ...b.assignments].map(
          (x) => `${x.new_provider_id}@${data.appointments.find((y) => y.id === x.appointment_id)!.time}`,
        );
        expect(new Set(slots).size).toBe(slots.length);
        expect(slots.length).toBeLessThanOrEqual(13);
        expect(a.waitlist_entries + b.waitlist_entries).toBeGreaterThanOrEqual(3);
        expect(await auditStore(h.store)).toEqual([]);
        expect((await h.store.counts()).notifications).toBe(16);
      } finally {
        await h.close();
      }
    },
  );

  test('two runs for the same provider and day: each appointment decided once, the other run reports it as decided elsewhere', async () => {
    const data = competingDataset();
    const h = await startHarness({ data });
    try {
      const input = { providerId: 'T001', date: DATE, reason: 'sick', promptLabel: 'staging' };
      const [a, b] = await Promise.all([
        h.run('promptDrivenReassignment', input),
        h.run('promptDrivenReassignment', input),
      ]);
      expect([a.status, b.status]).toEqual(['completed', 'completed']);
      const own = decisions([a, b]).sort();
      expect(new Set(own).size).toBe(own.length);
      const elsewhere = [...a.decided_elsewhere, ...b.decided_elsewhere].map((e) => e.appointment_id);
      const t001 = data.appointments.filter((x) => x.provider_id === 'T001').map((x) => x.id);
      // Whatever either run listed is accounted for: decided by it, or by the other.
      for (const r of [a, b]) expect(r.undecided).toEqual([]);
      expect(own).toEqual([...t001].sort());
      for (const id of elsewhere) expect(own).toContain(id);
      // Each run accounts for every appointment it listed: its own decisions plus those the other run made first.
      for (const r of [a, b])
        expect(r.successful_assignments + r.waitlist_entries + r.decided_elsewhere.length).toBe(r.total_affected);
      expect(await auditStore(h.store)).toEqual([]);
      expect((await h.store.counts()).notifications).toBe(t001.length);
    } finally {
      await h.close();
    }
  });

  test('two runs for the same provider and day ask a human about an appointment once, not twice', async () => {
    const h = await startHarness();
    try {
      // The production prompt sends the good match A002 -> P001 for approval, in whichever run gets there.
      const [a, b] = await Promise.all([
        h.start('promptDrivenReassignment', seedInput),
        h.start('promptDrivenReassignment', seedInput),
      ]);
      let waiting: typeof a | undefined;
      for (let i = 0; i < 150 && !waiting; i++) {
        for (const handle of [a, b]) {
          const p = await handle.query(progressQuery).catch(() => undefined);
          if (p && p.pending_approvals.length > 0) waiting = handle;
        }
        if (!waiting) await new Promise((r) => setTimeout(r, 200));
      }
      if (!waiting) throw new Error('neither run asked for the approval');
      const other = waiting === a ? b : a;
      // The other run does not ask: it finishes, leaving A002 to the run that asked.
      const otherResult: ReassignmentResult = await other.result();
      expect(otherResult.approvals.requested).toBe(0);
      expect(otherResult.decided_elsewhere).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ appointment_id: 'A002', detail: expect.stringContaining(waiting.workflowId) }),
        ]),
      );
      await waiting.signal(approveSignal, { appointmentId: 'A002', by: 'the one operator' });
      const result: ReassignmentResult = await waiting.result();
      expect(result.approvals).toMatchObject({ requested: 1, approved: 1 });
      expect(result.assignments.find((x) => x.appointment_id === 'A002')).toMatchObject({
        approved_by: 'the one operator',
      });
      expect((await h.store.appointmentRecord('A002')).approvals).toHaveLength(1);
      // Approval requests per appointment across runs: one run each.
      expect(await h.store.approvalRequestRuns()).toEqual([{ appointment_id: 'A002', runs: [waiting.workflowId] }]);
      expect(await auditStore(h.store)).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
