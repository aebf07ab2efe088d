import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config';

/**
 * Patient ids in traces are replaced by a keyed hash (HMAC-SHA256 under a key of its own, never the payload key):
 * the same patient is the same pseudonym in every trace, so someone holding the key can still find a patient's
 * traces (`npm run cli -- pseudonym PAT001`), and someone reading Langfuse without it learns nothing about the id.
 */

export const PSEUDONYM_KEY_BYTES = 32;

/** Lowercase letters a to p, two per byte: no digits, so no masking rule (phone numbers) ever bites a pseudonym. */
const LETTERS = 'abcdefghijklmnop';
const PREFIX = 'pt_';

export interface PseudonymKeySettings {
  /** The key itself (base64 of 32 bytes), or @file holding it. */
  PATIENT_ID_HMAC_KEY?: string;
  /** The local key file, used when PATIENT_ID_HMAC_KEY is unset; created (mode 0600) with a new key on first use. */
  PATIENT_ID_KEY_FILE: string;
}

export class PatientPseudonyms {
  private readonly memo = new Map<string, string>();
  constructor(private readonly key: Buffer) {}

  /** The pseudonym of a patient id: `pt_` and 16 letters (64 bits of HMAC-SHA256). */
  of(patientId: string): string {
    let p = this.memo.get(patientId);
    if (p === undefined) {
      const mac = createHmac('sha256', this.key).update(patientId, 'utf8').digest().subarray(0, 8);
      p = PREFIX + [...mac].map((b) => LETTERS[b >> 4]! + LETTERS[b & 15]!).join('');
      this.memo.set(patientId, p);
    }
    return p;
  }
}

/** True for text that is a pseudonym (so masking never hashes a pseudonym twice). */
export function isPseudonym(text: string): boolean {
  return new RegExp(`^${PREFIX}[${LETTERS}]{16}$`).test(text);
}

function parseKey(text: string, source: string): Buffer {
  const t = text.trim();
  const key = Buffer.from(t, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || key.length !== PSEUDONYM_KEY_BYTES)
    throw new ConfigError(
      `invalid configuration: ${source} must be ${PSEUDONYM_KEY_BYTES} bytes in base64 (openssl rand -base64 32)`,
    );
  return key;
}

function readFile(file: string, source: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`invalid configuration: ${source} ${file} cannot be read`);
  }
}

/**
 * The pseudonym key the configuration names: PATIENT_ID_HMAC_KEY (base64, or @file), else the local key file,
 * created with a new key (mode 0600) when it does not exist; `created` tells the caller to say so, once.
 */
export function loadPseudonymKey(settings: PseudonymKeySettings): { key: Buffer; created?: string } {
  const raw = settings.PATIENT_ID_HMAC_KEY;
  if (raw !== undefined) {
    if (!raw.startsWith('@')) return { key: parseKey(raw, 'PATIENT_ID_HMAC_KEY') };
    const file = raw.slice(1);
    return { key: parseKey(readFile(file, 'PATIENT_ID_HMAC_KEY file'), `PATIENT_ID_HMAC_KEY file ${file}`) };
  }
  const file = settings.PATIENT_ID_KEY_FILE;
  let created: string | undefined;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // As the payload key file: written aside and linked into place, so two processes starting at once agree.
    // Unique per attempt: replicas in fresh containers may all be pid 1.
    const aside = `${file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      fs.writeFileSync(aside, `${randomBytes(PSEUDONYM_KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      fs.linkSync(aside, file);
      created = file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new ConfigError(`invalid configuration: cannot create the patient id key file ${file}`);
    } finally {
      fs.rmSync(aside, { force: true });
    }
  }
  return {
    key: parseKey(readFile(file, 'PATIENT_ID_KEY_FILE'), `PATIENT_ID_KEY_FILE ${file}`),
    ...(created ? { created } : {}),
  };
}

/** The pseudonyms of these settings; a created key file is announced through `say` (its path, never the key). */
export function pseudonymsFor(settings: PseudonymKeySettings, say: (line: string) => void): PatientPseudonyms {
  const { key, created } = loadPseudonymKey(settings);
  if (created)
    say(
      `created a patient id pseudonym key in ${created} (mode 0600); keep it: without it, patients cannot be found in the traces`,
    );
  return new PatientPseudonyms(key);
}
