import { PatientSimulator } from '../src/outcomes/patientSimulator';

/** The simulated patients: deterministic by seed, better matches accepted more often and scored higher, scripts obeyed. */

const offers = (band: string, n = 400) =>
  Array.from({ length: n }, (_, i) => ({ appointment_id: `A${i}`, offer_no: 1, band }));

describe('simulated patients', () => {
  test('the same seed gives the same answers and scores; another seed does not', () => {
    const a = new PatientSimulator(7);
    const b = new PatientSimulator(7);
    const c = new PatientSimulator(8);
    const all = offers('good', 50);
    expect(all.map((o) => a.answer(o))).toEqual(all.map((o) => b.answer(o)));
    expect(all.map((o) => a.satisfaction(o))).toEqual(all.map((o) => b.satisfaction(o)));
    expect(all.map((o) => a.answer(o).answer)).not.toEqual(all.map((o) => c.answer(o).answer));
  });

  test('an excellent match is accepted more often than a poor one, and scores higher', () => {
    const sim = new PatientSimulator(1);
    const rate = (band: string) => offers(band).filter((o) => sim.answer(o).answer === 'accepted').length / 400;
    const mean = (band: string) => offers(band).reduce((s, o) => s + sim.satisfaction(o), 0) / 400;
    expect(rate('excellent')).toBeGreaterThan(0.8);
    expect(rate('poor')).toBeLessThan(0.4);
    expect(mean('excellent')).toBeGreaterThan(mean('poor') + 1);
    for (const o of offers('good')) expect([1, 2, 3, 4, 5]).toContain(sim.satisfaction(o));
  });

  test('a script fixes answers offer by offer; a declined answer carries a reason marked simulated', () => {
    const sim = new PatientSimulator(7, { A001: ['declined', 'accepted'] });
    expect(sim.answer({ appointment_id: 'A001', offer_no: 1, band: 'excellent' })).toEqual({
      answer: 'declined',
      reason: 'the slot does not suit me (simulated)',
    });
    expect(sim.answer({ appointment_id: 'A001', offer_no: 2, band: 'poor' })).toEqual({ answer: 'accepted' });
  });
});
