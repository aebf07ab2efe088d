import fs from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import type { AppConfig } from '../config';
import { EncryptionCodec } from './codec/encryptionCodec';
import { loadKeyring, type Keyring } from './codec/keyring';
import { converterPaths } from './workflowBundle';

/**
 * The one place a Temporal data converter is made from the configuration: every client, worker, replayer,
 * schedule and codec server of ours takes it from here, so that what one encrypts the others can read.
 */

export type EncryptionSettings = Pick<AppConfig, 'PAYLOAD_ENCRYPTION' | 'PAYLOAD_KEYS' | 'PAYLOAD_KEY_FILE'>;

export interface DataConverterOptions {
  /** Where the one-time notices (a key file created, encryption off) and missing-key lines go; stderr by default. */
  say?: (line: string) => void;
}

const sayOnStderr = (line: string) => console.error(line);
const keyrings = new Map<string, Keyring>();
const told = new Set<string>();

function tellOnce(line: string, say: (line: string) => void): void {
  if (told.has(line)) return;
  told.add(line);
  say(line);
}

/** The keyring of these settings, read once per process; a created key file is announced once (never its key). */
export function keyringFor(settings: EncryptionSettings, options: DataConverterOptions = {}): Keyring {
  const cacheKey = `${settings.PAYLOAD_KEYS ?? ''}\u0000${settings.PAYLOAD_KEY_FILE}`;
  const cached = keyrings.get(cacheKey);
  if (cached) return cached;
  const { keyring, created } = loadKeyring(settings);
  if (created)
    tellOnce(
      `created a payload encryption key in ${created} (mode 0600); keep it with the Temporal data: without it, runs recorded with it cannot be read`,
      options.say ?? sayOnStderr,
    );
  keyrings.set(cacheKey, keyring);
  return keyring;
}

/**
 * The encryption codec of these settings. With PAYLOAD_ENCRYPTION=off (said once, as a warning) nothing new is
 * encrypted, but a keyring that exists still decrypts what was encrypted before, so runs in flight can finish;
 * with no keyring at all there is no codec (and no key file is made).
 */
export function codecFor(
  settings: EncryptionSettings,
  options: DataConverterOptions = {},
): EncryptionCodec | undefined {
  const say = options.say ?? sayOnStderr;
  if (settings.PAYLOAD_ENCRYPTION === 'off') {
    tellOnce(
      'warning: PAYLOAD_ENCRYPTION=off: inputs, results and patient data are stored in Temporal as plain JSON',
      say,
    );
    if (settings.PAYLOAD_KEYS === undefined && !fs.existsSync(settings.PAYLOAD_KEY_FILE)) return undefined;
    return new EncryptionCodec(keyringFor(settings, options), { onMissingKey: say, encrypt: false });
  }
  return new EncryptionCodec(keyringFor(settings, options), { onMissingKey: say });
}

/** The data converter for a client, a worker or a replayer: our payload and failure converters, and the codec. */
export function dataConverterFor(settings: EncryptionSettings, options: DataConverterOptions = {}): DataConverter {
  const codec = codecFor(settings, options);
  return { ...converterPaths, payloadCodecs: codec ? [codec] : [] };
}

/** One line for a process's start-up banner: whether payloads are encrypted, and under which key id (not the key). */
export function describeEncryption(settings: EncryptionSettings): string {
  if (settings.PAYLOAD_ENCRYPTION === 'off') return 'payload encryption OFF';
  return `payloads encrypted (AES-256-GCM, current key id ${keyringFor(settings).currentId})`;
}
