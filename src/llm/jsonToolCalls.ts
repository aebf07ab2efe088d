import { z } from 'zod';
import { tools, type ToolName } from '../tools/catalog';
import type { ChatMessage, ChatOutput, TurnConstraints } from './chatTypes';

/**
 * Tool calls for models that follow a JSON schema better than they call tools (tool_calling: json_schema).
 * Each turn asks for one JSON object under a `response_format` JSON schema, which llama.cpp, vLLM, Ollama and
 * OpenAI's structured outputs enforce by constrained decoding: either {"tool_calls": [{"name", "arguments"}]}
 * or, once every appointment is decided, {"summary": {...}}. The schema is built from the catalog's zod schemas
 * and narrowed to the turn: appointment ids to the batch's undecided ones, provider ids to the candidates the
 * tools returned, so the model cannot name an id that does not exist. The reply becomes ordinary tool calls,
 * which the workflow validates, guards and runs exactly like native ones.
 *
 * Also here: the conversation as such a model reads it (tool calls and results as JSON text, since a chat
 * template without tool support has no place for them), its inverse (the offline stand-in reads it), and the
 * recovery of tool calls a model in native mode wrote as text. Pure: no I/O.
 */

type JsonSchema = Record<string, unknown>;

/** The catalog's input schema of a tool as JSON Schema, required properties only (what strict mode accepts). */
function requiredArguments(name: ToolName): { properties: Record<string, JsonSchema>; required: string[] } {
  const schema = z.toJSONSchema(tools[name].input, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  const required = schema.required ?? [];
  const properties = Object.fromEntries(
    Object.entries(schema.properties ?? {}).filter(([key]) => required.includes(key)),
  );
  return { properties, required };
}

const object = (properties: Record<string, JsonSchema>): JsonSchema => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

/** Free text (a waitlist reason) kept short: every character is generated, and a reason is one line. */
function shortText(properties: Record<string, JsonSchema>): Record<string, JsonSchema> {
  return Object.fromEntries(
    Object.entries(properties)
      .filter(([, p]) => p.type === 'string' && p.enum === undefined && p.pattern === undefined)
      .map(([key, p]) => [key, { ...p, maxLength: Math.min(Number(p.maxLength ?? 120), 120) }]),
  );
}

/** The argument schemas a tool may be called with this turn; none when the turn leaves it nothing to act on. */
function argumentVariants(name: ToolName, c: TurnConstraints): JsonSchema[] {
  const { properties } = requiredArguments(name);
  const providerKey = ['new_provider_id', 'provider_id'].find((k) => k in properties);
  if ('appointment_id' in properties) {
    const asked = new Set(name === 'request_approval' ? (c.asked ?? []) : []);
    const ids = (name === 'notify_patient' ? c.toNotify : c.appointments).filter((id) => !asked.has(id));
    if (providerKey) {
      // One variant per appointment, with the providers the tools proposed for it; where the candidates say more,
      // only those it may be assigned to now, or a person asked about.
      const providers = (id: string): string[] => {
        const choice = c.choices?.[id];
        if (choice && name === 'assign_appointment') return choice.assign;
        if (choice && name === 'request_approval') return choice.ask;
        return c.candidates[id] ?? [];
      };
      return ids
        .filter((id) => providers(id).length > 0)
        .map((id) => object({ ...properties, appointment_id: { enum: [id] }, [providerKey]: { enum: providers(id) } }));
    }
    return ids.length > 0 ? [object({ ...properties, ...shortText(properties), appointment_id: { enum: ids } })] : [];
  }
  if ('patient_id' in properties)
    return c.patients.length > 0 ? [object({ ...properties, patient_id: { enum: c.patients } })] : [];
  return [object(properties)];
}

/** The summary the prompt asks for, with the batch's appointment ids. */
function summarySchema(c: TurnConstraints): JsonSchema {
  const id = { enum: c.batch };
  return object({
    total_affected: { type: 'integer', minimum: 0 },
    successful_assignments: { type: 'integer', minimum: 0 },
    waitlist_entries: { type: 'integer', minimum: 0 },
    assignments: {
      type: 'array',
      items: object({ appointment_id: id, new_provider_id: { type: 'string' }, score: { type: 'integer' } }),
    },
    waitlisted: { type: 'array', items: object({ appointment_id: id, reason: { type: 'string', maxLength: 200 } }) },
  });
}

/** The variants of a tool call this turn allows: one per tool and argument variant. */
export function callVariants(c: TurnConstraints, toolNames: readonly ToolName[]): JsonSchema[] {
  return toolNames.flatMap((name) =>
    argumentVariants(name, c).map((args) => object({ name: { enum: [name] }, arguments: args })),
  );
}

/**
 * The turn's response_format schema: tool calls while something is left to do, the summary once nothing is
 * (or when no call could be valid). A root object, every property required, no extra ones: strict-mode safe.
 */
export function turnSchema(
  c: TurnConstraints,
  toolNames: readonly ToolName[],
): { name: string; schema: JsonSchema; allows: 'tool_calls' | 'summary' } {
  const variants = callVariants(c, toolNames);
  if (c.summary || variants.length === 0)
    return { name: 'batch_summary', schema: object({ summary: summarySchema(c) }), allows: 'summary' };
  const items = variants.length === 1 ? variants[0]! : { anyOf: variants };
  // One step per appointment at most: a small model left free keeps adding calls until max_tokens cuts it off.
  const maxItems = Math.max(1, c.appointments.length + c.toNotify.length);
  return {
    name: 'tool_calls',
    schema: object({ tool_calls: { type: 'array', minItems: 1, maxItems, items } }),
    allows: 'tool_calls',
  };
}

/** The first line of a user message that carries tool results in json_schema mode. */
const TOOL_RESULTS = 'TOOL RESULTS ';

/** How a json_schema-mode model is told to answer, with a compact list of the tools. */
export function schemaInstructions(toolNames: readonly ToolName[]): string {
  const lines = toolNames.map((name) => {
    const { required } = requiredArguments(name);
    return `- ${name}(${required.join(', ')}): ${tools[name].description}`;
  });
  return [
    'REPLY FORMAT: one JSON object. To call tools: {"tool_calls": [{"name": "<tool>", "arguments": {...}}, ...]},',
    'as many calls as the step needs. When every appointment is decided: {"summary": <the SUMMARY JSON>}.',
    `Tool results come back in a user message that starts with "${TOOL_RESULTS.trim()}".`,
    'TOOLS:',
    ...lines,
  ].join('\n');
}

const safeParse = (text: string | null | undefined): unknown => {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
};

/**
 * The conversation as a model without tool support reads it: the instructions appended to the system prompt,
 * each assistant turn's calls as the JSON it wrote, each turn's results in one user message.
 */
export function toSchemaConversation(messages: ChatMessage[], toolNames: readonly ToolName[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  const calls = new Map<string, { name: string; arguments: unknown }>();
  let results: { name: string; arguments: unknown; outcome: unknown }[] = [];
  const flush = () => {
    if (results.length === 0) return;
    out.push({ role: 'user', content: TOOL_RESULTS + JSON.stringify({ tool_results: results }) });
    results = [];
  };
  for (const m of messages) {
    if (m.role === 'tool') {
      const call = calls.get(m.tool_call_id ?? '');
      results.push({
        name: call?.name ?? 'unknown',
        arguments: call?.arguments ?? {},
        outcome: safeParse(m.content) ?? m.content,
      });
      continue;
    }
    flush();
    if (m.role === 'system') {
      out.push({ role: 'system', content: `${m.content ?? ''}\n\n${schemaInstructions(toolNames)}` });
    } else if (m.role === 'assistant' && (m.tool_calls ?? []).length > 0) {
      const written = m.tool_calls!.map((c) => {
        const call = { name: c.function.name, arguments: safeParse(c.function.arguments) ?? c.function.arguments };
        calls.set(c.id, call);
        return call;
      });
      out.push({ role: 'assistant', content: JSON.stringify({ tool_calls: written }) });
    } else {
      out.push({ role: m.role, content: m.content ?? '' });
    }
  }
  flush();
  return out;
}

/**
 * The inverse, for the offline stand-in: tool calls written as JSON become tool calls again, and the results
 * message becomes tool messages, so the same decision procedure reads both kinds of conversation.
 */
export function fromSchemaConversation(messages: ChatMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  let turn = 0;
  let pending: string[] = [];
  for (const m of messages) {
    if (m.role === 'assistant') {
      const parsed = safeParse(m.content) as { tool_calls?: { name: string; arguments: unknown }[] } | undefined;
      if (parsed && Array.isArray(parsed.tool_calls)) {
        turn += 1;
        pending = parsed.tool_calls.map((_, i) => `schema_${turn}_${i}`);
        out.push({
          role: 'assistant',
          content: null,
          tool_calls: parsed.tool_calls.map((c, i) => ({
            id: pending[i]!,
            type: 'function' as const,
            function: { name: String(c.name), arguments: JSON.stringify(c.arguments ?? {}) },
          })),
        });
        continue;
      }
    }
    if (m.role === 'user' && (m.content ?? '').startsWith(TOOL_RESULTS)) {
      const parsed = safeParse(m.content!.slice(TOOL_RESULTS.length)) as
        { tool_results?: { outcome: unknown }[] } | undefined;
      (parsed?.tool_results ?? []).forEach((r, i) =>
        out.push({
          role: 'tool',
          tool_call_id: pending[i] ?? `schema_orphan_${i}`,
          content: JSON.stringify(r.outcome),
        }),
      );
      continue;
    }
    out.push(m);
  }
  return out;
}

const replySchema = z.union([
  z
    .object({
      tool_calls: z
        .array(z.object({ name: z.string().min(1), arguments: z.record(z.string(), z.unknown()) }).strict())
        .min(1),
    })
    .strict(),
  z.object({ summary: z.record(z.string(), z.unknown()) }).strict(),
]);

/**
 * A json_schema-mode reply as the workflow's usual output: tool calls with ids unique in the conversation, or
 * the summary as the content. A reply that does not parse (an endpoint that did not enforce the schema) is
 * returned as text with the reason in format_error.
 */
export function readSchemaReply(
  content: string | null,
  turn: number,
): Pick<ChatOutput['message'], 'content' | 'tool_calls'> & { format_error?: string } {
  const parsed = replySchema.safeParse(safeParse(content));
  if (!parsed.success)
    return {
      content,
      tool_calls: [],
      format_error: `the reply is not the JSON object the schema asks for: ${String(content ?? '').slice(0, 120)}`,
    };
  if ('summary' in parsed.data) return { content: JSON.stringify(parsed.data.summary), tool_calls: [] };
  return {
    content: null,
    tool_calls: parsed.data.tool_calls.map((c, i) => ({
      id: `schema_${turn}_${i}`,
      name: c.name,
      arguments: JSON.stringify(c.arguments),
    })),
  };
}

const textCallSchema = z.object({
  name: z.string().min(1),
  arguments: z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});

/** A JSON value that is one tool call, a list of them, or {"tool_calls": [...]}: the calls, else nothing. */
function callsIn(value: unknown): { name: string; arguments: string }[] {
  const list = Array.isArray(value)
    ? value
    : value && typeof value === 'object' && Array.isArray((value as { tool_calls?: unknown }).tool_calls)
      ? (value as { tool_calls: unknown[] }).tool_calls
      : [value];
  const calls = list.map((v) => textCallSchema.safeParse(v));
  if (calls.length === 0 || !calls.every((c) => c.success)) return [];
  return calls.map((c) => {
    const { name, arguments: args, parameters } = c.data!;
    return { name, arguments: typeof args === 'string' ? args : JSON.stringify(args ?? parameters ?? {}) };
  });
}

/**
 * Tool calls a model in native mode wrote in its text instead of the tool_calls field: `<tool_call>{…}</tool_call>`
 * (Hermes, Qwen and SmolLM templates) or a fenced JSON block holding {"name", "arguments"}. Undefined when the
 * text holds none (a summary in a fenced block is not a tool call).
 */
export function recoverTextToolCalls(content: string | null): { name: string; arguments: string }[] | undefined {
  if (!content) return undefined;
  const blocks = [
    ...[...content.matchAll(/<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g)].map((m) => m[1]!),
    ...[...content.matchAll(/```(?:json)?\s*\n?([\s\S]*?)```/g)].map((m) => m[1]!),
  ];
  const calls = blocks.flatMap((b) => callsIn(safeParse(b)));
  return calls.length > 0 ? calls : undefined;
}
