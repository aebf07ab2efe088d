import { z } from 'zod';
import { ConfigError } from '../../config';
import type { ChatMessage } from '../chatTypes';
import { readBatch, type AgentReply } from './agent';

/**
 * Fault modes of the offline model, switched on per test (or per worker with OFFLINE_MODEL_FAULTS): the ways a
 * real model endpoint misbehaves, served over the same HTTP protocol so that the real openai client, the
 * activity's error classification and the workflow's guards all see them as they would in production.
 */

const transportFaults = ['rate_limit', 'server_error', 'hang', 'unauthorized', 'context_overflow'] as const;
const replyFaults = [
  'malformed_json',
  'unknown_tool',
  'invalid_arguments',
  'unknown_ids',
  'forbidden_assignment',
  'endless_loop',
  'empty_reply',
  'refusal',
  'false_summary',
  'truncated',
  'text_only',
  'text_tool_calls',
  'ignores_schema',
] as const;

const faultSchema = z
  .object({
    mode: z.enum([...transportFaults, ...replyFaults]),
    /** Only the first n chat completions get the fault (then the model behaves); all of them when absent. */
    times: z.number().int().positive().optional(),
    /** rate_limit and server_error: the Retry-After the endpoint sends, in seconds (fractions allowed). */
    retry_after_s: z.number().min(0).max(600).optional(),
    /** context_overflow: 500 as llama.cpp's server answers (the default), or 400 as OpenAI does. */
    status: z.union([z.literal(400), z.literal(500)]).optional(),
  })
  .strict();
export type Fault = z.infer<typeof faultSchema>;
const faultListSchema = z.array(faultSchema);

/**
 * The OFFLINE_MODEL_FAULTS setting: a JSON list of faults. Checked when a worker starts, before anything
 * connects; a bad value is one line naming the variable.
 */
export function parseFaultSetting(raw: string | undefined): Fault[] {
  if (raw === undefined) return [];
  try {
    return faultListSchema.parse(JSON.parse(raw));
  } catch {
    throw new ConfigError(
      'invalid configuration: OFFLINE_MODEL_FAULTS must be a JSON list such as [{"mode":"rate_limit","times":2,"retry_after_s":1}] (modes: see src/llm/offline/faults.ts)',
    );
  }
}

type TransportFault = Fault & { mode: (typeof transportFaults)[number] };

/** Faults that hold for request number n (1-based): those whose `times` has not run out. */
export function activeFaults(faults: Fault[], n: number): Fault[] {
  return faults.filter((f) => f.times === undefined || n <= f.times);
}

export function isTransportFault(f: Fault): f is TransportFault {
  return (transportFaults as readonly string[]).includes(f.mode);
}

function unavailableProvider(messages: ChatMessage[]): string {
  const user = messages.find((m) => m.role === 'user')?.content ?? '';
  return /"unavailable_provider":"([^"]+)"/.exec(user)?.[1] ?? 'T001';
}

/** Bends an honest reply into the faulty one. */
export function applyReplyFault(mode: Fault['mode'], honest: AgentReply, messages: ChatMessage[]): AgentReply {
  const first = readBatch(messages)[0] ?? 'A001';
  switch (mode) {
    case 'malformed_json':
      return {
        content: null,
        toolCalls: [
          { name: honest.toolCalls[0]?.name ?? 'find_candidates', arguments: `{"appointment_id": "${first}", ` },
        ],
      };
    case 'unknown_tool':
      return { content: null, toolCalls: [{ name: 'cancel_all_appointments', arguments: { confirm: true } }] };
    case 'invalid_arguments':
      return { content: null, toolCalls: [{ name: 'find_candidates', arguments: { appointment_id: 42, extra: 'x' } }] };
    case 'unknown_ids':
      return {
        content: null,
        toolCalls: [
          { name: 'find_candidates', arguments: { appointment_id: 'A99999' } },
          { name: 'assign_appointment', arguments: { appointment_id: first, new_provider_id: 'P99999' } },
        ],
      };
    case 'forbidden_assignment':
      // Back to the provider who is off that day, with no approval asked: the store must refuse.
      return {
        content: null,
        toolCalls: [
          {
            name: 'assign_appointment',
            arguments: { appointment_id: first, new_provider_id: unavailableProvider(messages) },
          },
        ],
      };
    case 'endless_loop':
      return { content: null, toolCalls: [{ name: 'find_candidates', arguments: { appointment_id: first } }] };
    case 'empty_reply':
      return { content: '', toolCalls: [] };
    case 'refusal':
      return {
        content: "I'm sorry, but I can't help with rescheduling medical appointments.",
        toolCalls: [],
        refusal: true,
      };
    case 'truncated':
      // What a reply cut off at max_tokens looks like: half a sentence, finish_reason "length".
      return { content: 'I will reassign A001 to the provider with the best', toolCalls: [], finishReason: 'length' };
    case 'text_only':
      // A model served without tool support answers in prose.
      return {
        content: 'Sure! To reschedule these appointments, first look at each patient, then find another provider.',
        toolCalls: [],
      };
    case 'text_tool_calls':
      // A model that knows the tools but writes its calls in the text (as some chat templates make it do).
      if (honest.toolCalls.length === 0) return honest;
      return {
        content: honest.toolCalls
          .map((c) => `<tool_call>\n${JSON.stringify({ name: c.name, arguments: c.arguments })}\n</tool_call>`)
          .join('\n'),
        toolCalls: [],
      };
    case 'ignores_schema':
      // An endpoint that ignores response_format: prose where a JSON object was asked for.
      return { content: 'I will now reassign the appointments as requested.', toolCalls: [] };
    case 'false_summary': {
      if (honest.toolCalls.length > 0) return honest;
      const ids = readBatch(messages);
      // Claims every appointment assigned with a perfect score, whatever the tools did.
      return {
        content: JSON.stringify({
          total_affected: ids.length,
          successful_assignments: ids.length,
          waitlist_entries: 0,
          assignments: ids.map((id) => ({ appointment_id: id, new_provider_id: 'P001', score: 200 })),
          waitlisted: [],
        }),
        toolCalls: [],
      };
    }
    default:
      return honest;
  }
}
