import { z } from 'zod';
import { describeZodError } from '../zodIssue';

/**
 * MCP servers as a tool source: what a prompt config names (`mcp_servers`), the tool list a run pins at its start
 * (names, descriptions, input schemas, whether a tool only reads), the name the model calls a tool by, argument
 * validation against the pinned JSON Schema, and the idempotency key of a write-like call. Pure: imported by
 * workflow code, so everything here is deterministic (no I/O, no clock, no randomness).
 */

export const mcpServerConfigSchema = z
  .object({
    /** Short name; the model sees the server's tools as `<name>__<tool>`. */
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,23}$/, 'is a short lower-case name such as ehr'),
    /** A streamable-HTTP endpoint ... */
    url: z.url({ protocol: /^https?$/ }).optional(),
    /** ... or a program that speaks MCP over stdio (started per call by the worker). */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).optional(),
    /** The server's tools offered to the model: each schema costs input tokens on every turn. */
    tools: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,40}$/)).min(1),
  })
  .strict()
  .refine((s) => (s.url === undefined) !== (s.command === undefined), 'names either a url or a command, not both');
export type McpServerConfig = z.infer<typeof mcpServerConfigSchema>;

/** One tool of an MCP server, as the run pinned it. */
export interface PinnedMcpTool {
  server: string;
  /** The tool's own name on its server. */
  tool: string;
  /** The name the model calls it by. */
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
  /** The server says the tool only reads (annotations.readOnlyHint); every other tool is write-like. */
  read_only: boolean;
}

/** What a run pinned of its MCP servers: their tools, and the servers it could not list (with why). */
export interface PinnedMcpTools {
  tools: PinnedMcpTool[];
  unavailable: { server: string; error: string }[];
}

export const mcpToolName = (server: string, tool: string) => `${server}__${tool}`;

/** The tool as the model's tool list carries it. */
export function mcpToolForModel(t: PinnedMcpTool): {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
} {
  return { name: t.name, description: t.description, parameters: t.input_schema };
}

/**
 * Arguments checked against the pinned JSON Schema (zod reads it), before anything is sent: undefined when they
 * fit, or one line saying what does not.
 */
export function invalidMcpArguments(t: PinnedMcpTool, args: unknown): string | undefined {
  let schema: z.ZodType;
  try {
    schema = z.fromJSONSchema(t.input_schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    schema = z.record(z.string(), z.unknown()); // a schema zod cannot read: the server checks the arguments itself
  }
  const parsed = schema.safeParse(args);
  return parsed.success
    ? undefined
    : `invalid arguments for ${t.name}: ${describeZodError(parsed.error, '(arguments)')}`;
}

/** JSON with sorted keys: the same arguments always read the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

/** FNV-1a, 64 bits, as 16 hex digits: a short, stable digest of the arguments (not a security measure). */
function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

/**
 * The idempotency key of a write-like call, from the run and the call itself: a retry, a replay or the model
 * repeating the same call carries the same key. Read-only tools get none.
 */
export function mcpIdempotencyKey(workflowId: string, t: PinnedMcpTool, args: unknown): string | undefined {
  if (t.read_only) return undefined;
  return `${workflowId}:mcp:${t.server}:${t.tool}:${fnv1a64(canonical(args))}`;
}
