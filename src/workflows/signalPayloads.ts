import { log } from '@temporalio/workflow';
import type { z } from 'zod';
import { isUndecodable } from '../temporal/payloadConverter';

/**
 * A signal's payload as its handler expects it, or nothing: a payload that could not be decoded (an unknown
 * encoding, see payloadConverter.ts) or that has the wrong shape is logged and ignored, and the run goes on.
 * Signals are typed by hand in the Temporal CLI and Web UI, so their payloads are user input.
 */
export function readSignal<S extends z.ZodType>(
  name: string,
  schema: S,
  raw: unknown,
  expected: string,
): { value: z.infer<S> } | undefined {
  if (isUndecodable(raw)) {
    log.warn(`ignored a ${name} signal whose payload could not be decoded`, { ...raw.__undecodable_payload__ });
    return undefined;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    log.warn(`ignored a malformed ${name} signal; expected ${expected}`);
    return undefined;
  }
  return { value: parsed.data };
}
