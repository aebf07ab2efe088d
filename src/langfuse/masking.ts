/**
 * Masking of patient data in traces: what a trace shows is what the model saw, minus names, phone numbers
 * and free-text notes. JSON inside strings (tool results are JSON text in chat messages) is masked too.
 */

/** Keys whose values are free text or contact data about a patient. */
const SENSITIVE_KEYS = new Set(['notes', 'note', 'patient_name', 'phone', 'phone_number', 'email']);

/** Phone-like runs: an optional +, then 9 or more digits with spaces, dots, dashes or brackets between (a date has 8). */
const PHONE = /\+?\(?\d[\d\s().-]{6,}\d/g;

const MASKED = '[masked]';

interface MaskOptions {
  /** Names to replace wherever they occur (the patients in the scheduling database). */
  names: () => string[];
}

export function maskValue(value: unknown, options: MaskOptions): unknown {
  const names = options.names().filter((n) => n.trim().length >= 3);
  return walk(value, names);
}

function walk(value: unknown, names: string[]): unknown {
  if (typeof value === 'string') return maskString(value, names);
  if (Array.isArray(value)) return value.map((v) => walk(v, names));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        SENSITIVE_KEYS.has(k.toLowerCase()) && v !== '' && v !== null ? MASKED : walk(v, names),
      ]),
    );
  }
  return value;
}

function maskString(text: string, names: string[]): string {
  const trimmed = text.trim();
  if ((trimmed.startsWith('{') && trimmed.endsWith('}')) || (trimmed.startsWith('[') && trimmed.endsWith(']'))) {
    try {
      return JSON.stringify(walk(JSON.parse(trimmed), names));
    } catch {
      // not JSON after all: mask as text
    }
  }
  let out = text.replace(PHONE, (m) => (m.replace(/\D/g, '').length >= 9 ? '[phone]' : m));
  for (const name of names) out = out.split(name).join('[name]');
  return out;
}
