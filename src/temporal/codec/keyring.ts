import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../config';
import { describeZodError } from '../../zodIssue';

/**
 * The payload keys: one current key that encrypts, and older ones kept so that what they encrypted can still be
 * read (rotation). Ids are stored in each payload's metadata; the key material never leaves this module, and no
 * message here ever includes it.
 */

export const KEY_BYTES = 32;

const keyIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'key ids are 1-64 letters, digits, dots, dashes');
const keyMaterialSchema = z
  .string()
  .refine((v) => /^[A-Za-z0-9+/]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === KEY_BYTES, {
    message: `each key must be ${KEY_BYTES} bytes in base64 (openssl rand -base64 32)`,
  });

const keyringSchema = z
  .object({ current: keyIdSchema, keys: z.record(keyIdSchema, keyMaterialSchema) })
  .strict()
  .refine((k) => k.current in k.keys, { message: 'the current key id is not one of keys', path: ['current'] });

export type KeyringDocument = z.infer<typeof keyringSchema>;

export class Keyring {
  private constructor(
    readonly currentId: string,
    private readonly keys: ReadonlyMap<string, Buffer>,
  ) {}

  static fromDocument(doc: KeyringDocument): Keyring {
    return new Keyring(
      doc.current,
      new Map(Object.entries(doc.keys).map(([id, b64]) => [id, Buffer.from(b64, 'base64')])),
    );
  }

  /** Parses a keyring document (JSON text); `source` names the setting in the one-line error. */
  static parse(text: string, source: string): Keyring {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ConfigError(
        `invalid configuration: ${source} is not JSON, e.g. {"current":"k1","keys":{"k1":"<base64 of 32 random bytes>"}}`,
      );
    }
    const parsed = keyringSchema.safeParse(json);
    if (!parsed.success)
      throw new ConfigError(`invalid configuration: ${source} ${describeZodError(parsed.error, '(keyring)')}`);
    return Keyring.fromDocument(parsed.data);
  }

  get ids(): string[] {
    return [...this.keys.keys()];
  }

  current(): { id: string; key: Buffer } {
    return { id: this.currentId, key: this.keys.get(this.currentId)! };
  }

  key(id: string): Buffer | undefined {
    return this.keys.get(id);
  }
}

/** A fresh keyring document with one random key, named by the day it was made. */
export function newKeyringDocument(now = new Date()): KeyringDocument {
  const id = `local-${now.toISOString().slice(0, 10)}`;
  return { current: id, keys: { [id]: randomBytes(KEY_BYTES).toString('base64') } };
}

export interface KeyringSettings {
  PAYLOAD_KEYS?: string;
  PAYLOAD_KEY_FILE: string;
}

/**
 * The keyring the configuration names: PAYLOAD_KEYS (JSON or @file), else the local key file, which is created
 * with one new key (mode 0600) when it does not exist; `created` tells the caller to say so, once.
 */
export function loadKeyring(settings: KeyringSettings): { keyring: Keyring; created?: string } {
  const raw = settings.PAYLOAD_KEYS;
  if (raw !== undefined) {
    if (!raw.startsWith('@')) return { keyring: Keyring.parse(raw, 'PAYLOAD_KEYS') };
    const file = raw.slice(1);
    return { keyring: Keyring.parse(readKeyFile(file, 'PAYLOAD_KEYS file'), `PAYLOAD_KEYS file ${file}`) };
  }
  const file = settings.PAYLOAD_KEY_FILE;
  let created: string | undefined;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Written aside, then linked into place: two processes starting at once cannot both write a key, and neither
    // reads a half-written file; the loser reads the winner's.
    // Unique per attempt: replicas in fresh containers may all be pid 1.
    const aside = `${file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      fs.writeFileSync(aside, `${JSON.stringify(newKeyringDocument(), null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      fs.linkSync(aside, file);
      created = file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new ConfigError(`invalid configuration: cannot create the payload key file ${file}`);
    } finally {
      fs.rmSync(aside, { force: true });
    }
  }
  return {
    keyring: Keyring.parse(readKeyFile(file, 'PAYLOAD_KEY_FILE'), `PAYLOAD_KEY_FILE ${file}`),
    ...(created ? { created } : {}),
  };
}

function readKeyFile(file: string, setting: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`invalid configuration: ${setting} ${file} cannot be read`);
  }
}
