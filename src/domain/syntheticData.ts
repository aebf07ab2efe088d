import { datesInRange, MAX_RANGE_DAYS, type Dataset } from './model';

/**
 * A large synthetic data set for tests and benchmarks: `appointments` affected appointments of provider
 * `providerId` from `date`, one per minute from 07:00, and a pool of candidate providers with partly booked days.
 * Past `perDay` appointments (at most 1,020, 07:00 to 24:00) they spill over to the following days:
 * `syntheticDays` says how many days, and so which `until` a run needs. Deterministic for a given seed.
 */
interface SyntheticOptions {
  appointments: number;
  providerId?: string;
  date?: string;
  seed?: number;
  /** Candidate providers of the same specialty; by default one per 25 appointments of a day, at least 8. */
  candidates?: number;
  /** Appointments per day before the next day starts (1..1,020, the default). */
  perDay?: number;
  /**
   * Free-text notes as staff write them, naming the patient and a phone number to call back (for the scans that
   * look for patient data where it must not be). Off by default: the benchmarks' data stays as it was.
   */
  withNotes?: boolean;
}

export const MAX_APPOINTMENTS_PER_DAY = 17 * 60;
export const MAX_SYNTHETIC_APPOINTMENTS = MAX_APPOINTMENTS_PER_DAY * MAX_RANGE_DAYS;

/** How many days the synthetic appointments cover, and the last of them (a run's `until`). */
export function syntheticDays(options: SyntheticOptions): { days: number; until: string } {
  const perDay = options.perDay ?? MAX_APPOINTMENTS_PER_DAY;
  const days = Math.ceil(options.appointments / perDay);
  const date = options.date ?? '2025-11-21';
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return { days, until: new Date(Date.UTC(y, m - 1, d) + (days - 1) * 86_400_000).toISOString().slice(0, 10) };
}

/** A small seeded PRNG: the same seed, the same data. Also seeds the crash suite's random kill points. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const minuteToTime = (m: number) => `${pad(Math.floor(m / 60), 2)}:${pad(m % 60, 2)}`;

/** The phone number written in synthetic patient n's note (n from 1): unique per patient. */
export function syntheticPhone(n: number): string {
  const digits = pad(n, 8);
  return `+351 9${digits.slice(0, 2)} ${digits.slice(2, 5)} ${digits.slice(5)}`;
}

export function syntheticDataset(options: SyntheticOptions): Dataset {
  const {
    appointments: n,
    providerId = 'T001',
    date = '2025-11-21',
    seed = 42,
    perDay = MAX_APPOINTMENTS_PER_DAY,
  } = options;
  if (!Number.isInteger(perDay) || perDay < 1 || perDay > MAX_APPOINTMENTS_PER_DAY) {
    throw new RangeError(`perDay must be an integer from 1 to ${MAX_APPOINTMENTS_PER_DAY} (one a minute from 07:00)`);
  }
  if (!Number.isInteger(n) || n < 1 || Math.ceil(n / perDay) > MAX_RANGE_DAYS) {
    throw new RangeError(
      `appointments must be an integer from 1 to ${perDay * MAX_RANGE_DAYS} (${perDay} a day, one a minute from 07:00, over at most ${MAX_RANGE_DAYS} days)`,
    );
  }
  const dates = datesInRange(date, syntheticDays({ ...options, perDay }).until);
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const languages = ['en', 'es', 'pt', 'fr', 'zh'] as const;
  const genders = ['female', 'male'] as const;
  const base = { lat: 38.72, lon: -9.14 };
  const near = (km: number) => ({
    lat: +(base.lat + ((rand() - 0.5) * 2 * km) / 111).toFixed(5),
    lon: +(base.lon + ((rand() - 0.5) * 2 * km) / 87).toFixed(5),
  });
  const k = options.candidates ?? Math.max(8, Math.ceil(Math.min(n, perDay) / 25));
  const times = Array.from({ length: n }, (_, i) => minuteToTime(7 * 60 + (i % perDay)));

  const data: Dataset = { providers: [], patients: [], appointments: [], history: [], slots: [], unavailability: [] };
  data.providers.push({
    id: providerId,
    name: 'Synthetic Absent Provider',
    specialty: 'orthopedics',
    gender: 'male',
    languages: ['en'],
    location: base,
    experience_years: 10,
  });
  const candidateIds: string[] = [];
  for (let c = 0; c < k; c++) {
    const id = `P${pad(c + 1, 5)}`;
    candidateIds.push(id);
    const own = pick(languages);
    data.providers.push({
      id,
      name: `Synthetic Provider ${c + 1}`,
      specialty: 'orthopedics',
      gender: pick(genders),
      languages: own === 'en' ? ['en'] : ['en', own],
      location: near(12),
      experience_years: Math.floor(rand() * 30),
    });
  }
  for (let i = 0; i < n; i++) {
    const time = times[i]!;
    const day = dates[Math.floor(i / perDay)]!;
    data.slots.push({ provider_id: providerId, date: day, time });
    // Each candidate works about half of the minutes, so every appointment has a few options.
    for (const id of candidateIds) if (rand() < 0.5) data.slots.push({ provider_id: id, date: day, time });
    const patientId = `PAT${pad(i + 1, 6)}`;
    data.patients.push({
      id: patientId,
      name: `Synthetic Patient ${i + 1}`,
      gender_preference: rand() < 0.5 ? 'any' : pick(genders),
      language: rand() < 0.6 ? 'en' : pick(languages),
      location: near(10),
      max_distance_km: pick([5, 10, 15, 25]),
      notes: options.withNotes
        ? `Synthetic Patient ${i + 1} asks for a call back on ${syntheticPhone(i + 1)} before the visit.`
        : '',
    });
    data.appointments.push({
      id: `A${pad(i + 1, 6)}`,
      patient_id: patientId,
      provider_id: providerId,
      date: day,
      time,
      specialty: 'orthopedics',
      status: 'scheduled',
    });
    if (rand() < 0.3)
      data.history.push({ patient_id: patientId, provider_id: pick(candidateIds), visits: 1 + Math.floor(rand() * 4) });
  }
  return data;
}
