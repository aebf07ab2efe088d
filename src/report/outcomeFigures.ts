import type { OutcomeCounts } from '../domain/outcomes';

/**
 * What happened to patients after a group of runs decided (the report's outcome columns): offers and their
 * answers, the acceptance rate with a 95% Wilson interval and the count it is over, mean satisfaction with its
 * count, escalations per 100 appointments, offers per offered appointment. The counts come from the scheduling
 * database (`outcomeCounts(runIds)`); a small sample shows as small: a wide interval over a small count, and a
 * rate is null (not 0) when there is nothing to divide.
 */

export interface OutcomeFigures {
  /** Appointments of these runs offered a slot at least once. */
  offered_appointments: number;
  offers: number;
  accepted: number;
  declined: number;
  no_answer: number;
  /** Offers still waiting for the patient: not in the acceptance rate. */
  open: number;
  /** Answered offers (accepted, declined, no answer by the deadline): the count the acceptance rate is over. */
  answered: number;
  acceptance_rate: number | null;
  /** 95% Wilson score interval of the acceptance rate, [low, high]; null without answered offers. */
  acceptance_ci95: [number, number] | null;
  satisfaction_mean: number | null;
  satisfaction_count: number;
  escalations: number;
  /** Escalations per 100 of the runs' appointments. */
  escalations_per_100: number | null;
  offers_per_offered_appointment: number | null;
}

const Z95 = 1.959964;

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * The Wilson score interval of a proportion (successes out of n) at 95%: unlike the normal approximation it
 * stays inside [0, 1] and is honest for small n and for rates near 0 or 1 (1 out of 1 is [0.21, 1], not [1, 1]).
 */
export function wilsonInterval(successes: number, n: number, z = Z95): [number, number] | null {
  if (!Number.isInteger(n) || n <= 0) return null;
  if (!Number.isInteger(successes) || successes < 0 || successes > n)
    throw new RangeError(`wilsonInterval: ${successes} successes out of ${n}`);
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** The outcome figures of a group of runs from their counts and their appointments (the report row's). */
export function outcomeFiguresOf(counts: OutcomeCounts, appointments: number): OutcomeFigures {
  const answered = counts.accepted + counts.declined + counts.no_answer;
  const ci = wilsonInterval(counts.accepted, answered);
  return {
    offered_appointments: counts.offered_appointments,
    offers: counts.offers,
    accepted: counts.accepted,
    declined: counts.declined,
    no_answer: counts.no_answer,
    open: counts.open,
    answered,
    acceptance_rate: answered ? round(counts.accepted / answered, 4) : null,
    acceptance_ci95: ci ? [round(ci[0], 4), round(ci[1], 4)] : null,
    satisfaction_mean: counts.satisfaction_count ? round(counts.satisfaction_sum / counts.satisfaction_count, 2) : null,
    satisfaction_count: counts.satisfaction_count,
    escalations: counts.escalations,
    escalations_per_100: appointments ? round((counts.escalations * 100) / appointments, 2) : null,
    offers_per_offered_appointment: counts.offered_appointments
      ? round(counts.offers / counts.offered_appointments, 2)
      : null,
  };
}
