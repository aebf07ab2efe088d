import { defaultPayloadConverter, type Payload, type PayloadConverter } from '@temporalio/common';

/**
 * The default payload converter, except that a payload it cannot decode (an unknown `encoding` such as
 * `foo/bar`, `json/protobuf` without a message type, bytes that are not JSON) becomes a marker value instead of
 * an error. The SDK decodes a signal's payload before any handler or interceptor runs, and a decoding error
 * there fails every later workflow task: one bad `temporal workflow signal --input-meta encoding=...` stalled a
 * run for good. With the marker, the handler's own validation sees a malformed payload, logs it and ignores
 * it, and the run goes on. Loaded inside the workflow sandbox: deterministic, no I/O.
 */

export const UNDECODABLE = '__undecodable_payload__';

export interface UndecodablePayload {
  [UNDECODABLE]: { encoding: string; error: string };
}

export function isUndecodable(value: unknown): value is UndecodablePayload {
  return typeof value === 'object' && value !== null && UNDECODABLE in value;
}

function encodingOf(payload: Payload): string {
  const raw = payload.metadata?.encoding;
  if (!raw) return '(none)';
  return typeof raw === 'string' ? raw : String.fromCharCode(...raw);
}

class TolerantPayloadConverter implements PayloadConverter {
  toPayload<T>(value: T): Payload {
    return defaultPayloadConverter.toPayload(value);
  }

  fromPayload<T>(payload: Payload): T {
    try {
      return defaultPayloadConverter.fromPayload<T>(payload);
    } catch (err) {
      const marker: UndecodablePayload = {
        [UNDECODABLE]: { encoding: encodingOf(payload), error: String((err as Error)?.message ?? err).slice(0, 200) },
      };
      return marker as T;
    }
  }
}

export const payloadConverter = new TolerantPayloadConverter();
