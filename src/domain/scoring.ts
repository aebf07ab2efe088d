import type { Appointment, Patient, Provider } from './model';
import { FACTORS, type Factor, type Weights } from './policy';

/** The six-factor match score (0..200): each factor earns a fraction of its weight. Pure and deterministic. */

interface FactorScore {
  points: number;
  max: number;
  detail: string;
}

export interface MatchScore {
  score: number;
  factors: Record<Factor, FactorScore>;
  distance_km: number;
}

const EARTH_RADIUS_KM = 6371;
const FULL_EXPERIENCE_YEARS = 20;
const FULL_CONTINUITY_VISITS = 3;

function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export function scoreMatch(input: {
  appointment: Pick<Appointment, 'specialty'>;
  patient: Patient;
  provider: Provider;
  previousVisits: number;
  weights: Weights;
}): MatchScore {
  const { appointment, patient, provider, previousVisits, weights } = input;
  const km = distanceKm(patient.location, provider.location);
  const fractions: Record<Factor, [number, string]> = {
    specialty:
      provider.specialty === appointment.specialty
        ? [1, `${provider.specialty}`]
        : [0, `${provider.specialty} ≠ ${appointment.specialty}`],
    gender:
      patient.gender_preference === 'any'
        ? [1, 'no preference']
        : patient.gender_preference === provider.gender
          ? [1, `prefers ${patient.gender_preference}`]
          : [0, `prefers ${patient.gender_preference}, provider ${provider.gender}`],
    language: provider.languages.includes(patient.language)
      ? [1, `speaks ${patient.language}`]
      : [0, `does not speak ${patient.language}`],
    // Full points next door, half at the patient's limit, none beyond it.
    distance:
      km <= patient.max_distance_km
        ? [1 - 0.5 * (km / patient.max_distance_km), `${round1(km)} km of ${patient.max_distance_km}`]
        : [0, `${round1(km)} km, beyond ${patient.max_distance_km}`],
    continuity: [
      Math.min(previousVisits, FULL_CONTINUITY_VISITS) / FULL_CONTINUITY_VISITS,
      `${previousVisits} previous visits`,
    ],
    experience: [
      Math.min(provider.experience_years, FULL_EXPERIENCE_YEARS) / FULL_EXPERIENCE_YEARS,
      `${provider.experience_years} years`,
    ],
  };
  const factors = {} as Record<Factor, FactorScore>;
  let total = 0;
  for (const f of FACTORS) {
    const [fraction, detail] = fractions[f];
    const points = round1(fraction * weights[f]);
    factors[f] = { points, max: weights[f], detail };
    total += fraction * weights[f];
  }
  return { score: Math.round(total), factors, distance_km: round1(km) };
}
