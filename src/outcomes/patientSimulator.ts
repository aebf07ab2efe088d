import { hashToUnit } from '../prompts/experiment';
import type { Offer } from '../domain/outcomes';

/**
 * Simulated patients, for the demo, the offline eval and tests: a SIMULATION, never a real answer. Each answer is
 * a pure function of a seed, the appointment and the offer (a better match is accepted more often, and scores
 * higher), so the same seed gives the same answers on every machine. A script can fix some answers (the demo's
 * patient who declines).
 */

export const SIMULATION_NOTICE =
  'simulated patients: these answers and scores are a deterministic simulation, not real patients';

/** Who a simulated answer is recorded as. */
export const SIMULATED_BY = 'simulated patient';

const ACCEPT_CHANCE: Record<string, number> = { excellent: 0.9, good: 0.7, fair: 0.5, poor: 0.3 };

export interface SimulatedAnswer {
  answer: 'accepted' | 'declined' | 'none';
  reason?: string;
}

export class PatientSimulator {
  constructor(
    readonly seed: number,
    /** Fixed answers per appointment, in offer order (e.g. {A001: ['declined']}); the seed decides the rest. */
    private readonly script: Record<string, SimulatedAnswer['answer'][]> = {},
  ) {}

  answer(offer: Pick<Offer, 'appointment_id' | 'offer_no' | 'band'>): SimulatedAnswer {
    const scripted = this.script[offer.appointment_id]?.[offer.offer_no - 1];
    const answer =
      scripted ??
      (hashToUnit(`${this.seed}:answer:${offer.appointment_id}:${offer.offer_no}`) < (ACCEPT_CHANCE[offer.band] ?? 0.5)
        ? 'accepted'
        : hashToUnit(`${this.seed}:silent:${offer.appointment_id}:${offer.offer_no}`) < 0.25
          ? 'none'
          : 'declined');
    return answer === 'declined' ? { answer, reason: 'the slot does not suit me (simulated)' } : { answer };
  }

  /** A visit's score, 1-5: higher for a better match, with some seeded spread. */
  satisfaction(offer: Pick<Offer, 'appointment_id' | 'offer_no' | 'band'>): number {
    const base = { excellent: 4.4, good: 3.8, fair: 3.0, poor: 2.4 }[offer.band] ?? 3;
    const spread = hashToUnit(`${this.seed}:score:${offer.appointment_id}:${offer.offer_no}`) * 1.4 - 0.7;
    return Math.max(1, Math.min(5, Math.round(base + spread)));
  }
}
