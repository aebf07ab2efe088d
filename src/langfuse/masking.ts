/**
 * Masking of patient data in traces: what a trace shows is what the model saw, minus names, phone numbers
 * and free-text notes, with each patient id replaced by its pseudonym (a keyed hash: the same patient, the same
 * pseudonym, in every trace). JSON inside strings (tool results are JSON text in chat messages) is masked too.
 */

/** Keys whose values are free text or contact data about a patient. */
const SENSITIVE_KEYS = new Set(['notes', 'note', 'patient_name', 'phone', 'phone_number', 'email']);
/** Keys whose values are a patient id (or a list of them), whatever the id looks like. */
const PATIENT_ID_KEYS = new Set(['patient_id', 'patientid', 'patient_ids', 'patientids']);

/** Phone-like runs: an optional +, then 9 or more digits with spaces, dots, dashes or brackets between (a date has 8). */
const PHONE = /\+?\(?\d[\d\s().-]{6,}\d/g;
/** Words shaped like our ids (PAT001, A001, T001): those that are a known patient's id are pseudonymised. */
const ID_WORD = /\b[A-Z][A-Z0-9-]{1,31}\b/g;

const MASKED = '[masked]';

export interface MaskOptions {
  /** Names to replace wherever they occur (the patients in the scheduling database). */
  names: () => string[];
  /** The patients' ids, to pseudonymise wherever they occur in text (under a patient id key, always). */
  patientIds?: () => Iterable<string>;
  /** A patient id's pseudonym; without it, patient ids are masked outright. */
  pseudonym?: (patientId: string) => string;
}

interface Masker {
  names: string[];
  ids: ReadonlySet<string>;
  pseudonym: (patientId: string) => string;
}

/** Each of these values masked (one observation's fields): the names and ids are read once. */
export function maskValues<T extends Record<string, unknown>>(values: T, options: MaskOptions): T {
  const m = masker(options);
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, walk(v, m)])) as T;
}

/**
 * Only the patient ids in a text pseudonymised: for ids such as the session (a workflow id, which holds no patient
 * data by design, and whose dates the phone rule would otherwise take for a number).
 */
export function pseudonymiseIds(text: string, options: MaskOptions): string {
  return replaceIds(text, masker({ ...options, names: () => [] }));
}

function replaceIds(text: string, m: Masker): string {
  return m.ids.size > 0 ? text.replace(ID_WORD, (w) => (m.ids.has(w) ? m.pseudonym(w) : w)) : text;
}

function masker(options: MaskOptions): Masker {
  return {
    names: options.names().filter((n) => n.trim().length >= 3),
    ids: new Set(options.patientIds?.() ?? []),
    pseudonym: options.pseudonym ?? (() => MASKED),
  };
}

function walk(value: unknown, m: Masker): unknown {
  if (typeof value === 'string') return maskString(value, m);
  if (Array.isArray(value)) return value.map((v) => walk(v, m));
  if (value instanceof Date) return value;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        const key = k.toLowerCase();
        if (SENSITIVE_KEYS.has(key)) return [k, v !== '' && v !== null ? MASKED : v];
        if (PATIENT_ID_KEYS.has(key)) return [k, pseudonymised(v, m)];
        return [k, walk(v, m)];
      }),
    );
  }
  return value;
}

function pseudonymised(value: unknown, m: Masker): unknown {
  if (typeof value === 'string' && value !== '') return m.pseudonym(value);
  if (Array.isArray(value)) return value.map((v) => pseudonymised(v, m));
  return walk(value, m);
}

function maskString(text: string, m: Masker): string {
  const trimmed = text.trim();
  if ((trimmed.startsWith('{') && trimmed.endsWith('}')) || (trimmed.startsWith('[') && trimmed.endsWith(']'))) {
    try {
      return JSON.stringify(walk(JSON.parse(trimmed), m));
    } catch {
      // not JSON after all: mask as text
    }
  }
  let out = text.replace(PHONE, (x) => (x.replace(/\D/g, '').length >= 9 ? '[phone]' : x));
  for (const name of m.names) out = out.split(name).join('[name]');
  // Last, so that no other rule touches a pseudonym (they hold no digits either).
  return replaceIds(out, m);
}
