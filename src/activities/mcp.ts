import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describeError } from '../errors';
import { ErrorType } from '../errorTypes';
import type { ToolOutcome } from '../tools/catalog';
import { mcpToolName, type McpServerConfig, type PinnedMcpTool } from '../tools/mcpSource';
import type { Trace } from './tracing';

/**
 * MCP servers as a tool source, the activity side: list a server's tools once at the start of a run (the workflow
 * pins the answer), and make one call. Each connects with the official SDK's Client (streamable HTTP, or a program
 * on stdio), does its one thing and closes: nothing lives between calls, so a retry after a crash starts clean.
 * A server that does not answer throws (Temporal retries, then the batch falls back); a tool that answers with an
 * error, or refuses the arguments, is a result the model reads.
 */

/** An MCP tool's result is cut to this many characters before it goes into the history and the conversation. */
export const MCP_RESULT_MAX_CHARS = 8_000;
const HEARTBEAT_EVERY_MS = 1_000;

async function connect(server: McpServerConfig): Promise<Client> {
  const client = new Client({ name: 'prompt-driven-reassignment-worker', version: '1.0.0' });
  const transport = server.url
    ? new StreamableHTTPClientTransport(new URL(server.url))
    : new StdioClientTransport({ command: server.command!, args: server.args ?? [], stderr: 'ignore' });
  try {
    await client.connect(transport);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw ApplicationFailure.retryable(
      `MCP server ${server.name} does not answer: ${describeError(err)}`,
      'McpUnavailable',
    );
  }
  return client;
}

/** Heartbeats while a server works, so that a worker that died is noticed in seconds, not at the timeout. */
async function withHeartbeat<T>(work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(beat);
  }
}

function bounded(text: string): string {
  return text.length <= MCP_RESULT_MAX_CHARS
    ? text
    : `${text.slice(0, MCP_RESULT_MAX_CHARS)}… (cut: ${text.length} characters, at most ${MCP_RESULT_MAX_CHARS})`;
}

/** A tool result as the model reads it: the structured content when there is one, else the text, bounded. */
function outcomeOf(result: CallToolResult): ToolOutcome {
  const text = result.content
    .map((c) => (c.type === 'text' ? c.text : `[${c.type}]`))
    .join('\n')
    .trim();
  if (result.isError) return { ok: false, code: 'tool_error', error: bounded(text || 'the tool reported an error') };
  const structured = result.structuredContent;
  if (structured !== undefined) {
    const json = JSON.stringify(structured);
    return { ok: true, result: json.length <= MCP_RESULT_MAX_CHARS ? structured : { text: bounded(json) } };
  }
  return { ok: true, result: { text: bounded(text) } };
}

export function mcpActivities(trace: Trace) {
  return {
    /** The tools of one server that the prompt config names, as the run pins them. */
    async listMcpTools(input: { server: McpServerConfig }): Promise<PinnedMcpTool[]> {
      const { server } = input;
      return withHeartbeat(async () => {
        const client = await connect(server);
        try {
          const listed = await client.listTools();
          const byName = new Map(listed.tools.map((t) => [t.name, t]));
          const missing = server.tools.filter((n) => !byName.has(n));
          if (missing.length > 0)
            throw ApplicationFailure.nonRetryable(
              `MCP server ${server.name} has no tool ${missing.join(', ')} (it has: ${[...byName.keys()].join(', ') || 'none'})`,
              ErrorType.invalidInput,
            );
          return server.tools.map((n) => {
            const t = byName.get(n)!;
            return {
              server: server.name,
              tool: n,
              name: mcpToolName(server.name, n),
              description: bounded(t.description ?? t.title ?? n).slice(0, 1_000),
              input_schema: t.inputSchema as Record<string, unknown>,
              read_only: t.annotations?.readOnlyHint === true,
            };
          });
        } catch (err) {
          if (err instanceof ApplicationFailure) throw err;
          throw ApplicationFailure.retryable(
            `MCP server ${server.name} could not list its tools: ${describeError(err)}`,
            'McpUnavailable',
          );
        } finally {
          await client.close().catch(() => undefined);
        }
      });
    },

    /**
     * One call of a pinned tool. A write-like tool's idempotency key goes in the request's `_meta`
     * (`idempotency_key`): a server that honours it acts once per key; one that does not may see a retried call twice.
     */
    async callMcpTool(input: {
      server: McpServerConfig;
      tool: string;
      args: Record<string, unknown>;
      idempotencyKey?: string;
      runId: string;
    }): Promise<ToolOutcome> {
      const { server } = input;
      const startTime = new Date();
      const outcome = await withHeartbeat(async () => {
        const client = await connect(server);
        try {
          const result = (await client.callTool({
            name: input.tool,
            arguments: input.args,
            ...(input.idempotencyKey ? { _meta: { idempotency_key: input.idempotencyKey } } : {}),
          })) as CallToolResult;
          return outcomeOf(result);
        } catch (err) {
          // The server refused the arguments (or the tool name): the model reads it, as with a catalog tool.
          if (err instanceof McpError && err.code === ErrorCode.InvalidParams)
            return { ok: false as const, code: 'invalid_arguments' as const, error: bounded(err.message) };
          throw ApplicationFailure.retryable(
            `MCP server ${server.name} failed on ${input.tool}: ${describeError(err)}`,
            'McpUnavailable',
          );
        } finally {
          await client.close().catch(() => undefined);
        }
      });
      await trace((t) =>
        t.tool({
          runId: input.runId,
          name: mcpToolName(server.name, input.tool),
          input: input.args,
          output: outcome,
          startTime,
          endTime: new Date(),
          ...(outcome.ok ? {} : { level: 'WARNING' as const, statusMessage: outcome.error }),
        }),
      );
      return outcome;
    },
  };
}
