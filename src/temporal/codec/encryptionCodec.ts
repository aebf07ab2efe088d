import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Keyring } from './keyring';

/**
 * AES-256-GCM over the whole serialized Payload (its metadata too, so the JSON encoding name is hidden as well),
 * with a random 96-bit nonce per payload and the key id as additional authenticated data. The key id goes into
 * the encrypted payload's metadata, so a rotated keyring still reads what older keys wrote. A payload without
 * our encoding (recorded before encryption, or sent by `temporal workflow signal --input`) passes through
 * untouched, which keeps old histories replayable.
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

/** A payload our codec cannot decrypt; the message names the key id and never holds payload data. */
export class PayloadDecryptionError extends Error {
  constructor(
    message: string,
    readonly keyId: string,
  ) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

export interface EncryptionCodecOptions {
  /** Told once per missing key id (the worker's log): which run, which key. */
  onMissingKey?: (line: string) => void;
  /** false: decrypt only, encode nothing (PAYLOAD_ENCRYPTION=off with a keyring: runs already encrypted finish). */
  encrypt?: boolean;
}

export function isEncrypted(payload: Payload): boolean {
  return str(payload.metadata?.encoding) === ENCRYPTED_ENCODING;
}

export function keyIdOf(payload: Payload): string | undefined {
  return isEncrypted(payload) ? str(payload.metadata?.[KEY_ID_METADATA]) : undefined;
}

export class EncryptionCodec implements PayloadCodec {
  private readonly toldMissing = new Set<string>();

  constructor(
    private readonly keyring: Keyring,
    private readonly options: EncryptionCodecOptions = {},
  ) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    if (this.options.encrypt === false) return payloads;
    const { id, key } = this.keyring.current();
    return payloads.map((payload) => {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(id, 'utf8'));
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: text(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: text(id), [CIPHER_METADATA]: text(CIPHER) },
        data: new Uint8Array(sealed),
      };
    });
  }

  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload, context) : payload));
  }

  private decrypt(payload: Payload, context?: SerializationContext): Payload {
    const id = keyIdOf(payload) ?? '(none)';
    const key = this.keyring.key(id);
    const where = context?.workflowId ? ` (workflow ${context.workflowId})` : '';
    if (!key) {
      const message = `payload encrypted with key id "${id}", which is not in the keyring (known: ${this.keyring.ids.join(', ')}): add that key to PAYLOAD_KEYS`;
      if (!this.toldMissing.has(id)) {
        this.toldMissing.add(id);
        this.options.onMissingKey?.(`codec: cannot decrypt${where}: ${message}`);
      }
      throw new PayloadDecryptionError(message, id);
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES)
      throw new PayloadDecryptionError(`payload encrypted with key id "${id}" is truncated`, id);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
      decipher.setAAD(Buffer.from(id, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain);
    } catch {
      throw new PayloadDecryptionError(
        `payload encrypted with key id "${id}" does not decrypt: the key under that id differs, or the payload was altered`,
        id,
      );
    }
  }
}
