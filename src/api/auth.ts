import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { parseJsonSetting } from '../config';

/**
 * Who may use the API: API keys from the configuration (API_KEYS), each with a name and a role. A viewer reads
 * runs and approvals; an operator may also start, approve, reject and cancel. Every decision records the name.
 * An auditor reads what a viewer reads, and the access log (who did what, when, with what outcome); no one else does.
 * With no keys configured there is one implicit operator, and the server binds to loopback only.
 */

export const roleSchema = z.enum(['viewer', 'operator', 'gateway', 'auditor']);
export type Role = z.infer<typeof roleSchema>;

const apiKeySchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    key: z.string().min(16, 'keys must be at least 16 characters'),
    role: roleSchema,
  })
  .strict();
const apiKeysSchema = z
  .array(apiKeySchema)
  .min(1)
  .refine((keys) => new Set(keys.map((k) => k.key)).size === keys.length, 'each key must be unique');

export interface Principal {
  name: string;
  role: Role;
}

/** Without keys, whoever reaches the loopback address is this operator. */
export const LOCAL_OPERATOR: Principal = { name: 'local operator', role: 'operator' };

interface StoredKey {
  digest: Buffer;
  principal: Principal;
}

export class ApiKeys {
  private constructor(private readonly keys: StoredKey[]) {}

  /** Parses API_KEYS (JSON, or @path to a JSON file); a bad value is one line naming the variable. */
  static fromSetting(raw: string | undefined): ApiKeys | undefined {
    if (raw === undefined) return undefined;
    const keys = parseJsonSetting(
      'API_KEYS',
      raw,
      apiKeysSchema,
      '[{"name":"alice","key":"<16+ characters>","role":"operator"}]',
      '(keys)',
    );
    return new ApiKeys(keys.map((k) => ({ digest: digest(k.key), principal: { name: k.name, role: k.role } })));
  }

  /** The principal a presented key belongs to; compared in constant time. */
  identify(presented: string): Principal | undefined {
    const d = digest(presented);
    return this.keys.find((k) => timingSafeEqual(k.digest, d))?.principal;
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const key = headers['x-api-key'];
  return typeof key === 'string' && key.trim() !== '' ? key.trim() : undefined;
}

/**
 * viewer < operator; an auditor reads what a viewer reads and the access log; a gateway (a messaging service's
 * webhook) may only pass on patients' answers and scores, which an operator may key in too.
 */
export const roleAllows = (have: Role, need: Role) => {
  if (have === 'gateway') return need === 'gateway';
  if (need === 'viewer') return true;
  if (need === 'gateway') return have === 'operator';
  return have === need;
};
